"""Contacts through the API with the doors of privacy: erasure (``DELETE``) and the export of
everything held about a contact (right of access). ``privacy.urls`` routes these views to the
contacts' addresses in place of ``surveys.api.contacts``' own, which they extend.

Erasing needs a token with write access whose user may delete contacts; the export, a user who
may view them. An unknown contact is a 404 in the API's error shape, so erasing twice is one
204 and then a 404 that changed nothing.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from privacy.access import personal_data, record_access_export
from privacy.erasure import AmbiguousIdentity, erase_contact
from privacy.places import Person
from surveys.api import contacts
from surveys.api.contacts import ContactQuery

ERASED = OpenApiResponse(description="Erased: nothing of the contact is left but anonymised answers.")
ERASURE_DESCRIPTION = (
    "Erases the contact for good (Art. 17 GDPR): the contact is deleted; its answers keep their "
    "scores, times and the properties the dashboards count, without the contact, its comment and "
    "anything else that names it; invitations and events stay counted without it; webhook "
    "messages about it are deleted, sent or not; prepared export files that may hold it are "
    "deleted. A contact that had unsubscribed, complained or bounced stays on the suppression "
    "list as keyed hashes of its email and external id. Answers by link or widget that claimed "
    "its email or external id are anonymised too."
)
PERSONAL_DATA_EXAMPLE = OpenApiExample(
    "A customer who answered once",
    value={
        "format": "cxsurvey.personal-data.v1",
        "generated_at": "2026-12-01T09:30:00+01:00",
        "contact": {
            "id": 118,
            "email": "anna.schmidt@example.com",
            "external_id": "K-100234",
            "name": "Anna Schmidt",
            "language": "de",
            "legal_basis": "customer",
            "properties": {"plan": "Wartungsvertrag Plus"},
            "unsubscribed_at": None,
            "bounced_at": None,
            "complained_at": None,
            "suppressed": False,
            "created_at": "2026-03-14T11:02:45+01:00",
            "updated_at": "2026-11-20T16:27:09+01:00",
        },
        "invitations": [
            {
                "id": 40311,
                "survey": "Lieferung",
                "touchpoint": "Bestellung zugestellt",
                "status": "opened",
                "skip_reason": "",
                "properties": {"order_id": "A-1042"},
                "created_at": "2026-11-21T10:15:02+01:00",
                "scheduled_for": "2026-11-23T10:15:00+01:00",
                "sent_at": "2026-11-23T10:15:04+01:00",
                "delivered_at": "2026-11-23T10:15:06+01:00",
                "opened_at": "2026-11-23T12:48:31+01:00",
                "reminder_sent_at": None,
                "expires_at": "2026-12-07T10:15:04+01:00",
                "answered_at": "2026-11-23T12:49:02+01:00",
            }
        ],
        "responses": [
            {
                "id": "5a0f6a4e-2f0e-4a8c-9f55-0c8f2b7d9e11",
                "survey": "Lieferung",
                "touchpoint": "Bestellung zugestellt",
                "channel": "email",
                "score": 9,
                "category": "promoter",
                "comment": "Schnell und freundlich.",
                "language": "de",
                "contact_properties": {"plan": "Wartungsvertrag Plus"},
                "event_properties": {"order_id": "A-1042"},
                "claimed_identity": None,
                "created_at": "2026-11-23T12:49:02+01:00",
                "updated_at": "2026-11-23T12:49:02+01:00",
            }
        ],
        "events": [
            {
                "id": 52817,
                "touchpoint": "Bestellung zugestellt",
                "properties": {"order_id": "A-1042"},
                "occurred_at": "2026-11-21T10:15:00+01:00",
                "received_at": "2026-11-21T10:15:02+01:00",
                "source": "api",
            }
        ],
        "webhook_messages": [],
    },
    response_only=True,
)
CONTACT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The contact's id.")


@extend_schema_view(
    destroy=extend_schema(
        summary="Erase a contact",
        description=ERASURE_DESCRIPTION,
        responses={204: ERASED},
    ),
)
class ContactViewSet(contacts.ContactViewSet):
    def destroy(self, request: Request, pk: str | None = None) -> ApiResponse:
        contact = self.get_object()
        erase_contact(contact_id=contact.pk)
        return ApiResponse(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Erase the contact with this email or external id",
        operation_id="contacts_erase_matching",
        description=ERASURE_DESCRIPTION
        + " Without such a contact, the answers that claimed the email or external id are anonymised.",
        parameters=[
            OpenApiParameter("email", str, description="The contact's address, in any case."),
            OpenApiParameter("external_id", str, description="The contact's id in your system."),
        ],
        responses={
            204: ERASED,
            400: OpenApiResponse(
                description="Neither email nor external_id, or they belong to two contacts."
            ),
            404: OpenApiResponse(description="No contact and no answer has this email or external id."),
        },
    )
    def erase_matching(self, request: Request) -> ApiResponse:
        query = ContactQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        email, external_id = (
            query.validated_data.get("email", ""),
            query.validated_data.get("external_id", ""),
        )
        if not (email or external_id):
            raise exceptions.ValidationError(
                {"email": [_("Give the contact's email or external_id (or both).")]}
            )
        try:
            erased = erase_contact(email=email, external_id=external_id)
        except AmbiguousIdentity:
            message = _("The email and the external id belong to two contacts.")
            raise exceptions.ValidationError({"email": [message], "external_id": [message]}) from None
        if erased is None:
            raise exceptions.NotFound(_("No contact and no answer has this email or external id."))
        return ApiResponse(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Everything held about a contact (right of access)",
        description="One JSON document (Art. 15 and 20 GDPR): the contact, its invitations, answers "
        "(also those by link or widget that claimed its email or external id) and events, oldest "
        "first, and the webhook messages about it. Each export is recorded in the audit log.",
        parameters=[CONTACT_ID],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[PERSONAL_DATA_EXAMPLE])},
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request: Request, pk: str | None = None) -> ApiResponse:
        person = Person.of(self.get_object())
        document = personal_data(person)
        record_access_export(person, document, form="json")
        return ApiResponse(document)
