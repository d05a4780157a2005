"""Sending due invitations and reminders: the database is the queue, any number of senders.

A sender claims a batch of due invitations (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent senders take disjoint batches), then sends them one
by one over one mail connection. Each send is recorded before the mail leaves
(``send_started_at`` and the Message-ID) and as sent once the mail server took
it: if a sender dies in between, nobody knows whether the mail server took the
message, so that one invitation goes to review instead of out a second time.
The rest of a dead sender's batch loses nothing: its claim expires and the
invitations are sent by another. A mail server that cannot be reached sends
the whole batch back to the queue at once.

Celery's periodic task and ``manage.py dispatch`` both call ``dispatch_due``.
"""

import logging
import smtplib
from collections import Counter
from datetime import datetime, timedelta
from email.utils import make_msgid
from urllib.parse import urlsplit

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from surveys.email.messages import invitation_message
from surveys.models import Invitation, LegalInformation, Suppression

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
# A claim older than this belongs to a sender that stopped.
CLAIM_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# Waits after the 1st, 2nd, … temporary failure.
BACK_OFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
SENDABLE = (Invitation.Status.SENT, Invitation.Status.DELIVERED, Invitation.Status.OPENED)
# The outcome of invitations given back unsent because the mail server could not be reached.
SERVER_DOWN = "server down"


class TemporaryFailure(Exception):
    """The mail server or provider asked us to try again later."""


class MailServerUnreachable(TemporaryFailure):
    """The connection to the mail server failed or broke: no message can go out now."""


class PermanentFailure(Exception):
    """The mail server or provider refused this message for good."""


