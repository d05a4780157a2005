"""People: ``POST/GET /people.json``, ``DELETE /people/{id | email:… | phone_number:…}`` and
``DELETE /people/{email}/survey_requests/pending``.

A person is a contact. ``POST /people.json`` is a touchpoint event of the project's touchpoint
with all of its rules (suppression, recontact protection, sampling, send window), ``delay``
standing in for the touchpoint's delay; a person whom the rules do not ask is accepted all the
same and simply not asked, as Delighted's throttling did. ``send=false`` only creates or
updates the contact.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from delighted_compat.api.base import DelightedView, Invalid, moment, page_after, whole
from delighted_compat.properties import locale_language, property_name
from delighted_compat.shapes import people, person, unix
from privacy.erasure import erase_contact
from surveys.api.base import record_personal_data_read
from surveys.ingest import EventIn, ingest_events, update_contacts
from surveys.models import Contact, Invitation
from surveys.properties import UNSTORABLE, properties_problem

MAX_DELAY = 366 * 86400
NAME_MAX_LENGTH = 200


def email_of(params: dict, name: str, *, required: bool = True) -> str:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise Invalid(name, _("can't be blank"))
        return ""
    if not isinstance(value, str) or len(value) > 254:
        raise Invalid(name, _("is invalid"))
    try:
        validate_email(value.strip())
    except DjangoValidationError:
        raise Invalid(name, _("is invalid")) from None
    return value.strip()


def properties_of(params: dict, name: str) -> dict:
    value = params.get(name)
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise Invalid(name, _("must be an object of names and values"))
    named = {property_name(str(key)): item for key, item in value.items()}
    if len(named) < len(value):
        raise Invalid(name, _("two of them have the same name once spaces and umlauts are replaced"))
    if problem := properties_problem(named, as_text=False):
        raise exceptions.ValidationError({name: problem})
    return named


def flag(params: dict, name: str, *, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
        return value.lower() in ("true", "1")
    raise Invalid(name, _("must be true or false"))


def contact_with_email(email: str, *, request: Request, touchpoint, now, name: str = "") -> Contact:
    """The contact with this address, created if there is none, with ``name`` if given."""
    event = EventIn(touchpoint=touchpoint, occurred_at=now, email=email, name=name)
    contact = update_contacts([event], now=now, recorded_by=request.user.pk)[0]
    if contact is None:  # an email alone matches one contact at most; for the type checker
        raise Invalid("email", _("belongs to two contacts"))
    return contact


class People(DelightedView):
    permissions = {"GET": ("surveys.view_contact",), "POST": ("surveys.send_survey", "surveys.add_contact")}

    def post(self, request: Request) -> ApiResponse:
        params = self.params(request)
        if params.get("channel") not in (None, "", "email") or (
            params.get("phone_number") and not params.get("email")
        ):
            raise Invalid("channel", _("Only email surveys can be sent here; SMS is not supported."))
        email = email_of(params, "email")
        name = params.get("name") or ""
        if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH:
            raise Invalid("name", _("must be at most %(limit)d characters") % {"limit": NAME_MAX_LENGTH})
        properties = properties_of(params, "properties")
        delay = whole(params, "delay", default=0, high=MAX_DELAY)
        send = flag(params, "send", default=True)
        new_email = email_of(params, "email_update", required=False)
        now = timezone.now()
        event = EventIn(
            touchpoint=self.project.touchpoint,
            occurred_at=now,
            email=email,
            name=name,
            language=locale_language(properties),
            contact_properties=properties,
            properties=properties,
            delay_seconds=delay,
        )
        with transaction.atomic():
            if send:
                outcome = ingest_events([event], now=now, recorded_by=request.user.pk)[0]
                contact, invitation = (
                    (outcome.event.contact, outcome.invitation) if outcome.event else (None, None)
                )
            else:
                contact, invitation = update_contacts([event], now=now, recorded_by=request.user.pk)[0], None
            if contact is None:
                raise Invalid("email", _("belongs to two contacts"))
            if new_email and new_email.lower() != contact.email.lower():
                if Contact.objects.matching(email=new_email).exclude(pk=contact.pk).exists():
                    raise Invalid("email_update", _("belongs to another person"))
                Contact.objects.filter(pk=contact.pk).update(email=new_email, updated_at=now)
                contact.email = new_email
        scheduled = (
            invitation.scheduled_for
            if invitation and invitation.status == Invitation.Status.SCHEDULED
            else None
        )
        return ApiResponse(
            {
                "id": str(contact.pk),
                "email": contact.email,
                "name": contact.name or None,
                "survey_scheduled_at": unix(scheduled),
                "properties": properties,
            }
        )

    def get(self, request: Request) -> ApiResponse:
        """In the order they were created; the ``Link`` header's ``page_info`` names the next page."""
        params = self.params(request)
        contacts = Contact.objects.all()
        if since := moment(params, "since"):
            contacts = contacts.filter(created_at__gte=since)
        if until := moment(params, "until"):
            contacts = contacts.filter(created_at__lte=until)
        if email := params.get("email"):
            contacts = contacts.matching(email=str(email))
        if params.get("phone_number"):
            contacts = contacts.none()  # no phone numbers here
        rows, headers = page_after(people(contacts, survey_id=self.project.survey_id), request, params)
        record_personal_data_read(request, object_type="surveys.contact", count=len(rows))
        return ApiResponse([person(contact) for contact in rows], headers=headers)


def find(identifier: str) -> Contact:
    """The contact of ``42``, ``email:jo@example.com`` or ``phone_number:+49…``; 404 if none."""
    kind, colon, value = identifier.partition(":")
    contact = None
    if UNSTORABLE.search(identifier):  # no contact's address holds such characters
        raise exceptions.NotFound()
    if not colon and identifier.isdigit() and len(identifier) < 19:
        contact = Contact.objects.filter(pk=int(identifier)).first()
    elif kind == "email" and value:
        contact = Contact.objects.matching(email=value).first()
    if contact is None:
        raise exceptions.NotFound()
    return contact


class Person(DelightedView):
    """``DELETE /people/{identifier}``: the person and what is held about them are erased, as
    CXSurvey erases a contact (their answers stay in the figures, anonymised)."""

    permissions = {"DELETE": ("surveys.delete_contact",)}

    def delete(self, request: Request, identifier: str) -> ApiResponse:
        erase_contact(contact_id=find(identifier).pk)
        return ApiResponse({"ok": True}, status=status.HTTP_202_ACCEPTED)


class PendingSurveyRequests(DelightedView):
    """``DELETE /people/{email}/survey_requests/pending``: the person's invitations of this project
    that are scheduled and not yet sent are cancelled."""

    permissions = {"DELETE": ("surveys.send_survey",)}

    def delete(self, request: Request, email: str) -> ApiResponse:
        contact = find(f"email:{email}")
        Invitation.objects.filter(
            contact=contact, survey_id=self.project.survey_id, status=Invitation.Status.SCHEDULED
        ).update(
            status=Invitation.Status.SKIPPED,
            skip_reason=Invitation.SkipReason.CANCELLED,
            reminder_due_at=None,
        )
        return ApiResponse({"ok": True})
