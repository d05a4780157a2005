"""``GET /api/v1/responses/``: every answer with its context, for notebooks and warehouses.

Filters: ``survey``, ``touchpoint`` (repeatable; 0 for link and widget answers),
``since`` and ``until`` (a local date, inclusive, or an ISO 8601 moment), ``updated_since``,
``category``, ``score``, ``has_comment``, ``property.<name>=<value>``, ``tag`` (a tag's name,
repeatable: answers carrying any of them), ``theme`` (a theme's name, repeatable: answers whose
comment has any of them) and the search ``q``. Each answer lists its tags, its comment's themes and
its tone (``insights``), read with the page: no query per answer.
Pages follow a cursor, so that iterating over millions of answers is stable while
answers keep arriving; ``ordering=updated_at`` with ``updated_since`` picks up changes.
Readers who may not view contacts get the contact's pseudonym only, and nothing of the identity
that an unsigned link or widget answer claimed.
"""

from datetime import date, datetime, time, timedelta
from typing import cast

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, viewsets

from cxsurvey.routers import replica_reads
from feedback.counts import with_tags, with_themes
from feedback.forms import MAX_TAGS
from feedback.verbatims import search
from followup.models import Tag
from followup.tags import TagRefused, tags_named
from insights.models import ResponseTheme
from insights.themes import ThemeRefused, themes_named
from insights.tone import Tone, tone_label
from surveys.access import get_survey_for_user, may_see_personal_data, pseudonym, visible_surveys
from surveys.api.auth import ModelPermission
from surveys.api.base import Cursor, ReadsPersonalData, StrictCharField, StrictChoiceField
from surveys.models import Response, ResponseQuerySet
from surveys.properties import filter_pairs, filters_problem
from surveys.scales import SCALES

MAX_ID = 2**63 - 1
PUBLIC_ID = "[0-9a-f-]{36}"
CATEGORIES = sorted({category.code for scale in SCALES.values() for category in scale.categories})
ORDERINGS = {
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "updated_at": ("updated_at", "id"),
}


class MomentField(serializers.Field):
    """A local date (the day's start; with ``end``, the next day's start) or an ISO 8601 moment."""

    default_error_messages = {
        "invalid": gettext_lazy("Give a date like 2026-11-30 or a moment like 2026-11-30T14:00:00+01:00.")
    }

    def __init__(self, *, end: bool = False, **kwargs):
        self.end = end
        super().__init__(required=False, **kwargs)

    def to_internal_value(self, data) -> datetime:
        text = data if isinstance(data, str) else ""
        try:
            day, moment = parse_date(text), parse_datetime(text)
        except ValueError:
            self.fail("invalid")
        if isinstance(day, date) and len(text) == 10:
            start = datetime.combine(day + timedelta(days=1) if self.end else day, time.min)
            return timezone.make_aware(start)
        if moment is None:
            self.fail("invalid")
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)

    def to_representation(self, value):
        return value


class ResponseQuery(serializers.Serializer):
    """The list's query parameters, validated as the API validates bodies."""

    # Resolved among the surveys the token's user may see; any other id is a 404 (get_queryset).
    survey = StrictCharField(required=False)
    # Bounded like the database's ids: SQLite cannot even compare a larger number.
    touchpoint = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_ID), required=False, max_length=50
    )
    since = MomentField()
    until = MomentField(end=True)
    updated_since = MomentField()
    category = StrictChoiceField(CATEGORIES, required=False)
    score = serializers.IntegerField(min_value=0, max_value=10, required=False)
    has_comment = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = StrictCharField(max_length=200, required=False)
    tag = serializers.ListField(child=StrictCharField(max_length=200), required=False, max_length=MAX_TAGS)
    theme = serializers.ListField(child=StrictCharField(max_length=200), required=False, max_length=MAX_TAGS)
    ordering = StrictChoiceField(list(ORDERINGS), required=False, default="created_at")

    def validate(self, data: dict) -> dict:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise serializers.ValidationError({"until": [_("The period must end after it starts.")]})
        try:
            data["tag"] = tuple(tag.pk for tag in tags_named(data.get("tag") or ()))
        except TagRefused as refusal:
            raise serializers.ValidationError({"tag": [str(refusal)]}) from None
        try:
            data["theme"] = tuple(sorted(themes_named(data.get("theme") or ())))
        except ThemeRefused as refusal:
            raise serializers.ValidationError({"theme": [str(refusal)]}) from None
        return data


def property_filters(query_params) -> tuple[tuple[str, str], ...]:
    """``property.<name>=<value>`` pairs, checked as the dashboard checks them."""
    chosen = filter_pairs(query_params)
    if problem := filters_problem(chosen):
        parameter, message = problem
        raise exceptions.ValidationError({parameter: [message]})
    return chosen