def dispatch_due(*, batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> Counter:
    """Send every invitation and reminder that is due now; how many ended how."""
    report: Counter = Counter()
    release_stalled_claims(now=timezone.now())
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed = claim_due_invitations(now=timezone.now(), limit=batch_size)
        if not claimed:
            break
        report += send_invitations(claimed)
        batches += 1
        if report[SERVER_DOWN]:  # try again at the next turn, not batch after batch
            break
    if not report[SERVER_DOWN]:
        report += send_due_reminders(now=timezone.now(), limit=batch_size * 10)
    if report:
        logger.info("Dispatched: %s", ", ".join(f"{count} {outcome}" for outcome, count in report.items()))
    return report


def claim_due_invitations(*, now: datetime, limit: int) -> list[int]:
    """Mark up to ``limit`` due invitations as being sent by this sender; their ids."""
    due = Invitation.objects.filter(status=Invitation.Status.SCHEDULED, scheduled_for__lte=now).order_by(
        "scheduled_for"
    )
    claim = {"status": Invitation.Status.SENDING, "claimed_at": now, "attempts": F("attempts") + 1}
    with transaction.atomic():
        if db.features.has_select_for_update_skip_locked:
            ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            Invitation.objects.filter(pk__in=ids).update(**claim)
            return ids
        # SQLite has one writer at a time; a conditional update per row tells who won.
        candidates = due.values_list("pk", flat=True)[:limit]
        return [
            pk
            for pk in candidates
            if Invitation.objects.filter(pk=pk, status=Invitation.Status.SCHEDULED).update(**claim)
        ]


def release_stalled_claims(*, now: datetime) -> None:
    """Claims of stopped senders: unsent ones go back to the queue, half-sent ones to review."""
    stalled = Invitation.objects.filter(status=Invitation.Status.SENDING, claimed_at__lt=now - CLAIM_LEASE)
    stalled.filter(send_started_at__isnull=True).update(
        status=Invitation.Status.SCHEDULED, scheduled_for=now, claimed_at=None
    )
    reviewed = stalled.filter(send_started_at__isnull=False).update(
        status=Invitation.Status.REVIEW,
        claimed_at=None,
        last_error="The sender stopped while handing this email to the mail server. Check the mail "
        "server's log for its Message-ID before sending it again.",
    )
    if reviewed:
        logger.warning("%d invitations may or may not have been sent; they await review", reviewed)


def send_invitations(ids: list[int]) -> Counter:
    """Send claimed invitations over one mail connection; what happened to how many.

    If the mail server cannot be reached, or the connection breaks, the invitations not yet
    handed over go back to the queue at once ("server down"), in their place and without
    counting the attempt: the outage is the installation's, not theirs, and they go out as soon
    as the mail server is back. The one in flight when the connection broke is retried later.
    """
    report: Counter = Counter()
    mail = get_connection()
    try:
        mail.open()
    except OSError as error:  # smtplib's errors are OSErrors too
        report[SERVER_DOWN] = _give_back(ids, error)
        return report
    invitations = list(
        Invitation.objects.filter(pk__in=ids, status=Invitation.Status.SENDING)
        .select_related("survey", "touchpoint__survey", "contact")
        .order_by("scheduled_for")
    )
    legal = LegalInformation.objects.current()  # once for the batch: every email's footer
    suppressed = _suppressed(invitations)
    unrecorded: list[tuple[Invitation, str, datetime]] = []
    try:
        for position, invitation in enumerate(invitations):
            try:
                report[
                    send_invitation(
                        invitation,
                        mail=mail,
                        unrecorded=unrecorded,
                        legal=legal,
                        suppressed=invitation.contact_id in suppressed,
                    )
                ] += 1
            except MailServerUnreachable as error:
                _record_sent(unrecorded)
                report[_retry_later(invitation, error, now=timezone.now())] += 1
                report[SERVER_DOWN] = _give_back([later.pk for later in invitations[position + 1 :]], error)
                break
    finally:
        _record_sent(unrecorded)
        mail.close()
    return report


def _give_back(ids: list[int], error: Exception) -> int:
    """Claimed invitations not handed to the mail server go back to the queue; how many."""
    given_back = Invitation.objects.filter(
        pk__in=ids, status=Invitation.Status.SENDING, send_started_at__isnull=True
    ).update(
        status=Invitation.Status.SCHEDULED,
        claimed_at=None,
        attempts=F("attempts") - 1,
        last_error=f"The mail server could not be reached: {error}"[:1000],
    )
    logger.warning("The mail server could not be reached (%s); %d invitations wait for it", error, given_back)
    return given_back


def _suppressed(invitations: list[Invitation]) -> set[int]:
    """The contacts among these invitations' whose address is on the suppression list: one query."""
    contacts = [invitation.contact for invitation in invitations if invitation.contact is not None]
    return set(Suppression.objects.reasons_for(contacts))


def send_invitation(
    invitation: Invitation,
    *,
    mail,
    unrecorded: list,
    legal: LegalInformation | None = None,
    suppressed: bool = False,
) -> str:
    """Send one claimed invitation; returns what happened ("sent", "skipped", "retry", "failed").
    ``legal`` is the installation's legal information for the email's footer (read if not given).
    ``suppressed``: the contact's address is on the suppression list (``_suppressed``).

    Raises MailServerUnreachable, having recorded nothing about this invitation but its start.

    A sent invitation is appended to ``unrecorded`` with its provider message id and the time it
    was handed over; it is recorded as sent in the same transaction that records the start of the
    next one (one commit per email, which is what a send costs the database), or at the end of
    the batch. Its ``send_started_at`` keeps it from being sent twice meanwhile.
    """
    if reason := _reason_not_to_send(invitation, suppressed=suppressed):
        _record_sent(unrecorded)
        # An erased contact's invitation keeps no error that may quote the address.
        erased = {"last_error": ""} if reason == Invitation.SkipReason.ERASED else {}
        _finish(invitation, status=Invitation.Status.SKIPPED, skip_reason=reason, claimed_at=None, **erased)
        return "skipped"
    invitation.message_id = make_msgid(domain=urlsplit(settings.SITE_URL).hostname)
    try:
        message = invitation_message(invitation, legal=legal)
    except Exception as error:  # one broken invitation must not stop the others
        logger.exception("Invitation %s could not be rendered", invitation.pk)
        _record_sent(unrecorded)
        _finish(
            invitation, status=Invitation.Status.FAILED, claimed_at=None, last_error=f"Rendering: {error}"
        )
        return "failed"
    now = timezone.now()
    if not _record_sent_and_start(
        unrecorded, invitation, now=now
    ):  # released as stalled meanwhile; someone else has it now
        return "lost"
    try:
        send_message(message, mail)
    except MailServerUnreachable:
        raise
    except TemporaryFailure as error:
        return _retry_later(invitation, error, now=now)
    except PermanentFailure as error:
        _finish(invitation, status=Invitation.Status.FAILED, claimed_at=None, last_error=str(error)[:1000])
        return "failed"
    unrecorded.append((invitation, _provider_message_id(message), now))
    return "sent"


def _record_sent(unrecorded: list[tuple[Invitation, str, datetime]]) -> None:
    """Mark invitations handed to the mail server as sent then, one UPDATE each."""
    while unrecorded:
        invitation, provider_message_id, handed_over = unrecorded.pop()
        Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.SENDING).update(
            **_sent_fields(invitation, provider_message_id, handed_over)
        )


