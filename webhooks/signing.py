"""Signatures as the Standard Webhooks specification describes them (https://www.standardwebhooks.com/).

Receivers can therefore verify with any of its libraries. Each request carries
``webhook-id`` (the same on every retry of a message), ``webhook-timestamp`` (seconds,
of this attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``,
one per valid secret, separated by spaces, so that during a rotation either secret verifies.
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the specification's marker, not a secret
SECRET_BYTES = 32  # the specification asks for 24 to 64


def new_secret() -> str:
    """A random secret in the specification's form, ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(*, secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of one attempt, signed with each of ``secrets``."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
            for secret in secrets
        ),
    }
