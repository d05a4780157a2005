"""Contacts: the people who can be asked, and whether and on what legal basis they may be; and
the history of each contact's legal basis, with the proof that came with it."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import In, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models.survey import Language
from surveys.scales import LANGUAGES


class LegalBasis(models.TextChoices):
    NONE = "none", _("none recorded")
    CONSENT = "consent", _("consent")
    CUSTOMER = "customer", _("existing customer (§ 7(3) UWG)")


class ContactQuerySet(models.QuerySet):
    def matching(self, *, email: str = "", external_id: str = "") -> "ContactQuerySet":
        """Contacts with this email (any case) or this external id; none if both are empty."""
        emails, external_ids = [email.lower()] if email else [], [external_id] if external_id else []
        return self.filter(identified_by(emails, external_ids)).order_by("pk")


def identified_by(emails: Iterable[str], external_ids: Iterable[str]) -> models.Q:
    """Contacts with one of these lower-cased emails or external ids. Each branch repeats the
    condition of its partial unique index, or PostgreSQL cannot use the index and scans every
    contact (60 ms at 150,000 contacts against 0.03 ms)."""
    by_email = ~models.Q(email="") & models.Q(In(Lower("email"), list(emails)))
    by_external_id = ~models.Q(external_id="") & models.Q(external_id__in=list(external_ids))
    return by_email | by_external_id


class Contact(models.Model):
    email = models.EmailField(_("email"), blank=True)
    external_id = models.CharField(_("external id"), max_length=200, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    legal_basis = models.CharField(
        _("legal basis for asking"),
        max_length=8,
        choices=LegalBasis.choices,
        default=LegalBasis.NONE,
    )
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    complained_at = models.DateTimeField(_("marked as spam"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    LegalBasis = LegalBasis
    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-created_at"]
        constraints = [
            # One contact per address, whatever its case: Anna@X.de is anna@x.de.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="contact_email_ci_unique",
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~models.Q(external_id=""),
                name="contact_external_id_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="", external_id=""),
                name="contact_has_identity",
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=["", *LANGUAGES]),
                name="contact_language_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(legal_basis__in=LegalBasis.values),
                name="contact_legal_basis_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.external_id

    @property
    def suppression(self) -> str | None:
        """Why this contact must never be emailed ("unsubscribed", "bounced", "complained"), or None."""
        for reason in ("complained", "bounced", "unsubscribed"):
            if getattr(self, f"{reason}_at"):
                return reason
        return None


# How long the wording of a consent may be, in characters.
CONSENT_TEXT_MAX_LENGTH = 2000
# How far ahead of the server's clock another system's time of a consent may lie: clocks differ.
CONSENT_CLOCK_DIFFERENCE = timedelta(minutes=5)


class ConsentSource(models.TextChoices):
    EVENTS_API = "events_api", _("events API")
    CONTACTS_API = "contacts_api", _("contacts API")
    UPLOAD = "upload", _("contact upload")
    BACK_OFFICE = "back_office", _("back office")


@dataclass(frozen=True)
class Consent:
    """The proof that comes with a legal basis: the wording the person was shown (may be empty) and
    when they agreed (None: when it is recorded)."""

    text: str = ""
    given_at: datetime | None = None


@dataclass(frozen=True)
class LegalBasisStated:
    """A legal basis that a path (an event, an upload row, an API call, the back office) states for a
    saved contact: ``before`` is the contact's legal basis until then, None if the path created it."""

    contact: Contact
    legal_basis: str
    before: str | None
    consent: Consent | None = None


class ConsentRecordQuerySet(models.QuerySet["ConsentRecord"]):
    def record(
        self,
        statements: Iterable[LegalBasisStated],
        *,
        source: str,
        recorded_by: int | None,
        now: datetime,
    ) -> list["ConsentRecord"]:
        """Record, in order, each statement that says something new: a legal basis set for a new
        contact or changed, or one stated again with a consent whose wording differs from the
        contact's latest record. Nothing is recorded for a statement that repeats what is known.

        One INSERT for all records; one query more only when statements of contacts that existed
        before carry a consent (their latest records). The records made, in order.
        """
        statements = list(statements)
        proven = {s.contact.pk for s in statements if s.consent is not None and s.before is not None}
        latest = self._latest(proven) if proven else {}
        current: dict[int, str | None] = {}
        records: list[ConsentRecord] = []
        for statement in statements:
            pk = statement.contact.pk
            consent = statement.consent
            before = current.get(pk, statement.before)
            text = consent.text if consent is not None else ""
            current[pk] = statement.legal_basis
            changed = before != statement.legal_basis
            if not (changed or (consent is not None and latest.get(pk) != (statement.legal_basis, text))):
                continue
            latest[pk] = (statement.legal_basis, text)
            records.append(
                ConsentRecord(
                    contact_id=pk,
                    legal_basis=statement.legal_basis,
                    text=text,
                    language=statement.contact.language,
                    given_at=(consent.given_at if consent is not None else None) or now,
                    source=source,
                    recorded_by_id=recorded_by,
                    recorded_at=now,
                )
            )
        ConsentRecord.objects.using(self.db).bulk_create(records)
        return records

    def _latest(self, contact_ids: set[int]) -> dict[int, tuple[str, str]]:
        """The legal basis and wording of each contact's latest record, if it has one."""
        newest = self.filter(contact__in=contact_ids).values("contact").annotate(last=models.Max("id"))
        rows = self.filter(id__in=newest.values("last")).values_list("contact", "legal_basis", "text")
        return {contact: (legal_basis, text) for contact, legal_basis, text in rows}


class ConsentRecord(models.Model):
    """One entry in a contact's history of legal bases: what was stated, with which wording, when
    the person agreed, where it came from and who recorded it. Rows are added, never changed; they
    go with their contact when it is erased."""

    Source = ConsentSource

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="consent_records"
    )
    legal_basis = models.CharField(_("legal basis"), max_length=8, choices=LegalBasis.choices)
    text = models.TextField(_("wording shown to the person"), max_length=CONSENT_TEXT_MAX_LENGTH, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, blank=True)
    given_at = models.DateTimeField(_("given"))
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    # Without a database constraint, so that the record keeps naming who recorded it after that
    # user is deleted.
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now, editable=False)

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(legal_basis__in=LegalBasis.values), name="consent_record_legal_basis_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=["", *LANGUAGES]), name="consent_record_language_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=ConsentSource.values), name="consent_record_source_valid"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("text"), CONSENT_TEXT_MAX_LENGTH),
                name="consent_record_text_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} · {self.legal_basis} · {self.given_at:%Y-%m-%d}"
