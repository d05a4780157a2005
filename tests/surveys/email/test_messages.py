import base64
import re
from email import message_from_bytes, policy
from email.utils import parseaddr

import pytest
from django.core import mail
from django.core.mail import get_connection

from surveys.email import messages
from surveys.email.dispatch import send_message
from surveys.email.messages import invitation_message, render_preview, sample_email
from surveys.email.unsubscribe import contact_for_unsubscribe_token, read_unsubscribe_token, unsubscribe_token
from surveys.models import Contact, LegalBasis, LegalInformation, Survey
from tests.factories import make_contact, make_invitation, make_survey
from tests.legal import ENGLISH, GERMAN, label, set_legal_information

pytestmark = pytest.mark.django_db

SITE = "https://cx.example.com"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "CXSurvey <surveys@cx.example.com>"


def invite(*, kind=Survey.Kind.NPS, language="en", name="Jane Doe", properties=None, **survey_fields):
    survey = make_survey(kind=kind, **survey_fields)
    contact = make_contact(name=name, language=language)
    return make_invitation(survey=survey, contact=contact, properties=properties or {})


def parts(message) -> tuple[str, str]:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return message.body, html


def links(html: str) -> list[str]:
    return [url.replace("&amp;", "&") for url in re.findall(r'href="([^"]+)"', html)]


def test_an_english_email_asks_the_question_with_the_brand_and_greets_the_contact_by_name():
    invitation = invite(brand="Acme")
    message = invitation_message(invitation)
    text, html = parts(message)
    assert message.subject == "Acme: a quick question"
    assert message.to == [f"Jane Doe <{invitation.contact.email}>"]
    for part in (text, html):
        assert "Hello Jane Doe," in part
        assert "We would like to know how we are doing. Your answer takes one click." in part
        assert "How likely are you to recommend Acme to a friend or colleague?" in part
    assert '<html lang="en"' in html
    assert ">Acme</td>" in html


def test_a_contact_without_a_name_is_greeted_without_one():
    text, html = parts(invitation_message(invite(name="")))
    assert "Hello,\n" in text
    assert "Hello," in html and "Hello ," not in html


def test_a_german_contact_gets_the_german_texts():
    invitation = invite(language="de", brand="Bäckerei Größe")
    message = invitation_message(invitation)
    text, html = parts(message)
    assert message.subject == "Bäckerei Größe: eine kurze Frage"
    for part in (text, html):
        assert "Wir möchten wissen, wie zufrieden Sie mit uns sind." in part
        assert (
            "Wie wahrscheinlich ist es, dass Sie Bäckerei Größe einem Freund oder Kollegen weiterempfehlen?"
            in part
        )
        assert "Äußerst unwahrscheinlich" in part
        assert "Äußerst wahrscheinlich" in part
        assert "Sie erhalten diese E-Mail, weil Sie Kunde von Bäckerei Größe sind." in part
        assert "jederzeit widersprechen" in part
    assert "Abmelden" in html
    assert '<html lang="de"' in html
    reminder = invitation_message(invitation, reminder=True)
    assert reminder.subject == "Erinnerung: Bäckerei Größe: eine kurze Frage"


def test_a_contact_without_a_language_gets_the_installation_language(settings):
    settings.LANGUAGE_CODE = "de"
    message = invitation_message(invite(language=""))
    assert message.subject == "Acme: eine kurze Frage"


@pytest.mark.parametrize(
    ("kind", "points", "low", "high"),
    [
        (Survey.Kind.NPS, range(0, 11), "Not at all likely", "Extremely likely"),
        (Survey.Kind.CSAT, range(1, 6), "Very dissatisfied", "Very satisfied"),
        (Survey.Kind.CES, range(1, 8), "Strongly disagree", "Strongly agree"),
    ],
)
def test_every_point_of_the_scale_links_to_the_invitation_with_its_score(kind, points, low, high):
    invitation = invite(kind=kind)
    text, html = parts(invitation_message(invitation))
    expected = [f"{SITE}/s/{invitation.token}/?score={score}" for score in points]
    score_links = [url for url in links(html) if "/s/" in url]
    assert score_links == expected
    text_links = re.findall(r"https://\S+/s/\S+", text)
    assert text_links == expected
    for part in (text, html):
        assert low in part
        assert high in part
    assert html.index(expected[-1]) < html.index(f">{low}</td>")  # the end labels sit under the scale


