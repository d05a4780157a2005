"""Setting up alert rules in the back office: checked at the edge, scoped to the user's surveys,
switched off until tried against the last 30 days."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from followup.models import AlertRule
from surveys import roles
from tests.factories import answer_by_link, make_staff, make_survey, make_team, make_touchpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(cx_manager):
    survey = make_survey(kind="csat", name="Support")
    make_team("Support", surveys=[survey], members=[cx_manager])
    return survey


@pytest.fixture
def manager_client(client, cx_manager):
    client.force_login(cx_manager)
    return client


def form(survey, **fields) -> dict:
    data = {
        "survey": survey.pk,
        "name": "Unhappy",
        "categories": ["dissatisfied"],
        "properties": "{}",
        "words": "",
        "sla_hours": "48",
        "delivery": "instant",
        "open_case": "on",
    }
    return data | fields


def test_a_new_rule_is_saved_switched_off_with_its_author(manager_client, cx_manager, survey):
    answer = manager_client.post(reverse("admin:followup_alertrule_add"), form(survey, active="on"))
    assert answer.status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.active, rule.created_by, rule.categories) == (False, cx_manager, ["dissatisfied"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"categories": ["detractor"]}, "categories"),  # an NPS category on a CSAT survey
        ({"score_max": "9"}, "score_max"),
        ({"score_min": "4", "score_max": "2"}, "score_max"),
        ({"properties": '{"region__isnull": ["x"]}'}, "properties"),
        ({"properties": '{"region": "Nord"}'}, "properties"),
        ({"words": "!!!"}, "words"),
        ({"slack_url": "http://127.0.0.1:8000/hook"}, "slack_url"),
        ({"teams_url": "http://169.254.169.254/latest"}, "teams_url"),
    ],
)
def test_a_rule_that_cannot_work_is_refused_with_a_message_and_nothing_saved(
    manager_client, survey, fields, field
):
    answer = manager_client.post(reverse("admin:followup_alertrule_add"), form(survey, **fields))
    assert answer.status_code == 200
    assert field in answer.context["adminform"].form.errors
    assert not AlertRule.objects.exists()


def test_touchpoints_of_another_survey_are_refused(manager_client, survey):
    other = make_touchpoint(survey=make_survey(kind="csat"))
    answer = manager_client.post(
        reverse("admin:followup_alertrule_add"), form(survey, touchpoints=[other.pk])
    )
    assert answer.status_code == 200
    assert not AlertRule.objects.exists()


def test_assignees_and_people_to_notify_are_active_staff(manager_client, survey, django_user_model):
    make_staff("former", roles.CX_MANAGER).__class__.objects.filter(username="former").update(is_active=False)
    django_user_model.objects.create_user("customer")
    page = manager_client.get(reverse("admin:followup_alertrule_add"))
    fields = page.context["adminform"].form.fields
    for name in ("assignee", "notify"):
        usernames = set(fields[name].queryset.values_list("username", flat=True))
        assert "manager" in usernames and not usernames & {"former", "customer"}


def test_a_manager_sees_only_the_rules_of_their_surveys(manager_client, survey):
    AlertRule.objects.create(survey=survey, name="Mine")
    AlertRule.objects.create(survey=make_survey(kind="nps"), name="Theirs")
    page = manager_client.get(reverse("admin:followup_alertrule_changelist"))
    assert [rule.name for rule in page.context["cl"].result_list] == ["Mine"]


def test_the_dry_run_counts_the_last_30_days_in_a_few_queries(manager_client, survey):
    rule = AlertRule.objects.create(survey=survey, name="Unhappy", score_max=2, words="Wartezeit")
    now = timezone.now()
    for days, score, comment in [
        (1, 1, "Wartezeiten zu lang"),
        (2, 2, "Lange Wartezeit"),
        (3, 5, "Wartezeit ok"),
    ]:
        answer_by_link(survey, score, now - timedelta(days=days), comment=comment)
    answer_by_link(survey, 1, now - timedelta(days=31), comment="Wartezeit")
    with CaptureQueriesContext(connection) as queries:
        page = manager_client.get(reverse("admin:followup_alertrule_dry_run", args=[rule.pk]))
    assert page.status_code == 200
    assert page.context["result"].count == 2
    assert 'data-count="2"' in page.content.decode()
    assert len(queries) <= 12


def test_the_rules_page_links_to_its_dry_run(manager_client, survey):
    rule = AlertRule.objects.create(survey=survey, name="Unhappy")
    page = manager_client.get(reverse("admin:followup_alertrule_change", args=[rule.pk]))
    assert reverse("admin:followup_alertrule_dry_run", args=[rule.pk]) in page.content.decode()