def filtered(
    responses: ResponseQuerySet, query: dict, properties: tuple[tuple[str, str], ...]
) -> ResponseQuerySet:
    if query.get("survey"):
        responses = responses.filter(survey=query["survey"])
    responses = responses.at_touchpoints(query.get("touchpoint") or ())
    responses = responses.in_period(query.get("since"), query.get("until"))
    if query.get("updated_since"):
        responses = responses.filter(updated_at__gte=query["updated_since"])
    if code := query.get("category"):
        responses = responses.in_category(code)
    if query.get("score") is not None:
        responses = responses.filter(score=query["score"])
    responses = responses.with_comment(query["has_comment"])
    for name, value in properties:
        responses = responses.with_property(name, value)
    responses = with_tags(responses, query.get("tag") or ())
    responses = with_themes(responses, query.get("theme") or ())
    if query.get("q"):
        responses = search(responses, query["q"])
    return responses


class RespondentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()


class ClaimedIdentitySerializer(serializers.Serializer):
    external_id = serializers.CharField(source="claimed_external_id")
    email = serializers.CharField(source="claimed_email")
    name = serializers.CharField(source="claimed_name")


RESPONSE_EXAMPLE = OpenApiExample(
    "A satisfied customer, by email",
    value={
        "id": "3f1c9a52-7d4e-4b8a-9f0e-2c6d81a4b5e7",
        "survey": 2,
        "kind": "csat",
        "touchpoint": 3,
        "channel": "email",
        "score": 4,
        "category": "satisfied",
        "comment": "Pünktlich geliefert, der Fahrer hat die Wärmepumpe bis in den Keller getragen. "
        "Nur die Sendungsverfolgung war ungenau.",
        "language": "de",
        "contact_id": "1895ce801707b21151b5",
        "contact": {
            "id": 118,
            "external_id": "K-100234",
            "email": "anna.schmidt@example.com",
            "name": "Anna Schmidt",
        },
        "claimed_identity": None,
        "contact_properties": {"plan": "Wartungsvertrag Plus", "region": "Bayern", "customer_since": 2019},
        "event_properties": {"order_id": "A-1042", "carrier": "DHL"},
        "tags": ["Lieferung"],
        "themes": ["Lieferung", "Sendungsverfolgung"],
        "tone": "positive",
        "tone_value": 0.8125,
        "created_at": "2026-11-23T12:49:02.318455+01:00",
        "updated_at": "2026-11-23T12:51:40.902117+01:00",
    },
    response_only=True,
)


