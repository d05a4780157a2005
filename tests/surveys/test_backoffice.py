"""The distribution pages of the back office: email preview and test, contact upload, statistics."""

import re
from html.parser import HTMLParser

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from surveys.email.messages import render_preview
from surveys.ingest import EventIn, ingest_events
from surveys.models import Contact, Event, Invitation
from tests.factories import make_contact, make_invitation, make_survey, make_touchpoint, take_away

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def survey():
    return make_survey(kind="nps", brand="Nordwind", email_subject_en="{{ contact.name }}, one question")


@pytest.fixture
def touchpoint(survey):
    return make_touchpoint(survey=survey, name="Delivery", send_window=None)


def staff_without(user, codename):
    take_away(user, codename)
    return type(user).objects.get(pk=user.pk)  # drop the cached permissions


def email_page(survey) -> str:
    return reverse("admin:surveys_survey_email", args=[survey.pk])


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("contacts.csv", text.encode(), content_type="text/csv")


def test_the_email_preview_shows_both_languages_as_sent(client, cx_manager, survey):
    client.force_login(cx_manager)
    page = client.get(email_page(survey))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Jane Doe, one question" in html
    assert "Nordwind: eine kurze Frage" in html
    assert html.count("<iframe") == 2
    assert "sandbox" in html


def test_each_preview_frame_holds_the_whole_email_as_sent(client, cx_manager, survey):
    """The email's HTML is one attribute value of the frame: escaped, a quote in it cannot end the
    attribute early and leave the frame blank."""
    client.force_login(cx_manager)
    page = client.get(email_page(survey)).content.decode()

    frames = IframeSources()
    frames.feed(page)
    for language, srcdoc in zip(("de", "en"), frames.srcdocs, strict=True):
        assert srcdoc == render_preview(survey, language)[2]
        assert srcdoc.startswith("<!doctype html>") and srcdoc.rstrip().endswith("</html>")


class IframeSources(HTMLParser):
    """The ``srcdoc`` of every frame of a page, as a browser reads the attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.srcdocs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.srcdocs.append(dict(attrs).get("srcdoc") or "")


def test_the_email_preview_says_why_a_stored_text_gives_way_to_the_standard_text(client, cx_manager, survey):
    # Saved before texts were checked: create() runs no validators.
    survey.email_intro_de = '{% for x in "abc" %}{{ x }}{% endfor %}'
    survey.save(update_fields=["email_intro_de"])
    client.force_login(cx_manager)
    page = client.get(email_page(survey))
    html = page.content.decode()
    assert (
        "Email introduction (German): the standard text is sent instead. Loops ({% for %}) cannot be used "
        "in survey texts." in html
    )
    assert "Wir möchten wissen, wie zufrieden Sie mit uns sind." in html
    assert "Email subject (English)" not in html


def send_test(client, survey, to: str):
    return client.post(email_page(survey), {"to": to, "language": "en"})


def test_a_test_email_goes_to_the_senders_own_address_and_its_links_store_nothing(client, cx_manager, survey):
    client.force_login(cx_manager)
    answer = send_test(client, survey, "manager@example.com")
    assert answer.status_code == 302
    [message] = mail.outbox
    assert message.to == ["Jane Doe <manager@example.com>"]
    assert message.subject.startswith("[Test] ")
    links = re.findall(r"http://\S+\?lang=en&score=\d+", message.body)
    assert len(links) == 11
    assert all(f"/preview/{survey.public_key}/" in link for link in links)


@pytest.mark.parametrize("to", ["customer@example.org", "me", "MANAGER@example.com.evil.example"])
def test_a_test_email_goes_nowhere_but_to_the_senders_own_address(client, cx_manager, survey, to):
    client.force_login(cx_manager)
    page = send_test(client, survey, to)
    assert page.status_code == 200
    assert "A test email goes only to your own address or to the test addresses" in page.content.decode()
    assert mail.outbox == []


def test_a_test_email_may_go_to_the_configured_test_inboxes(client, cx_manager, survey, settings):
    settings.TEST_EMAIL_RECIPIENTS = ["qa@example.com", "Manager@Example.com"]
    client.force_login(cx_manager)
    page = client.get(email_page(survey))
    assert [choice for choice, _label in page.context["form"].fields["to"].choices] == [
        "manager@example.com",
        "qa@example.com",
    ]
    assert send_test(client, survey, "qa@example.com").status_code == 302
    assert [message.to for message in mail.outbox] == [["Jane Doe <qa@example.com>"]]


def test_without_an_own_address_the_page_says_how_to_send_a_test(client, cx_manager, survey):
    cx_manager.email = ""
    cx_manager.save(update_fields=["email"])
    client.force_login(cx_manager)
    page = client.get(email_page(survey))
    html = page.content.decode()
    assert "enter your email address in your user account" in html
    assert 'name="to"' not in html
    assert send_test(client, survey, "").status_code == 200
    assert mail.outbox == []


def test_test_emails_are_limited_per_user(client, cx_manager, survey, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test_email": 2}
    client.force_login(cx_manager)
    assert [send_test(client, survey, "manager@example.com").status_code for _ in range(3)] == [302, 302, 429]
    assert len(mail.outbox) == 2
    page = send_test(client, survey, "manager@example.com")
    assert "You have sent many test emails in a short time." in page.content.decode()
    assert len(mail.outbox) == 2


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_who_may_only_view_a_survey_sees_its_email_but_sends_no_test(client, request, survey, role):
    """A view-only role reads the preview; sending under the company's brand needs the right to change."""
    client.force_login(request.getfixturevalue(role))
    page = client.get(email_page(survey))
    assert page.status_code == 200
    assert 'name="to"' not in page.content.decode()
    assert send_test(client, survey, f"{role}@example.com").status_code == 403
    assert mail.outbox == []


