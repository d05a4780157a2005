"""The terms of every comment compared with a fresh lemmatisation, for the suite's guard."""

from surveys.models import Response
from surveys.terms import comment_terms


def stale_comment_terms() -> list[tuple[int, str, str]]:
    """(id, stored terms, fresh terms) of each response whose terms differ from what its comment
    and language give now; empty when every one is fresh."""
    rows = Response.objects.order_by("pk").values_list("pk", "comment", "language", "comment_terms")
    return [
        (pk, stored, fresh)
        for pk, comment, language, stored in rows
        if stored != (fresh := comment_terms(comment, language))
    ]