def test_the_score_links_are_large_enough_to_tap():
    _, html = parts(invitation_message(invite()))
    cells = re.findall(r'<td width="9%" height="44"[^>]*>', html)
    assert len(cells) == 11
    assert all("min-width:28px" in cell and "height:44px" in cell for cell in cells)
    assert 'role="presentation"' in html
    assert "<style" not in html and "<img" not in html and "display:flex" not in html


def test_the_scale_is_drawn_in_the_survey_accent_colour_with_a_readable_text_colour():
    _, html = parts(invitation_message(invite(accent_color="#ffd500")))
    assert 'bgcolor="#ffd500"' in html
    assert "color:#000000;" in html


def test_the_footer_says_why_the_mail_came_and_links_to_unsubscribing():
    invitation = invite(brand="Acme")
    text, html = parts(invitation_message(invitation))
    unsubscribe = f"{SITE}/u/{unsubscribe_token(invitation.contact)}/"
    notice = "You are receiving this email because you are a customer of Acme."
    objection = "You can object to receiving such surveys at any time"
    assert notice in text and objection in text
    assert f"Unsubscribe: {unsubscribe}" in text
    assert notice in html and objection in html
    assert f'<a href="{unsubscribe}"' in html
    assert contact_for_unsubscribe_token(unsubscribe_token(invitation.contact)) == invitation.contact


def test_a_contact_who_consented_is_told_so_in_the_footer():
    invitation = invite(brand="Acme")
    Contact.objects.filter(pk=invitation.contact.pk).update(legal_basis=LegalBasis.CONSENT)
    invitation.contact.refresh_from_db()
    text, _ = parts(invitation_message(invitation))
    assert "because you agreed to be asked about your experience with Acme." in text


def test_the_subject_and_introduction_can_use_the_contact_name_and_event_properties():
    invitation = invite(
        name="Jane Doe",
        properties={"order_id": "10042"},
        email_subject_en="Your order {{ properties.order_id }}",
        email_intro_en="Dear {{ contact.name }}, how was order {{ properties.order_id }}?",
    )
    message = invitation_message(invitation)
    text, html = parts(message)
    assert message.subject == "Your order 10042"
    assert "Dear Jane Doe, how was order 10042?" in text
    assert "Dear Jane Doe, how was order 10042?" in html


