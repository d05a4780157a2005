"""The embedded widget's API: the texts for its overlay and the answers it posts.

Cross-origin by design. Each survey lists the sites (origins) that may embed it;
django-cors-headers answers preflights for any origin some active survey allows
(``allow_widget_origin``), and each view checks the origin against its own
survey. Bodies must be JSON (415 otherwise), so browsers always preflight. No
cookie is read or set; an answer is changed later with the signed edit token
returned when it was created.
"""

from uuid import UUID

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from surveys import ratelimit
from surveys.answering.collect import Identity, record_public_answer
from surveys.answering.forms import COMMENT_MAX_LENGTH
from surveys.api.base import Gone, PayloadTooLarge, PropertiesField
from surveys.models import LegalInformation, Response, Survey, is_token_shaped, normalise_origin
from surveys.scales import LANGUAGES

MAX_BODY_BYTES = 32 * 1024
EDIT_TOKEN_SALT = "widget-response"  # noqa: S105 - a namespace, not a secret
EDIT_TOKEN_SECONDS = 24 * 60 * 60


def allow_widget_origin(sender, request: HttpRequest, **kwargs) -> bool:
    """django-cors-headers asks this for every widget request: may this origin talk to us?"""
    origin = normalise_origin(request.headers.get("Origin", ""))
    if origin is None:
        return False
    surveys = Survey.objects.filter(active=True).exclude(widget_origins="").only("widget_origins")
    return any(origin in survey.allowed_origins() for survey in surveys)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: not "9", 9.5, true, 1e309 or a list."""

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


def _comment_field() -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=COMMENT_MAX_LENGTH,
        trim_whitespace=False,
    )


class ContactIn(serializers.Serializer):
    """Who answers, as the host page says; ``signature`` (of email and external id, by the survey's
    identity secret) vouches for it. A wrong signature is refused: the integration is broken."""

    email = serializers.EmailField(required=False, allow_blank=True)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    signature = serializers.CharField(required=False, allow_blank=True, max_length=128)

    def validate(self, attrs: dict) -> dict:
        signature = attrs.get("signature", "")
        survey = self.context["survey"]
        email, external_id = attrs.get("email", ""), attrs.get("external_id", "")
        if signature and not survey.signs(email=email, external_id=external_id, signature=signature):
            raise serializers.ValidationError(
                {
                    "signature": [
                        _(
                            "The signature does not match the email and external id. Sign them with "
                            "the survey's current identity secret."
                        )
                    ]
                }
            )
        return attrs


class _ScoreInScale(serializers.Serializer):
    def validate_score(self, value: int) -> int:
        scale = self.context["survey"].scale
        if value not in scale.points:
            raise serializers.ValidationError(
                _("Choose a score from %(low)d to %(high)d.") % {"low": scale.low, "high": scale.high}
            )
        return value


class AnswerIn(_ScoreInScale, serializers.Serializer):
    key = serializers.CharField(max_length=64)
    score = StrictIntegerField()
    comment = _comment_field()
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    contact = ContactIn(required=False)
    properties = PropertiesField(as_text=True, required=False)


class RevisionIn(_ScoreInScale, serializers.Serializer):
    key = serializers.CharField(max_length=64)
    edit_token = serializers.CharField(max_length=200)
    score = StrictIntegerField(required=False)
    comment = _comment_field()


def _guard(request: Request) -> None:
    if wait := ratelimit.retry_after(request, "widget"):
        raise exceptions.Throttled(wait=wait)
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1024} kB.")


def _survey(request: Request, key: object, *, origin_required: bool) -> Survey:
    """The survey with this public key, if the requesting site may embed it."""
    survey = Survey.objects.filter(public_key=key).first() if is_token_shaped(key) else None
    if survey is None:
        raise exceptions.NotFound(_("No survey has this key."))
    origin = request.headers.get("Origin")
    if (origin or origin_required) and normalise_origin(origin or "") not in survey.allowed_origins():
        raise exceptions.PermissionDenied(_("This website is not allowed to embed this survey."))
    if not survey.active:
        raise Gone(_("This survey is no longer collecting answers."))
    return survey


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": [_("Expected a JSON object.")]})
    return request.data


def _language(requested: str | None) -> str:
    language = requested or translation.get_language()
    return language if language in LANGUAGES else LANGUAGES[0]


def _edit_token(response: Response) -> str:
    return signing.dumps(f"{response.survey.public_key}:{response.public_id}", salt=EDIT_TOKEN_SALT)


def _answer_out(response: Response) -> dict:
    return {
        "id": str(response.public_id),
        "score": response.score,
        "comment": response.comment,
        "language": response.language,
    }


@extend_schema(exclude=True)  # the widget's own calls, not an API for programs
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def widget_survey(request: Request, key: str) -> ApiResponse:
    """What the overlay shows, in the requested language (``?lang=de|en``)."""
    _guard(request)
    survey = _survey(request, key, origin_required=False)
    return ApiResponse(widget_config(survey, _language(request.query_params.get("lang"))))


def widget_config(survey: Survey, language: str) -> dict:
    """What the overlay shows of ``survey`` (saved or not) in ``language``: the widget's API
    answers it, and the set-up page's preview hands it to the widget directly."""
    scale = survey.scale
    with translation.override(language):
        ui = {
            "send": _("Send"),
            "close": _("Close"),
            "saved": _("Thank you! Your score has been saved."),
            "error": _("Your answer could not be sent. Please try again."),
            "dialog": _("Feedback"),
            "privacy": _("Privacy notice"),
            "impressum": _("Impressum"),
        }
    legal = LegalInformation.objects.current().footer(language)
    return {
        "key": survey.public_key,
        "kind": survey.kind,
        "language": language,
        "brand": survey.brand,
        "accent_color": survey.accent_color,
        "on_accent_color": survey.on_accent_color,
        "question": survey.question(language),
        "follow_up": survey.follow_up(language),
        "thank_you": survey.thank_you(language),
        "scale": {
            "low": scale.low,
            "high": scale.high,
            "labels": {str(point): label for point, label in scale.point_labels(language).items()},
        },
        "ui": ui,
        # The overlay's footer: who asks, and links to the privacy notice and Impressum.
        "legal": {
            "company_name": legal.company_name,
            "privacy_url": legal.privacy_url,
            "impressum_url": legal.impressum_url,
        },
    }