def _record_sent_and_start(
    unrecorded: list[tuple[Invitation, str, datetime]], invitation: Invitation, *, now: datetime
) -> bool:
    """Record the previous send and the start of this one in one transaction; whether this one is
    still ours to send.

    On PostgreSQL both UPDATEs go in one query, which the server runs as one transaction: one
    round trip and one commit per email instead of four round trips (BEGIN, two UPDATEs, COMMIT),
    which cost a sender more than rendering the email.
    """
    # Only the model's own names go into the SQL text; every value is a parameter.
    table, quote = Invitation._meta.db_table, db.ops.quote_name
    statements, params = [], []
    if unrecorded:
        previous, provider_message_id, handed_over = unrecorded.pop()
        fields = _sent_fields(previous, provider_message_id, handed_over)
        columns = ", ".join(f"{quote(name)} = %s" for name in fields)  # no field sets a db_column
        statements.append(f"UPDATE {quote(table)} SET {columns} WHERE id = %s AND status = %s")  # noqa: S608
        params.append([*fields.values(), previous.pk, Invitation.Status.SENDING])
    statements.append(
        f"UPDATE {quote(table)} SET send_started_at = %s, message_id = %s "  # noqa: S608
        "WHERE id = %s AND status = %s AND send_started_at IS NULL"
    )
    params.append([now, invitation.message_id, invitation.pk, Invitation.Status.SENDING])
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("; ".join(statements), [value for values in params for value in values])
            return cursor.rowcount == 1  # the last statement's
        with transaction.atomic():  # SQLite runs one statement per call
            for statement, values in zip(statements, params, strict=True):
                cursor.execute(statement, values)
            return cursor.rowcount == 1


def _sent_fields(invitation: Invitation, provider_message_id: str, handed_over: datetime) -> dict:
    """Sent when handed over; answering and reminder periods start then, as the touchpoint sets them."""
    touchpoint = invitation.touchpoint
    fields = {
        "status": Invitation.Status.SENT,
        "sent_at": handed_over,
        "claimed_at": None,
        "last_error": "",
        "expires_at": handed_over + timedelta(days=touchpoint.answerable_days),
        "reminder_due_at": (
            handed_over + timedelta(days=touchpoint.reminder_after_days)
            if touchpoint.reminder_after_days
            else None
        ),
    }
    if provider_message_id:
        fields["provider_message_id"] = provider_message_id
    return fields


def _reason_not_to_send(invitation: Invitation, *, suppressed: bool) -> str:
    """Things may have changed since the invitation was scheduled: check again at the door."""
    if invitation.contact is None:
        return Invitation.SkipReason.ERASED
    if suppression := invitation.contact.suppression:
        return suppression
    if suppressed:
        return Invitation.SkipReason.SUPPRESSED
    if not invitation.contact.email:
        return Invitation.SkipReason.NO_EMAIL
    if not (invitation.touchpoint.active and invitation.survey.active):
        return Invitation.SkipReason.PAUSED
    return ""