def test_a_name_with_markup_is_escaped_in_the_html_and_kept_in_the_text():
    name = '<script>alert("x")</script>'
    invitation = invite(name=name, email_intro_en="Dear {{ contact.name }}, <b>thanks</b>")
    message = invitation_message(invitation)
    text, html = parts(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;thanks&lt;/b&gt;" in html  # the survey's own text is text, too
    assert f"Hello {name}," in text
    assert f"Dear {name}, <b>thanks</b>" in text


def test_a_subject_with_a_line_break_in_a_property_stays_on_one_line():
    invitation = invite(
        properties={"order_id": "1\r\nBcc: x@evil.example"},
        email_subject_en="Order {{ properties.order_id }}",
    )
    message = invitation_message(invitation)
    assert message.subject == "Order 1 Bcc: x@evil.example"
    assert "\n" not in message.message()["Subject"]


@pytest.mark.parametrize(
    "broken",
    [
        "Order {% if %}",
        "{{ contact.name|no_such_filter }}",
        '{% include "surveys/answer.html" %}',
        "{% load static %}{% static 'x' %}",
        "{% debug %}",
        "{% for x in properties.count %}{{ x }}{% endfor %}",
    ],
)
def test_a_survey_text_that_does_not_render_falls_back_to_the_standard_text(broken):
    invitation = invite(properties={"count": 5}, email_subject_en=broken, email_intro_en=broken)
    message = invitation_message(invitation)
    text, _ = parts(message)
    assert message.subject == "Acme: a quick question"
    assert "We would like to know how we are doing." in text


def test_a_brand_that_looks_like_template_code_is_shown_as_written():
    brand = '{{ contact.email }}{{ 0|stringformat:"09d" }}'
    invitation = invite(brand=brand, email_intro_en="{{ brand }} asks {{ contact.name }}")
    message = invitation_message(invitation)
    assert message.subject == f"{brand}: a quick question"
    assert f"{brand} asks Jane Doe" in message.body


def test_the_unsubscribe_headers_allow_one_click_unsubscribing():
    invitation = invite()
    message = invitation_message(invitation).message()
    token = unsubscribe_token(invitation.contact)
    assert message["List-Unsubscribe"] == f"<{SITE}/u/{token}/>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_sender_is_the_survey_sender_name_at_the_installation_address():
    invitation = invite(sender_name="Müller, Söhne & Co.", reply_to="kundenservice@example.com")
    message = invitation_message(invitation)
    assert parseaddr(message.from_email)[1] == "surveys@cx.example.com"
    assert message.reply_to == ["kundenservice@example.com"]
    (sender,) = message_from_bytes(message.message().as_bytes(), policy=policy.default)["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Müller, Söhne & Co.", "surveys@cx.example.com")


def test_without_a_sender_name_the_brand_sends_and_nobody_is_set_to_reply_to():
    message = invitation_message(invite(brand="Acme"))
    assert message.from_email == "Acme <surveys@cx.example.com>"
    assert message.reply_to == []
    assert message.message()["Reply-To"] is None


def test_the_message_id_recorded_on_the_invitation_is_the_message_id_sent():
    invitation = invite()
    invitation.message_id = "<abc.123@cx.example.com>"
    message = invitation_message(invitation)
    assert message.message()["Message-ID"] == "<abc.123@cx.example.com>"
    assert message.metadata == {"invitation": "<abc.123@cx.example.com>"}
    assert message.tags == ["invitation"]


def test_a_reminder_has_its_own_subject_and_message_id():
    invitation = invite(brand="Acme")
    invitation.message_id = "<abc.123@cx.example.com>"
    reminder = invitation_message(invitation, reminder=True)
    assert reminder.subject == "Reminder: Acme: a quick question"
    assert reminder.message()["Message-ID"] != "<abc.123@cx.example.com>"
    assert reminder.tags == ["reminder"]
    assert reminder.metadata == {"invitation": "<abc.123@cx.example.com>"}


def test_an_unsubscribe_token_is_url_safe_and_does_not_show_the_contact_id():
    contact = make_contact()
    token = unsubscribe_token(contact)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    assert token == unsubscribe_token(contact)
    assert read_unsubscribe_token(token) == contact.pk
    raw = base64.urlsafe_b64decode(token)
    assert contact.pk.to_bytes(8, "big") not in raw


def test_a_changed_token_or_an_invitation_token_is_no_unsubscribe_token():
    invitation = invite()
    token = unsubscribe_token(invitation.contact)
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    for candidate in (changed, token[:-2], invitation.token, "", "x" * 32, "not a token!"):
        assert read_unsubscribe_token(candidate) is None
        assert contact_for_unsubscribe_token(candidate) is None


def test_unsubscribe_tokens_survive_a_secret_key_rotation(settings):
    contact = make_contact()
    token = unsubscribe_token(contact)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-only-0123456789"
    assert read_unsubscribe_token(token) == contact.pk
    settings.SECRET_KEY_FALLBACKS = []
    assert read_unsubscribe_token(token) is None


def test_the_preview_renders_the_real_email_for_a_sample_contact_with_links_to_the_preview_page():
    survey = make_survey(
        brand="Acme", email_intro_de="Hallo {{ contact.name }}, Bestellung {{ properties.order_id }}"
    )
    subject, text, html = render_preview(survey, "de")
    assert subject == "Acme: eine kurze Frage"
    assert "Hallo Erika Mustermann, Bestellung 10042" in text
    assert "Hallo Erika Mustermann, Bestellung 10042" in html
    score_links = [url for url in links(html) if "score=" in url]
    assert score_links == [f"{SITE}/preview/{survey.public_key}/?lang=de&score={n}" for n in range(11)]
    assert "/s/" not in text and "/s/" not in html


def test_a_test_email_goes_to_the_given_address_marked_as_a_test():
    survey = make_survey(brand="Acme")
    send_message(sample_email(survey, to="manager@example.com", language="en"), None)
    (message,) = mail.outbox
    assert message.to == ["Jane Doe <manager@example.com>"]
    assert message.subject == "[Test] Acme: a quick question"
    assert f"{SITE}/preview/{survey.public_key}/?lang=en&score=10" in message.body
    assert not hasattr(message, "metadata")
    # Its unsubscribe link works but matches no one.
    token = message.extra_headers["List-Unsubscribe"].rsplit("/u/", 1)[1].rstrip("/>")
    assert read_unsubscribe_token(token) == 0


def test_a_trailing_slash_in_the_site_url_does_not_double(settings):
    settings.SITE_URL = f"{SITE}/"
    invitation = invite()
    assert f"{SITE}/s/{invitation.token}/?score=0" in invitation_message(invitation).body


def test_the_email_arrives_through_smtp_as_text_and_html_with_its_headers(smtp_server):
    invitation = invite(
        language="de",
        name="Jürgen Größe",
        brand="Bäckerei Größe",
        sender_name="Müller, Söhne & Co.",
        reply_to="kundenservice@example.com",
    )
    invitation.message_id = "<abc.123@cx.example.com>"
    connection = get_connection(
        "django.core.mail.backends.smtp.EmailBackend", host=smtp_server.host, port=smtp_server.port
    )
    assert connection.send_messages([invitation_message(invitation)]) == 1

    (received,) = smtp_server.messages
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == ["text/plain", "text/html"]
    assert received["Subject"] == "Bäckerei Größe: eine kurze Frage"
    assert received["From"].addresses[0].display_name == "Müller, Söhne & Co."
    assert received["From"].addresses[0].addr_spec == "surveys@cx.example.com"
    assert received["To"].addresses[0].display_name == "Jürgen Größe"
    assert received["Reply-To"] == "kundenservice@example.com"
    assert received["Message-ID"] == "<abc.123@cx.example.com>"
    token = unsubscribe_token(invitation.contact)
    assert received["List-Unsubscribe"] == f"<{SITE}/u/{token}/>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Wie wahrscheinlich ist es, dass Sie Bäckerei Größe" in text
    assert f"{SITE}/s/{invitation.token}/?score=10" in text
    assert "Äußerst wahrscheinlich" in html
    assert f"{SITE}/s/{invitation.token}/?score=0" in html


TRICKY_NAMES = ["", "Tom & Jerry <tj@example.com>", 'Ölaf "Q" O\'Brien', "two\nlines", "{{ contact.name }}"]


@pytest.mark.parametrize("name", TRICKY_NAMES)
@pytest.mark.parametrize("language", ["de", "en"])
def test_an_email_filled_into_its_cached_frame_equals_one_rendered_whole(name, language, monkeypatch):
    invitation = invite(
        name=name,
        language=language,
        properties={"order": "<42> & more"},
        email_subject_de="{{ contact.name|upper }} & {{ properties.order }}",
        email_subject_en="Your order {{ properties.order }}",
        email_intro_de="Hallo {{ contact.name }},\n<b>danke</b> & \n\nnoch eine Zeile",
        email_intro_en="",
    )
    framed = invitation_message(invitation)
    monkeypatch.setattr(messages, "_frame_for", lambda *args: None)
    whole = invitation_message(invitation)
    assert (framed.subject, *parts(framed)) == (whole.subject, *parts(whole))
    assert framed.extra_headers == whole.extra_headers


def test_many_contacts_share_one_frame_of_their_survey_and_language():
    messages._frame.cache_clear()
    survey = make_survey(email_intro_en="Dear {{ contact.name }},\nthanks.")
    for n in range(5):
        invitation_message(
            make_invitation(survey=survey, contact=make_contact(name=f"Kim {n}", language="en"))
        )
    assert messages._frame.cache_info().currsize == 1


def test_a_template_that_does_more_with_a_recipients_text_than_print_it_is_rendered_whole(settings):
    templates = {
        "mail/hello_subject.txt": "Hi {{ name|upper }}",
        "mail/hello.txt": "{{ name|truncatechars:4 }} {{ name|length }}",
        "mail/hello.html": "<p>{{ name|linebreaksbr }}</p>",
    }
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", templates)]},
        }
    ]
    first = messages.render_email(
        "mail/hello", {}, language="en", to=["a@example.com"], personal={"name": "a\nb"}
    )
    second = messages.render_email(
        "mail/hello", {}, language="en", to=["a@example.com"], personal={"name": "Kim"}
    )
    assert (first.subject, *parts(first)) == ("Hi A B", "a\nb 3", "<p>a<br>b</p>")
    assert (second.subject, *parts(second)) == ("Hi KIM", "Kim 3", "<p>Kim</p>")


