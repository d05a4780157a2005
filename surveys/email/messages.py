"""The emails the product sends, and survey invitations among them: the message, its
personalised texts, previews and test sends.

Every email is three templates (``<prefix>_subject.txt``, ``<prefix>.txt``, ``<prefix>.html``)
rendered by ``render_email``: a new email is three files and one call. The survey's own subject
and introduction are small templates written in the back office; they see plain data only
(``contact.name``, ``contact.email``, ``properties.…``) and a broken one falls back to the
standard text instead of stopping the send.
"""

import dataclasses
import functools
import json
import re
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.dispatch import receiver
from django.template.defaultfilters import linebreaksbr
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import autoreload, translation
from django.utils.html import conditional_escape, escape

from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import Contact, Invitation, LegalBasis, LegalInformation, Survey
from surveys.scales import LANGUAGES
from surveys.texts import MAX_INTRO_LENGTH, MAX_SUBJECT_LENGTH, render_survey_text

SAMPLE_NAMES = {"de": "Erika Mustermann", "en": "Jane Doe"}
SAMPLE_EMAILS = {"de": "erika.mustermann@example.com", "en": "jane.doe@example.com"}
SAMPLE_PROPERTIES = {"order_id": "10042"}


def render_email(
    template_prefix: str,
    context: dict,
    *,
    language: str,
    to: list[str],
    personal: dict[str, str] | None = None,
    **message,
) -> EmailMultiAlternatives:
    """The email of three templates, ``<template_prefix>_subject.txt``, ``<template_prefix>.txt`` and
    ``<template_prefix>.html``, rendered in ``language`` for ``to``; ``message`` holds the rest of
    ``EmailMultiAlternatives``'s arguments (``from_email``, ``reply_to``, ``headers``). Send it with
    ``send()``, or over a connection that sends many.

    ``personal`` holds the context's texts that change from one recipient to the next (a name, links
    with a token). The templates are then rendered once per language and remaining context, and these
    texts filled in (escaped in HTML, as the template would): sending thousands of emails costs one
    rendering. A template that does more with such a text than print it (a filter, a comparison) is
    rendered whole for each email instead."""
    subject, text, html = _render(template_prefix, context, personal or {}, language)
    # A line break in a subject would end the header; Django refuses to send such a mail.
    email = EmailMultiAlternatives(subject=" ".join(subject.split()), body=text, to=to, **message)
    email.attach_alternative(html, "text/html")
    return email


_TEMPLATES = ("_subject.txt", ".txt", ".html")
# A recipient's text in a frame: characters that escaping changes (&, <, quotes), that filters
# change (letter case, a line break) and a number found nowhere else, so that a mark a template did
# more with than print it shows as a leftover.
_SEAL = "7301947"
_MARK = "\x1f{name}:{variant}&<'\"Mk\n" + _SEAL + "\x1f"

# A piece of a frame: its own text, or a recipient's text to fill in (its name, escaped or not).
Piece = str | tuple[str, bool]


def _render(prefix: str, context: dict, personal: dict[str, str], language: str) -> list[str]:
    """Subject, text and HTML, from the cached frame of their templates if they have one."""
    frame = _frame_for(prefix, context, personal, language) if personal else None
    if frame is None:
        with translation.override(language):
            return [render_to_string(f"{prefix}{suffix}", {**context, **personal}) for suffix in _TEMPLATES]
    return [
        "".join(
            piece
            if isinstance(piece, str)
            else (conditional_escape(personal[piece[0]]) if piece[1] else personal[piece[0]])
            for piece in pieces
        )
        for pieces in frame
    ]


def _frame_for(prefix: str, context: dict, personal: dict[str, str], language: str):
    """The frame for this context; an empty text is part of the key, as templates test for one."""
    present = sorted(name for name, value in personal.items() if value)
    try:
        key = json.dumps([prefix, language, context, sorted(personal), present], sort_keys=True)
    except TypeError:  # a context JSON cannot hold: rendered whole
        return None
    return _frame(key)


