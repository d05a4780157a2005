"""Erasure (Art. 17 GDPR): a person goes from every place of ``privacy.places``, on the day the
letter arrives, for good.

``erase_contact`` visits the places in their order, each in batches of ``batch_size`` rows with a
transaction of their own, so that a contact with ten thousand answers holds no lock for long and
no more than a batch is read at a time. Then, in one transaction holding the contact's row lock
(an answer or event that refers to the contact cannot commit meanwhile), it visits the places
again for rows that arrived during the first pass, puts the contact on the suppression list if it
had objected, and deletes it. Broken off at any point, it can simply be run again; run for a
contact that is gone it finds nothing.

The audit log records that the erasure happened, by whom, the contact's id and how many rows of
each place it touched, never what they held.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.log import Action, record
from privacy.places import BATCH_SIZE, PLACES, Answers, Person, Run
from surveys.models import Contact, TermTally


@dataclass(frozen=True)
class Erasure:
    """What one erasure did: the contact's id (None if only answers claimed the identity) and
    how many rows of each place it erased, with ``suppressed`` 1 if the contact's objection went
    on the suppression list."""

    contact_id: int | None
    counts: dict[str, int]


def find_person(*, contact_id: int | None = None, email: str = "", external_id: str = "") -> Person | None:
    """Whom a request is about: the contact with this id, or with this email (any case) or
    external id, or, if there is no such contact, the identity that answers by link or widget
    claimed. None if nothing is known of them, or if the email and the external id belong to two
    contacts (``AmbiguousIdentity``)."""
    if contact_id is not None:
        contact = Contact.objects.filter(pk=contact_id).first()
        return Person.of(contact) if contact is not None else None
    contacts = list(Contact.objects.matching(email=email, external_id=external_id)[:2])
    if len(contacts) > 1:
        raise AmbiguousIdentity
    if contacts:
        return Person.of(contacts[0])
    person = Person(None, email=email, external_id=external_id)
    return person if (email or external_id) and Answers().rows(person).exists() else None


class AmbiguousIdentity(Exception):
    """The email and the external id of a request belong to two different contacts."""


def erase_contact(
    *,
    contact_id: int | None = None,
    email: str = "",
    external_id: str = "",
    keep_comments: bool | None = None,
    delete_answers: bool = False,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> Erasure | None:
    """Erase the person (``find_person``) from every place; None if nothing is known of them, so
    that erasing twice changes nothing. ``keep_comments`` (default: ``ERASURE_KEEP_COMMENTS``)
    keeps the answers' comments with what names anyone masked; ``delete_answers`` deletes the
    answers instead of anonymising them (their scores then leave the dashboards).

    Raises ``AmbiguousIdentity`` if the email and the external id belong to two contacts."""
    person = find_person(contact_id=contact_id, email=email, external_id=external_id)
    if person is None:
        return None
    run = Run(
        now=now or timezone.now(),
        person=person,
        keep_comments=settings.ERASURE_KEEP_COMMENTS if keep_comments is None else keep_comments,
        delete_answers=delete_answers,
        batch_size=batch_size,
    )
    for place in PLACES:
        place.erase(run)
    run.final = True
    with transaction.atomic():
        if person.contact_id is not None:
            Contact.objects.select_for_update().filter(pk=person.contact_id).exists()
        for place in PLACES:
            if place.swept:
                place.erase(run)
    TermTally.objects.prune()  # the words of the person's comments, counted out above
    erased = Erasure(contact_id=person.contact_id, counts=dict(sorted(_counted(run.counts).items())))
    record(
        Action.CONTACT_ERASED,
        object_type="surveys.contact",
        object_id=str(person.contact_id or ""),
        details={
            "counts": erased.counts,
            "kept_comments": run.keep_comments,
            "deleted_answers": delete_answers,
        },
    )
    return erased


def _counted(counted: Counter) -> dict[str, int]:
    return {place.name: counted[place.name] for place in PLACES} | {"suppressed": counted["suppressed"]}