def test_staff_who_may_not_see_surveys_get_no_preview(client, cx_manager, survey):
    url = email_page(survey)
    assert client.get(url)["Location"].startswith("/admin/login/")
    staff_without(cx_manager, "view_survey")
    client.force_login(staff_without(cx_manager, "change_survey"))
    assert client.get(url).status_code == 403
    assert send_test(client, survey, "manager@example.com").status_code == 403
    assert mail.outbox == []


def test_an_upload_is_previewed_without_storing_anything_then_imported(client, cx_manager, touchpoint):
    make_contact(email="gone@example.com", unsubscribed_at=timezone.now())
    client.force_login(cx_manager)
    url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
    preview = client.post(
        url,
        {"file": csv_file("email;name;plan\nanna@example.com;Anna;pro\ngone@example.com;;\nnot-mail;;\n")},
    )
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Line 4: “not-mail” is not an email address." in html
    assert re.search(r"<td>scheduled</td><td class=\"numeric\">1</td>", html)
    assert re.search(r"<td>unsubscribed</td><td class=\"numeric\">1</td>", html)
    assert (Event.objects.count(), Invitation.objects.count()) == (0, 0)
    token = preview.context["token"]

    imported = client.post(url, {"upload": token})
    assert imported["Location"] == reverse("admin:surveys_invitation_changelist")
    assert Event.objects.filter(source="upload").count() == 2
    invitation = Invitation.objects.get(status="scheduled")
    assert invitation.contact.properties == {"plan": "pro"}
    assert invitation.touchpoint == touchpoint
    # The same preview cannot be imported twice.
    again = client.post(url, {"upload": token})
    assert again.status_code == 302
    assert Event.objects.count() == 2


def test_a_file_without_the_needed_columns_is_refused_with_a_reason(client, cx_manager, touchpoint):
    client.force_login(cx_manager)
    url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
    page = client.post(url, {"file": csv_file("name\nAnna\n")})
    assert page.status_code == 400
    assert "The first line must name the columns" in page.content.decode()
    assert Contact.objects.count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('email,plan\nanna@example.com,"pro\n' + "x" * 140_000, "Line 2 holds a value longer than 128 kB."),
        (
            "email," + ",".join(f"p{number}" for number in range(3_000)) + "\nanna@example.com\n",
            "At most 50 columns can become contact properties; this file has 3000.",
        ),
    ],
    ids=["a value over the reader's limit", "too many property columns"],
)
def test_a_file_the_reader_cannot_use_is_refused_with_a_reason(client, cx_manager, touchpoint, text, message):
    client.force_login(cx_manager)
    url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
    page = client.post(url, {"file": csv_file(text)})
    assert page.status_code == 400
    assert message in page.content.decode()
    assert "token" not in page.context
    assert (Contact.objects.count(), Event.objects.count()) == (0, 0)


def test_a_forged_or_foreign_preview_token_imports_nothing(client, cx_manager, touchpoint):
    client.force_login(cx_manager)
    url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
    for token in ("not-a-uuid", "6f1c1bbf-62d4-4c3a-9b55-2d0a9a1e2a57"):
        answer = client.post(url, {"upload": token}, follow=True)
        assert "The preview has expired" in answer.content.decode()
    assert Event.objects.count() == 0


def test_staff_who_may_not_send_surveys_cannot_upload(client, cx_manager, touchpoint):
    client.force_login(staff_without(cx_manager, "send_survey"))
    url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"file": csv_file("email\na@example.com\n")}).status_code == 403
    assert Contact.objects.count() == 0