@functools.lru_cache(maxsize=256)
def _frame(key: str) -> list[list[Piece]] | None:
    """The three templates rendered with marks for the recipient's texts, cut at the marks; None
    if a template changes a mark, measures it or cuts it (two marks of different lengths must give
    the same frame)."""
    prefix, language, context, names, present = json.loads(key)
    frames = []
    for variant in ("a", "bbbbbbbb"):
        marks = {name: _MARK.format(name=name, variant=variant) if name in present else "" for name in names}
        with translation.override(language):
            rendered = [render_to_string(f"{prefix}{suffix}", {**context, **marks}) for suffix in _TEMPLATES]
        slots = {mark: (name, False) for name, mark in marks.items() if mark}
        slots |= {escape(mark): (name, True) for name, mark in marks.items() if mark}
        pattern = re.compile("|".join(re.escape(mark) for mark in slots))
        frame = [_cut(text, pattern, slots) for text in rendered]
        if any(_SEAL in piece for pieces in frame for piece in pieces if isinstance(piece, str)):
            return None
        frames.append(frame)
    return frames[0] if frames[0] == frames[1] else None


def _cut(text: str, pattern: re.Pattern, slots: dict[str, tuple[str, bool]]) -> list[Piece]:
    pieces: list[Piece] = []
    position = 0
    for match in pattern.finditer(text) if slots else ():
        pieces += [text[position : match.start()], slots[match.group()]]
        position = match.end()
    return [*pieces, text[position:]]


@receiver(autoreload.file_changed)
def _forget_frames(sender, file_path, **kwargs) -> None:
    """The development server reloads edited templates without a restart; so do frames."""
    _frame.cache_clear()


def invitation_message(
    invitation: Invitation, *, reminder: bool = False, legal: LegalInformation | None = None
) -> EmailMultiAlternatives:
    """The email for one invitation, in the contact's language (else the installation's), with the
    installation's legal information in its footer: ``legal``, which a sender reads once for a
    batch, or read here.

    A reminder gets its own subject and a new Message-ID: mail services drop a second
    message that repeats one they have seen.
    """
    return _message(
        invitation,
        kind="reminder" if reminder else "invitation",
        legal=legal or LegalInformation.objects.current(),
    )


def render_preview(survey: Survey, language: str) -> tuple[str, str, str]:
    """Subject, text and HTML of the survey's email to a sample contact, scored on the preview page."""
    message = _message(
        _sample_invitation(survey, language), kind="preview", legal=LegalInformation.objects.current()
    )
    html, _mimetype = message.alternatives[0]
    return str(message.subject), str(message.body), str(html)


def sample_email(survey: Survey, *, to: str, language: str) -> EmailMultiAlternatives:
    """The survey's email as a sample contact would get it, addressed to ``to``; its links store
    nothing. Sent like every email, through ``surveys.email.dispatch.send_message``."""
    invitation = _sample_invitation(survey, language, to)
    return _message(invitation, kind="test", legal=LegalInformation.objects.current())


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


def _recipient(invitation: Invitation) -> Contact:
    """The invited contact; an invitation whose contact was erased is never sent (the dispatcher
    skips it), so asking for its email is a mistake."""
    if invitation.contact is None:
        raise ValueError("The contact of this invitation was erased.")
    return invitation.contact


