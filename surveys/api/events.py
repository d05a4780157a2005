"""Touchpoint events in through the API: one at a time, or up to 1,000 per request.

Both endpoints validate at the edge (types, sizes, characters PostgreSQL cannot
store) and hand the valid events to ``ingest_events`` in one call. The single
endpoint stores nothing when anything is wrong; the bulk endpoint stores the valid
events and reports the others by their index.
"""

import re
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from surveys.api.auth import SendsSurveys, TokenScope
from surveys.api.base import (
    CONSENT_EXAMPLE,
    AwareDateTimeField,
    ClosedSerializer,
    ConsentBody,
    PropertiesField,
    StrictCharField,
    StrictChoiceField,
    consent_needs_legal_basis,
    consent_of,
    invalid,
    read_json,
)
from surveys.api.idempotency import respond_once
from surveys.ingest import EventIn, ingest_events
from surveys.models import LegalBasis, Survey, Touchpoint
from surveys.scales import LANGUAGES

MAX_BODY_BYTES = 1024 * 1024
MAX_BULK_EVENTS = 1000
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")


def _text(max_length: int) -> StrictCharField:
    return StrictCharField(max_length=max_length, required=False, allow_blank=True, allow_null=True)


def _properties() -> PropertiesField:
    return PropertiesField(required=False, allow_null=True)


class EventBody(ClosedSerializer):
    """One event. Optional fields may be left out or sent as null."""

    touchpoint = StrictCharField(max_length=100)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, allow_null=True)
    external_id = _text(200)
    name = _text(200)
    language = StrictChoiceField(LANGUAGES, required=False, allow_blank=True, allow_null=True)
    legal_basis = StrictChoiceField(LegalBasis.values, required=False, allow_blank=True, allow_null=True)
    consent = ConsentBody(
        required=False,
        allow_null=True,
        help_text="The proof of legal_basis (required beside it): the wording the person agreed to and "
        "when. A legal basis set or changed, or stated with a new wording, goes into the contact's "
        "consent history.",
    )
    contact_properties = _properties()
    properties = _properties()
    occurred_at = AwareDateTimeField(required=False, allow_null=True)

    def validate_touchpoint(self, slug: str) -> Touchpoint:
        touchpoint = self.context["touchpoints"].get(slug)
        if touchpoint is None:
            if _SLUG.fullmatch(slug):
                raise serializers.ValidationError(
                    _("No touchpoint has the slug “%(slug)s”.") % {"slug": slug}
                )
            raise serializers.ValidationError(_("This is not a touchpoint slug."))
        return touchpoint

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("email") and not attrs.get("external_id"):
            raise serializers.ValidationError(_("Send the contact's email or external_id (or both)."))
        consent_needs_legal_basis(attrs)
        return attrs


class BulkBody(ClosedSerializer):
    # Each event is checked on its own, so that one bad event does not refuse the others.
    events = serializers.ListField(max_length=MAX_BULK_EVENTS)


class InvitationOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.SerializerMethodField()
    scheduled_for = serializers.DateTimeField(allow_null=True)

    def get_reason(self, invitation) -> str | None:
        return invitation.skip_reason or None