# The legal footer: who sends, where, and links to the privacy notice and Impressum.


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_email_names_the_company_with_its_address_and_links_privacy_notice_and_impressum(language):
    set_legal_information(**GERMAN, **ENGLISH)
    values = GERMAN if language == "de" else ENGLISH
    text, html = parts(invitation_message(invite(language=language)))
    privacy, impressum = label("Privacy notice", language), label("Impressum", language)

    lines = text.rstrip("\n").splitlines()
    assert lines[-6:] == [
        values[f"company_name_{language}"],
        *values[f"address_{language}"].splitlines(),
        f"{privacy}: {values[f'privacy_url_{language}']}",
        f"{impressum}: {values[f'impressum_url_{language}']}",
    ]
    assert f"{values[f'company_name_{language}']}<br>" in html
    assert "<br>".join(values[f"address_{language}"].splitlines()) in html
    assert re.search(f'<a href="{re.escape(values[f"privacy_url_{language}"])}"[^>]*>{privacy}</a>', html)
    assert re.search(f'<a href="{re.escape(values[f"impressum_url_{language}"])}"[^>]*>{impressum}</a>', html)
    assert html.index(values[f"privacy_url_{language}"]) > html.index("/u/")  # below the objection
    other = ENGLISH if language == "de" else GERMAN
    assert not [value for value in other.values() if value in text or value in html]