class FunnelFigures(HTMLParser):
    """Each touchpoint's funnel on a page: its figures by ``data-figure``, as the number in their
    ``<data>`` element, or as the text that says why it is unknown."""

    def __init__(self) -> None:
        super().__init__()
        self.funnels: dict[str, dict[str, int | str]] = {}
        self.figures: list[str] = []  # the <li> elements we are in, innermost last
        self.unknown: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "ul" and "data-touchpoint" in named:
            self.funnel = self.funnels.setdefault(named["data-touchpoint"] or "", {})
        elif tag in ("li", "p") and "data-figure" in named:
            self.figures.append(named["data-figure"] or "")
        elif tag == "data" and self.figures and self.figures[-1] not in self.funnel:
            self.funnel[self.figures[-1]] = int(named["value"] or "")
        elif tag == "em" and "data-unknown" in named:
            self.unknown = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "em" and self.unknown is not None:
            self.funnel[self.figures[-1]] = self.unknown
            self.unknown = None
        elif tag in ("li", "p") and self.figures:
            self.figures.pop()

    def handle_data(self, data: str) -> None:
        if self.unknown is not None:
            self.unknown += data


def funnels_on(page) -> dict[str, dict[str, int | str]]:
    parser = FunnelFigures()
    parser.feed(page.content.decode())
    return parser.funnels


def test_the_statistics_show_each_touchpoints_funnel(client, cx_manager, touchpoint, settings):
    settings.ANYMAIL = {}  # no provider webhook
    now = timezone.now()
    make_invitation(survey=touchpoint.survey, touchpoint=touchpoint, answered_at=now)
    make_invitation(survey=touchpoint.survey, touchpoint=touchpoint)
    make_invitation(
        survey=touchpoint.survey,
        touchpoint=touchpoint,
        status="skipped",
        skip_reason="not_sampled",
        sent_at=None,
    )
    client.force_login(cx_manager)
    page = client.get(reverse("admin:surveys_touchpoint_statistics"))
    assert page.status_code == 200
    funnel = funnels_on(page)[str(touchpoint.pk)]
    assert funnel == {
        "events": 0,
        "without-event": 3,
        "skipped": 1,
        "skipped-not_sampled": 1,
        "invited": 2,
        "waiting": 0,
        "not-sent": 0,
        "sent": 2,
        "delivered": "unknown without a provider webhook",
        "opened": "unknown without a provider webhook",
        "bounced": "unknown without a provider webhook",
        "answered": 1,
    }
    assert "50 %" in page.content.decode()  # one answer among two sent
    later = client.get(
        reverse("admin:surveys_touchpoint_statistics"), {"since": "2099-01-01", "until": "2099-01-31"}
    )
    assert funnels_on(later)[str(touchpoint.pk)]["sent"] == 0
    backwards = client.get(
        reverse("admin:surveys_touchpoint_statistics"), {"since": "2099-01-31", "until": "2099-01-01"}
    )
    assert backwards.status_code == 400
    assert "The period must end after it starts." in backwards.content.decode()
    assert client.get(reverse("admin:surveys_touchpoint_statistics"), {"since": "gestern"}).status_code == 400


def test_the_statistics_count_events_by_source_and_escape_names(client, cx_manager):
    survey = make_survey(name='<script>alert("survey")</script>')
    touchpoint = make_touchpoint(survey=survey, name="<b>Lieferung</b> & Co", send_window=None)
    now = timezone.now()
    ingest_events([EventIn(touchpoint=touchpoint, occurred_at=now, email="a@example.com")], now=now)
    ingest_events(
        [EventIn(touchpoint=touchpoint, occurred_at=now, email="b@example.com")], now=now, source="upload"
    )
    client.force_login(cx_manager)
    page = client.get(reverse("admin:surveys_touchpoint_statistics"))
    html = page.content.decode()
    assert "<b>Lieferung</b>" not in html and "&lt;b&gt;Lieferung&lt;/b&gt; &amp; Co" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&quot;survey&quot;)" in html
    funnel = funnels_on(page)[str(touchpoint.pk)]
    assert (funnel["events"], funnel["events-api"], funnel["events-upload"]) == (2, 1, 1)
    assert (funnel["invited"], funnel["waiting"]) == (2, 2)
    assert "without-event" not in funnel and "unlinked" not in funnel


def test_invitations_under_review_can_be_sent_again_after_a_check(client, cx_manager):
    review = make_invitation(status="review", last_error="The sender stopped")
    sent = make_invitation(status="sent")
    client.force_login(cx_manager)
    client.post(
        reverse("admin:surveys_invitation_changelist"),
        {"action": "send_again", "_selected_action": [review.pk, sent.pk]},
    )
    review.refresh_from_db()
    sent.refresh_from_db()
    assert (review.status, review.last_error, review.send_started_at) == ("scheduled", "", None)
    assert sent.status == "sent"
