"""The API's JSON renderer, a DRF default (``REST_FRAMEWORK`` in settings).

DRF imports it while its views start, so this module imports nothing of DRF's views.
"""

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's renderer, except that a lone surrogate does not end in a server error.

    JSON may carry ``"\\ud800"``, which Python decodes to a string that UTF-8 cannot
    encode; an error message that quotes such input is then rendered ASCII-escaped.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            # One renderer per request; the stubs declare the option a class variable.
            self.ensure_ascii = True  # type: ignore[misc]
            return super().render(data, accepted_media_type, renderer_context)
