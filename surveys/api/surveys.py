"""Surveys and touchpoints through the API, so that a company can automate its set-up.

Plain CRUD without delete: a survey or touchpoint with invitations or responses
cannot be deleted (PROTECT), and switching it off (``active``) is what people mean.
"""

from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers

from surveys.api.auth import ModelPermission
from surveys.api.base import (
    ListCreateRetrieveUpdate,
    StrictCharField,
    StrictModelSerializer,
    VisibleSurveyField,
)
from surveys.models import Survey, Team, Touchpoint, normalise_origin, validate_web_url
from surveys.scales import LANGUAGES
from surveys.schedule import SendWindow

TEXTS = ("subject", "question", "follow_up", "thank_you", "email_subject", "email_intro")
MAX_ORIGINS = 50
SMALL_MAX = 32767  # PositiveSmallIntegerField


@extend_schema_field(
    {
        "type": "object",
        "properties": {language: {"type": "string"} for language in LANGUAGES},
        "additionalProperties": False,
        "example": {"de": "Wie zufrieden waren Sie?", "en": "How satisfied were you?"},
    }
)
class TextsField(serializers.Field):
    """``{"de": "...", "en": "..."}`` for the columns ``<text>_de`` and ``<text>_en``, checked by
    the columns' validators as in the admin (an email text must be one that can be sent).

    An empty text means the standard wording. A language left out keeps its text.
    """

    def __init__(self, text: str, **kwargs):
        self.text = text
        column = cast(models.CharField, Survey._meta.get_field(f"{text}_{LANGUAGES[0]}"))
        # The child checks the length itself, in DRF's words; the column's check would say it twice.
        validators = [check for check in column.validators if not isinstance(check, MaxLengthValidator)]
        self.child = StrictCharField(max_length=column.max_length, allow_blank=True, validators=validators)
        super().__init__(source="*", required=False, **kwargs)
        # As DRF's ListField binds its child; the stubs allow only a serializer as the parent.
        self.child.bind(field_name="", parent=self)  # type: ignore[arg-type]

    def to_representation(self, survey: Survey) -> dict:
        return {language: getattr(survey, f"{self.text}_{language}") for language in LANGUAGES}

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError(_('Send the texts per language, e.g. {"de": "…", "en": "…"}.'))
        values: dict[str, str] = {}
        errors: dict[str, Any] = {}
        for language, value in data.items():
            if language not in LANGUAGES:
                errors[language[:10]] = [_("Texts are given in de and en.")]
                continue
            try:
                values[f"{self.text}_{language}"] = self.child.run_validation("" if value is None else value)
            except serializers.ValidationError as error:
                errors[language] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        return values


class OriginsField(serializers.ListField):
    """The sites that may embed the widget, stored one per line in ``widget_origins``."""

    child = StrictCharField(max_length=200)

    def __init__(self, **kwargs):
        super().__init__(max_length=MAX_ORIGINS, required=False, **kwargs)

    # Stored as text, one origin per line; the list is only what the API shows and takes.
    def to_representation(self, value: str) -> list[str]:  # type: ignore[override]
        return [line.strip() for line in value.splitlines() if line.strip()]

    def to_internal_value(self, data) -> str:  # type: ignore[override]
        origins = []
        for value in super().to_internal_value(data):
            origin = normalise_origin(value)
            if origin is None:
                raise serializers.ValidationError(
                    _("“%(origin)s” is not an origin like https://www.example.com (no path).")
                    % {"origin": value[:200]}
                )
            if origin not in origins:
                origins.append(origin)
        return "\n".join(origins)


