"""Webhook subscriptions through the API: ``/api/v1/webhooks/`` and each one's delivery log.

A token sees and changes its user's subscriptions only; others answer 404. The user needs
the back office's permissions for webhook subscriptions, and may receive only what they
may view (``Subscription.clean``). The secret is in the answer to the create request and
to ``rotate-secret``, and nowhere else. ``resend`` queues messages again with their
``webhook-id``, as the back office's *Resend* does.
"""

import copy
from typing import cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from surveys.api.auth import ModelPermission
from surveys.api.base import (
    AwareDateTimeField,
    ById,
    ClosedSerializer,
    Conflict,
    Newest,
    StrictCharField,
    StrictChoiceField,
    StrictModelSerializer,
)
from webhooks import events, formats, tasks
from webhooks.models import Delivery, EventType, Message, Subscription

MAX_RESEND_IDS = 100


class EventsField(serializers.ListField):
    child = StrictChoiceField(choices=EventType.choices)

    def __init__(self, **kwargs):
        super().__init__(min_length=1, max_length=len(EventType.values), **kwargs)

    def to_internal_value(self, data) -> list[str]:
        events = super().to_internal_value(data)
        if len(set(events)) < len(events):
            raise serializers.ValidationError(_("Name each event once."))
        return events


class SubscriptionSerializer(StrictModelSerializer):
    events = EventsField()
    surveys = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=1000,
        required=False,
        help_text="The ids of the surveys whose events it gets; empty (the default): every survey the owner "
        "may see. Unsubscribes belong to no survey and come all the same.",
    )
    payload_format = StrictChoiceField(
        choices=[],  # the formats that the installed apps registered, in get_fields()
        default=formats.DEFAULT,
        help_text="How each message is written: `cxsurvey` (Standard Webhooks), or another "
        "installed format such as `delighted` (Delighted's webhooks), which carries some events only.",
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "url",
            "description",
            "payload_format",
            "events",
            "surveys",
            "include_comments",
            "include_personal_data",
            "active",
            "paused_at",
            "pause_reason",
            "previous_secret_expires_at",
            "created_at",
        ]

    def get_fields(self) -> dict:
        fields = super().get_fields()
        cast(serializers.ChoiceField, fields["payload_format"]).choices = formats.choices()
        return fields

    def validate(self, attrs: dict) -> dict:
        """The owner may receive only what they may view (``Subscription.clean``)."""
        subscription = copy.copy(self.instance) if self.instance else Subscription()
        for field, value in attrs.items():
            setattr(subscription, field, value)
        subscription.owner = self.context["request"].user
        try:
            subscription.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None
        return attrs


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    """The one answer that shows the secret: to the request that made it."""

    secret = serializers.CharField(read_only=True)

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message.webhook_id")
    type = serializers.CharField(source="message.type")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "type",
            "attempt",
            "status",
            "response_code",
            "response_body",
            "error",
            "duration_ms",
            "attempted_at",
            "next_attempt_at",
        ]


@extend_schema_field({"type": "string", "format": "date-time"})
class MomentField(AwareDateTimeField):
    """An ISO 8601 time with its offset; never null."""


class ResendBody(ClosedSerializer):
    """Exactly one of: the messages' webhook-ids, or the moment since which failed messages are sent again."""

    webhook_ids = serializers.ListField(
        child=StrictCharField(max_length=40),
        min_length=1,
        max_length=MAX_RESEND_IDS,
        required=False,
        help_text="1 to 100 webhook-ids of this subscription's messages.",
    )
    failed_since = MomentField(
        required=False, help_text="Every failed message of this subscription created since then."
    )

    def validate_webhook_ids(self, webhook_ids: list[str]) -> list[str]:
        """All or nothing: a webhook-id of another subscription's message is as unknown as a made-up one."""
        webhook_ids = list(dict.fromkeys(webhook_ids))
        known = set(
            self.context["subscription"]
            .messages.filter(webhook_id__in=webhook_ids)
            .values_list("webhook_id", flat=True)
        )
        if unknown := [webhook_id for webhook_id in webhook_ids if webhook_id not in known]:
            raise serializers.ValidationError(
                _("Not among this subscription's messages: %(webhook_ids)s.")
                % {"webhook_ids": ", ".join(unknown)}
            )
        return webhook_ids

    def validate(self, attrs: dict) -> dict:
        if len(attrs) != 1:
            raise serializers.ValidationError(_("Send exactly one of webhook_ids and failed_since."))
        return attrs


