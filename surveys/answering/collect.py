"""Recording answers that arrive without an invitation (link and widget)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from surveys.models import Contact, Response, Survey
from surveys.signals import response_saved
from surveys.terms import comment_fields


@dataclass(frozen=True)
class Identity:
    """Who a public answer claims to come from; ``verified`` when the company signed its email and
    external id with the survey's identity secret. It never changes a contact."""

    email: str = ""
    external_id: str = ""
    name: str = ""
    verified: bool = False

    def __bool__(self) -> bool:
        return bool(self.email or self.external_id)


def find_or_create_contact(*, identity: Identity, language: str, now: datetime) -> Contact | None:
    """The contact matching the identity's email or external id, else a new one; for verified
    identities only (``record_public_answer``).

    Returns None for an anonymous answer. An existing contact is never changed: the
    name is not signed, and a signature may be old.
    """
    if not identity:
        return None
    existing = Contact.objects.matching(email=identity.email, external_id=identity.external_id)
    if contact := existing.first():
        return contact
    try:
        with transaction.atomic():
            return Contact.objects.create(
                email=identity.email,
                external_id=identity.external_id,
                name=identity.name,
                language=language,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:  # created by a concurrent answer a moment ago
        return existing.first()


def record_public_answer(
    *,
    survey: Survey,
    channel: str,
    score: int,
    comment: str,
    language: str,
    identity: Identity,
    properties: dict,
    now: datetime,
) -> Response:
    """The new response. A verified identity's contact answers it, with their properties; an
    unverified identity is only kept on the response as claimed: anyone can type any address
    into a public link, and must not put words under a customer's name nor read their properties
    back out of an export."""
    with transaction.atomic():
        contact, claimed = None, identity
        if identity.verified:
            contact = find_or_create_contact(identity=identity, language=language, now=now)
            claimed = Identity()
        response = Response.objects.create(
            survey=survey,
            kind=survey.kind,
            channel=channel,
            score=score,
            comment=comment,
            **comment_fields(comment, language),
            language=language,
            contact=contact,
            contact_properties=contact.properties if contact else {},
            claimed_email=claimed.email,
            claimed_external_id=claimed.external_id,
            claimed_name=claimed.name,
            event_properties=properties,
            created_at=now,
            updated_at=now,
        )
        response_saved.send(sender=Response, response=response, created=True)
        return response
