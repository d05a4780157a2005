"""``POST/GET /unsubscribes.json`` and ``GET /bounces.json``: people who may not be sent surveys.

Unsubscribing a person here is their objection, as if they had used the link in an email: no
survey of any project goes to them again, and ``unsubscribe.created`` (``contact.unsubscribed``)
is announced. An address that is not yet a contact becomes one, so that the objection holds from
the first minute. Both lists are ordered by when it happened, oldest first, in numbered pages.
"""

from django.db import transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from delighted_compat.api.base import DelightedView, moment, page_of
from delighted_compat.api.people import contact_with_email, email_of
from delighted_compat.shapes import unix
from surveys.api.base import record_personal_data_read
from surveys.email.tracking import mark_contact
from surveys.models import Contact


class Objections(DelightedView):
    """A list of the contacts whose ``field`` is set."""

    field: str

    def get(self, request: Request) -> ApiResponse:
        params = self.params(request)
        contacts = Contact.objects.filter(**{f"{self.field}__isnull": False})
        if (since := moment(params, "since")) is not None:
            contacts = contacts.filter(**{f"{self.field}__gte": since})
        if (until := moment(params, "until")) is not None:
            contacts = contacts.filter(**{f"{self.field}__lte": until})
        rows, headers = page_of(contacts.order_by(self.field, "pk"), request, params)
        record_personal_data_read(request, object_type="surveys.contact", count=len(rows))
        return ApiResponse(
            [
                {
                    "person_id": str(contact.pk),
                    "email": contact.email or None,
                    "name": contact.name or None,
                    self.field: unix(getattr(contact, self.field)),
                }
                for contact in rows
            ],
            headers=headers,
        )


class Unsubscribes(Objections):
    field = "unsubscribed_at"
    permissions = {"GET": ("surveys.view_contact",), "POST": ("surveys.change_contact",)}

    def post(self, request: Request) -> ApiResponse:
        email = email_of(self.params(request), "person_email")
        now = timezone.now()
        with transaction.atomic():
            contact = contact_with_email(email, request=request, touchpoint=self.project.touchpoint, now=now)
            mark_contact(contact.pk, "unsubscribed_at", now)  # the first objection counts, and is announced
        return ApiResponse({"ok": True})


class Bounces(Objections):
    field = "bounced_at"
    permissions = {"GET": ("surveys.view_contact",)}
