"""Webhooks in the back office: subscriptions (their secret shown once), messages and the delivery log.

Staff who are not Admins see and make subscriptions for themselves only, as with
API tokens.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from surveys.access import is_admin
from surveys.models import Survey
from webhooks import events, formats, tasks
from webhooks.models import Delivery, EventType, Message, Subscription

SUBSCRIPTION_FIELDS = [
    "owner",
    "url",
    "description",
    "payload_format",
    "events",
    "surveys",
    "include_comments",
    "include_personal_data",
]
SUBSCRIPTION_STATE = [
    "active",
    "paused_at",
    "pause_reason",
    "failing_since",
    "previous_secret_expires_at",
    "log",
    "created_at",
]


class SurveyChoices(forms.ModelMultipleChoiceField):
    """Surveys to tick, kept as the list of their ids that ``Subscription.surveys`` holds."""

    def clean(self, value) -> list[int]:  # type: ignore[override]
        return [survey.pk for survey in super().clean(value)]


class SubscriptionForm(forms.ModelForm):
    url = Subscription._meta.get_field("url").formfield(assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )
    payload_format = forms.ChoiceField(
        label=_("payload format"),
        choices=formats.choices,  # registered by the installed apps once they are ready
        initial=formats.DEFAULT,
        help_text=Subscription._meta.get_field("payload_format").help_text,
    )

    class Meta:
        model = Subscription
        fields = SUBSCRIPTION_FIELDS


def _own(request: HttpRequest, rows, owner: str):
    """Admins see every row; other staff the rows of their own subscriptions."""
    return rows if is_admin(request.user) else rows.filter(**{owner: request.user})


def _secrets_page(
    request: HttpRequest, admin_site, opts, subscriptions: list[Subscription], title
) -> HttpResponse:
    """A page with new secrets, instead of a message that would pass them through the session."""
    response = TemplateResponse(
        request,
        "webhooks/admin/secrets.html",
        {**admin_site.each_context(request), "opts": opts, "subscriptions": subscriptions, "title": title},
    )
    add_never_cache_headers(response)
    return response


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["url", "owner", "description", "payload_format", "active", "paused_at", "created_at"]
    list_filter = ["active", "payload_format"]
    list_select_related = ["owner"]
    search_fields = ["url", "description", "owner__username"]
    actions = ["send_test", "rotate_secret", "pause", "resume"]

    def get_fields(self, request, obj=None):
        return SUBSCRIPTION_FIELDS if obj is None else [*SUBSCRIPTION_FIELDS, *SUBSCRIPTION_STATE]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else SUBSCRIPTION_STATE

    def get_queryset(self, request):
        return _own(request, super().get_queryset(request), "owner")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            users = get_user_model()._default_manager.filter(is_active=True)
            kwargs["queryset"] = users if is_admin(request.user) else users.filter(pk=request.user.pk)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "surveys":  # those the user may see; the owner's are checked on saving
            return SurveyChoices(
                queryset=Survey.objects.visible_to(request.user),
                required=False,
                widget=forms.CheckboxSelectMultiple,
                label=db_field.verbose_name,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def response_add(self, request, obj, post_url_continue=None):
        return _secrets_page(request, self.admin_site, self.opts, [obj], _("New webhook subscription"))

    @admin.display(description=_("delivery log"))
    def log(self, subscription: Subscription) -> str:
        url = reverse("admin:webhooks_delivery_changelist") + f"?subscription__id__exact={subscription.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Every attempt, newest first"))

    @admin.action(
        description=_("Rotate the secret (the old one stays valid for 24 hours)"), permissions=["change"]
    )
    def rotate_secret(self, request: HttpRequest, subscriptions) -> HttpResponse:
        rotated = list(subscriptions)
        for subscription in rotated:
            subscription.rotate_secret(now=timezone.now())
        return _secrets_page(request, self.admin_site, self.opts, rotated, _("New webhook secrets"))

    @admin.action(description=_("Send a test message"), permissions=["change"])
    def send_test(self, request: HttpRequest, subscriptions) -> None:
        active = [subscription for subscription in subscriptions if subscription.active]
        for subscription in active:
            events.queue_test(subscription)
        if active:
            messages.success(
                request,
                ngettext(
                    "A test message is on its way; the delivery log shows how it went.",
                    "%(count)d test messages are on their way; the delivery log shows how they went.",
                    len(active),
                )
                % {"count": len(active)},
            )
        if paused := len(subscriptions) - len(active):
            messages.warning(
                request,
                ngettext(
                    "%(count)d subscription is paused: resume it to send a test message.",
                    "%(count)d subscriptions are paused: resume them to send test messages.",
                    paused,
                )
                % {"count": paused},
            )

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request: HttpRequest, subscriptions) -> None:
        count = subscriptions.pause(now=timezone.now())
        messages.success(
            request,
            ngettext("%(count)d subscription was paused.", "%(count)d subscriptions were paused.", count)
            % {"count": count},
        )

    @admin.action(description=_("Resume (queued messages are delivered)"), permissions=["change"])
    def resume(self, request: HttpRequest, subscriptions) -> None:
        count = subscriptions.resume()
        messages.success(
            request,
            ngettext("%(count)d subscription was resumed.", "%(count)d subscriptions were resumed.", count)
            % {"count": count},
        )


def _resend(request: HttpRequest, message_ids: list[int]) -> None:
    count = tasks.resend(Message.objects.filter(pk__in=message_ids), now=timezone.now())
    messages.success(
        request,
        ngettext("%(count)d message will be sent again.", "%(count)d messages will be sent again.", count)
        % {"count": count},
    )


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    readonly_fields = fields = (
        "attempt",
        "attempted_at",
        "status",
        "response_code",
        "duration_ms",
        "error",
        "next_attempt_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages are made by events and read here; "resend" queues them again with the same webhook-id."""

    list_display = ["created_at", "type", "subscription", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "type", "subscription"]
    list_select_related = ["subscription"]
    search_fields = ["webhook_id"]
    date_hierarchy = "created_at"
    readonly_fields = fields = (
        "subscription",
        "webhook_id",
        "type",
        "payload",
        "created_at",
        "status",
        "attempts",
        "first_attempt_at",
        "next_attempt_at",
    )
    inlines = [DeliveryInline]
    actions = ["resend"]

    def get_queryset(self, request):
        return _own(request, super().get_queryset(request), "subscription__owner")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description=_("Resend"), permissions=["change"])
    def resend(self, request: HttpRequest, selected) -> None:
        _resend(request, list(selected.values_list("pk", flat=True)))


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every attempt, read-only; "resend" queues the attempts' messages again."""

    list_display = [
        "attempted_at",
        "subscription",
        "message",
        "attempt",
        "status",
        "response_code",
        "duration_ms",
        "next_attempt_at",
    ]
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription", "message"]
    search_fields = ["message__webhook_id"]
    date_hierarchy = "attempted_at"
    actions = ["resend"]

    def get_queryset(self, request):
        return _own(request, super().get_queryset(request), "subscription__owner")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("webhooks.change_message")

    @admin.action(description=_("Resend these messages"), permissions=["resend"])
    def resend(self, request: HttpRequest, selected) -> None:
        _resend(request, sorted(set(selected.values_list("message_id", flat=True))))