class TestOut(serializers.Serializer):
    webhook_id = serializers.CharField(help_text="The test message's webhook-id, to find it in the log.")


class ResendOut(serializers.Serializer):
    queued = serializers.IntegerField(
        help_text="How many messages were queued; those being sent at this moment are left alone."
    )


# Examples for the schema (/api/docs/).
SECRET_EXAMPLE = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD6Ehk0XdPBy0="  # noqa: S105 - made up for the docs
SUBSCRIPTION_REQUEST = {
    "url": "https://crm.example.com/hooks/cxsurvey",
    "description": "CRM",
    "payload_format": "cxsurvey",
    "events": ["response.created", "response.updated"],
    "include_comments": True,
    "include_personal_data": False,
}
SUBSCRIPTION = {
    "id": 7,
    **SUBSCRIPTION_REQUEST,
    "active": True,
    "paused_at": None,
    "pause_reason": "",
    "previous_secret_expires_at": None,
    "created_at": "2026-11-23T10:15:00+01:00",
}
PAUSED = {
    **SUBSCRIPTION,
    "active": False,
    "paused_at": "2026-11-24T09:00:00+01:00",
}


def _request(name: str, value: dict, summary: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary, request_only=True)


def _answer(name: str, value: dict, *, status_code: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status_code])


class SubscriptionPermission(ModelPermission):
    """Rotating the secret and resending change the subscription, as in the back office: they
    need the permission to change subscriptions (and, for a resend, messages), not to add one."""

    ACTION_PERMISSIONS = {
        "rotate_secret": ["webhooks.change_subscription"],
        "test": ["webhooks.change_subscription"],
        "resend": ["webhooks.change_subscription", "webhooks.change_message"],
    }

    def has_permission(self, request: Request, view) -> bool:
        if needed := self.ACTION_PERMISSIONS.get(getattr(view, "action", "")):
            return request.user.has_perms(needed)
        return super().has_permission(request, view)


