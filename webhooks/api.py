"""Webhook subscriptions through the API: ``/api/v1/webhooks/`` and each one's delivery log.

A token sees and changes its user's subscriptions only; others answer 404. The user needs
the back office's permissions for webhook subscriptions, and may receive only what they
may view (``Subscription.clean``). The secret is in the answer to the create request and
to ``rotate-secret``, and nowhere else.
"""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from surveys.api import Cursor, StrictChoiceField
from surveys.api_auth import ModelPermission
from surveys.api_surveys import StrictModelSerializer
from webhooks.models import Delivery, EventType, Subscription


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

    class Meta:
        model = Subscription
        fields = [
            "id",
            "url",
            "description",
            "events",
            "include_comments",
            "include_personal_data",
            "active",
            "paused_at",
            "pause_reason",
            "previous_secret_expires_at",
            "created_at",
        ]

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


class ById(Cursor):
    ordering = "id"


class Newest(Cursor):
    """A growing log, newest first."""

    ordering = "-id"


class SubscriptionViewSet(viewsets.ModelViewSet):
    queryset = Subscription.objects.all()
    pagination_class = ById
    permission_classes = [*viewsets.ModelViewSet.permission_classes, ModelPermission]

    def get_queryset(self):
        return Subscription.objects.filter(owner=self.request.user)

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

    @extend_schema(request=None)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk=None) -> ApiResponse:
        """A new secret, in this answer only; the old one keeps signing beside it for 24 hours."""
        subscription = self.get_object()
        subscription.rotate_secret(now=timezone.now())
        return ApiResponse(self.get_serializer(subscription).data)

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=Newest)
    def deliveries(self, request: Request, pk=None) -> ApiResponse:
        """Every attempt to deliver this subscription's messages, newest first."""
        attempts = Delivery.objects.filter(subscription=self.get_object()).select_related("message")
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
