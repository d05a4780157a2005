"""Touchpoint events in, invitations out: whom to ask, and when.

``ingest_events`` takes a batch (one event from the API, up to a thousand from
the bulk endpoint or a contact upload) and works set-wise: a handful of queries
per batch, not per event. Each event's contact is created or updated, a legal
basis that the event sets or changes goes into the contact's consent history,
and each event gets an invitation that is either scheduled or skipped with its
reason.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from surveys.models import (
    Consent,
    ConsentRecord,
    Contact,
    Event,
    Invitation,
    LegalBasis,
    LegalBasisStated,
    Suppression,
    Touchpoint,
)
from surveys.models.contact import identified_by
from surveys.schedule import next_send_time


@dataclass(frozen=True)
class EventIn:
    """One validated event, as the API or an upload delivers it."""

    touchpoint: Touchpoint
    occurred_at: datetime
    email: str = ""
    external_id: str = ""
    name: str = ""
    language: str = ""
    legal_basis: str = ""  # empty: leave the contact's as it is
    consent: Consent | None = None  # the proof of the legal basis, if the event brings one
    contact_properties: dict = field(default_factory=dict)
    properties: dict = field(default_factory=dict)
    delay_seconds: int | None = None  # None: the touchpoint's delay


@dataclass(frozen=True)
class Outcome:
    """What became of one event: its event and invitation, or why it was refused."""

    event: Event | None = None
    invitation: Invitation | None = None
    error: str = ""


# Where a legal basis that came with an event is said to come from.
CONSENT_SOURCES: dict[str, str] = {
    Event.Source.API: ConsentRecord.Source.EVENTS_API,
    Event.Source.UPLOAD: ConsentRecord.Source.UPLOAD,
}


def ingest_events(
    events: list[EventIn], *, now: datetime, source: str = Event.Source.API, recorded_by: int | None = None
) -> list[Outcome]:
    """Store the events, create or update their contacts, record the legal bases they set or change
    (``recorded_by``: the id of the user who sent them), and decide each invitation."""
    with transaction.atomic():
        contacts, statements = _resolve_contacts(events, now=now)
        ConsentRecord.objects.record(
            statements, source=CONSENT_SOURCES[source], recorded_by=recorded_by, now=now
        )
        locked = {contact.pk: contact for contact in contacts if contact is not None}
        longest = max((recontact_days(event.touchpoint) for event in events), default=0)
        last_invited = _last_invited(locked, since=now - timedelta(days=longest))
        # One lookup for the whole batch: a new contact may have the address of an erased one.
        suppressed = Suppression.objects.reasons_for(locked.values())
        outcomes: list[Outcome] = []
        new_events, new_invitations = [], []
        for event_in, contact in zip(events, contacts, strict=True):
            if contact is None:
                outcomes.append(Outcome(error=_("The email and the external id belong to two contacts.")))
                continue
            contact = locked[contact.pk]
            event = Event(
                touchpoint=event_in.touchpoint,
                contact=contact,
                properties=event_in.properties,
                occurred_at=event_in.occurred_at,
                received_at=now,
                source=source,
            )
            invitation = _decide(
                event_in, contact, last_invited.get(contact.pk), suppressed=contact.pk in suppressed, now=now
            )
            if invitation.status == Invitation.Status.SCHEDULED:
                last_invited[contact.pk] = now
            new_events.append(event)
            new_invitations.append(invitation)
            outcomes.append(Outcome(event=event, invitation=invitation))
        Event.objects.bulk_create(new_events)
        for event, invitation in zip(new_events, new_invitations, strict=True):
            invitation.event = event
        Invitation.objects.bulk_create(new_invitations)
    return outcomes


def update_contacts(
    events: list[EventIn], *, now: datetime, source: str = Event.Source.API, recorded_by: int | None = None
) -> list[Contact | None]:
    """Create or update the events' contacts and record the legal bases they state, as
    ``ingest_events`` does, without storing the events or asking anyone. None where an event's
    email and external id belong to two contacts."""
    with transaction.atomic():
        contacts, statements = _resolve_contacts(events, now=now)
        ConsentRecord.objects.record(
            statements, source=CONSENT_SOURCES[source], recorded_by=recorded_by, now=now
        )
    return contacts


def _resolve_contacts(
    events: list[EventIn], *, now: datetime
) -> tuple[list[Contact | None], list[LegalBasisStated]]:
    """Each event's contact, found by email (any case) or external id, created or updated, and
    locked until the batch commits: two concurrent events for one contact decide recontact
    protection one after the other, never both on the same old state. Locked in the order of
    their ids, so that two batches cannot wait for each other.

    None where the email and the external id point to two different contacts. And the legal
    bases the events state, in order, each with the contact's legal basis before it (None for
    a contact this batch created).
    """
    emails = {event.email.lower() for event in events if event.email}
    external_ids = {event.external_id for event in events if event.external_id}

    def known() -> tuple[dict[str, Contact], dict[str, Contact]]:
        found: QuerySet[Contact] = (
            Contact.objects.filter(identified_by(emails, external_ids)).order_by("pk").select_for_update()
        )
        by_email = {contact.email.lower(): contact for contact in found if contact.email}
        by_external_id = {contact.external_id: contact for contact in found if contact.external_id}
        return by_email, by_external_id

    by_email, by_external_id = known()
    missing: dict[str, Contact] = {}
    for event in events:
        if _match(event, by_email, by_external_id) is None and _key(event) not in missing:
            # Created with what the event says, so that it needs no update afterwards.
            new = Contact(created_at=now, updated_at=now)
            _update_contact(new, event)
            missing[_key(event)] = new
    created: set[int] = set()
    if missing:
        existing = {contact.pk for contact in (*by_email.values(), *by_external_id.values())}
        # A concurrent request may create the same contact; the unique constraints decide.
        Contact.objects.bulk_create(missing.values(), ignore_conflicts=True)
        by_email, by_external_id = known()
        # Those this batch created; a contact that a concurrent request created has its own time.
        created = {
            contact.pk
            for contact in (*by_email.values(), *by_external_id.values())
            if contact.pk not in existing and contact.created_at == now
        }

    contacts: list[Contact | None] = []
    changed: dict[int, Contact] = {}
    statements: list[LegalBasisStated] = []
    for event in events:
        contact = _match(event, by_email, by_external_id)
        if contact is not None:
            # A contact this batch created holds its first event's values already; before that
            # event it had no legal basis at all.
            before = None if contact.pk in created else contact.legal_basis
            created.discard(contact.pk)
            if _update_contact(contact, event):
                contact.updated_at = now
                changed[contact.pk] = contact
            if event.legal_basis:
                statements.append(
                    LegalBasisStated(
                        contact=contact, legal_basis=event.legal_basis, before=before, consent=event.consent
                    )
                )
        contacts.append(contact)
    if changed:
        Contact.objects.bulk_update(
            changed.values(),
            ["email", "external_id", "name", "language", "legal_basis", "properties", "updated_at"],
        )
    return contacts, statements


def _key(event: EventIn) -> str:
    return event.email.lower() or f"\x00{event.external_id}"


def _match(event: EventIn, by_email: dict, by_external_id: dict) -> Contact | None:
    by_mail = by_email.get(event.email.lower()) if event.email else None
    by_id = by_external_id.get(event.external_id) if event.external_id else None
    if by_mail and by_id and by_mail.pk != by_id.pk:
        return None
    return by_mail or by_id


def _update_contact(contact: Contact, event: EventIn) -> bool:
    """Apply what the company's systems say about the contact; whether anything changed."""
    before = (
        contact.email,
        contact.external_id,
        contact.name,
        contact.language,
        contact.legal_basis,
        contact.properties,
    )
    contact.email = contact.email or event.email
    contact.external_id = contact.external_id or event.external_id
    contact.name = event.name or contact.name
    contact.language = event.language or contact.language
    contact.legal_basis = event.legal_basis or contact.legal_basis
    contact.properties = {**contact.properties, **event.contact_properties}
    after = (
        contact.email,
        contact.external_id,
        contact.name,
        contact.language,
        contact.legal_basis,
        contact.properties,
    )
    return before != after


