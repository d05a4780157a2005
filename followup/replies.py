"""Replies to the customer from a case, and the customer's answers coming back.

A reply is written on the case page (from a ``ReplyTemplate``, personalised in the customer's
language and edited before it goes) and recorded at once as a ``REPLY_SENT`` entry whose
delivery is "queued": the request never waits for the mail server. ``send_queued_replies``
(Celery's beat every few seconds; ``manage.py runtasks`` without a broker) sends it and records
it as sent, or the error.

Its Reply-To is the installation's reply mailbox (``FOLLOWUP_REPLY_ADDRESS``) with the case's
token as plus-address, ``replies+<token>@cx.example.com``: the provider's inbound webhook brings
the customer's answer back (``record_inbound_reply``), found by that token or by the Message-ID
it answers, and it lands on the case's timeline threaded under the reply.
"""

import logging
import re
from collections import Counter
from datetime import datetime, timedelta
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from followup.cases import change_case, record_first_response
from followup.models import Case, CaseEntry, CaseStatus, ReplyTemplate
from surveys.email.dispatch import PermanentFailure, TemporaryFailure, send_message
from surveys.email.messages import mail_address, render_email, sender_address
from surveys.models import Contact, LegalBasis, LegalInformation, Suppression
from surveys.scales import LANGUAGES
from surveys.texts import MAX_INTRO_LENGTH, MAX_SUBJECT_LENGTH, REPLY_PLACEHOLDERS, render_survey_text

logger = logging.getLogger(__name__)

Kind = CaseEntry.Kind
BATCH_SIZE = 50
MAX_ATTEMPTS = 5
# Waits after the 1st, 2nd, … failure of a mail server that could not take the reply.
BACK_OFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
# A reply being sent for longer than this belongs to a sender that stopped.
CLAIM_LEASE = timedelta(minutes=10)
THREAD_KINDS = (Kind.REPLY_SENT, Kind.REPLY_RECEIVED)
_TOKEN = re.compile(r"^([0-9a-f]{32})([0-9a-f]{16})$")


class Delivery:
    """Where a reply stands, in its entry's ``details["status"]``."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


# Why a case's customer may not be written to; the codes and labels of invitations' skip reasons.
REFUSALS = {
    "no_contact": _("The answer came from no known contact, or the contact was erased."),
    "no_email": _("The contact has no email address."),
    "unsubscribed": _("The contact unsubscribed."),
    "bounced": _("The contact's address bounced."),
    "complained": _("The contact marked an email as spam."),
    "suppressed": _("The address is on the suppression list of erased contacts."),
    "no_legal_basis": _("The contact gave no consent and is not an existing customer."),
}


class ReplyRefused(Exception):
    """The customer may not be written to (``REFUSALS``)."""


def reason_not_to_reply(case: Case) -> str:
    """Why the case's customer may not get a reply (a key of ``REFUSALS``), or "" if they may. The
    invitations' rules at the door (``surveys.email.dispatch``), and the legal basis that
    inviting needs."""
    contact = case.response.contact
    if contact is None:
        return "no_contact"
    if not contact.email:
        return "no_email"
    if suppression := contact.suppression:
        return suppression
    if Suppression.objects.reasons_for([contact]):
        return "suppressed"
    if contact.legal_basis == LegalBasis.NONE:
        return "no_legal_basis"
    return ""


def reply_language(case: Case) -> str:
    """The contact's language, else the answer's, else the installation's."""
    contact = case.response.contact
    for language in (contact.language if contact else "", case.response.language):
        if language in LANGUAGES:
            return language
    return settings.LANGUAGE_CODE


def reply_templates(case: Case) -> list[str]:
    """The names of the templates for the case's survey and for every survey."""
    rows = ReplyTemplate.objects.filter(Q(survey=None) | Q(survey_id=case.survey_id))
    return sorted(set(rows.values_list("name", flat=True)))


def render_reply(case: Case, name: str) -> tuple[str, str] | None:
    """The template's subject and text in the customer's language (another language if it has
    none in theirs), personalised; None for a name no template of the case's survey has.

    The placeholders are the survey emails' (``{{ contact.name }}``, ``{{ properties.<name> }}``,
    ``{{ brand }}``), and ``{{ score }}``, the answer's score."""
    rows = ReplyTemplate.objects.filter(Q(survey=None) | Q(survey_id=case.survey_id), name=name)
    templates = {template.language: template for template in rows.order_by("language")}
    if not templates:
        return None
    template = templates.get(reply_language(case)) or next(iter(templates.values()))
    values = _values(case, subject=template.subject)
    where = f"reply template {template.pk}"
    subject, body = (
        render_survey_text(text, text, values, max_length=length, where=where, allowed=REPLY_PLACEHOLDERS)
        for text, length in ((template.subject, MAX_SUBJECT_LENGTH), (template.body, MAX_INTRO_LENGTH))
    )
    return " ".join(subject.split()), body


