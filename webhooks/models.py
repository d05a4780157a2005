"""Webhook subscriptions, the messages queued for them, and the log of every attempt to deliver one.

The database is the queue: a message is a row with a status and a due time, written
in the transaction of the change it reports, and claimed by whichever worker comes
first (``webhooks.delivery``).
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.access import may_read_responses, may_see_personal_data
from surveys.models import Survey
from webhooks.outbound import RefusedURL, check_url
from webhooks.signing import new_secret

# How long a rotated-out secret keeps signing beside the new one.
SECRET_OVERLAP = timedelta(hours=24)


class EventType(models.TextChoices):
    RESPONSE_CREATED = "response.created", _("response created")
    RESPONSE_UPDATED = "response.updated", _("response changed")
    INVITATION_BOUNCED = "invitation.bounced", _("invitation bounced")
    CONTACT_UNSUBSCRIBED = "contact.unsubscribed", _("contact unsubscribed")
    ALERT_FIRED = "alert.fired", _("alert fired")
    CASE_CREATED = "case.created", _("case opened")
    CASE_UPDATED = "case.updated", _("case changed")
    CASE_RESOLVED = "case.resolved", _("case closed")


# Events about follow-up cases and alerts, for owners who may view cases.
CASE_EVENT_PREFIXES = ("alert.", "case.")


# A message sent on request to check a receiver; it reports no event, and nobody subscribes to it.
TEST_MESSAGE = "webhook.test"
MESSAGE_TYPES = [*EventType.choices, (TEST_MESSAGE, _("test message"))]


def may_read_cases(user) -> bool:
    return user.has_perm("followup.view_case")


def validate_webhook_url(url: str) -> None:
    try:
        check_url(url)
    except RefusedURL as refused:
        raise ValidationError(str(refused), code="refused") from None


def validate_events(value: object) -> None:
    if not isinstance(value, list) or not value or not all(event in EventType.values for event in value):
        raise ValidationError(
            _("Choose one or more of: %(events)s."), params={"events": ", ".join(EventType.values)}
        )
    if len(set(value)) < len(value):
        raise ValidationError(_("Name each event once."))


def validate_payload_format(value: str) -> None:
    from webhooks import formats

    if formats.get(value) is None:
        names = ", ".join(name for name, _label in formats.choices())
        raise ValidationError(_("Choose one of: %(formats)s."), params={"formats": names})


def validate_survey_ids(value: object) -> None:
    if not isinstance(value, list) or not all(
        isinstance(pk, int) and not isinstance(pk, bool) and pk > 0 for pk in value
    ):
        raise ValidationError(_("Enter a list of survey ids."))
    if len(set(value)) < len(value):
        raise ValidationError(_("Name each survey once."))


def new_webhook_id() -> str:
    """The ``webhook-id`` of a message: 128 random bits, the same on every retry."""
    return "msg_" + secrets.token_urlsafe(16)


class SubscriptionQuerySet(models.QuerySet):
    def pause(self, *, now: datetime, reason: str = "") -> int:
        """Stop delivering to these subscriptions; how many were active. Queued messages wait."""
        return self.filter(active=True).update(active=False, paused_at=now, pause_reason=reason)

    def resume(self) -> int:
        """Deliver again; how many were paused. The streak of failures starts afresh, so that one
        more failure does not pause a subscription again at once."""
        return self.filter(active=False).update(
            active=True, paused_at=None, pause_reason="", failing_since=None
        )


class Subscription(models.Model):
    """Where to POST which events, signed with a secret that the receiver shares.

    The secret is stored as it is (the HMAC needs it) and shown once, when it is made.
    During a rotation the previous secret signs beside the new one until it expires.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        help_text=_("Told by email when the subscription is paused."),
    )
    url = models.URLField(
        _("URL"),
        max_length=2000,
        validators=[validate_webhook_url],
        help_text=_("A public http or https address. Redirects are not followed."),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list, validators=[validate_events])
    # No choices here: the formats are registered by the installed apps (``webhooks.formats``).
    payload_format = models.CharField(
        _("payload format"),
        max_length=32,
        default="cxsurvey",
        validators=[validate_payload_format],
        help_text=_("How each message is written; other formats carry some of the events."),
    )
    # Ids rather than a relation, so that deciding whom to tell reads no other table.
    surveys = models.JSONField(
        _("surveys"),
        default=list,
        blank=True,
        validators=[validate_survey_ids],
        help_text=_(
            "Only the events of these surveys. Empty: of every survey the owner may see. "
            "Unsubscribes belong to no survey and come all the same."
        ),
    )
    include_comments = models.BooleanField(
        _("include comments"), default=False, help_text=_("Send each response's comment.")
    )
    include_personal_data = models.BooleanField(
        _("include personal data"),
        default=False,
        help_text=_("Send the contact's email, name and external id, and event properties."),
    )
    active = models.BooleanField(_("active"), default=True)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True, editable=False)
    pause_reason = models.CharField(_("paused because"), max_length=500, blank=True, editable=False)
    # The first failed attempt since the last success; 24 hours of failing pause the subscription.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(paused_at__isnull=True) | models.Q(active=False),
                name="webhook_subscription_paused_inactive",
            ),
            models.CheckConstraint(
                condition=models.Q(previous_secret="", previous_secret_expires_at__isnull=True)
                | (~models.Q(previous_secret="") & models.Q(previous_secret_expires_at__isnull=False)),
                name="webhook_subscription_previous_expires",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        """The format must carry every chosen event. The owner receives only what the back office
        would show them: responses need the permission to view responses, personal data the one
        to view contacts."""
        errors: dict = {}
        events = self.events if isinstance(self.events, list) else []
        if uncarried := self.uncarried(events):
            errors["events"] = _("The payload format %(format)s cannot carry: %(events)s.") % {
                "format": self.payload_format,
                "events": ", ".join(uncarried),
            }
        surveys = self.surveys if isinstance(self.surveys, list) else []
        if len(set(surveys)) < len(surveys):
            errors["surveys"] = _("Name each survey once.")
        if self.owner_id is not None:
            errors = {**self._owner_errors(events, surveys), **errors}
        if errors:
            raise ValidationError(errors)

    def uncarried(self, events: list) -> list[str]:
        """The events that the subscription's payload format cannot carry; none if the format
        is unknown (its field's validator says so)."""
        from webhooks import formats

        payload_format = formats.get(self.payload_format)
        if payload_format is None:
            return []
        return [event for event in events if event not in payload_format.events]

    def _owner_errors(self, events: list, surveys: list) -> dict:
        errors: dict = {}
        visible = set(
            Survey.objects.visible_to(self.owner).filter(pk__in=surveys).values_list("pk", flat=True)
        )
        if unseen := [pk for pk in surveys if pk not in visible]:
            errors["surveys"] = _("The owner may not see these surveys: %(ids)s.") % {
                "ids": ", ".join(map(str, unseen))
            }
        if any(event.startswith("response.") for event in events) and not may_read_responses(self.owner):
            errors["events"] = _("The owner may not view responses, so cannot receive them.")
        elif any(event.startswith(CASE_EVENT_PREFIXES) for event in events) and not may_read_cases(
            self.owner
        ):
            errors["events"] = _("The owner may not view follow-up cases, so cannot receive their events.")
        if self.include_personal_data and not may_see_personal_data(self.owner):
            errors["include_personal_data"] = _(
                "The owner may not view contacts, so cannot receive their data."
            )
        return errors

    def visible_payload(self, payload: dict) -> dict | None:
        """The payload as the owner may see it now, when it is queued and again when it is sent:
        None if not at all (an inactive owner, another team's survey or one the subscription is not
        for, answers they may not read);
        else without the comment if they may not read answers and without the contact, the
        identity an unsigned answer claimed and the event's properties if they may not see
        personal data."""
        owner, data = self.owner, payload.get("data", {})
        if not owner.is_active:
            return None
        reads_responses = may_read_responses(owner)
        if str(payload.get("type", "")).startswith("response.") and not reads_responses:
            return None
        if str(payload.get("type", "")).startswith(CASE_EVENT_PREFIXES) and not may_read_cases(owner):
            return None
        survey_id = data.get("survey_id")
        if survey_id is not None and self.surveys and survey_id not in self.surveys:
            return None  # not one of the surveys it is for
        if survey_id is not None and not Survey.objects.visible_to(owner).filter(pk=survey_id).exists():
            return None
        hidden = set() if reads_responses else {"comment"}
        if not may_see_personal_data(owner):
            hidden |= {"contact", "claimed_identity", "properties"}
        return {**payload, "data": {key: value for key, value in data.items() if key not in hidden}}

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while it is still valid."""
        expires_at = self.previous_secret_expires_at  # set exactly when previous_secret is (constraint)
        if self.previous_secret and expires_at is not None and expires_at > now:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def rotate_secret(self, *, now: datetime) -> None:
        """A new secret; the current one keeps signing beside it for ``SECRET_OVERLAP``, so that
        receivers can switch without losing a message. The row is locked: of two rotations at
        once, the second keeps the first's new secret as the previous one."""
        with transaction.atomic():
            self.previous_secret = (
                Subscription.objects.select_for_update().only("secret").get(pk=self.pk).secret
            )
            self.previous_secret_expires_at = now + SECRET_OVERLAP
            self.secret = new_secret()
            self.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class MessageQuerySet(models.QuerySet):
    def due(self, now: datetime) -> "MessageQuerySet":
        """Pending messages of active subscriptions whose next attempt is due, oldest due first."""
        return self.filter(
            status=MessageStatus.PENDING, next_attempt_at__lte=now, subscription__active=True
        ).order_by("next_attempt_at")

    def resend(self, *, now: datetime) -> int:
        """Queue these messages again at once, with the same ``webhook-id`` and a new day of
        retries; those being sent are left alone. How many were queued."""
        return self.exclude(status=MessageStatus.SENDING).update(
            status=MessageStatus.PENDING, next_attempt_at=now, attempts=0, first_attempt_at=None
        )


class Message(models.Model):
    """One event for one subscription, as the JSON body it is sent as, and where its delivery stands."""

    Type = EventType
    Status = MessageStatus

    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,  # webhook_message_log_idx starts with it
    )
    webhook_id = models.CharField(
        _("webhook-id"), max_length=40, unique=True, default=new_webhook_id, editable=False
    )
    type = models.CharField(_("event"), max_length=32, choices=MESSAGE_TYPES)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Attempts since the message was (re)queued; the back-off follows them.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Retries stop a day after this.
    first_attempt_at = models.DateTimeField(_("first attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed by a worker"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=[value for value, _label in MESSAGE_TYPES]),
                name="webhook_message_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=MessageStatus.values), name="webhook_message_status_valid"
            ),
            # A pending message is due some time; any other is not.
            models.CheckConstraint(
                condition=models.Q(status=MessageStatus.PENDING, next_attempt_at__isnull=False)
                | (~models.Q(status=MessageStatus.PENDING) & models.Q(next_attempt_at__isnull=True)),
                name="webhook_message_due_iff_pending",
            ),
        ]
        indexes = [
            # The sweep: pending messages that are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_message_due_idx",
            ),
            # The sweep: claims of workers that stopped (status "sending").
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(status="sending"),
                name="webhook_message_sending_idx",
            ),
            # The back office's message list of one subscription, newest first; the API's resend
            # of a subscription's failed messages since a moment.
            models.Index(fields=["subscription", "-created_at"], name="webhook_message_log_idx"),
            # The hourly deletion of old messages (``delete_old_messages``), which would otherwise
            # read the whole table; and the back office's list of all messages, newest first.
            models.Index(fields=["created_at"], name="webhook_message_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"


class DeliveryStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class Delivery(models.Model):
    """One attempt to deliver a message: the log that subscribers and the back office read."""

    Status = DeliveryStatus

    # The message's subscription, copied so that its log is read from one index.
    subscription = models.ForeignKey(
        Subscription,
        verbose_name=_("subscription"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,  # webhook_delivery_log_idx starts with it
    )
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="deliveries"
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    response_body = models.CharField(_("response (start)"), max_length=1000, blank=True)
    error = models.CharField(_("error"), max_length=1000, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    attempted_at = models.DateTimeField(_("attempted"))
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"
            ),
        ]
        indexes = [
            # A subscription's delivery log, newest first, in pages (API and back office).
            models.Index(fields=["subscription", "-id"], name="webhook_delivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.attempt}: {self.status}"