SURVEY_REQUEST_EXAMPLE = OpenApiExample(
    "A CSAT survey after delivery",
    value={
        "name": "Kundenzufriedenheit nach Lieferung",
        "kind": "csat",
        "brand": "Kessler Haustechnik",
        "subject": {"de": "Ihrer Lieferung", "en": "your delivery"},
        "thank_you": {"de": "Danke! Ihr Feedback geht direkt an unser Logistikteam.", "en": ""},
        "accent_color": "#0B5394",
        "sender_name": "Kessler Kundenservice",
        "reply_to": "kundenservice@example.com",
        "widget_origins": ["https://www.example.com"],
        "return_url": "https://www.example.com/",
        "expires_after_days": 14,
        "active": True,
    },
    request_only=True,
)
SURVEY_EXAMPLE = OpenApiExample(
    "A CSAT survey after delivery",
    value={
        "id": 2,
        "public_key": "POGwSct-XTNYHkkklFa6TQ",
        **SURVEY_REQUEST_EXAMPLE.value,
        "question": {"de": "", "en": ""},
        "follow_up": {"de": "", "en": ""},
        "email_subject": {"de": "", "en": ""},
        "email_intro": {"de": "", "en": ""},
        "effective": {
            "subject": {"de": "Ihrer Lieferung", "en": "your delivery"},
            "question": {
                "de": "Wie zufrieden waren Sie mit Ihrer Lieferung?",
                "en": "How satisfied were you with your delivery?",
            },
            "follow_up": {
                "de": "Was ist der wichtigste Grund für Ihre Bewertung?",
                "en": "What is the most important reason for your score?",
            },
            "thank_you": {
                "de": "Danke! Ihr Feedback geht direkt an unser Logistikteam.",
                "en": "Thank you for your feedback!",
            },
            "email_subject": {
                "de": "Kessler Haustechnik: eine kurze Frage",
                "en": "Kessler Haustechnik: a quick question",
            },
            "email_intro": {
                "de": "Wir möchten wissen, wie zufrieden Sie mit uns sind. "
                "Ihre Antwort kostet nur einen Klick.",
                "en": "We would like to know how we are doing. Your answer takes one click.",
            },
        },
        "created_at": "2026-11-02T09:41:17.204512+01:00",
    },
    response_only=True,
)


