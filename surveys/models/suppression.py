"""The suppression list: addresses and external ids of erased contacts who had objected.

An erased contact is gone, but its objection must outlive it (an unsubscribe, a complaint, an
address that bounced): the company's systems may report the same person again tomorrow, and a new
contact with the same address must not be asked. The list keeps each identity as a keyed hash
only (HMAC-SHA256 with a key derived from ``SECRET_KEY``), so it holds no address: it answers "is
this address on the list?" for an address one already has, and nothing else.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from surveys.models.contact import Contact

# The salts keep these hashes apart from every other keyed value; changing one empties the list.
_SALTS = {"email": "surveys.suppression.email", "external_id": "surveys.suppression.external_id"}


def _digests(kind: str, value: str) -> list[str]:
    """The keyed hashes of one identity, with the current key first and then each fallback key, so
    that the list survives a rotation of ``SECRET_KEY``. Empty for an empty value."""
    if not value:
        return []
    normalised = value.strip().lower() if kind == "email" else value
    return [
        salted_hmac(_SALTS[kind], normalised, secret=secret, algorithm="sha256").hexdigest()
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ]


def identity_digests(contact: Contact) -> list[str]:
    """Every keyed hash that would put this contact (its email, its external id) on the list."""
    return _digests("email", contact.email) + _digests("external_id", contact.external_id)


class SuppressionQuerySet(models.QuerySet):
    def reasons_for(self, contacts: Iterable[Contact]) -> dict[int, str]:
        """The reason (unsubscribed, bounced, complained) each of these contacts is on the list,
        by contact id; contacts not on it are left out. One indexed query for all of them."""
        wanted: dict[str, list[int]] = {}
        for contact in contacts:
            for digest in identity_digests(contact):
                wanted.setdefault(digest, []).append(contact.pk)
        if not wanted:
            return {}
        found: dict[int, str] = {}
        for digest, reason in self.filter(digest__in=wanted).order_by().values_list("digest", "reason"):
            for contact_id in wanted[digest]:
                found.setdefault(contact_id, reason)
        return found

    def add(self, contact: Contact, *, reason: str) -> None:
        """Put the contact's email and external id on the list, hashed with the current key.
        Idempotent: a hash already there keeps its first reason."""
        now = timezone.now()
        rows = [
            Suppression(digest=digests[0], kind=kind, reason=reason, created_at=now)
            for kind, value in (("email", contact.email), ("external_id", contact.external_id))
            if (digests := _digests(kind, value))
        ]
        Suppression.objects.bulk_create(rows, ignore_conflicts=True)


class Suppression(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", _("email")
        EXTERNAL_ID = "external_id", _("external id")

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("contact unsubscribed")
        BOUNCED = "bounced", _("address bounced")
        COMPLAINED = "complained", _("contact marked an email as spam")

    # HMAC-SHA256 of the lower-cased address or of the external id, in hex: never the value itself.
    digest = models.CharField(_("keyed hash"), max_length=64, editable=False)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, editable=False)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices, editable=False)
    created_at = models.DateTimeField(_("added"), default=timezone.now, editable=False)

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")
        ordering = ["-created_at"]
        constraints = [
            # Also the index of the lookups: ingestion and the dispatcher ask for a batch's hashes.
            models.UniqueConstraint(fields=["digest"], name="suppression_digest_unique"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["email", "external_id"]), name="suppression_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(reason__in=["unsubscribed", "bounced", "complained"]),
                name="suppression_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.digest[:12]}…"
