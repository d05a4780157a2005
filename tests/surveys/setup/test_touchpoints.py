"""The touchpoint's set-up pages: creating and changing a touchpoint, for whom, with what audit,
how to send it events and where its answers are; and the admin, which uses the same form."""

import json
import re

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.urls import reverse
from django.utils import translation

from audit.models import AuditEvent
from surveys.admin import TouchpointAdmin
from surveys.models import Event, Touchpoint
from surveys.setup.touchpoints import TouchpointForm
from tests.factories import (
    make_api_token,
    make_invitation,
    make_staff,
    make_survey,
    make_team,
    make_touchpoint,
)
from tests.surveys.setup.test_touchpoint_form import fields, without

pytestmark = pytest.mark.django_db

EN = {"Accept-Language": "en"}


@pytest.fixture
def survey(cx_manager):
    survey = make_survey(name="Lieferung")
    make_team("Service", surveys=[survey], members=[cx_manager])
    return survey


@pytest.fixture
def touchpoint(survey):
    return make_touchpoint(survey=survey, name="Zugestellt", slug="delivered", delay_seconds=3600)


def new_url(**query) -> str:
    url = reverse("setup:new_touchpoint")
    return f"{url}?survey={query['survey']}" if query else url


def page_url(touchpoint) -> str:
    return reverse("setup:touchpoint", args=[touchpoint.pk])


def field_errors(answer) -> dict:
    return answer.context["form"].errors


# Creating


def test_a_cx_manager_creates_a_touchpoint_with_days_and_hours(client, cx_manager, survey):
    client.force_login(cx_manager)
    data = fields(survey, delay_amount="36", delay_unit="hours", send_days=["0", "5"], send_end="12:00")
    answer = client.post(new_url(), data, headers=EN)
    touchpoint = Touchpoint.objects.get()
    assert answer.status_code == 302 and answer["Location"] == page_url(touchpoint)
    assert (touchpoint.name, touchpoint.slug, touchpoint.survey) == (
        "Lieferung zugestellt",
        "delivery",
        survey,
    )
    assert touchpoint.delay_seconds == 36 * 3600
    assert touchpoint.send_window == {"days": [0, 5], "start": "09:00", "end": "12:00"}
    page = client.get(answer["Location"], headers=EN)
    [message] = page.context["messages"]
    assert "Lieferung zugestellt" in str(message)


def test_creating_is_audited_as_in_the_admin(client, cx_manager, survey):
    client.force_login(cx_manager)
    client.post(new_url(), fields(survey), headers=EN)
    touchpoint = Touchpoint.objects.get()
    event = AuditEvent.objects.get(action=AuditEvent.Action.SURVEY_CHANGED, object_type="surveys.touchpoint")
    assert (event.actor, event.via, event.object_id) == ("manager", "web", str(touchpoint.pk))
    assert event.details["created"] is True
    assert event.details["send_window"] == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}
    assert event.details["delay_seconds"] == 172800
    entry = LogEntry.objects.get(object_id=str(touchpoint.pk))
    assert (entry.user, entry.action_flag, entry.content_type.model) == (cx_manager, ADDITION, "touchpoint")
    assert json.loads(entry.change_message) == [{"added": {}}]


def test_the_survey_in_the_address_is_chosen_beforehand(client, cx_manager, survey):
    make_survey(name="Another")  # visible too: no team has it, so only Admins see it... and nobody else
    client.force_login(cx_manager)
    answer = client.get(new_url(survey=survey.pk), headers=EN)
    assert answer.status_code == 200
    assert re.search(rf'<option value="{survey.pk}" selected>', answer.content.decode())


@pytest.mark.parametrize("query", ["other", "unknown", "x1"])
def test_another_teams_or_an_unknown_survey_in_the_address_is_not_found(client, cx_manager, survey, query):
    other = make_survey(name="Team B")
    make_team("B", surveys=[other])
    client.force_login(cx_manager)
    chosen = {"other": other.pk, "unknown": 10**6, "x1": "x1"}[query]
    assert client.get(new_url(survey=chosen), headers=EN).status_code == 404