def widget_snippet(survey: Survey) -> str:
    """The one script tag that embeds the survey's widget in a company's site."""
    source = settings.SITE_URL.rstrip("/") + settings.STATIC_URL + "cxsurvey/widget.js"
    return f'<script src="{source}" data-key="{survey.public_key}" async></script>'


@extend_schema(exclude=True)  # the widget's own calls, not an API for programs
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def widget_answer(request: Request) -> ApiResponse:
    _guard(request)
    body = _body(request)
    survey = _survey(request, body.get("key"), origin_required=True)
    answer = AnswerIn(data=body, context={"survey": survey})
    answer.is_valid(raise_exception=True)
    data = answer.validated_data
    contact = data.get("contact", {})
    response = record_public_answer(
        survey=survey,
        channel=Response.Channel.WIDGET,
        score=data["score"],
        comment=data.get("comment", ""),
        language=_language(data.get("language")),
        identity=Identity(
            email=contact.get("email", ""),
            external_id=contact.get("external_id", ""),
            name=contact.get("name", ""),
            verified=bool(contact.get("signature")),
        ),
        properties=data.get("properties", {}),
        now=timezone.now(),
    )
    return ApiResponse(
        {**_answer_out(response), "edit_token": _edit_token(response)},
        status=status.HTTP_201_CREATED,
    )


@extend_schema(exclude=True)  # the widget's own calls, not an API for programs
@api_view(["PATCH"])
@authentication_classes([])
@permission_classes([AllowAny])
def widget_revise(request: Request, public_id: UUID) -> ApiResponse:
    """Change a widget answer (add the comment, change the score) with its edit token."""
    _guard(request)
    body = _body(request)
    survey = _survey(request, body.get("key"), origin_required=True)
    revision = RevisionIn(data=body, context={"survey": survey})
    revision.is_valid(raise_exception=True)
    data = revision.validated_data
    try:
        signed = signing.loads(data["edit_token"], salt=EDIT_TOKEN_SALT, max_age=EDIT_TOKEN_SECONDS)
    except signing.BadSignature:
        signed = None
    if signed != f"{survey.public_key}:{public_id}":
        raise exceptions.PermissionDenied(_("This answer can no longer be changed from here."))
    response = Response.objects.filter(public_id=public_id, survey=survey).first()
    if response is None:
        raise exceptions.NotFound(_("This answer no longer exists."))
    response.revise(score=data.get("score"), comment=data.get("comment"), now=timezone.now())
    return ApiResponse(_answer_out(response))