def _values(case: Case, *, subject: str) -> dict:
    response, contact = case.response, case.response.contact
    properties = {**response.contact_properties, **response.event_properties}
    return {
        "contact": {"name": contact.name if contact else "", "email": contact.email if contact else ""},
        "properties": {name: value for name, value in properties.items() if isinstance(name, str)},
        "brand": case.survey.brand,
        "subject": subject,
        "score": case.response.score,
    }


def reply_token(case: Case) -> str:
    """The case's token for the reply mailbox's plus-address: its public id and a keyed hash of it,
    so that no one can make up the address of another case."""
    return _token_for(case.public_id.hex)


def case_for_token(token: str) -> Case | None:
    """The case of a plus-address token; None for a forged, malformed or unknown one."""
    match = _TOKEN.match(token.lower())
    if match is None or not constant_time_compare(_token_for(match[1]), match[0]):
        return None
    return Case.objects.filter(public_id=match[1]).select_related("response").first()


def _token_for(key: str) -> str:
    return key + salted_hmac("followup.replies.token", key).hexdigest()[:16]


def reply_address(case: Case) -> str:
    """``replies+<token>@domain`` of ``FOLLOWUP_REPLY_ADDRESS``; "" while it is not set."""
    mailbox = settings.FOLLOWUP_REPLY_ADDRESS
    if not mailbox:
        return ""
    local, _at, domain = mailbox.rpartition("@")
    return f"{local}+{reply_token(case)}@{domain}"


def _thread(case: Case, *, before: CaseEntry | None = None) -> list[str]:
    """The Message-IDs of the case's conversation so far, oldest first."""
    entries = CaseEntry.objects.filter(case=case, kind__in=THREAD_KINDS).exclude(message_id="")
    if before is not None:
        entries = entries.filter(pk__lt=before.pk)
    return list(entries.order_by("created_at", "pk").values_list("message_id", flat=True))


def queue_reply(case: Case, *, by, subject: str, body: str, now: datetime) -> CaseEntry:
    """Record the reply as queued for ``send_queued_replies``; ReplyRefused if the customer may not
    be written to. The Message-ID is chosen now, so that the conversation's threading does not
    depend on when the mail leaves."""
    if reason := reason_not_to_reply(case):
        raise ReplyRefused(reason)
    contact: Contact = case.response.contact  # type: ignore[assignment]
    thread = _thread(case)
    with transaction.atomic():
        entry = CaseEntry.objects.create(
            case=case,
            kind=Kind.REPLY_SENT,
            author=by,
            text=body,
            message_id=make_msgid(domain=urlsplit(settings.SITE_URL).hostname),
            in_reply_to=thread[-1] if thread else "",
            details={
                "subject": " ".join(subject.split()),
                "to": contact.email,
                "language": reply_language(case),
                "status": Delivery.QUEUED,
                "attempts": 0,
            },
            created_at=now,
        )
        Case.objects.filter(pk=case.pk).update(updated_at=now)
    return entry


def send_queued_replies(*, now: datetime, limit: int = BATCH_SIZE) -> Counter:
    """Send the queued replies, oldest first; how many ended how."""
    report: Counter = Counter()
    report["stalled"] = release_stalled_replies(now=now)
    queued = CaseEntry.objects.filter(kind=Kind.REPLY_SENT, details__status=Delivery.QUEUED).order_by("pk")
    due = [pk for pk, details in queued.values_list("pk", "details") if _is_due(details, now)]
    for pk in due[:limit]:
        report[send_reply(pk, now=now)] += 1
    report = +report  # without the outcomes that did not happen
    if report:
        logger.info("Case replies: %s", ", ".join(f"{count} {outcome}" for outcome, count in report.items()))
    return report


def _is_due(details: dict, now: datetime) -> bool:
    retry_at = details.get("retry_at")
    return not retry_at or datetime.fromisoformat(retry_at) <= now


def release_stalled_replies(*, now: datetime) -> int:
    """Replies a stopped sender claimed: nobody knows whether the mail server took them, so they
    fail with a note instead of going out twice; how many."""
    sending = CaseEntry.objects.filter(kind=Kind.REPLY_SENT, details__status=Delivery.SENDING)
    stalled = 0
    for entry in sending.only("pk", "details"):
        claimed_at = datetime.fromisoformat(entry.details.get("claimed_at") or now.isoformat())
        if claimed_at < now - CLAIM_LEASE:
            error = "The sender stopped while handing this reply over; see the mail server's log."
            _record(entry, entry.details, Delivery.FAILED, error=error)
            stalled += 1
    return stalled