def send_message(message, mail) -> None:
    """Hand one message to the mail server or provider (``mail``, a connection; None: a new one),
    sorting its errors into two kinds: TemporaryFailure (MailServerUnreachable among them) and
    PermanentFailure. Invitations, replies to customers and questions after cases go out here."""
    message.connection = mail
    try:
        message.send()
    except AnymailRecipientsRefused as error:
        raise PermanentFailure(str(error)) from error
    except AnymailAPIError as error:
        status = error.status_code
        if status is not None and 400 <= status < 500 and status != 429:
            raise PermanentFailure(str(error)) from error
        raise TemporaryFailure(str(error)) from error
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise PermanentFailure(f"Recipient refused: {error.recipients}") from error
        raise TemporaryFailure(f"Recipient deferred: {error.recipients}") from error
    except smtplib.SMTPResponseException as error:
        text = f"{error.smtp_code} {error.smtp_error!r}"
        if error.smtp_code >= 500:
            raise PermanentFailure(text) from error
        raise TemporaryFailure(text) from error
    # The rest of smtplib's errors (disconnected, no connection) are OSErrors, as a refused or
    # reset connection is.
    except OSError as error:
        raise MailServerUnreachable(f"{type(error).__name__}: {error}") from error


def _retry_later(invitation: Invitation, error: Exception, *, now: datetime) -> str:
    attempts = invitation.attempts  # this attempt included: the claim counted it, before loading
    if attempts >= MAX_ATTEMPTS:
        _finish(invitation, status=Invitation.Status.FAILED, claimed_at=None, last_error=str(error)[:1000])
        return "failed"
    wait = BACK_OFF[min(attempts, len(BACK_OFF)) - 1]
    _finish(
        invitation,
        status=Invitation.Status.SCHEDULED,
        scheduled_for=now + wait,
        claimed_at=None,
        send_started_at=None,
        last_error=str(error)[:1000],
    )
    return "retry"


def _finish(invitation: Invitation, **fields) -> None:
    """Leave the "sending" state; only the claim's owner gets here, so the row is still ours."""
    Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.SENDING).update(**fields)


def _provider_message_id(message) -> str:
    status = getattr(message, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


def send_due_reminders(*, now: datetime, limit: int) -> Counter:
    """One reminder to each invited contact who has not answered, when the touchpoint wants one.

    The reminder is marked as sent before it leaves: a sender that dies in between
    loses a reminder rather than sending two.
    """
    report: Counter = Counter()
    due = (
        Invitation.objects.filter(
            reminder_due_at__lte=now,
            status__in=SENDABLE,
            answered_at__isnull=True,
            expires_at__gt=now,
            survey__active=True,
            touchpoint__active=True,
            contact__isnull=False,  # erased
        )
        .exclude(Q(contact__email="") | Q(contact__unsubscribed_at__isnull=False))
        .exclude(Q(contact__bounced_at__isnull=False) | Q(contact__complained_at__isnull=False))
        .order_by("reminder_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    mail = get_connection()
    try:
        mail.open()
    except OSError as error:  # nothing claimed yet: the reminders stay due
        logger.warning("The mail server could not be reached (%s); reminders wait for it", error)
        return report
    mine = [
        pk
        for pk in list(due)
        if Invitation.objects.filter(pk=pk, reminder_due_at__isnull=False, answered_at__isnull=True).update(
            reminder_due_at=None, reminder_sent_at=now
        )
    ]
    invitations = list(
        Invitation.objects.filter(pk__in=mine).select_related("survey", "touchpoint__survey", "contact")
    )
    legal = LegalInformation.objects.current() if invitations else None
    suppressed = _suppressed(invitations)
    try:
        for position, invitation in enumerate(invitations):
            if invitation.contact_id in suppressed or invitation.contact is None:
                report["reminder suppressed"] += 1
                continue
            try:
                send_message(invitation_message(invitation, reminder=True, legal=legal), mail)
            except (TemporaryFailure, PermanentFailure) as error:
                Invitation.objects.filter(pk=invitation.pk).update(last_error=f"Reminder: {error}"[:1000])
                report["reminder failed"] += 1
                if isinstance(error, MailServerUnreachable):  # the rest were not sent: still due
                    rest = [later.pk for later in invitations[position + 1 :]]
                    Invitation.objects.filter(pk__in=rest).update(reminder_due_at=now, reminder_sent_at=None)
                    break
            else:
                report["reminded"] += 1
    finally:
        mail.close()
    return report
