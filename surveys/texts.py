"""The texts a survey's owner writes for its emails: small, locked-down Django templates.

They see plain data only (``contact.name``, ``contact.email``, ``properties.…``).
"""

import logging

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# Tags a survey text may use. Left out on purpose: load, include and extends (they reach
# other templates), debug (prints the context and the server's modules), url, csrf_token.
_TEXT_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)


def _survey_text_engine() -> Engine:
    engine = Engine(loaders=[], libraries={})
    tags = Library()
    tags.tags = {name: defaulttags.register.tags[name] for name in _TEXT_TAGS}
    engine.template_builtins = [tags, defaultfilters.register]
    return engine


_TEXT_ENGINE = _survey_text_engine()


def validate_email_text(value: str) -> None:
    """For forms: a survey's email subject or introduction must be a template that compiles."""
    try:
        _TEXT_ENGINE.from_string(value)
    except TemplateSyntaxError as error:
        raise ValidationError(
            _("This text cannot be used in emails: %(error)s"),
            code="invalid_template",
            params={"error": error},
        ) from None


def render_survey_text(source: str, standard: str, values: dict) -> str:
    """A survey text as plain text (nothing escaped); the standard text if it does not render.

    Plain text even for the HTML part, which escapes all of it: the CX manager's own
    words are user text as much as the contact's name is.
    """
    try:
        return _TEXT_ENGINE.from_string(source).render(Context(values, autoescape=False))
    # Text from the back office meets data from an API client here (a loop over a number,
    # a filter on the wrong type): whatever breaks, the email still goes out.
    except Exception:
        logger.warning("A survey email text does not render; the standard text is used", exc_info=True)
        return standard
