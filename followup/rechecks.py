"""Asking again after a case: "Was your issue solved?", some days after a case was resolved, if
its touchpoint says so (``Touchpoint.recheck_after_days``).

The question is one email with two buttons (yes, no) and a page to answer on. Its answers are
counted apart from the survey: they say whether the follow-up worked, not what the customer
thinks of the touchpoint. A "no" opens the case again, so that it is not closed on a customer
who says otherwise.

The database is the queue: a question is a row with a due time, claimed by a conditional
UPDATE (only one sender gets it), sent after the claim, and recorded as sent or given back.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from followup.cases import change_case
from followup.links import site_url
from followup.models import Case, CaseEntry, CaseStatus, Recheck, RecheckStatus
from surveys.email.dispatch import PermanentFailure, TemporaryFailure, send_message
from surveys.email.messages import mail_address, render_email, sender_address
from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import Contact, Invitation, LegalBasis, LegalInformation, Suppression

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=15)  # times the attempts so far
STALLED_AFTER = timedelta(minutes=10)  # a claim this old belongs to a sender that died
SkipReason = Invitation.SkipReason


def send_due_rechecks(*, now: datetime, limit: int = BATCH_SIZE) -> Counter:
    """Send the questions due now, at most ``limit``; how many were sent, skipped, failed or put back."""
    Recheck.objects.filter(status=RecheckStatus.SENDING, claimed_at__lt=now - STALLED_AFTER).update(
        status=RecheckStatus.SCHEDULED, claimed_at=None
    )
    due = Recheck.objects.filter(status=RecheckStatus.SCHEDULED, due_at__lte=now).order_by("due_at")
    report: Counter = Counter()
    legal = LegalInformation.objects.current()
    with get_connection() as mail:
        for pk in due.values_list("pk", flat=True)[:limit]:
            claimed = Recheck.objects.filter(pk=pk, status=RecheckStatus.SCHEDULED).update(
                status=RecheckStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
            )
            if claimed:
                recheck = Recheck.objects.select_related(
                    "case__response__contact", "case__survey", "case__touchpoint"
                ).get(pk=pk)
                report[_send(recheck, mail=mail, legal=legal, now=now)] += 1
    return report


def _send(recheck: Recheck, *, mail, legal: LegalInformation, now: datetime) -> str:
    contact = recheck.case.response.contact
    reason = _reason_not_to_ask(recheck, contact)
    if reason or contact is None:
        _finish(recheck, status=RecheckStatus.SKIPPED, skip_reason=reason or SkipReason.ERASED)
        return "skipped"
    message_id = make_msgid(domain=urlsplit(settings.SITE_URL).hostname)
    message = _message(recheck, contact, legal=legal, message_id=message_id)
    try:
        send_message(message, mail)
    except (TemporaryFailure, PermanentFailure) as error:
        if isinstance(error, PermanentFailure) or recheck.attempts >= MAX_ATTEMPTS:
            _finish(recheck, status=RecheckStatus.FAILED, last_error=str(error)[:1000])
            return "failed"
        _finish(
            recheck,
            status=RecheckStatus.SCHEDULED,
            due_at=now + RETRY_AFTER * recheck.attempts,
            last_error=str(error)[:1000],
        )
        return "retry"
    _finish(recheck, status=RecheckStatus.SENT, sent_at=now, last_error="")
    return "sent"


def _finish(recheck: Recheck, **fields) -> None:
    Recheck.objects.filter(pk=recheck.pk, status=RecheckStatus.SENDING).update(claimed_at=None, **fields)


def _reason_not_to_ask(recheck: Recheck, contact: Contact | None) -> str:
    """Why this customer must not get the question now, as the invitation sender decides; "" if they may."""
    if contact is None:
        return SkipReason.ERASED
    if suppression := contact.suppression:
        return suppression
    if Suppression.objects.reasons_for([contact]):
        return SkipReason.SUPPRESSED
    if not contact.email:
        return SkipReason.NO_EMAIL
    touchpoint = recheck.case.touchpoint
    if touchpoint is not None and touchpoint.require_consent and contact.legal_basis == LegalBasis.NONE:
        return SkipReason.NO_LEGAL_BASIS
    return ""


def _message(recheck: Recheck, contact: Contact, *, legal: LegalInformation, message_id: str):
    case = recheck.case
    survey = case.survey
    language = recheck.language
    page = site_url(reverse("followup:recheck", args=[recheck.token]))
    unsubscribe_url = site_url(reverse("surveys:unsubscribe", args=[unsubscribe_token(contact)]))
    context = {
        "brand": survey.brand,
        "accent": survey.accent_color,
        "on_accent": survey.on_accent_color,
        "name": " ".join(contact.name.split()),
        "touchpoint": case.touchpoint.name if case.touchpoint else "",
        "yes_url": f"{page}?solved=yes",
        "no_url": f"{page}?solved=no",
        "legal": legal.footer(language),
        "language": language,
        "unsubscribe_url": unsubscribe_url,
    }
    return render_email(
        "followup/email/recheck",
        context,
        language=language,
        to=[mail_address(contact.name, contact.email)],
        from_email=sender_address(survey),
        reply_to=[survey.reply_to] if survey.reply_to else None,
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def record_recheck_answer(recheck: Recheck, *, solved: bool, comment: str, now: datetime) -> None:
    """The customer's answer, which they may change; each one a line on the case. A "no" to a
    closed case opens it again."""
    with transaction.atomic():
        Recheck.objects.filter(pk=recheck.pk).update(answered_at=now, solved=solved, comment=comment)
        recheck.answered_at, recheck.solved, recheck.comment = now, solved, comment
        case = Case.objects.get(pk=recheck.case_id)
        CaseEntry.objects.create(
            case=case, kind=CaseEntry.Kind.RECHECKED, text=comment, details={"solved": solved}, created_at=now
        )
        if not solved and not case.is_open:
            change_case(case, by=None, now=now, status=CaseStatus.IN_PROGRESS)