def _last_invited(contacts: dict[int, Contact], *, since: datetime) -> dict[int, datetime]:
    """When each contact was last invited by any survey, if that was after ``since``."""
    rows = (
        Invitation.objects.filter(contact__in=contacts.keys(), created_at__gte=since)
        .exclude(status__in=[Invitation.Status.SKIPPED, Invitation.Status.FAILED])
        .values("contact")
        .annotate(last=Max("created_at"))
    )
    return {row["contact"]: row["last"] for row in rows}


def recontact_days(touchpoint: Touchpoint) -> int:
    return max(touchpoint.recontact_days, settings.RECONTACT_MINIMUM_DAYS)


def _decide(
    event: EventIn, contact: Contact, last_invited: datetime | None, *, suppressed: bool, now: datetime
) -> Invitation:
    """The invitation for one event, with the first rule that stops it as its reason; ``suppressed``
    if the contact's address or external id is on the suppression list."""
    touchpoint = event.touchpoint
    invitation = Invitation(
        survey=touchpoint.survey,
        touchpoint=touchpoint,
        contact=contact,
        properties=event.properties,
        created_at=now,
        expires_at=now,
    )
    reason = _skip_reason(event, contact, last_invited, suppressed=suppressed, now=now)
    if reason:
        invitation.status = Invitation.Status.SKIPPED
        invitation.skip_reason = reason
        return invitation
    delay = touchpoint.delay_seconds if event.delay_seconds is None else event.delay_seconds
    due = max(event.occurred_at + timedelta(seconds=delay), now)
    invitation.status = Invitation.Status.SCHEDULED
    invitation.scheduled_for = next_send_time(due, touchpoint.send_window, ZoneInfo(settings.TIME_ZONE))
    invitation.expires_at = invitation.scheduled_for + timedelta(days=touchpoint.answerable_days)
    if touchpoint.reminder_after_days:
        invitation.reminder_due_at = invitation.scheduled_for + timedelta(days=touchpoint.reminder_after_days)
    return invitation


