"""Forms for what respondents send: an answer, and the identity carried by a link."""

from urllib.parse import unquote_to_bytes

from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.answering.collect import Identity
from surveys.models import Survey
from surveys.properties import properties_problem
from surveys.scales import Scale

COMMENT_MAX_LENGTH = 5000


def is_valid_utf8_form(body: bytes) -> bool:
    """Whether every name and value of an urlencoded body decodes as UTF-8.

    Django replaces undecodable bytes with U+FFFD; a respondent's comment must
    be stored exactly as typed or refused, never silently changed.
    """
    for pair in body.split(b"&"):
        for piece in pair.split(b"=", 1):
            try:
                unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


def comment_field() -> forms.CharField:
    """A respondent's comment: optional, stored exactly as typed, refused with a message the
    respondent understands when too long or not storable."""
    return forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        strip=False,
        error_messages={
            "max_length": _(
                "Please shorten your comment to %(limit_value)d characters (it has %(show_value)d)."
            ),
            "null_characters_not_allowed": _(
                "Your comment contains a NUL character, which cannot be stored."
            ),
        },
    )


class AnswerForm(forms.Form):
    score = forms.IntegerField()
    comment = comment_field()

    def __init__(self, *args, scale: Scale, **kwargs):
        super().__init__(*args, **kwargs)
        message = _("Please choose a score from %(low)d to %(high)d.") % {
            "low": scale.low,
            "high": scale.high,
        }
        self.fields["score"] = forms.IntegerField(
            min_value=scale.low,
            max_value=scale.high,
            error_messages={code: message for code in ("required", "invalid", "min_value", "max_value")},
        )

    def comment_or_none(self) -> str | None:
        """The comment, or None when the post carried no comment field (keep the stored one)."""
        return self.cleaned_data["comment"] if "comment" in self.data else None


class LinkParamsForm(forms.Form):
    """Who answers a link survey, and its properties: ``email``, ``name``, ``external_id``,
    ``signature`` (of email and external id, by the survey's identity secret), ``p_<name>``.

    A signature that does not match is refused: a broken integration must show, not quietly
    turn every answer into an unverified one."""

    email = forms.EmailField(
        required=False,
        error_messages={"invalid": _("The link contains an invalid email address.")},
    )
    name = forms.CharField(required=False, max_length=200)
    external_id = forms.CharField(required=False, max_length=200)
    signature = forms.CharField(required=False, max_length=128)

    def __init__(self, *args, survey: Survey, **kwargs):
        super().__init__(*args, **kwargs)
        self.survey = survey

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        # Checked once the email and external id themselves are valid, each with its own message.
        signature, email, external_id = (cleaned.get(name) for name in ("signature", "email", "external_id"))
        if (
            signature
            and email is not None
            and external_id is not None
            and not self.survey.signs(email=email, external_id=external_id, signature=signature)
        ):
            raise forms.ValidationError(
                _(
                    "This link's signature does not match the person it is for. Please ask whoever "
                    "sent you the link for a new one."
                )
            )
        prefix = "p_"
        properties = {key[len(prefix) :]: value for key, value in self.data.items() if key.startswith(prefix)}
        if problem := properties_problem(properties, as_text=True):
            raise forms.ValidationError(problem)
        cleaned["properties"] = properties
        return cleaned

    def identity(self) -> Identity:
        data = self.cleaned_data
        return Identity(
            email=data["email"],
            external_id=data["external_id"],
            name=data["name"],
            verified=bool(data["signature"]),
        )
