"""Autopilot: ``GET /autopilot/email.json`` and ``POST/GET/DELETE /autopilot/email/memberships.json``.

Autopilot is the project's Autopilot touchpoint, asked again every ``autopilot_days`` (see
``delighted_compat.autopilot``). Only email: SMS is answered as not found.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from delighted_compat.api.base import MAX_ID, DelightedView, Invalid, page_after, whole
from delighted_compat.api.people import (
    NAME_MAX_LENGTH,
    contact_with_email,
    email_of,
    properties_of,
)
from delighted_compat.models import AutopilotMembership
from delighted_compat.shapes import people, person, unix
from surveys.api.base import record_personal_data_read
from surveys.models import Contact


def email_only(platform: str) -> None:
    if platform != "email":
        raise exceptions.NotFound(_("Only email Autopilot is available here."))


class Configuration(DelightedView):
    permissions = {"GET": ("surveys.view_touchpoint",)}

    def get(self, request: Request, platform: str) -> ApiResponse:
        email_only(platform)
        project = self.project
        touchpoint = project.autopilot_touchpoint
        return ApiResponse(
            {
                "platform_id": platform,
                "active": bool(touchpoint and touchpoint.active and project.touchpoint.survey.active),
                "frequency": int(project.autopilot_frequency.total_seconds()),
                "created_at": unix(project.created_at),
                "updated_at": unix(project.updated_at),
            }
        )


class Memberships(DelightedView):
    permissions = {
        "GET": ("surveys.view_contact",),
        "POST": ("surveys.send_survey", "surveys.add_contact"),
        "DELETE": ("surveys.send_survey",),
    }

    def members(self):
        return AutopilotMembership.objects.filter(project=self.project).order_by("pk")

    def shown(self, membership: AutopilotMembership, contact: Contact) -> dict:
        return {
            "created_at": unix(membership.created_at),
            "updated_at": unix(membership.updated_at),
            "person": person(contact),
            "next_survey_request": {
                "id": str(membership.pk),
                "created_at": unix(membership.updated_at),
                "survey_scheduled_at": unix(membership.next_at),
                "properties": membership.properties,
            },
        }

    def get(self, request: Request, platform: str) -> ApiResponse:
        email_only(platform)
        params = self.params(request)
        members = self.members()
        if (person_id := whole(params, "person_id", high=MAX_ID)) is not None:
            members = members.filter(contact_id=person_id)
        if email := params.get("person_email"):
            members = members.filter(contact__in=Contact.objects.matching(email=str(email)))
        rows, headers = page_after(members, request, params)
        contacts = {
            contact.pk: contact
            for contact in people(
                Contact.objects.filter(pk__in=[row.contact_id for row in rows]),
                survey_id=self.project.survey_id,
            )
        }
        record_personal_data_read(request, object_type="surveys.contact", count=len(rows))
        return ApiResponse([self.shown(row, contacts[row.contact_id]) for row in rows], headers=headers)

    def post(self, request: Request, platform: str) -> ApiResponse:
        """Adds the person, or replaces the properties of a member; the first survey is due now."""
        email_only(platform)
        if self.project.autopilot_touchpoint is None:
            raise Invalid("base", _("Autopilot is not set up for this project: choose its touchpoint."))
        params = self.params(request)
        properties = properties_of(params, "properties")
        name = params.get("person_name") or ""
        if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH:
            raise Invalid(
                "person_name", _("must be at most %(limit)d characters") % {"limit": NAME_MAX_LENGTH}
            )
        now = timezone.now()
        with transaction.atomic():
            person_id = whole(params, "person_id", high=MAX_ID)
            if person_id is not None and not params.get("person_email"):
                contact = Contact.objects.filter(pk=person_id).first()
                if contact is None:
                    raise exceptions.NotFound()
            else:
                email = email_of(params, "person_email")
                touchpoint = self.project.autopilot_touchpoint
                contact = contact_with_email(
                    email, request=request, touchpoint=touchpoint, now=now, name=name
                )
            try:
                with transaction.atomic():
                    membership, _created = AutopilotMembership.objects.update_or_create(
                        project=self.project,
                        contact=contact,
                        defaults={"properties": properties, "updated_at": now},
                        create_defaults={
                            "properties": properties,
                            "next_at": now,
                            "created_at": now,
                            "updated_at": now,
                        },
                    )
            except IntegrityError:  # added by a concurrent request a moment ago
                membership = self.members().get(contact=contact)
                membership.properties, membership.updated_at = properties, now
                membership.save(update_fields=["properties", "updated_at"])
        return ApiResponse({"person": person(contact), "properties": membership.properties})

    def delete(self, request: Request, platform: str) -> ApiResponse:
        """Removes the person (one of ``person_id``, ``person_email``, in the body or the query)."""
        email_only(platform)
        params = self.params(request)
        given = [name for name in ("person_id", "person_email", "person_phone_number") if params.get(name)]
        if len(given) != 1:
            raise Invalid("person_id", _("send exactly one of person_id, person_email, person_phone_number"))
        members = self.members().select_related("contact")
        if given == ["person_id"]:
            members = members.filter(contact_id=whole(params, "person_id", high=MAX_ID))
        elif given == ["person_email"]:
            members = members.filter(
                contact__in=Contact.objects.matching(email=email_of(params, "person_email"))
            )
        else:
            members = members.none()  # no phone numbers here
        membership = members.first()
        if membership is None:
            raise exceptions.NotFound()
        membership.delete()
        return ApiResponse({"person": person(membership.contact)})
