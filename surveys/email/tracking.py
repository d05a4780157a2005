"""What email providers report about sent invitations, through django-anymail's tracking webhooks.

Providers post to ``/webhooks/email/<provider>/tracking/`` (and received mail to
``…/<provider>/inbound/``) with the shared secret
(``ANYMAIL_WEBHOOK_SECRET``) as basic auth. Without a configured secret the webhooks
do not exist: an open webhook would let anyone forge a bounce and silence a customer.

Events update their invitation with conditional UPDATEs, so that retried, duplicated
and out-of-order events are harmless: the first timestamp of each kind is kept, the
status only moves forward, and a late delivery never undoes a bounce.
"""

from datetime import UTC, datetime
from functools import wraps

from anymail import urls as anymail_urls
from anymail.signals import AnymailTrackingEvent, EventType
from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from surveys.models import Contact, Invitation
from surveys.signals import contact_unsubscribed, invitation_bounced

Status = Invitation.Status

# How far an invitation has got; tracking only moves it forward. "sending" is missing on
# purpose: the sender that claimed the row still owns its status.
_RANK: dict[str, int] = {
    Status.SENT: 1,
    Status.REVIEW: 1,  # a provider's report settles whether the mail went out
    Status.DELIVERED: 2,
    Status.OPENED: 3,
    Status.BOUNCED: 4,
    Status.FAILED: 4,
    Status.COMPLAINED: 5,
}
_UNDELIVERED = [Status.BOUNCED, Status.FAILED]

# A provider that refuses an address for one of these reasons refuses it for good.
_REJECTION_MARKS = {
    "bounced": "bounced_at",
    "invalid": "bounced_at",
    "spam": "complained_at",
    "unsubscribed": "unsubscribed_at",
}


def record_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """Apply one provider event to its invitation and contact; events for unknown messages are ignored.

    Deferrals (soft bounces the provider still retries), clicks and the like change nothing.
    """
    found = _find_invitation(event)
    if found is None:
        return
    invitation_id, contact_id = found
    at = _aware(event.timestamp) or timezone.now()
    kind = event.event_type
    if kind == EventType.DELIVERED:
        _advance(invitation_id, Status.DELIVERED, delivered_at=at)
    elif kind == EventType.OPENED:
        _advance(invitation_id, Status.OPENED, opened_at=at)
    elif kind == EventType.BOUNCED:
        with transaction.atomic():
            _bounce(invitation_id)
            if _is_permanent(event, esp_name):
                mark_contact(contact_id, "bounced_at", at)
    elif kind == EventType.COMPLAINED:
        _advance(invitation_id, Status.COMPLAINED)
        mark_contact(contact_id, "complained_at", at)
    elif kind in (EventType.REJECTED, EventType.FAILED):
        reason = event.reject_reason or "unknown"
        detail = event.description or event.mta_response or ""
        _advance(invitation_id, Status.FAILED, last_error=f"The provider refused it ({reason}). {detail}")
        if field := _REJECTION_MARKS.get(event.reject_reason or ""):
            mark_contact(contact_id, field, at)
    elif kind == EventType.UNSUBSCRIBED:
        mark_contact(contact_id, "unsubscribed_at", at)


def _find_invitation(event: AnymailTrackingEvent) -> tuple[int, int] | None:
    """(invitation id, contact id) by the metadata we sent, else by the provider's message id."""
    rows = Invitation.objects.values_list("pk", "contact_id")
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    ids = {"message_id": metadata.get("invitation"), "provider_message_id": event.message_id}
    for field, value in ids.items():
        if _usable_id(value) and (found := rows.filter(**{field: value}).first()):
            return found
    return None


def _usable_id(value: object) -> bool:
    """Whether an id from a webhook can be looked up (PostgreSQL cannot compare U+0000)."""
    return isinstance(value, str) and 0 < len(value) <= 255 and "\x00" not in value