@extend_schema_serializer(examples=[RESPONSE_EXAMPLE])
class ResponseSerializer(serializers.ModelSerializer):
    """An answer: its score and category, the comment, and the contact's and event's properties."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    category = serializers.CharField(read_only=True)
    contact_id = serializers.SerializerMethodField(
        help_text="A stable pseudonym of the contact; empty without one."
    )
    contact = serializers.SerializerMethodField(
        help_text="Who answered: only for users who may view contacts, else null."
    )
    tags = serializers.SerializerMethodField(help_text="The names of the answer's tags, alphabetically.")
    themes = serializers.SerializerMethodField(
        help_text="The names of the themes of the answer's comment, alphabetically. Themes are given "
        "in the background, within a minute of the answer."
    )
    tone = serializers.SerializerMethodField(
        help_text="The comment's tone, as the explorer names it; null until the comment has one."
    )
    tone_value = serializers.SerializerMethodField(
        help_text="The number the tone is named by: the mean weight of the comment's terms, positive "
        "above 0.5, negative below -0.5; null until the comment has a tone."
    )
    claimed_identity = serializers.SerializerMethodField(
        help_text="Who an answer by link or widget said it came from, without the survey's signature: "
        "unverified, never a contact. Only for users who may view contacts, else null."
    )

    class Meta:
        model = Response
        fields = [
            "id",
            "survey",
            "kind",
            "touchpoint",
            "channel",
            "score",
            "category",
            "comment",
            "language",
            "contact_id",
            "contact",
            "claimed_identity",
            "contact_properties",
            "event_properties",
            "tags",
            "themes",
            "tone",
            "tone_value",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_tags(self, response: Response) -> list[str]:
        # Prefetched by the view, in order: one query per page, not per answer.
        return [tag.name for tag in response.tags.all()]

    def get_themes(self, response: Response) -> list[str]:
        # Prefetched by the view with their themes: one query per page.
        return sorted(found.theme.name for found in response.themes.all())

    @extend_schema_field(serializers.ChoiceField(choices=Tone.choices, allow_null=True))
    def get_tone(self, response: Response) -> str | None:
        value = self.get_tone_value(response)
        return None if value is None else tone_label(value).value

    def get_tone_value(self, response: Response) -> float | None:
        # Joined by the view; an answer without a tone has none cached rather than a query.
        tone = getattr(response, "tone", None)
        return None if tone is None else tone.value

    def get_contact_id(self, response: Response) -> str:
        return pseudonym(response.contact_id)

    @extend_schema_field(RespondentSerializer(allow_null=True))
    def get_contact(self, response: Response) -> dict | None:
        if response.contact is None or not self.context.get("personal"):
            return None
        return RespondentSerializer(response.contact).data

    @extend_schema_field(ClaimedIdentitySerializer(allow_null=True))
    def get_claimed_identity(self, response: Response) -> dict | None:
        claimed = response.claimed_email or response.claimed_external_id or response.claimed_name
        if not claimed or not self.context.get("personal"):
            return None
        return ClaimedIdentitySerializer(response).data


class ByTime(Cursor):
    """In the order the query asks for: by creation (either way) or by the last change."""

    def get_ordering(self, request, queryset, view) -> tuple[str, str]:
        return ORDERINGS[view.query["ordering"]]


# The survey and touchpoint filters, as every list of answers or cases takes them.
SURVEY_PARAMETERS = [
    OpenApiParameter("survey", OpenApiTypes.INT, description="A survey's id."),
    OpenApiParameter(
        "touchpoint",
        OpenApiTypes.INT,
        many=True,
        description="Touchpoint ids; 0 for answers by link and widget.",
    ),
]
QUERY_PARAMETERS = [
    *SURVEY_PARAMETERS,
    OpenApiParameter(
        "since", OpenApiTypes.STR, description="A local date (inclusive) or an ISO 8601 moment."
    ),
    OpenApiParameter(
        "until", OpenApiTypes.STR, description="A local date (inclusive) or an ISO 8601 moment (exclusive)."
    ),
    OpenApiParameter("updated_since", OpenApiTypes.STR, description="Answers created or changed since then."),
    OpenApiParameter(
        "category",
        OpenApiTypes.STR,
        enum=CATEGORIES,
        description="Answers in this category of their scale, e.g. detractor (NPS) or dissatisfied (CSAT).",
    ),
    OpenApiParameter("score", OpenApiTypes.INT, description="Answers with exactly this score."),
    OpenApiParameter(
        "has_comment", OpenApiTypes.BOOL, description="true: answers with a comment; false: without."
    ),
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description='Words in the comment, each in any of its forms, and "phrases in quotes" as typed.',
    ),
    OpenApiParameter(
        "tag",
        OpenApiTypes.STR,
        many=True,
        description="A tag's name, in any case; repeated: answers carrying any of the tags.",
    ),
    OpenApiParameter(
        "theme",
        OpenApiTypes.STR,
        many=True,
        description="A theme's name, exactly; repeated: answers whose comment has any of the themes.",
    ),
    OpenApiParameter(
        "ordering",
        OpenApiTypes.STR,
        enum=list(ORDERINGS),
        description="created_at (oldest first, the default), -created_at (newest first) or updated_at "
        "(with updated_since, to pick up changes).",
    ),
    OpenApiParameter(
        "property.<name>",
        OpenApiTypes.STR,
        description="A contact or event property's value, e.g. property.plan=pro (the event's wins).",
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="List the responses",
        description="Every answer with its context, a page at a time; follow ``next`` to the end.",
        parameters=QUERY_PARAMETERS,
    ),
    retrieve=extend_schema(
        summary="Get a response",
        parameters=[
            OpenApiParameter(
                "public_id",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                pattern=f"^{PUBLIC_ID}$",
                description="The response's id (a UUID).",
            )
        ],
    ),
)
class ResponseViewSet(
    ReadsPersonalData, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = ResponseSerializer
    pagination_class = ByTime
    queryset = Response.objects.all()
    permission_classes = [*viewsets.GenericViewSet.permission_classes, ModelPermission]
    lookup_field = "public_id"
    lookup_value_regex = PUBLIC_ID

    def list(self, request, *args, **kwargs):
        with replica_reads(request.user):
            return super().list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Response]:
        # The class's queryset, Response.objects.all(); DRF's stubs know only a plain QuerySet.
        user = self.request.user
        responses = cast(ResponseQuerySet, super().get_queryset()).filter(survey__in=visible_surveys(user))
        responses = responses.select_related("tone").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            Prefetch("themes", queryset=ResponseTheme.objects.select_related("theme")),
        )
        if self.personal:
            responses = responses.select_related("contact")
        if self.action != "list":
            return responses
        query = ResponseQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        self.query = query.validated_data
        if "survey" in self.query:
            self.query["survey"] = get_survey_for_user(user, self.query["survey"])
        return filtered(responses, self.query, property_filters(self.request.query_params))

    @property
    def personal(self) -> bool:
        return may_see_personal_data(self.request.user)

    def reads_personal_data(self) -> bool:
        return self.personal

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "personal": self.personal}