@extend_schema_serializer(examples=[SURVEY_REQUEST_EXAMPLE, SURVEY_EXAMPLE])
class SurveySerializer(StrictModelSerializer):
    """A survey: its scale (``kind``, fixed once created), its texts per language, its sender and
    the sites that may embed its widget."""

    subject = TextsField("subject")
    question = TextsField("question")
    follow_up = TextsField("follow_up")
    thank_you = TextsField("thank_you")
    email_subject = TextsField("email_subject")
    email_intro = TextsField("email_intro")
    widget_origins = OriginsField()
    return_url = StrictCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        validators=[validate_web_url],
        help_text="Where the thank-you page leads back to (http or https). Empty: the installation's.",
    )
    effective = serializers.SerializerMethodField()

    class Meta:
        model = Survey
        fields = [
            "id",
            "public_key",
            "name",
            "kind",
            "brand",
            *TEXTS,
            "effective",
            "accent_color",
            "sender_name",
            "reply_to",
            "widget_origins",
            "return_url",
            "expires_after_days",
            "active",
            "created_at",
        ]
        extra_kwargs = {"expires_after_days": {"min_value": 1, "max_value": SMALL_MAX}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None:
            self.fields["kind"].required = False  # it cannot change, so it need not be repeated

    def validate_kind(self, kind: str) -> str:
        if isinstance(self.instance, Survey) and kind != self.instance.kind:
            raise serializers.ValidationError(
                _("The kind fixes the scale of every response; it cannot be changed. Create a new survey.")
            )
        return kind

    def get_effective(self, survey: Survey) -> dict:
        """The texts respondents see, with the standard wording where none is set."""
        return {text: {language: getattr(survey, text)(language) for language in LANGUAGES} for text in TEXTS}


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "When invitations go out, in the installation's time zone: days 0 (Monday) to 6, "
        "start and end as HH:MM. Null: at any time.",
        "properties": {
            "days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}},
            "start": {"type": "string", "example": "09:00"},
            "end": {"type": "string", "example": "18:00"},
        },
    }
)
class SendWindowField(serializers.Field):
    """``{"days": [0-6], "start": "HH:MM", "end": "HH:MM"}`` in the installation's time zone, or null."""

    def to_internal_value(self, data) -> dict:
        try:
            window = SendWindow.parse(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        return {
            "days": sorted(window.days),
            "start": window.start.strftime("%H:%M"),
            "end": window.end.strftime("%H:%M"),
        }

    def to_representation(self, value: dict) -> dict:
        return value


TOUCHPOINT_REQUEST_EXAMPLE = OpenApiExample(
    "Two days after delivery",
    value={
        "slug": "delivery",
        "name": "Lieferung zugestellt",
        "survey": 2,
        "active": True,
        "delay_seconds": 172800,
        "sample_percent": 50,
        "recontact_days": 90,
        "send_window": {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"},
        "expires_after_days": None,
        "reminder_after_days": 3,
        "recheck_after_days": 14,
        "require_consent": True,
    },
    request_only=True,
)
TOUCHPOINT_EXAMPLE = OpenApiExample(
    "Two days after delivery",
    value={
        "id": 3,
        **TOUCHPOINT_REQUEST_EXAMPLE.value,
        "created_at": "2026-11-02T09:44:03.518230+01:00",
    },
    response_only=True,
)


@extend_schema_serializer(examples=[TOUCHPOINT_REQUEST_EXAMPLE, TOUCHPOINT_EXAMPLE])
class TouchpointSerializer(StrictModelSerializer):
    """Where a survey is triggered: the events a system reports under ``slug``, and when and whom
    their invitations reach."""

    survey = VisibleSurveyField(help_text="The survey it triggers: one the token's user may see.")
    send_window = SendWindowField(required=False, allow_null=True)

    class Meta:
        model = Touchpoint
        fields = [
            "id",
            "slug",
            "name",
            "survey",
            "active",
            "delay_seconds",
            "sample_percent",
            "recontact_days",
            "send_window",
            "expires_after_days",
            "reminder_after_days",
            "recheck_after_days",
            "require_consent",
            "created_at",
        ]
        # The same limits on SQLite as PostgreSQL's column types set.
        extra_kwargs = {
            "delay_seconds": {"max_value": 2**31 - 1},
            "recontact_days": {"max_value": SMALL_MAX},
            "expires_after_days": {"max_value": SMALL_MAX},
            "reminder_after_days": {"max_value": SMALL_MAX},
            "recheck_after_days": {"max_value": SMALL_MAX},
        }


@extend_schema_view(
    list=extend_schema(summary="List the surveys"),
    create=extend_schema(summary="Create a survey"),
    retrieve=extend_schema(summary="Get a survey"),
    update=extend_schema(
        summary="Change a survey",
        description="Send name and brand; fields left out keep their value. The kind cannot change.",
    ),
    partial_update=extend_schema(summary="Change some of a survey's fields"),
)
class SurveyViewSet(ListCreateRetrieveUpdate):
    queryset = Survey.objects.all()
    serializer_class = SurveySerializer
    permission_classes = [*ListCreateRetrieveUpdate.permission_classes, ModelPermission]

    def get_queryset(self):
        return Survey.objects.visible_to(self.request.user)

    def perform_create(self, serializer) -> None:
        """A new survey belongs to its maker's teams, so that they see what they made."""
        survey = serializer.save()
        survey.teams.add(*Team.objects.filter(members=cast(User, self.request.user)))


@extend_schema_view(
    list=extend_schema(summary="List the touchpoints"),
    create=extend_schema(summary="Create a touchpoint"),
    retrieve=extend_schema(summary="Get a touchpoint"),
    update=extend_schema(summary="Change a touchpoint"),
    partial_update=extend_schema(summary="Change some of a touchpoint's fields"),
)
class TouchpointViewSet(ListCreateRetrieveUpdate):
    queryset = Touchpoint.objects.all()
    serializer_class = TouchpointSerializer
    permission_classes = [*ListCreateRetrieveUpdate.permission_classes, ModelPermission]

    def get_queryset(self):
        return Touchpoint.objects.filter(survey__in=Survey.objects.visible_to(self.request.user))