def _advance(invitation_id: int, status: str, *, last_error: str = "", **timestamps: datetime) -> None:
    """One UPDATE: the status if it is a step forward, each timestamp if it is the first.

    Every expression in the UPDATE sees the row as it was, so two events racing each
    other cannot interleave between a read and a write.
    """
    behind = _behind(status)
    changes = {"status": Case(When(status__in=behind, then=Value(status)), default=F("status"))}
    if last_error:
        changes["last_error"] = Case(
            When(status__in=behind, then=Value(last_error[:1000])), default=F("last_error")
        )
    for field, at in timestamps.items():
        # A mail that bounced was not delivered, whatever a late report says.
        changes[field] = Case(
            When(status__in=_UNDELIVERED, then=F(field)),
            default=Coalesce(F(field), Value(at, output_field=DateTimeField())),
        )
    Invitation.objects.filter(pk=invitation_id).update(**changes)


def _behind(status: str) -> list[str]:
    return [earlier for earlier, rank in _RANK.items() if rank < _RANK[status]]


def _bounce(invitation_id: int) -> None:
    """Mark the invitation bounced; the first report of the bounce is announced (``invitation_bounced``).

    The row is locked from reading its status to advancing it, so that of two reports of
    one bounce arriving together only one is announced.
    """
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    _advance(invitation_id, Status.BOUNCED)
    if invitation.status in _behind(Status.BOUNCED):
        invitation.status = Status.BOUNCED
        invitation_bounced.send(sender=Invitation, invitation=invitation)


def mark_contact(contact_id: int, field: str, at: datetime) -> None:
    """Suppress the contact; the first time is kept, and a first objection is announced
    (``contact_unsubscribed``)."""
    with transaction.atomic():
        marked = Contact.objects.filter(pk=contact_id, **{f"{field}__isnull": True}).update(
            **{field: at, "updated_at": timezone.now()}
        )
        if marked and field == "unsubscribed_at":
            contact_unsubscribed.send(sender=Contact, contact=Contact.objects.get(pk=contact_id))


def _is_permanent(event: AnymailTrackingEvent, esp_name: str) -> bool:
    # Anymail reports Postmark's soft bounces (a full mailbox) as bounces too. Postmark keeps
    # the address active after them, and so do we: only this invitation counts as bounced.
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    return not (esp_name == "Postmark" and esp_event.get("Type") == "SoftBounce")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment, UTC)
    return moment


def webhook_urlpatterns() -> list[URLPattern]:
    """Anymail's tracking and inbound webhooks; each answers 404 while no WEBHOOK_SECRET is
    configured. Inbound mail is the customers' answers to replies from follow-up cases
    (``followup.replies``): a forged one would put words in a customer's mouth.

    The secret is read per request, like anymail does, so no URLconf depends on it.
    """
    return [
        URLPattern(pattern.pattern, _require_secret(pattern.callback), pattern.default_args, pattern.name)
        for pattern in anymail_urls.urlpatterns
        if pattern.name.endswith(("_tracking_webhook", "_inbound_webhook"))
        or pattern.name == "mandrill_webhook"
    ]


def tracking_webhooks_on() -> bool:
    """Whether providers can report deliveries, opens and bounces: the webhooks have a secret."""
    return bool(_webhook_secrets())


def _webhook_secrets() -> list[str]:
    secret = get_anymail_setting("webhook_secret", default=None)
    if isinstance(secret, str):
        return [secret] if secret else []
    return [item for item in secret if isinstance(item, str) and item] if isinstance(secret, list) else []


def _require_secret(view):
    @csrf_exempt
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        secrets = _webhook_secrets()
        if not secrets:
            raise Http404("Email tracking webhooks are off: ANYMAIL_WEBHOOK_SECRET is not set.")
        # Anymail checks the secret too, but answers a wrong one with 400; a 401 with a
        # challenge is what HTTP clients (and Amazon SNS) expect before sending credentials.
        given = get_request_basic_auth(request) or ""
        if request.method == "POST" and not any(constant_time_compare(given, secret) for secret in secrets):
            response = HttpResponse(status=401)
            response["WWW-Authenticate"] = 'Basic realm="CXSurvey email webhooks"'
            return response
        return view(request, *args, **kwargs)

    return guarded