class EventOut(serializers.Serializer):
    event_id = serializers.IntegerField(source="event.pk")
    invitation = InvitationOut()


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retries with the same key and body get the first answer again (Idempotent-Replayed: true); "
    "the same key with another body gets 409.",
)
EVENT_EXAMPLE = OpenApiExample(
    "An order delivered",
    value={
        "touchpoint": "delivery",
        "email": "anna.schmidt@example.com",
        "name": "Anna Schmidt",
        "language": "de",
        "legal_basis": "customer",
        "properties": {"order_id": "A-1042", "carrier": "DHL"},
        "occurred_at": "2026-11-21T10:15:00+01:00",
    },
    request_only=True,
)
EVENT_WITH_CONSENT_EXAMPLE = OpenApiExample(
    "A new customer who agreed to be asked",
    description="The consent's wording and time go into the contact's consent history.",
    value={
        "touchpoint": "delivery",
        "email": "jonas.weber@example.com",
        "language": "de",
        "legal_basis": "consent",
        "consent": CONSENT_EXAMPLE,
        "properties": {"order_id": "A-1043"},
    },
    request_only=True,
)
EVENT_BY_EXTERNAL_ID_EXAMPLE = OpenApiExample(
    "A known customer, by your id",
    description="The contact is found (or created) by external_id; contact_properties update the contact.",
    value={
        "touchpoint": "delivery",
        "external_id": "K-100234",
        "contact_properties": {"plan": "Wartungsvertrag Plus", "region": "Bayern"},
        "properties": {"order_id": "A-1042", "carrier": "DHL"},
    },
    request_only=True,
)
ACCEPTED_EXAMPLE = OpenApiExample(
    "Invitation scheduled",
    value={
        "event_id": 52817,
        "invitation": {
            "id": 40311,
            "status": "scheduled",
            "reason": None,
            "scheduled_for": "2026-11-23T10:15:00+01:00",
        },
    },
    response_only=True,
    status_codes=[202],
)
BULK_EXAMPLE = OpenApiExample(
    "Two deliveries and a return",
    value={
        "events": [
            {
                "touchpoint": "delivery",
                "email": "anna.schmidt@example.com",
                "legal_basis": "customer",
                "properties": {"order_id": "A-1042"},
                "occurred_at": "2026-11-21T10:15:00+01:00",
            },
            {
                "touchpoint": "delivery",
                "email": "jonas.weber@example.com",
                "legal_basis": "customer",
                "properties": {"order_id": "A-1043"},
                "occurred_at": "2026-11-21T10:32:00+01:00",
            },
            {
                "touchpoint": "ruecksendung",
                "external_id": "K-100871",
                "occurred_at": "2026-11-21T10:40:00+01:00",
            },
        ]
    },
    request_only=True,
)
BULK_RESULTS_EXAMPLE = OpenApiExample(
    "Scheduled, skipped and refused",
    value={
        "results": [
            {"index": 0, "status": 202, **ACCEPTED_EXAMPLE.value},
            {
                "index": 1,
                "status": 202,
                "event_id": 52818,
                "invitation": {
                    "id": 40312,
                    "status": "skipped",
                    "reason": "recently_invited",
                    "scheduled_for": None,
                },
            },
            {
                "index": 2,
                "status": 400,
                "error": {
                    "code": "invalid",
                    "message": "touchpoint: No touchpoint has the slug “ruecksendung”.",
                    "fields": {"touchpoint": ["No touchpoint has the slug “ruecksendung”."]},
                },
            },
        ]
    },
    response_only=True,
)


@extend_schema(
    summary="Report a touchpoint event",
    request=EventBody,
    responses={
        202: EventOut,
        409: OpenApiResponse(description="The Idempotency-Key was used with another body."),
    },
    parameters=[IDEMPOTENCY_KEY],
    examples=[EVENT_EXAMPLE, EVENT_BY_EXTERNAL_ID_EXAMPLE, EVENT_WITH_CONSENT_EXAMPLE, ACCEPTED_EXAMPLE],
)
@api_view(["POST"])
@permission_classes([TokenScope, SendsSurveys])
def post_event(request: Request) -> ApiResponse:
    """One event → 202 with the event's id and what became of its invitation."""
    body = read_json(request, max_bytes=MAX_BODY_BYTES)
    now = timezone.now()
    visible = _visible_touchpoints(request.user)
    user_id = request.user.pk
    return respond_once(request, lambda: _accept_event(body, visible, now=now, user_id=user_id), now=now)


@extend_schema(
    summary="Report up to 1,000 events at once",
    request=inline_serializer("BulkEvents", {"events": EventBody(many=True)}),
    responses={
        200: inline_serializer(
            "BulkResults",
            {
                "results": serializers.ListField(
                    child=serializers.JSONField(),
                    help_text="Per event, in order: {index, status: 202, event_id, invitation} "
                    "or {index, status: 400, error}.",
                )
            },
        ),
        409: OpenApiResponse(description="The Idempotency-Key was used with another body."),
    },
    parameters=[IDEMPOTENCY_KEY],
    examples=[BULK_EXAMPLE, BULK_RESULTS_EXAMPLE],
)
@api_view(["POST"])
@permission_classes([TokenScope, SendsSurveys])
def post_events_bulk(request: Request) -> ApiResponse:
    """``{"events": [...]}`` → 200 with one result per event, in order, valid ones stored."""
    body = read_json(request, max_bytes=MAX_BODY_BYTES)
    now = timezone.now()
    visible = _visible_touchpoints(request.user)
    user_id = request.user.pk
    return respond_once(request, lambda: _accept_events(body, visible, now=now, user_id=user_id), now=now)