def test_a_reminder_carries_the_same_footer():
    set_legal_information(**ENGLISH)
    text, html = parts(invitation_message(invite(), reminder=True))
    assert f"Impressum: {ENGLISH['impressum_url_en']}" in text
    assert ENGLISH["privacy_url_en"] in html


def test_a_german_email_takes_the_english_texts_where_german_ones_are_missing():
    set_legal_information(address_de="Hauptstraße 5\r\n\r\n  80331 München  ", **ENGLISH)
    text, html = parts(invitation_message(invite(language="de")))
    assert "Hauptstraße 5\n80331 München\n" in text
    assert "Hauptstraße 5<br>80331 München<br>" in html
    assert ENGLISH["company_name_en"] in text and ENGLISH["privacy_url_en"] in html
    assert "Hauptstrasse" not in text


def test_without_legal_information_the_email_has_no_legal_footer():
    LegalInformation.objects.all().delete()
    text, html = parts(invitation_message(invite()))
    assert text.rstrip("\n").splitlines()[-1].startswith("Unsubscribe: ")
    assert "Privacy notice" not in text + html and "Impressum" not in text + html


def test_the_legal_footer_is_escaped_in_html_and_kept_as_typed_in_text():
    set_legal_information(company_name_en='Tom & Jerry <b>"Ltd"</b>')
    text, html = parts(invitation_message(invite()))
    assert 'Tom & Jerry <b>"Ltd"</b>' in text
    assert "Tom &amp; Jerry &lt;b&gt;&quot;Ltd&quot;&lt;/b&gt;" in html


def test_the_legal_footer_is_part_of_the_frame_that_many_emails_share(django_assert_num_queries):
    set_legal_information(**ENGLISH)
    legal = LegalInformation.objects.current()
    messages._frame.cache_clear()
    survey = make_survey()
    invitations = [
        make_invitation(survey=survey, contact=make_contact(name=f"Kim {n}", language="en")) for n in range(5)
    ]
    with django_assert_num_queries(0):  # the sender read the legal information once for its batch
        bodies = [invitation_message(invitation, legal=legal).body for invitation in invitations]
    assert messages._frame.cache_info().currsize == 1
    assert all(ENGLISH["impressum_url_en"] in body for body in bodies)


def test_changed_legal_information_reaches_the_next_email():
    set_legal_information(**ENGLISH)
    invitation = invite()
    invitation_message(invitation)
    set_legal_information(privacy_url_en="https://www.kessler.example/en/privacy-2027")
    text, _ = parts(invitation_message(invitation))
    assert "Privacy notice: https://www.kessler.example/en/privacy-2027" in text
    assert ENGLISH["impressum_url_en"] not in text


def test_the_preview_shows_the_legal_footer():
    set_legal_information(**GERMAN)
    _subject, text, html = render_preview(make_survey(), "de")
    assert GERMAN["company_name_de"] in text and GERMAN["impressum_url_de"] in html


def test_the_question_may_name_what_the_event_is_about():
    question = "How likely are you to recommend {{ properties.product|default:brand }} to a friend?"
    invitation = invite(brand="Acme", question_en=question, properties={"product": "the WP-300 heat pump"})
    for part in parts(invitation_message(invitation)):
        assert "How likely are you to recommend the WP-300 heat pump to a friend?" in part
    for part in parts(invitation_message(invite(brand="Acme", question_en=question))):
        assert "How likely are you to recommend Acme to a friend?" in part
