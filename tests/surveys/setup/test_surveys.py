import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEvent
from surveys.models import PropertyScore, Survey
from surveys.scales import standard_text
from tests.factories import make_response, make_staff, make_survey, make_team, take_away

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(cx_manager):
    survey = make_survey(kind="nps", name="Delivery", brand="Nordwind")
    make_team(surveys=[survey], members=[cx_manager])
    return survey


@pytest.fixture
def manager(client, cx_manager):
    client.force_login(cx_manager)
    return client


def edit_url(survey: Survey) -> str:
    return reverse("setup:survey", args=[survey.pk])


class Fields(HTMLParser):
    """The values of a page's form fields, as a browser would post them (checked boxes only)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag == "input" and name and attributes.get("type") not in ("submit", "button"):
            if attributes.get("type") in ("checkbox", "radio") and "checked" not in attributes:
                return
            default = "on" if attributes.get("type") == "checkbox" else ""
            self.values.setdefault(name, []).append(attributes.get("value") or default)
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = [""]
        elif tag == "option" and "selected" in attributes and self._select:
            self.values.setdefault(self._select, []).append(attributes.get("value") or "")
        if tag == "select":
            self._select = name

    _select: str | None = None

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][0] += data


def form_of(page) -> dict[str, list[str]]:
    parser = Fields()
    parser.feed(page.content.decode())
    fields = {name: values for name, values in parser.values.items() if name != "csrfmiddlewaretoken"}
    # A textarea's first line break belongs to the markup, as browsers read it.
    return {name: [value.removeprefix("\n") for value in values] for name, values in fields.items()}


def test_the_page_shows_the_standard_wording_of_every_text_in_each_language(manager, survey):
    page = manager.get(edit_url(survey))
    assert page.status_code == 200
    fields = form_of(page)
    for text in ("subject", "question", "follow_up", "thank_you", "email_subject", "email_intro"):
        for language in ("de", "en"):
            assert fields[f"{text}_{language}"] == [standard_text("nps", text, language)]
            assert f"{text}_{language}_standard" not in fields  # the box is not ticked
    assert page.content.decode().count('data-custom="') == 12


def test_saving_the_page_as_shown_keeps_every_text_standard_and_changes_nothing(manager, survey):
    fields = form_of(manager.get(edit_url(survey)))
    response = manager.post(edit_url(survey), fields)
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.question_de == survey.email_intro_en == survey.subject_de == ""
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SURVEY_CHANGED, actor="manager").exists(), (
        list(AuditEvent.objects.values_list("details"))
    )


def test_an_edited_text_is_stored_as_the_surveys_own_and_shown_as_custom(manager, survey):
    fields = form_of(manager.get(edit_url(survey)))
    fields["thank_you_en"] = ["Thanks a lot!"]
    assert manager.post(edit_url(survey), fields).status_code == 302
    survey.refresh_from_db()
    assert survey.thank_you_en == "Thanks a lot!" and survey.thank_you_de == ""
    page = manager.get(edit_url(survey)).content.decode()
    assert badge(page, "thank_you_en") == "custom"
    assert badge(page, "thank_you_de") == "standard"


def refused_fields(page) -> set[str]:
    """The fields the page marks with an error message."""
    return set(re.findall(r'id="error_\d+_id_(\w+)"', page.content.decode()))


def badge(page: str, name: str) -> str:
    """What the badge beside a text says: "custom" or "standard", whatever the page's language."""
    match = re.search(
        rf'data-badge-for="id_{name}" data-custom="([^"]*)" data-standard="([^"]*)">([^<]*)<', page
    )
    assert match, f"no badge for {name}"
    custom, standard, shown = match.groups()
    return {custom: "custom", standard: "standard"}[shown]


def test_use_the_standard_text_returns_a_custom_text_to_the_standard(manager, survey):
    survey.question_en = "Would you recommend us?"
    survey.save()
    fields = form_of(manager.get(edit_url(survey)))
    assert fields["question_en"] == ["Would you recommend us?"]
    fields["question_en_standard"] = ["on"]
    assert manager.post(edit_url(survey), fields).status_code == 302
    survey.refresh_from_db()
    assert survey.question_en == ""


def test_a_text_typed_as_the_standard_wording_is_stored_as_standard(manager, survey):
    survey.follow_up_de = "Warum?"
    survey.save()
    fields = form_of(manager.get(edit_url(survey)))
    fields["follow_up_de"] = [standard_text("nps", "follow_up", "de").replace(" ", " ") + "\r\n"]
    assert manager.post(edit_url(survey), fields).status_code == 302
    survey.refresh_from_db()
    assert survey.follow_up_de == ""


def test_bad_input_is_refused_with_messages_and_nothing_is_saved(manager, survey):
    fields = form_of(manager.get(edit_url(survey)))
    fields |= {
        "name": ["Renamed"],
        "accent_color": ["red"],
        "widget_origins": ["https://shop.example.com/path"],
    }
    page = manager.post(edit_url(survey), fields, headers={"Accept-Language": "en"})
    assert page.status_code == 400
    assert 'id="form-errors"' in page.content.decode()
    assert refused_fields(page) == {"accent_color", "widget_origins"}
    survey.refresh_from_db()
    assert survey.name == "Delivery"


