"""The API's JSON parser, a DRF default (``REST_FRAMEWORK`` in settings).

DRF imports it while its views start, so this module imports nothing of DRF's views.
"""

from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

# No body of the API nests deeper than a few levels ({"events": [{"properties": {...}}]}).
MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    """DRF's parser, except that JSON nested more than MAX_DEPTH levels deep is a 400.

    Python's JSON decoder recurses once per ``[`` or ``{``: a body of a few thousand of
    them exhausts the stack and raises RecursionError, which is no ValueError. A body
    that nests a little less is decoded, but the code that reads it recurses too (the
    ORM resolves a nested list of lists as a lookup value): so the depth is capped here,
    once, well below the stack's limit.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if nested_deeper_than(data, MAX_DEPTH):
            raise _too_deep()
        return data


def _too_deep() -> exceptions.ParseError:
    message = _("The JSON is nested more than %(limit)d levels deep.") % {"limit": MAX_DEPTH}
    return exceptions.ParseError(message)


def nested_deeper_than(data: object, limit: int) -> bool:
    """Whether lists and objects in ``data`` nest more than ``limit`` levels deep (``[]`` is one).

    Level by level rather than recursively, so that no depth can exhaust the stack.
    """
    level = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return False