@extend_schema_view(
    list=extend_schema(
        summary="List the webhook subscriptions", examples=[_answer("The first page", SUBSCRIPTION)]
    ),
    create=extend_schema(
        summary="Create a webhook subscription",
        description="The answer shows the secret that signs the messages, once.",
        examples=[
            _request("Answers to a CRM", SUBSCRIPTION_REQUEST),
            _answer("Made with its secret", {**SUBSCRIPTION, "secret": SECRET_EXAMPLE}, status_code=201),
        ],
    ),
    retrieve=extend_schema(
        summary="Get a webhook subscription", examples=[_answer("A subscription", SUBSCRIPTION)]
    ),
    update=extend_schema(
        summary="Change a webhook subscription",
        description="The URL is checked again; `active` pauses or resumes it.",
        examples=[
            _request("Every field", {**SUBSCRIPTION_REQUEST, "active": True}),
            _answer("Changed", SUBSCRIPTION),
        ],
    ),
    partial_update=extend_schema(
        summary="Change some of a webhook subscription's fields",
        examples=[
            _request("Pause", {"active": False}, "Queued messages wait; true resumes."),
            _answer("Paused", PAUSED),
        ],
    ),
    destroy=extend_schema(
        summary="Delete a webhook subscription", description="Its queued messages and log go with it."
    ),
)
class SubscriptionViewSet(viewsets.ModelViewSet):
    queryset = Subscription.objects.all()
    pagination_class = ById
    permission_classes = [*viewsets.ModelViewSet.permission_classes, SubscriptionPermission]

    def get_queryset(self):
        return Subscription.objects.filter(owner_id=self.request.user.pk)

    def get_serializer_class(self):
        if self.action in ("create", "rotate_secret"):
            return SubscriptionWithSecretSerializer
        if self.action == "deliveries":
            return DeliverySerializer
        return SubscriptionSerializer

    def perform_create(self, serializer) -> None:
        serializer.save(owner=self.request.user)

    def perform_update(self, serializer) -> None:
        """Switching ``active`` pauses or resumes, as the back office's actions do."""
        active = serializer.validated_data.pop("active", None)
        subscription = serializer.save()
        switched = Subscription.objects.filter(pk=subscription.pk)
        if active is True:
            switched.resume()
        elif active is False:
            switched.pause(now=timezone.now())
        subscription.refresh_from_db()

    @extend_schema(
        summary="Rotate the secret",
        request=None,
        examples=[
            _answer(
                "The new secret",
                {
                    **SUBSCRIPTION,
                    "previous_secret_expires_at": "2026-11-25T16:40:00+01:00",
                    "secret": SECRET_EXAMPLE,
                },
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk=None) -> ApiResponse:
        """A new secret, in this answer only; the old one keeps signing beside it for 24 hours."""
        subscription = self.get_object()
        subscription.rotate_secret(now=timezone.now())
        return ApiResponse(self.get_serializer(subscription).data)

    @extend_schema(
        summary="The delivery log",
        responses=DeliverySerializer(many=True),
        examples=[
            _answer(
                "A failed attempt",
                {
                    "id": 5812,
                    "webhook_id": "msg_2yq0bW1Rk8kKq7hV5Xc3Ag",
                    "type": "response.created",
                    "attempt": 2,
                    "status": "failed",
                    "response_code": 503,
                    "response_body": "Service Unavailable",
                    "error": "",
                    "duration_ms": 184,
                    "attempted_at": "2026-11-24T09:00:05+01:00",
                    "next_attempt_at": "2026-11-24T09:00:35+01:00",
                },
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=Newest)
    def deliveries(self, request: Request, pk=None) -> ApiResponse:
        """Every attempt to deliver this subscription's messages, newest first."""
        attempts = Delivery.objects.filter(subscription=self.get_object()).select_related("message")
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Resend messages",
        request=ResendBody,
        responses={202: ResendOut},
        examples=[
            _request(
                "Chosen messages",
                {"webhook_ids": ["msg_2yq0bW1Rk8kKq7hV5Xc3Ag", "msg_Jd81kq0Vt4sZmA9yQe6bLw"]},
            ),
            _request(
                "Failed since an outage began",
                {"failed_since": "2026-11-22T18:00:00+01:00"},
                "After an outage longer than the 24 hours of retries.",
            ),
            _answer("Queued", {"queued": 2}, status_code=202),
        ],
    )
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk=None) -> ApiResponse:
        """Queue messages again at once, with their webhook-id and a new day of retries: chosen ones,
        or every failed one since a moment. All or nothing: an id that is not one of this
        subscription's messages is refused. Messages of a paused subscription wait for its resumption."""
        subscription = self.get_object()
        now = timezone.now()
        body = ResendBody(data=request.data, context={"subscription": subscription, "now": now})
        body.is_valid(raise_exception=True)
        messages = Message.objects.filter(subscription=subscription)
        if webhook_ids := body.validated_data.get("webhook_ids"):
            messages = messages.filter(webhook_id__in=webhook_ids)
        else:
            messages = messages.filter(
                status=Message.Status.FAILED, created_at__gte=body.validated_data["failed_since"]
            )
        queued = tasks.resend(messages, now=now)
        return ApiResponse(ResendOut({"queued": queued}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Send a test message",
        request=None,
        responses={202: TestOut, 409: OpenApiResponse(description="The subscription is paused.")},
        examples=[_answer("Queued", {"webhook_id": "msg_Qm3xT0aYc9LpVn2dWk7sRg"}, status_code=202)],
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk=None) -> ApiResponse:
        """A message of type `webhook.test`, signed and sent at once like any other, so that the
        receiver can check that it verifies signatures and answers in time; its attempts are logged."""
        subscription = self.get_object()
        if not subscription.active:
            raise Conflict(_("The subscription is paused. Resume it to send a test message."))
        message = events.queue_test(subscription)
        return ApiResponse(TestOut(message).data, status=status.HTTP_202_ACCEPTED)