def test_another_teams_survey_cannot_be_chosen(client, cx_manager, survey):
    other = make_survey(name="Team B")
    make_team("B", surveys=[other])
    client.force_login(cx_manager)
    answer = client.post(new_url(), fields(other), headers=EN)
    assert answer.status_code == 400
    assert "survey" in field_errors(answer)
    assert not Touchpoint.objects.exists()
    assert f'<option value="{other.pk}"' not in answer.content.decode()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"send_days": []}, "send_days"),
        ({"send_start": "20:00", "send_end": "06:00"}, "send_end"),
        ({"delay_amount": "-2"}, "delay_amount"),
        ({"delay_unit": "fortnights"}, "delay_unit"),
        ({"sample_percent": "250"}, "sample_percent"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(client, cx_manager, survey, changes, field):
    client.force_login(cx_manager)
    answer = client.post(new_url(), fields(survey, **changes), headers=EN)
    assert answer.status_code == 400
    assert list(field_errors(answer)) == [field]
    html = answer.content.decode()
    assert 'id="form-problem"' in html
    # The message stands beside its field, as crispy-forms marks it.
    assert re.search(rf'id="error_1_id_{field}"', html)
    assert not Touchpoint.objects.exists()
    assert not AuditEvent.objects.filter(object_type="surveys.touchpoint").exists()
    assert not LogEntry.objects.exists()


def test_an_empty_post_is_a_400_with_the_required_fields(client, cx_manager, survey):
    client.force_login(cx_manager)
    answer = client.post(new_url(), {}, headers=EN)
    assert answer.status_code == 400
    assert {"name", "survey", "delay_amount", "send_days"} <= set(field_errors(answer))
    assert not Touchpoint.objects.exists()


# Changing


def test_a_cx_manager_changes_the_delay_and_window_and_it_is_audited(client, cx_manager, touchpoint):
    client.force_login(cx_manager)
    data = fields(
        touchpoint.survey,
        name=touchpoint.name,
        slug=touchpoint.slug,
        delay_amount="90",
        delay_unit="minutes",
        send_days=["1", "3"],
        send_start="10:00",
        send_end="16:30",
    )
    answer = client.post(page_url(touchpoint), data, headers=EN)
    assert answer.status_code == 302 and answer["Location"] == page_url(touchpoint)
    touchpoint.refresh_from_db()
    assert touchpoint.delay_seconds == 5400
    assert touchpoint.send_window == {"days": [1, 3], "start": "10:00", "end": "16:30"}
    event = AuditEvent.objects.filter(object_type="surveys.touchpoint").order_by("pk").last()
    assert event is not None and "changed" in event.details
    assert (event.actor, event.via) == ("manager", "web")
    assert event.details["changed"]["delay_seconds"] == [3600, 5400]
    assert event.details["changed"]["send_window"][1] == {"days": [1, 3], "start": "10:00", "end": "16:30"}
    entry = LogEntry.objects.get(object_id=str(touchpoint.pk))
    assert (entry.user, entry.action_flag) == (cx_manager, CHANGE)
    changed = json.loads(entry.change_message)[0]["changed"]["fields"]
    with translation.override(None):  # the admin keeps the labels in the installation's language
        form = TouchpointForm()
        names = ("delay_amount", "delay_unit", "send_days", "send_start", "send_end")
        assert {str(form.fields[name].label) for name in names} <= set(changed)
    # The admin's history of the touchpoint lists the change.
    history = client.get(reverse("admin:surveys_touchpoint_history", args=[touchpoint.pk]), headers=EN)
    assert history.status_code == 200 and entry in history.context["action_list"]


def test_the_page_shows_the_saved_rules_in_days_and_times(client, cx_manager, touchpoint):
    Touchpoint.objects.filter(pk=touchpoint.pk).update(
        delay_seconds=2 * 86400, send_window={"days": [5, 6], "start": "10:00", "end": "14:00"}
    )
    client.force_login(cx_manager)
    html = client.get(page_url(touchpoint), headers=EN).content.decode()
    assert re.search(r'name="delay_amount" value="2"', html)
    assert re.search(r'<option value="days" selected>', html)
    checked = re.findall(r'<input type="checkbox"[^>]*name="send_days" value="(\d)"[^>]*checked', html)
    assert checked == ["5", "6"]
    assert re.search(r'name="send_start" value="10:00"', html)
    assert 'name="send_window"' not in html and 'name="delay_seconds"' not in html


def test_the_page_shows_the_touchpoints_funnel_of_the_last_30_days(client, cx_manager, survey, touchpoint):
    for _ in range(2):
        make_invitation(survey=survey, touchpoint=touchpoint)
    make_invitation(survey=survey, touchpoint=make_touchpoint(survey=survey))  # another touchpoint's
    client.force_login(cx_manager)
    html = client.get(page_url(touchpoint), headers=EN).content.decode()
    funnel = html[html.index('id="funnel"') :]
    assert f'data-touchpoint="{touchpoint.pk}"' in funnel
    assert re.search(r'data-figure="sent">[^<]*<data value="2">', funnel)
    # Without a provider's webhook, nobody knows what was delivered: the page says so, not 0.
    assert re.search(r'data-figure="delivered">[^<]*<em data-unknown>', funnel)


def test_a_refused_change_saves_nothing_and_shows_the_saved_slug(client, cx_manager, touchpoint):
    client.force_login(cx_manager)
    data = fields(touchpoint.survey, slug="renamed", send_days=[], delay_amount="5")
    answer = client.post(page_url(touchpoint), data, headers=EN)
    assert answer.status_code == 400
    assert list(field_errors(answer)) == ["send_days"]
    touchpoint.refresh_from_db()
    assert (touchpoint.slug, touchpoint.delay_seconds) == ("delivered", 3600)
    assert example_body(answer.content.decode())["touchpoint"] == "delivered"  # the saved slug
    assert not AuditEvent.objects.filter(
        object_type="surveys.touchpoint", details__has_key="changed"
    ).exists()


# Sending events and reading the answers


def example_body(html: str) -> dict:
    match = re.search(r'<code id="event-example">(.*?)</code>', html, re.S)
    assert match
    command = match.group(1).replace("&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")
    assert command.startswith("curl http://testserver/api/v1/events/") or "/api/v1/events/" in command
    return json.loads(command.split("-d '", 1)[1].rsplit("'", 1)[0])


@pytest.mark.parametrize("require_consent", [False, True])
def test_the_example_request_reports_an_event_that_the_api_accepts(
    client, cx_manager, touchpoint, require_consent
):
    Touchpoint.objects.filter(pk=touchpoint.pk).update(require_consent=require_consent)
    client.force_login(cx_manager)
    html = client.get(page_url(touchpoint), headers=EN).content.decode()
    assert re.search(r'<button type="button"[^>]*data-copy="event-example"', html)
    body = example_body(html)
    assert body["touchpoint"] == "delivered"
    token = make_api_token(user=cx_manager, write=True)
    answer = client.post(
        reverse("surveys:api_events"),
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 202, answer.content
    assert Event.objects.get().touchpoint == touchpoint
    # Not skipped for want of a legal basis where the touchpoint requires one.
    assert answer.json()["invitation"]["reason"] != "no_legal_basis"


def test_the_page_links_to_the_touchpoints_answers_on_the_dashboard(client, cx_manager, touchpoint):
    client.force_login(cx_manager)
    html = client.get(page_url(touchpoint), headers=EN).content.decode()
    link = re.search(r'<a href="([^"]+)" id="dashboard-link"', html)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert url == f"/dashboard/?survey={touchpoint.survey.pk}&touchpoint={touchpoint.pk}"
    dashboard = client.get(url, headers=EN)
    assert dashboard.status_code == 200
    assert dashboard.context["form"].cleaned_data["touchpoint"] == [touchpoint.pk]


# Who may


def test_signed_out_visitors_go_to_the_login(client, touchpoint):
    for url in (new_url(), page_url(touchpoint)):
        assert client.get(url)["Location"].startswith(reverse("login"))
        assert client.post(url, {})["Location"].startswith(reverse("login"))


def test_staff_without_the_permissions_are_refused(client, outsider, touchpoint):
    client.force_login(outsider)
    assert client.get(new_url()).status_code == 403
    assert client.get(page_url(touchpoint)).status_code == 403
    assert client.post(page_url(touchpoint), fields(touchpoint.survey)).status_code == 403


def test_a_reader_sees_the_rules_but_may_not_change_them(client, analyst, survey, touchpoint):
    survey.teams.get().members.add(analyst)
    client.force_login(analyst)
    assert client.get(new_url()).status_code == 403
    answer = client.get(page_url(touchpoint), headers=EN)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'name="save"' not in html
    assert re.search(r'name="delay_amount" value="1"[^>]*disabled', html)
    data = fields(touchpoint.survey, slug="taken-over")
    assert client.post(page_url(touchpoint), data).status_code == 403
    touchpoint.refresh_from_db()
    assert touchpoint.slug == "delivered"


def test_another_teams_or_an_unknown_touchpoint_is_not_found(client, touchpoint):
    foreigner = make_staff("foreigner", "CX manager")
    make_team("B", surveys=[make_survey(name="Team B")], members=[foreigner])
    client.force_login(foreigner)
    assert client.get(page_url(touchpoint)).status_code == 404
    assert client.post(page_url(touchpoint), fields(touchpoint.survey)).status_code == 404
    assert client.get(reverse("setup:touchpoint", args=[10**6])).status_code == 404
    assert client.get(reverse("setup:touchpoint", args=[10**20])).status_code == 404
    touchpoint.refresh_from_db()
    assert touchpoint.name == "Zugestellt"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(client, cx_manager, touchpoint, method):
    client.force_login(cx_manager)
    assert getattr(client, method)(page_url(touchpoint)).status_code == 405
    assert getattr(client, method)(new_url()).status_code == 405


def test_the_page_asks_a_few_queries(client, cx_manager, touchpoint, django_assert_max_num_queries):
    client.force_login(cx_manager)
    with django_assert_max_num_queries(12):
        assert client.get(page_url(touchpoint)).status_code == 200


# The admin, with the same form


def test_the_admin_uses_the_set_up_form(client, cx_manager, touchpoint):
    assert issubclass(TouchpointAdmin.form, TouchpointForm)
    client.force_login(cx_manager)
    html = client.get(reverse("admin:surveys_touchpoint_change", args=[touchpoint.pk]), headers=EN)
    content = html.content.decode()
    assert content.count('name="send_days"') == 7
    assert 'name="send_window"' not in content and 'name="delay_seconds"' not in content
    assert re.search(r'<option value="hours" selected>', content)


def test_the_admin_saves_days_hours_and_times_and_refuses_what_the_page_refuses(
    client, cx_manager, touchpoint
):
    client.force_login(cx_manager)
    url = reverse("admin:surveys_touchpoint_change", args=[touchpoint.pk])
    data = fields(touchpoint.survey, slug=touchpoint.slug, delay_amount="3", delay_unit="days")
    data |= {"send_days": ["6"], "send_start": "11:00", "send_end": "13:00"}
    assert client.post(url, data, headers=EN).status_code == 302
    touchpoint.refresh_from_db()
    assert touchpoint.delay_seconds == 3 * 86400
    assert touchpoint.send_window == {"days": [6], "start": "11:00", "end": "13:00"}
    refused = client.post(url, data | {"send_start": "14:00"}, headers=EN)
    assert refused.status_code == 200  # the admin shows the form again with its errors
    assert "send_end" in refused.context["adminform"].form.errors
    touchpoint.refresh_from_db()
    assert touchpoint.send_window["start"] == "11:00"


def test_the_admin_adds_a_touchpoint_at_any_time(client, cx_manager, survey):
    client.force_login(cx_manager)
    data = without(fields(survey, send_any_time="on"), "send_days", "send_start", "send_end")
    assert client.post(reverse("admin:surveys_touchpoint_add"), data, headers=EN).status_code == 302
    assert Touchpoint.objects.get().send_window is None


def test_who_may_only_view_reads_the_delay_and_window_in_the_admin(client, analyst, survey, touchpoint):
    survey.teams.get().members.add(analyst)
    Touchpoint.objects.filter(pk=touchpoint.pk).update(
        delay_seconds=2 * 86400, send_window={"days": [0, 6], "start": "10:00", "end": "14:00"}
    )
    client.force_login(analyst)
    with translation.override("en"):
        answer = client.get(reverse("admin:surveys_touchpoint_change", args=[touchpoint.pk]), headers=EN)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'name="delay_amount"' not in html and 'name="send_days"' not in html
    assert re.search(r"field-delay.*?2 days", html, re.S)
    assert re.search(r"field-send_window_text.*?Monday, Sunday 10:00–14:00", html, re.S)