def _skip_reason(
    event: EventIn, contact: Contact, last_invited: datetime | None, *, suppressed: bool, now: datetime
) -> str:
    touchpoint = event.touchpoint
    reasons = Invitation.SkipReason
    if suppression := contact.suppression:
        return suppression
    if suppressed:
        return reasons.SUPPRESSED
    if not contact.email:
        return reasons.NO_EMAIL
    if not (touchpoint.active and touchpoint.survey.active):
        return reasons.PAUSED
    if touchpoint.require_consent and contact.legal_basis == LegalBasis.NONE:
        return reasons.NO_LEGAL_BASIS
    if last_invited and last_invited > now - timedelta(days=recontact_days(touchpoint)):
        return reasons.RECENTLY_INVITED
    if not in_sample(event, touchpoint.sample_percent):
        return reasons.NOT_SAMPLED
    if event.occurred_at < now - timedelta(days=touchpoint.answerable_days):
        return reasons.TOO_LATE
    return ""


def in_sample(event: EventIn, percent: int) -> bool:
    """Whether this event is in a P % sample; the same event always gives the same answer."""
    if percent >= 100:
        return True
    identity = json.dumps(
        [
            event.touchpoint.slug,
            event.email.lower(),
            event.external_id,
            event.occurred_at.isoformat(),
            event.properties,
        ],
        sort_keys=True,
        default=str,
    )
    bucket = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big") % 10_000
    return bucket < percent * 100
