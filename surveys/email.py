"""Survey invitations by email: the message, its personalised texts, unsubscribe tokens, previews.

An email is three templates under ``templates/surveys/email/`` (``<name>_subject.txt``,
``<name>.txt``, ``<name>.html``) rendered by ``render_email``. The survey's own subject
and introduction are small templates written in the back office; they see plain data
only (``contact.name``, ``contact.email``, ``properties.…``) and a broken one falls back
to the standard text instead of stopping the send.
"""

import base64
import binascii
import copy
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare, salted_hmac

from surveys.models import Contact, Invitation, LegalBasis, Survey, is_token_shaped
from surveys.scales import LANGUAGES
from surveys.texts import render_survey_text

SAMPLE_NAMES = {"de": "Erika Mustermann", "en": "Jane Doe"}
SAMPLE_EMAILS = {"de": "erika.mustermann@example.com", "en": "jane.doe@example.com"}
SAMPLE_PROPERTIES = {"order_id": "10042"}


def _standard_text(survey: Survey, field: str, language: str) -> str:
    """What ``survey.<field>(language)`` says when the survey has no text of its own."""
    plain = copy.copy(survey)
    setattr(plain, f"{field}_{language}", "")
    return getattr(plain, field)(language)


def render_email(name: str, context: dict) -> tuple[str, str, str]:
    """Subject (one line), plain text and HTML of the email ``templates/surveys/email/<name>…``."""
    subject = render_to_string(f"surveys/email/{name}_subject.txt", context)
    text = render_to_string(f"surveys/email/{name}.txt", context)
    html = render_to_string(f"surveys/email/{name}.html", context)
    # A line break in a subject would end the header; Django refuses to send such a mail.
    return " ".join(subject.split()), text, html


def invitation_message(invitation: Invitation, *, reminder: bool = False) -> EmailMultiAlternatives:
    """The email for one invitation, in the contact's language (else the installation's).

    A reminder gets its own subject and a new Message-ID: mail services drop a second
    message that repeats one they have seen.
    """
    return _message(invitation, kind="reminder" if reminder else "invitation")


def render_preview(survey: Survey, language: str) -> tuple[str, str, str]:
    """Subject, text and HTML of the survey's email to a sample contact, scored on the preview page."""
    message = _message(_sample_invitation(survey, language), kind="preview")
    return message.subject, message.body, message.alternatives[0].content


def send_test_email(survey: Survey, *, to: str, language: str) -> None:
    """Send the survey's email, as a sample contact would get it, to ``to``; its links store nothing."""
    _message(_sample_invitation(survey, language, to), kind="test").send()


def _sample_invitation(survey: Survey, language: str, email: str = "") -> Invitation:
    """An unsaved invitation of a sample contact; its contact has no id, so nothing can match it."""
    language = language if language in LANGUAGES else settings.LANGUAGE_CODE
    contact = Contact(
        name=SAMPLE_NAMES[language],
        email=email or SAMPLE_EMAILS[language],
        language=language,
        legal_basis=LegalBasis.CUSTOMER,
    )
    return Invitation(survey=survey, contact=contact, properties=dict(SAMPLE_PROPERTIES))


def _message(invitation: Invitation, *, kind: str) -> EmailMultiAlternatives:
    """``kind``: "invitation", "reminder", "preview" or "test" (links to the preview page)."""
    survey, contact = invitation.survey, invitation.contact
    language = contact.language if contact.language in LANGUAGES else settings.LANGUAGE_CODE
    unsubscribe_url = _site_url(reverse("surveys:unsubscribe", args=[unsubscribe_token(contact)]))
    with translation.override(language):
        context = _context(invitation, language, kind=kind)
        subject, text, html = render_email("invitation", {**context, "unsubscribe_url": unsubscribe_url})
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if invitation.message_id and kind == "invitation":
        headers["Message-ID"] = invitation.message_id
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=_address(survey.sender_name or survey.brand, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]),
        to=[_address(contact.name, contact.email)],
        reply_to=[survey.reply_to] if survey.reply_to else None,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    # Read by django-anymail's provider backends (tracking webhooks find the invitation by
    # it); Django's SMTP backend ignores both. Some providers put metadata in a header the
    # recipient sees: our random Message-ID tells nothing, an integer id would.
    if invitation.pk and invitation.message_id:
        message.metadata = {"invitation": invitation.message_id}
    message.tags = [kind]
    return message


def _context(invitation: Invitation, language: str, *, kind: str) -> dict:
    survey, contact = invitation.survey, invitation.contact
    properties = invitation.properties if isinstance(invitation.properties, dict) else {}
    values = {"contact": {"name": contact.name, "email": contact.email}, "properties": properties}
    subject = render_survey_text(
        survey.email_subject(language), _standard_text(survey, "email_subject", language), values
    )
    intro = render_survey_text(
        survey.email_intro(language), _standard_text(survey, "email_intro", language), values
    )
    scale = survey.scale
    labels = scale.point_labels(language)
    answer_url = _answer_url(invitation, language, kind)
    points = [
        {"value": value, "label": labels.get(value, ""), "url": f"{answer_url}score={value}"}
        for value in scale.points
    ]
    low, high = scale.end_labels(language)
    return {
        "language": language,
        "brand": survey.brand,
        "accent": survey.accent_color,
        "on_accent": survey.on_accent_color,
        "name": " ".join(contact.name.split()),
        "subject": " ".join(subject.split()),
        "intro": intro.strip(),
        "question": survey.question(language),
        "points": points,
        "cell_width": 100 // len(points),
        "low_label": low,
        "high_label": high,
        "reminder": kind == "reminder",
        "test": kind == "test",
        "consented": contact.legal_basis == LegalBasis.CONSENT,
    }


def _answer_url(invitation: Invitation, language: str, kind: str) -> str:
    """Where the scale's links go, up to the score: ``…?score=`` or ``…?lang=de&score=``."""
    if kind in ("preview", "test"):
        path = reverse("surveys:preview", args=[invitation.survey.public_key])
        return _site_url(f"{path}?lang={language}&")
    return _site_url(f"{reverse('surveys:answer', args=[invitation.token])}?")


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _address(name: str, address: str) -> str:
    # Names may hold commas, quotes and umlauts; formataddr quotes or encodes them. A line
    # break would end the header, so whitespace is collapsed first.
    return formataddr((" ".join(name.split()), address))


# Unsubscribe tokens. The contact's id must not be readable in the link (integer ids never
# appear in emails), so it is hidden with a synthetic IV: tag = HMAC(id), then the id is
# XORed with HMAC(tag). The tag authenticates the id (128 bits), the same contact always
# gets the same token, and the salts keep it apart from every other signed value.
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