def test_a_saved_change_is_in_the_admins_history_and_the_audit_log(manager, survey, cx_manager):
    fields = form_of(manager.get(edit_url(survey)))
    fields |= {"brand": ["Nordwind Möbel"], "thank_you_de": ["Danke!"]}
    assert manager.post(edit_url(survey), fields).status_code == 302
    entry = LogEntry.objects.get(object_id=str(survey.pk), content_type__model="survey")
    assert entry.user == cx_manager and entry.action_flag == CHANGE
    assert json.loads(entry.change_message) == [{"changed": {"fields": ["Brand", "Thank-you text (German)"]}}]
    event = AuditEvent.objects.get(action=AuditEvent.Action.SURVEY_CHANGED, actor="manager")
    assert event.details == {
        "changed": {"brand": ["Nordwind", "Nordwind Möbel"], "thank_you_de": ["", "Danke!"]}
    }
    assert event.via == "web"


def test_a_new_survey_belongs_to_its_makers_teams_and_starts_with_the_standard_texts(manager, cx_manager):
    team = make_team(members=[cx_manager])
    fields = form_of(manager.get(reverse("setup:new_survey")))
    assert fields["kind"] == ["nps"]
    assert fields["question_de"] == [standard_text("nps", "question", "de")]
    # Without the page's script the kind changes alone: the NPS question shown is still the standard.
    fields |= {
        "name": ["After delivery"],
        "kind": ["csat"],
        "brand": ["Nordwind"],
        "subject_en": ["your delivery"],
    }
    response = manager.post(reverse("setup:new_survey"), fields)
    survey = Survey.objects.get(name="After delivery")
    assert response.status_code == 302 and response["Location"] == edit_url(survey)
    assert survey.kind == "csat" and survey.question_de == survey.question_en == ""
    assert survey.subject_en == "your delivery"
    assert list(survey.teams.all()) == [team]
    assert LogEntry.objects.get(object_id=str(survey.pk)).user == cx_manager


def test_the_kind_of_a_saved_survey_cannot_be_changed(manager, survey):
    fields = form_of(manager.get(edit_url(survey))) | {"kind": ["ces"]}
    assert manager.post(edit_url(survey), fields).status_code == 302
    survey.refresh_from_db()
    assert survey.kind == "nps"


def test_dashboard_properties_are_chosen_from_those_seen_in_the_answers(manager, survey):
    make_response(survey=survey, contact_properties={"plan": "pro"}, event_properties={"region": "Nord"})
    make_response(survey=survey, event_properties={"region": "Süd", "a__b": "x"})
    page = manager.get(edit_url(survey))
    choices = re.findall(r'name="dashboard_properties" value="([^"]+)"', page.content.decode())
    assert choices == ["region", "plan"]  # most common first; names a query cannot use are left out
    fields = form_of(page) | {"dashboard_properties": ["region"]}
    assert manager.post(edit_url(survey), fields).status_code == 302
    survey.refresh_from_db()
    assert survey.dashboard_properties == ["region"]
    assert PropertyScore.objects.filter(survey=survey, name="region").count() == 2
    refused = manager.post(edit_url(survey), fields | {"dashboard_properties": ["order_id"]})
    assert refused.status_code == 400 and refused_fields(refused) == {"dashboard_properties"}


def test_a_survey_without_properties_in_its_answers_says_so(manager, survey):
    assert 'id="no-properties"' in manager.get(edit_url(survey)).content.decode()


@pytest.mark.parametrize("role", ["analyst", "agent", "outsider"])
def test_those_who_may_not_change_surveys_are_refused(client, survey, role, request):
    user = request.getfixturevalue(role)
    make_team(surveys=[survey], members=[user])
    client.force_login(user)
    assert client.get(edit_url(survey)).status_code == 403
    assert client.post(edit_url(survey), {"name": "Taken"}).status_code == 403
    assert client.get(reverse("setup:new_survey")).status_code == 403
    survey.refresh_from_db()
    assert survey.name == "Delivery"


def test_another_teams_survey_is_not_found(client, survey):
    stranger = make_staff("stranger", "CX manager")
    make_team(members=[stranger])
    client.force_login(stranger)
    assert client.get(edit_url(survey)).status_code == 404
    assert client.post(reverse("setup:survey_preview", args=[survey.pk]), {}).status_code == 404
    assert client.get(reverse("setup:survey", args=[999999])).status_code == 404


def preview(client, survey: Survey | None, fields: dict, view: str, language: str):
    url = reverse("setup:survey_preview", args=[survey.pk]) if survey else reverse("setup:new_survey_preview")
    return client.post(url, {**fields, "preview_view": view, "preview_language": language})


