"""Contacts (read and write) and invitations (read) through the API.

Contacts hold personal data: every request needs the back office's contact permissions.
No delete here: erasing a person is its own, audited procedure, which ``privacy.api`` adds to
this view set (and routes it). Invitations are shown without their token, which lets anyone
answer in the contact's name. A legal basis set or changed here, or stated with a new consent,
goes into the contact's consent history.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets

from surveys.access import get_survey_for_user, visible_surveys
from surveys.api.auth import ModelPermission
from surveys.api.base import (
    CONSENT_EXAMPLE,
    ById,
    ConsentBody,
    ListCreateRetrieveUpdate,
    PropertiesField,
    ReadsPersonalData,
    StrictChoiceField,
    StrictModelSerializer,
    consent_needs_legal_basis,
    consent_of,
)
from surveys.models import ConsentRecord, Contact, Invitation, Language, LegalBasis, LegalBasisStated

CONTACT_REQUEST_EXAMPLE = OpenApiExample(
    "A customer",
    value={
        "email": "anna.schmidt@example.com",
        "external_id": "K-100234",
        "name": "Anna Schmidt",
        "language": "de",
        "legal_basis": "customer",
        "properties": {"plan": "Wartungsvertrag Plus", "region": "Bayern", "customer_since": 2019},
    },
    request_only=True,
)
CONSENT_REQUEST_EXAMPLE = OpenApiExample(
    "Consent given in the shop's checkout",
    description="The consent's wording and time go into the contact's consent history.",
    value={
        "email": "jonas.weber@example.com",
        "language": "de",
        "legal_basis": "consent",
        "consent": CONSENT_EXAMPLE,
    },
    request_only=True,
)
CONTACT_EXAMPLE = OpenApiExample(
    "A customer",
    value={
        "id": 118,
        **CONTACT_REQUEST_EXAMPLE.value,
        "unsubscribed_at": None,
        "bounced_at": None,
        "complained_at": None,
        "created_at": "2026-03-14T11:02:45.811304+01:00",
        "updated_at": "2026-11-20T16:27:09.130552+01:00",
    },
    response_only=True,
)


@extend_schema_serializer(examples=[CONTACT_REQUEST_EXAMPLE, CONSENT_REQUEST_EXAMPLE, CONTACT_EXAMPLE])
class ContactSerializer(StrictModelSerializer):
    """A person who may be invited, known by email, by your system's ``external_id``, or both."""

    language = StrictChoiceField([("", "–"), *Language.choices], required=False, allow_blank=True)
    legal_basis = StrictChoiceField(LegalBasis.values, required=False)
    consent = ConsentBody(
        required=False,
        allow_null=True,
        write_only=True,
        help_text="The proof of legal_basis (required beside it): the wording the person agreed to and "
        "when. Kept in the contact's consent history, not shown here.",
    )
    properties = PropertiesField(required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "external_id",
            "name",
            "language",
            "legal_basis",
            "consent",
            "properties",
            "unsubscribed_at",
            "bounced_at",
            "complained_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["unsubscribed_at", "bounced_at", "complained_at", "created_at", "updated_at"]
        # Checked in validate_external_id, with a message of its own.
        extra_kwargs: dict[str, dict[str, list]] = {"external_id": {"validators": []}}

    def validate_email(self, email: str) -> str:
        if email and self._others().filter(email__iexact=email).exists():
            raise serializers.ValidationError(_("Another contact has this email address."))
        return email

    def validate_external_id(self, external_id: str) -> str:
        if external_id and self._others().filter(external_id=external_id).exists():
            raise serializers.ValidationError(_("Another contact has this external id."))
        return external_id

    def validate(self, attrs: dict) -> dict:
        """The table's other rule, checked before writing so that it is a 400, not a server error."""
        current = self.instance or Contact()
        if not attrs.get("email", current.email) and not attrs.get("external_id", current.external_id):
            raise serializers.ValidationError(_("Give the contact's email or external_id (or both)."))
        consent_needs_legal_basis(attrs)
        return attrs

    def _others(self):
        return Contact.objects.exclude(pk=self.instance.pk) if self.instance else Contact.objects.all()

    def update(self, contact: Contact, attrs: dict) -> Contact:
        return super().update(contact, {**attrs, "updated_at": timezone.now()})

    def validate_properties(self, properties: dict | None) -> dict:
        return properties or {}


INVITATION_EXAMPLE = OpenApiExample(
    "Opened and answered",
    value={
        "id": 40311,
        "survey": 2,
        "touchpoint": 3,
        "contact": 118,
        "event": 52817,
        "status": "opened",
        "skip_reason": "",
        "properties": {"order_id": "A-1042", "carrier": "DHL"},
        "created_at": "2026-11-21T10:15:02.447120+01:00",
        "scheduled_for": "2026-11-23T10:15:00+01:00",
        "attempts": 1,
        "sent_at": "2026-11-23T10:15:04.902311+01:00",
        "delivered_at": "2026-11-23T10:15:06+01:00",
        "opened_at": "2026-11-23T12:48:31+01:00",
        "reminder_sent_at": None,
        "expires_at": "2026-12-07T10:15:00+01:00",
        "answered_at": "2026-11-23T12:49:02.318455+01:00",
        "last_error": "",
    },
    response_only=True,
)


@extend_schema_serializer(examples=[INVITATION_EXAMPLE])
class InvitationSerializer(serializers.ModelSerializer):
    """An invitation to answer a survey, from a touchpoint's event, and how far it got."""

    skip_reason = serializers.CharField(
        read_only=True, help_text="Why it was not sent (unsubscribed, recently_invited, …); empty if it was."
    )

    class Meta:
        model = Invitation
        fields = [
            "id",
            "survey",
            "touchpoint",
            "contact",
            "event",
            "status",
            "skip_reason",
            "properties",
            "created_at",
            "scheduled_for",
            "attempts",
            "sent_at",
            "delivered_at",
            "opened_at",
            "reminder_sent_at",
            "expires_at",
            "answered_at",
            "last_error",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        summary="List the contacts",
        parameters=[
            OpenApiParameter("email", str, description="Exactly this address, whatever its case."),
            OpenApiParameter("external_id", str, description="Exactly this id from your system."),
        ],
    ),
    create=extend_schema(summary="Create a contact"),
    retrieve=extend_schema(summary="Get a contact"),
    update=extend_schema(
        summary="Change a contact",
        description="Fields left out keep their value; the contact needs an email or external_id.",
    ),
    partial_update=extend_schema(summary="Change some of a contact's fields"),
)
class ContactViewSet(ReadsPersonalData, ListCreateRetrieveUpdate):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    permission_classes = [*viewsets.GenericViewSet.permission_classes, ModelPermission]

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "now": timezone.now()}

    def perform_create(self, serializer) -> None:
        self._save_and_record(serializer, before=None)

    def perform_update(self, serializer) -> None:
        self._save_and_record(serializer, before=serializer.instance.legal_basis)

    def _save_and_record(self, serializer: ContactSerializer, *, before: str | None) -> None:
        """Save the contact, and record the legal basis the request states (``before``: the
        contact's until now, None for a new one) in its consent history."""
        data = serializer.validated_data
        consent, stated = consent_of(data), "legal_basis" in data
        data.pop("consent", None)
        with transaction.atomic():
            contact = serializer.save()
            if stated:
                ConsentRecord.objects.record(
                    [
                        LegalBasisStated(
                            contact=contact, legal_basis=contact.legal_basis, before=before, consent=consent
                        )
                    ],
                    source=ConsentRecord.Source.CONTACTS_API,
                    recorded_by=self.request.user.pk,
                    now=serializer.context["now"],
                )

    def get_queryset(self):
        contacts = super().get_queryset()
        if self.action == "list":
            query = ContactQuery(data=self.request.query_params)
            query.is_valid(raise_exception=True)  # a NUL, which PostgreSQL cannot compare, is a 400
            if email := query.validated_data.get("email"):
                contacts = contacts.filter(email__iexact=email)
            if external_id := query.validated_data.get("external_id"):
                contacts = contacts.filter(external_id=external_id)
        return contacts