def send_reply(entry_id: int, *, now: datetime) -> str:
    """Send one queued reply: "sent", "retry", "failed", or "taken" when another sender has it or it
    is no longer queued. Claimed by a conditional update first, so that it leaves once."""
    rows = CaseEntry.objects.select_related("case__response__contact", "case__survey")
    entry = rows.filter(pk=entry_id).first()  # gone with an erasure meanwhile
    if entry is None or entry.details.get("status") != Delivery.QUEUED:
        return "taken"
    details = dict(entry.details)
    attempts = int(details.get("attempts", 0)) + 1
    claimed = {**details, "status": Delivery.SENDING, "attempts": attempts, "claimed_at": now.isoformat()}
    if not CaseEntry.objects.filter(pk=entry.pk, details__status=Delivery.QUEUED).update(details=claimed):
        return "taken"
    case = entry.case
    if reason := reason_not_to_reply(case):  # the customer objected since it was written
        _record(entry, claimed, Delivery.FAILED, error=str(REFUSALS[reason]))
        return "failed"
    try:
        send_message(reply_message(entry), None)
    except (TemporaryFailure, PermanentFailure) as error:
        if isinstance(error, PermanentFailure) or attempts >= MAX_ATTEMPTS:
            _record(entry, claimed, Delivery.FAILED, error=str(error)[:500])
            return "failed"
        retry_at = now + BACK_OFF[attempts - 1]
        _record(entry, claimed, Delivery.QUEUED, error=str(error)[:500], retry_at=retry_at.isoformat())
        return "retry"
    _record(entry, claimed, Delivery.SENT, sent_at=now.isoformat())
    record_first_response(case, now=now)
    return "sent"


def _record(entry: CaseEntry, details: dict, status: str, **more: str) -> None:
    CaseEntry.objects.filter(pk=entry.pk).update(details={**details, "status": status, **more})


def reply_message(entry: CaseEntry):
    """The email of a reply entry, with the legal footer of invitations and the threading headers."""
    case, details = entry.case, entry.details
    survey, contact = case.survey, case.response.contact
    language = details.get("language") or settings.LANGUAGE_CODE
    thread = _thread(case, before=entry)
    headers = {"Message-ID": entry.message_id}
    if thread:
        headers["In-Reply-To"] = thread[-1]
        headers["References"] = " ".join(thread)
    reply_to = reply_address(case) or survey.reply_to
    legal = LegalInformation.objects.current().footer(language)
    message = render_email(
        "followup/email/reply",
        {"subject": details.get("subject", ""), "body": entry.text, "legal": legal, "language": language},
        language=language,
        to=[mail_address(contact.name if contact else "", details.get("to", ""))],
        from_email=sender_address(survey),
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
    )
    message.tags = ["case-reply"]  # type: ignore[attr-defined]
    return message


def record_inbound_reply(sender, event, esp_name: str, **kwargs) -> None:
    """Anymail's inbound signal: the customer's answer lands on its case as a ``REPLY_RECEIVED``
    entry and the case goes back to "in progress". Mail that matches no case is ignored."""
    message = event.message
    if message is None:
        return
    case = _matching_case(message)
    # A case whose customer was erased keeps nothing they send: it may not even be them.
    if case is None or case.response.contact_id is None:
        logger.info("An inbound email matched no case; ignored")
        return
    message_id = _header(message, "Message-ID")
    if (
        message_id
        and CaseEntry.objects.filter(case=case, kind=Kind.REPLY_RECEIVED, message_id=message_id).exists()
    ):
        return  # the provider retried a delivery we already have
    text = getattr(message, "stripped_text", None) or strip_quoted(message.text or "")
    sender_address = message.from_email.addr_spec if message.from_email else ""
    now = timezone.now()
    CaseEntry.objects.create(
        case=case,
        kind=Kind.REPLY_RECEIVED,
        text=text[:20000],
        message_id=message_id,
        in_reply_to=_header(message, "In-Reply-To"),
        details={"subject": (message.subject or "")[:500], "from": sender_address[:254]},
        created_at=now,
    )
    change_case(case, by=None, now=now, status=CaseStatus.IN_PROGRESS)


def _matching_case(message) -> Case | None:
    """By the plus-address the reply was sent to, else by the Message-IDs it answers."""
    recipients = [getattr(message, "envelope_recipient", None) or ""]
    recipients += [address.addr_spec for address in (message.to or []) + (message.cc or [])]
    for recipient in recipients:
        local = recipient.partition("@")[0]
        if "+" in local and (case := case_for_token(local.partition("+")[2])):
            return case
    answered = _header(message, "In-Reply-To").split() + _header(message, "References").split()
    answered = [
        message_id for message_id in answered if 0 < len(message_id) <= 255 and "\x00" not in message_id
    ]
    if not answered:
        return None
    entry = (
        CaseEntry.objects.filter(kind=Kind.REPLY_SENT, message_id__in=answered)
        .select_related("case__response")
        .order_by("-pk")
        .first()
    )
    return entry.case if entry else None


def _header(message, name: str) -> str:
    value = message.get(name)
    return " ".join(str(value).split())[:255] if value else ""


_QUOTE_INTRO = re.compile(
    r"^(On .+ wrote:|Am .+ schrieb .+:|-+ ?(Original Message|Ursprüngliche Nachricht) ?-+)\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The customer's own words: the text up to the quoted history ("> …" lines, "On … wrote:")."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.startswith(">") or _QUOTE_INTRO.match(line.strip()):
            break
        kept.append(line)
    return "\n".join(kept).strip() or text.strip()