def _accept_event(
    body: object, visible: QuerySet[Touchpoint], *, now: datetime, user_id: int | None
) -> ApiResponse:
    _require_object(body)
    serializer = EventBody(data=body, context={"now": now, "touchpoints": _touchpoints(visible, [body])})
    serializer.is_valid(raise_exception=True)
    [outcome] = ingest_events([_event_in(serializer.validated_data, now=now)], now=now, recorded_by=user_id)
    if outcome.error:
        raise serializers.ValidationError({"email": [outcome.error], "external_id": [outcome.error]})
    return ApiResponse(EventOut(outcome).data, status=status.HTTP_202_ACCEPTED)


def _accept_events(
    body: object, visible: QuerySet[Touchpoint], *, now: datetime, user_id: int | None
) -> ApiResponse:
    _require_object(body)
    batch = BulkBody(data=body)
    batch.is_valid(raise_exception=True)
    items = batch.validated_data["events"]
    # One serializer for all events: building one per event would copy its fields 1,000 times.
    serializer = EventBody(context={"now": now, "touchpoints": _touchpoints(visible, items)})
    results: list[dict | None] = [None] * len(items)
    valid: list[tuple[int, EventIn]] = []
    for index, item in enumerate(items):
        try:
            _require_object(item)
            valid.append((index, _event_in(serializer.run_validation(item), now=now)))
        except serializers.ValidationError as error:
            results[index] = {"index": index, "status": 400, "error": invalid(error.detail)}
    outcomes = (
        ingest_events([event for _index, event in valid], now=now, recorded_by=user_id) if valid else []
    )
    stored = []
    for (index, _event), outcome in zip(valid, outcomes, strict=True):
        if outcome.error:
            fields = {"email": [outcome.error], "external_id": [outcome.error]}
            results[index] = {"index": index, "status": 400, "error": invalid(fields)}
        else:
            stored.append((index, outcome))
    answers = EventOut([outcome for _index, outcome in stored], many=True).data
    for (index, _outcome), answer in zip(stored, answers, strict=True):
        results[index] = {"index": index, "status": 202, **answer}
    return ApiResponse({"results": results})


def _require_object(body: object) -> None:
    if not isinstance(body, dict):
        raise serializers.ValidationError({"non_field_errors": [_("Expected a JSON object.")]})


def _visible_touchpoints(user) -> QuerySet[Touchpoint]:
    """The touchpoints of the surveys a user may see: another team's slugs are unknown to them."""
    return Touchpoint.objects.select_related("survey").filter(survey__in=Survey.objects.visible_to(user))


def _touchpoints(visible: QuerySet[Touchpoint], items: list) -> dict[str, Touchpoint]:
    """The touchpoints named in ``items``, by slug, in one query."""
    slugs = {
        item["touchpoint"].strip()
        for item in items
        if isinstance(item, dict) and isinstance(item.get("touchpoint"), str)
    }
    # Only slug-shaped values reach the database: PostgreSQL refuses a NUL even in a comparison.
    slugs = {slug for slug in slugs if _SLUG.fullmatch(slug)}
    return {touchpoint.slug: touchpoint for touchpoint in visible.filter(slug__in=slugs)}


def _event_in(data: dict, *, now: datetime) -> EventIn:
    return EventIn(
        touchpoint=data["touchpoint"],
        occurred_at=data.get("occurred_at") or now,
        email=data.get("email") or "",
        external_id=data.get("external_id") or "",
        name=data.get("name") or "",
        language=data.get("language") or "",
        legal_basis=data.get("legal_basis") or "",
        consent=consent_of(data),
        contact_properties=data.get("contact_properties") or {},
        properties=data.get("properties") or {},
    )