@pytest.mark.parametrize("view", ["answer", "widget", "email"])
def test_the_preview_shows_unsaved_texts_as_text_and_saves_nothing(manager, survey, view):
    fields = form_of(manager.get(edit_url(survey)))
    typed = 'Sagen Sie "alles" <script>alert(1)</script>'
    fields |= {"question_de": [typed], "email_intro_de": [typed]}
    answer = preview(manager, survey, fields, view, "de")
    assert answer.status_code == 200
    html = answer.json()["html"]
    assert "<script>alert(1)</script>" not in html
    shown = escape(typed) if view != "widget" else escape(json.dumps(typed)[1:-1])
    assert shown in html
    survey.refresh_from_db()
    assert survey.question_de == survey.email_intro_de == ""


def test_the_page_puts_the_preview_into_its_frames_escaped(manager, survey):
    survey.question_de = 'Sagen Sie "alles" <script>alert(1)</script>'
    survey.save()
    page = manager.get(edit_url(survey), headers={"Accept-Language": "de"}).content.decode()
    frames = re.findall(r'<iframe [^>]*srcdoc="([^"]*)"', page)
    assert len(frames) == 3  # answering page, widget, email: each whole, in one attribute
    assert "&amp;quot;alles&amp;quot; &amp;lt;script&amp;gt;" in frames[0]
    assert re.search(r'<iframe [^>]*id="preview-answer" sandbox srcdoc=', page)
    assert re.search(r'<iframe [^>]*id="preview-widget" sandbox="allow-scripts" srcdoc=', page)


def test_the_preview_names_the_fields_it_cannot_show_and_keeps_their_saved_value(manager, survey):
    fields = form_of(manager.get(edit_url(survey))) | {"accent_color": ["red"], "brand": ["Südwind"]}
    answer = preview(manager, survey, fields, "answer", "en").json()
    assert set(answer["errors"]) == {"accent_color"}
    assert "Südwind" in answer["html"] and "#2456a6" in answer["html"]


def test_a_new_surveys_preview_follows_the_chosen_kind(manager):
    fields = form_of(manager.get(reverse("setup:new_survey"))) | {"kind": ["ces"], "brand": ["Nordwind"]}
    fields["question_en"] = [standard_text("ces", "question", "en")]
    html = preview(manager, None, fields, "answer", "en").json()["html"]
    assert 'class="scale scale-ces"' in html
    assert not Survey.objects.exists()


def test_the_preview_refuses_an_unknown_view_or_language(manager, survey):
    assert preview(manager, survey, {}, "sms", "de").status_code == 400
    assert preview(manager, survey, {}, "email", "fr").status_code == 400


def test_the_preview_takes_only_posts_with_the_csrf_token(survey, cx_manager):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cx_manager)
    url = reverse("setup:survey_preview", args=[survey.pk])
    assert strict.get(url).status_code == 405
    assert strict.post(url, {"preview_view": "email", "preview_language": "de"}).status_code == 403


def test_a_test_email_goes_over_smtp_to_the_users_own_address_only(manager, survey, smtp):
    response = manager.post(
        reverse("setup:test_email", args=[survey.pk]), {"language": "de", "to": "someone@example.net"}
    )
    assert response.status_code == 302
    (message,) = smtp.messages
    assert message["To"] == "Erika Mustermann <manager@example.com>"
    assert message["Subject"].startswith("[Test] ")
    assert "someone@example.net" not in message.as_string()
    assert f"/preview/{survey.public_key}/?lang=de" in message.get_body(("plain",)).get_content()


def test_a_test_email_that_the_server_refuses_is_said_so(manager, survey, smtp):
    smtp.replies["manager@example.com"] = "550 5.1.1 No such user"
    response = manager.post(reverse("setup:test_email", args=[survey.pk]), {"language": "en"})
    assert response.status_code == 502
    assert "550" in response.content.decode()
    assert not smtp.messages


def test_test_emails_are_limited_per_user(manager, survey, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "test_email": 2}
    url = reverse("setup:test_email", args=[survey.pk])
    assert [manager.post(url, {"language": "en"}).status_code for _ in range(3)] == [302, 302, 429]
    assert len(mail.outbox) == 2


def test_a_test_email_needs_an_address_of_ones_own(manager, survey, cx_manager):
    cx_manager.email = ""
    cx_manager.save()
    assert manager.post(reverse("setup:test_email", args=[survey.pk]), {"language": "en"}).status_code == 400
    assert manager.post(reverse("setup:test_email", args=[survey.pk]), {"language": "xx"}).status_code == 400
    assert not mail.outbox


def test_a_test_email_needs_the_permission_to_send(client, survey):
    user = make_staff("sender", "CX manager")
    make_team(surveys=[survey], members=[user])
    take_away(user, "send_survey")
    client.force_login(user)
    assert client.post(reverse("setup:test_email", args=[survey.pk]), {"language": "en"}).status_code == 403
    assert not mail.outbox
