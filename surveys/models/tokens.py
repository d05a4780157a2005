"""Everything unguessable: public keys and invitation tokens, and the REST API's bearer tokens
(stored as digests only) with the answers kept for their idempotent retries."""

import hashlib
import re
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_public_key() -> str:
    """128 bits of randomness, URL-safe: the survey's key for links and the widget."""
    return secrets.token_urlsafe(16)


def new_identity_secret() -> str:
    """256 bits of randomness, URL-safe: the key a survey's signed identities are made with."""
    return secrets.token_urlsafe(32)


def new_token() -> str:
    """192 bits of randomness, URL-safe, not derived from any id."""
    return secrets.token_urlsafe(24)


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_token_shaped(value: object) -> bool:
    """Whether a value could be one of our keys or tokens; anything else is never looked up.

    PostgreSQL cannot even compare a string holding U+0000, so a NUL in a URL
    would otherwise end as a server error.
    """
    return isinstance(value, str) and _TOKEN_SHAPE.fullmatch(value) is not None


TOKEN_PREFIX = "cxs_"  # noqa: S105 - a marker that secret scanners can match, not a secret
TOKEN_NAME_MAX_LENGTH = 100


def digest_token(token: str) -> str:
    """API tokens are stored as SHA-256 digests: 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the REST API, acting as its user. Only the digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(
        _("name"), max_length=TOKEN_NAME_MAX_LENGTH, help_text=_("What uses it, e.g. “shop backend”.")
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so that a token can be recognised in the list without being stored.
    hint = models.CharField(_("starts with"), max_length=12, editable=False)
    write = models.BooleanField(
        _("write access"), default=False, help_text=_("Without it the token can only read.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, *, user, name: str, write: bool = False) -> tuple["ApiToken", str]:
        """A new token for ``user``; the plain token is returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        api_token = cls.objects.create(
            user=user, name=name, write=write, digest=digest_token(token), hint=token[:10]
        )
        return api_token, token


class IdempotentRequest(models.Model):
    """The first answer to a request sent with an ``Idempotency-Key``, replayed to its retries."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotent_requests")
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotent_request_unique_key"),
        ]
        indexes = [
            # The clean-up of keys older than a day.
            models.Index(fields=["created_at"], name="idempotent_request_age_idx"),
        ]

    def __str__(self) -> str:
        return self.key