class ContactQuery(serializers.Serializer):
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, trim_whitespace=False)
    external_id = serializers.CharField(
        max_length=200, required=False, allow_blank=True, trim_whitespace=False
    )


STATUSES = list(Invitation.Status.values)
MAX_ID = 2**63 - 1  # the database's ids; SQLite cannot even compare a larger number


@extend_schema_view(
    list=extend_schema(
        summary="List the invitations",
        parameters=[
            OpenApiParameter("survey", int, description="Only this survey's invitations (its id)."),
            OpenApiParameter("touchpoint", int, description="Only this touchpoint's invitations (its id)."),
            OpenApiParameter("contact", int, description="Only this contact's invitations (its id)."),
            OpenApiParameter(
                "status", str, enum=STATUSES, description="Only invitations in this state, e.g. skipped."
            ),
        ],
    ),
    retrieve=extend_schema(summary="Get an invitation"),
)
class InvitationViewSet(
    ReadsPersonalData, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Invitation.objects.all()
    serializer_class = InvitationSerializer
    pagination_class = ById
    permission_classes = [*viewsets.GenericViewSet.permission_classes, ModelPermission]

    def get_queryset(self):
        user = self.request.user
        invitations = super().get_queryset().filter(survey__in=visible_surveys(user))
        if self.action == "list":
            query = InvitationQuery(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            filters = query.validated_data
            if "survey" in filters:
                get_survey_for_user(user, filters["survey"])  # a foreign survey is not found
            invitations = invitations.filter(**filters)
        return invitations


class InvitationQuery(serializers.Serializer):
    survey = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    touchpoint = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    contact = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = StrictChoiceField(STATUSES, required=False)
