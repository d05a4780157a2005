"""Unsubscribing from survey emails: ``/u/<token>/`` from the link and the List-Unsubscribe header.

Mail scanners open every link, so a GET only shows a page with a button. Mail
services unsubscribe with one POST (RFC 8058): no cookie, no CSRF token, the body
``List-Unsubscribe=One-Click``; it unsubscribes at once and answers 200. That POST
is exempt from CSRF checks, which costs nothing: it needs the token, and whoever
has the token may unsubscribe anyway. Subscribing again is a separate address with
CSRF protection, so that no other site can undo an objection.
"""

import base64
import binascii

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from surveys.models import Contact, Invitation, is_token_shaped
from surveys.public import PublicError, check_rate, not_found, public_page, render_public, use_language
from surveys.signals import contact_unsubscribed

ONE_CLICK = "One-Click"


def get_contact_by_unsubscribe_token(request: HttpRequest, token: str) -> Contact | None:
    """The contact behind an unsubscribe link, or None if it was deleted; a 404 for any other token."""
    contact_id = read_unsubscribe_token(token)
    if contact_id is None:
        raise not_found(
            request,
            gettext_lazy("Link not valid"),
            gettext_lazy(
                "This link is not valid. Please use the link from your email exactly as it was sent."
            ),
        )
    contact = Contact.objects.filter(pk=contact_id).first()
    use_language(request, contact.language if contact else "")
    return contact


# Valid tokens are not rate-limited: mail services send one-click requests for many
# people from a few addresses, and an objection that is turned away is not honoured.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    contact = get_contact_by_unsubscribe_token(request, token)
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") != ONE_CLICK:
            raise PublicError(
                400,
                _("Request not accepted"),
                _("Please open the link from your email and press the button there to unsubscribe."),
            )
        if contact is not None:
            now = timezone.now()
            with transaction.atomic():
                # Conditional: the first objection's time is the one that counts, and is announced.
                if Contact.objects.filter(pk=contact.pk, unsubscribed_at__isnull=True).update(
                    unsubscribed_at=now, updated_at=now
                ):
                    contact.unsubscribed_at = contact.updated_at = now
                    contact_unsubscribed.send(sender=Contact, contact=contact)
        return _page(request, token, contact, "unsubscribed")
    if contact is None or contact.unsubscribed_at:
        return _page(request, token, contact, "already_unsubscribed")
    return _page(request, token, contact, "ask")


@require_POST
@public_page
def resubscribe(request: HttpRequest, token: str) -> HttpResponse:
    contact = get_contact_by_unsubscribe_token(request, token)
    check_rate(request, "answer")
    if contact is None:
        return _page(request, token, contact, "already_unsubscribed")
    # Only the contact's own objection is undone; bounces and complaints stay.
    Contact.objects.filter(pk=contact.pk, unsubscribed_at__isnull=False).update(
        unsubscribed_at=None, updated_at=timezone.now()
    )
    return _page(request, token, contact, "resubscribed")


def _page(request: HttpRequest, token: str, contact: Contact | None, state: str) -> HttpResponse:
    """``state``: "ask", "unsubscribed", "already_unsubscribed" or "resubscribed"."""
    latest = (
        Invitation.objects.filter(contact=contact).select_related("survey").order_by("-created_at").first()
        if contact is not None
        else None
    )
    context = {
        # The brand and colours of the last survey this person got, so the page looks like the email.
        "survey": latest.survey if latest else None,
        "token": token,
        "state": state,
        "can_resubscribe": contact is not None,
    }
    return render_public(request, "surveys/unsubscribe.html", context)


# Unsubscribe tokens. The contact's id must not be readable in the link (integer ids never
# appear in emails), so it is hidden with a synthetic IV: tag = HMAC(id), then the id is
# XORed with HMAC(tag). The tag authenticates the id (128 bits), the same contact always
# gets the same token, and the salts keep it apart from every other signed value. They stay
# as they are wherever this code lives: another salt would void every link already sent.
_TAG_SALT = "surveys.unsubscribe.tag"
_PAD_SALT = "surveys.unsubscribe.pad"
_TAG_BYTES, _ID_BYTES = 16, 8


def unsubscribe_token(contact: Contact) -> str:
    """A permanent, URL-safe token that unsubscribes ``contact`` from all surveys.

    An unsaved contact (the sample of a test email) gets a valid token that matches nobody:
    its link works and changes nothing.
    """
    identifier = (contact.pk or 0).to_bytes(_ID_BYTES, "big")
    tag = salted_hmac(_TAG_SALT, identifier, algorithm="sha256").digest()[:_TAG_BYTES]
    pad = salted_hmac(_PAD_SALT, tag, algorithm="sha256").digest()[:_ID_BYTES]
    hidden = bytes(a ^ b for a, b in zip(identifier, pad, strict=True))
    return base64.urlsafe_b64encode(tag + hidden).decode()


def read_unsubscribe_token(token: str) -> int | None:
    """The contact id a token was made for (the contact may be gone since), or None if it is not ours."""
    if not is_token_shaped(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TAG_BYTES + _ID_BYTES:
        return None
    tag, hidden = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    # Tokens made before a SECRET_KEY rotation stay valid while the old key is a fallback.
    for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
        pad = salted_hmac(_PAD_SALT, tag, secret=secret, algorithm="sha256").digest()[:_ID_BYTES]
        identifier = bytes(a ^ b for a, b in zip(hidden, pad, strict=True))
        expected = salted_hmac(_TAG_SALT, identifier, secret=secret, algorithm="sha256").digest()
        if constant_time_compare(tag, expected[:_TAG_BYTES]):
            return int.from_bytes(identifier, "big")
    return None


def contact_for_unsubscribe_token(token: str) -> Contact | None:
    """The contact a token unsubscribes; None for a token that is not ours or a deleted contact."""
    contact_id = read_unsubscribe_token(token)
    return None if contact_id is None else Contact.objects.filter(pk=contact_id).first()