def _message(invitation: Invitation, *, kind: str, legal: LegalInformation) -> EmailMultiAlternatives:
    """``kind``: "invitation", "reminder", "preview" or "test" (links to the preview page)."""
    survey, contact = invitation.survey, _recipient(invitation)
    language = contact.language if contact.language in LANGUAGES else settings.LANGUAGE_CODE
    unsubscribe_url = _site_url(reverse("surveys:unsubscribe", args=[unsubscribe_token(contact)]))
    with translation.override(language):
        context, personal = _context(invitation, language, kind=kind)
    # The same for every contact in the language, so part of the frame: rendered once, not per email.
    context["legal"] = dataclasses.asdict(legal.footer(language))
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if invitation.message_id and kind == "invitation":
        headers["Message-ID"] = invitation.message_id
    message = render_email(
        "surveys/email/invitation",
        context,
        personal={**personal, "unsubscribe_url": unsubscribe_url},
        language=language,
        to=[mail_address(contact.name, contact.email)],
        from_email=sender_address(survey),
        reply_to=[survey.reply_to] if survey.reply_to else None,
        headers=headers,
    )
    # Read by django-anymail's provider backends (tracking webhooks find the invitation by
    # it); Django's SMTP backend ignores both. Some providers put metadata in a header the
    # recipient sees: our random Message-ID tells nothing, an integer id would.
    # (Ad-hoc attributes that anymail reads from any EmailMessage; Django's stubs do not know them.)
    if invitation.pk and invitation.message_id:
        message.metadata = {"invitation": invitation.message_id}  # type: ignore[attr-defined]
    message.tags = [kind]  # type: ignore[attr-defined]
    return message


def _context(invitation: Invitation, language: str, *, kind: str) -> tuple[dict, dict[str, str]]:
    """The context that is the same for every contact of the survey, and the contact's own texts."""
    survey, contact = invitation.survey, _recipient(invitation)
    properties = invitation.properties if isinstance(invitation.properties, dict) else {}
    values = {
        "contact": {"name": contact.name, "email": contact.email},
        "properties": properties,
        "brand": survey.brand,
        "subject": survey.subject(language),
    }
    subject = _personalised(survey, "email_subject", language, values, max_length=MAX_SUBJECT_LENGTH)
    intro = _personalised(survey, "email_intro", language, values, max_length=MAX_INTRO_LENGTH).strip()
    scale = survey.scale
    labels = scale.point_labels(language)
    points = [{"value": value, "label": labels.get(value, "")} for value in scale.points]
    low, high = scale.end_labels(language)
    context = {
        "language": language,
        "brand": survey.brand,
        "accent": survey.accent_color,
        "on_accent": survey.on_accent_color,
        "question": survey.question(language, properties),
        "points": points,
        "cell_width": 100 // len(points),
        "low_label": low,
        "high_label": high,
        "reminder": kind == "reminder",
        "test": kind == "test",
        "consented": contact.legal_basis == LegalBasis.CONSENT,
    }
    personal = {
        "name": " ".join(contact.name.split()),
        "subject": " ".join(subject.split()),
        "intro": intro,
        "intro_html": linebreaksbr(intro),
        # The scale's links go here, followed by "score=<value>".
        "answer_url": _answer_url(invitation, language, kind),
    }
    return context, personal


def _personalised(survey: Survey, field: str, language: str, values: dict, *, max_length: int) -> str:
    """The survey's own subject or introduction for one contact; the standard text if it has none
    or it cannot be used."""
    return render_survey_text(
        getattr(survey, f"{field}_{language}"),
        survey.standard_text(field, language),
        values,
        max_length=max_length,
        where=f"{field}_{language} of survey {survey.pk}",
    )


def _answer_url(invitation: Invitation, language: str, kind: str) -> str:
    """Where the scale's links go, up to the score: ``…?score=`` or ``…?lang=de&score=``."""
    if kind in ("preview", "test"):
        path = reverse("surveys:preview", args=[invitation.survey.public_key])
        return _site_url(f"{path}?lang={language}&")
    return _site_url(f"{reverse('surveys:answer', args=[invitation.token])}?")


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def sender_address(survey: Survey) -> str:
    """Who the survey's emails come from: its sender name (else its brand) at the installation's address."""
    return mail_address(survey.sender_name or survey.brand, parseaddr(settings.DEFAULT_FROM_EMAIL)[1])


def mail_address(name: str, address: str) -> str:
    # Names may hold commas, quotes and umlauts; formataddr quotes or encodes them. A line
    # break would end the header, so whitespace is collapsed first.
    return formataddr((" ".join(name.split()), address))
