import random
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import translation

from surveys.models import PropertyScore, Response, Survey, rebuild_tallies
from surveys.properties import PropertyValue
from tests.factories import answer_by_link, make_contact, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English; the installation's default is German."""
    with translation.override("en"):
        yield


def tally() -> dict[tuple, int]:
    return {
        (
            row.survey_id,
            row.name,
            row.value,
            row.touchpoint_key,
            row.day.isoformat(),
            row.score,
        ): row.responses
        for row in PropertyScore.objects.filter(responses__gt=0)
    }


def by_email(survey, score, now=NOW, *, contact_properties=None, event_properties=None, touchpoint=None):
    invitation = make_invitation(
        survey=survey,
        touchpoint=touchpoint or make_touchpoint(survey=survey),
        contact=make_contact(properties=contact_properties or {}),
        properties=event_properties or {},
        now=now,
    )
    return invitation.record_answer(score=score, comment=None, language="de", now=now)


def test_a_first_answer_by_email_counts_each_tallied_property_it_has():
    survey = make_survey(kind="nps", dashboard_properties=["plan", "region", "store"])
    response = by_email(survey, 9, contact_properties={"plan": "pro", "region": "DE", "segment": "b2b"})
    touchpoint = response.touchpoint_id
    assert tally() == {
        (survey.pk, "plan", "pro", touchpoint, "2026-11-23", 9): 1,
        (survey.pk, "region", "DE", touchpoint, "2026-11-23", 9): 1,
    }


def test_a_link_answer_counts_its_properties_under_no_touchpoint_on_its_local_day():
    survey = make_survey(kind="csat", dashboard_properties=["page"])
    late_evening = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on the 29th in Berlin
    answer_by_link(survey, 4, late_evening, properties={"page": "/checkout"})
    answer_by_link(survey, 4, late_evening, properties={"page": "/checkout"})
    answer_by_link(survey, 2, late_evening)
    assert tally() == {(survey.pk, "page", "/checkout", 0, "2026-03-29", 4): 2}


def test_the_event_property_wins_over_the_contact_property_even_when_it_is_not_text():
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    upgraded = by_email(
        survey, 10, contact_properties={"plan": "basic"}, event_properties={"plan": "pro"}
    ).touchpoint_id
    by_email(survey, 3, contact_properties={"plan": "basic"}, event_properties={"plan": 5})
    by_email(survey, 4, contact_properties={"plan": "basic"}, event_properties={"plan": None})
    assert tally() == {(survey.pk, "plan", "pro", upgraded, "2026-11-23", 10): 1}


@pytest.mark.parametrize("value", [5, 1.5, True, None, "", "x" * 501, ["pro"], {"name": "pro"}])
def test_values_that_are_not_text_of_1_to_500_characters_are_not_counted(value):
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    answer_by_link(survey, 7, NOW, properties={"plan": value})
    by_email(survey, 7, contact_properties={"plan": value})
    assert tally() == {}
    rebuild_tallies()
    assert tally() == {}


def test_text_that_looks_like_json_is_counted_as_text():
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    for value in ("5", "true", "null", "x" * 500):
        answer_by_link(survey, 7, NOW, properties={"plan": value})
    expected = {
        (survey.pk, "plan", value, 0, "2026-11-23", 7): 1 for value in ("5", "true", "null", "x" * 500)
    }
    assert tally() == expected
    rebuild_tallies()
    assert tally() == expected
    counted = Response.objects.annotate(value=PropertyValue("plan")).values_list("value", flat=True)
    assert sorted(counted) == sorted(["5", "true", "null", "x" * 500])


def test_a_changed_score_moves_the_property_counts_and_a_comment_does_not():
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    invitation = make_invitation(survey=survey, contact=make_contact(properties={"plan": "pro"}), now=NOW)
    invitation.record_answer(score=9, comment=None, language="de", now=NOW)
    invitation.record_answer(score=3, comment=None, language="de", now=NOW + timedelta(hours=1))
    invitation.record_answer(score=3, comment="Zu spät", language="de", now=NOW + timedelta(hours=2))
    assert tally() == {(survey.pk, "plan", "pro", invitation.touchpoint_id, "2026-11-23", 3): 1}
    assert PropertyScore.objects.get(score=9).responses == 0


def test_a_survey_without_dashboard_properties_keeps_no_property_counts():
    survey = make_survey(kind="nps")
    by_email(survey, 9, contact_properties={"plan": "pro"})
    answer_by_link(survey, 9, NOW, properties={"plan": "pro"})
    assert not PropertyScore.objects.exists()


def test_the_tally_always_equals_a_fresh_count():
    rng = random.Random(8)
    surveys = [
        make_survey(kind="nps", dashboard_properties=["plan", "shop.region"]),
        make_survey(kind="ces", dashboard_properties=["plan"]),
        make_survey(kind="csat"),
    ]
    touchpoints = [make_touchpoint(survey=survey) for survey in surveys]
    values = ["pro", "basic", "pro", "5", "", 5, None, True]
    start = datetime(2026, 3, 20, tzinfo=UTC)  # across the spring change

    def properties() -> dict:
        return {name: rng.choice(values) for name in ("plan", "shop.region") if rng.random() < 0.6}

    answered = []
    for step in range(200):
        number = rng.randrange(3)
        survey = surveys[number]
        now = start + timedelta(hours=step * 2 + rng.random())
        action = rng.random()
        if action < 0.4:
            answered.append(
                by_email(
                    survey,
                    rng.choice(survey.scale.points),
                    now,
                    contact_properties=properties(),
                    event_properties=properties(),
                    touchpoint=touchpoints[number],
                )
            )
        elif action < 0.7 or not answered:
            answer_by_link(survey, rng.choice(survey.scale.points), now, properties=properties())
        else:
            response = rng.choice(answered)
            response.revise(score=rng.choice(response.survey.scale.points), comment="x", now=now)
    counted = tally()
    rebuild_tallies()
    assert counted == tally()
    assert len({name for _, name, *_ in counted}) == 2
    assert sum(counted.values()) > 40


def survey_change_form(client, survey: Survey) -> dict:
    """The POST data of the survey's admin page as it stands, inline touchpoints and the hidden
    initial values (of fields with a callable default) included."""
    page = client.get(reverse("admin:surveys_survey_change", args=[survey.pk]))
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for field in (field for form in forms for field in form if field.value() is not None):
        data[field.html_name] = field.value()
        if field.field.show_hidden_initial:
            data[field.html_initial_name] = field.value()
    return data


def test_changing_the_dashboard_properties_in_the_admin_counts_the_responses_afresh(client, cx_manager):
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    response = by_email(survey, 9, contact_properties={"plan": "pro", "region": "AT"})
    client.force_login(cx_manager)
    data = survey_change_form(client, survey)
    page = client.post(
        reverse("admin:surveys_survey_change", args=[survey.pk]),
        {**data, "dashboard_properties": '["region"]'},
    )
    assert page.status_code == 302
    survey.refresh_from_db()
    assert survey.dashboard_properties == ["region"]
    assert tally() == {(survey.pk, "region", "AT", response.touchpoint_id, "2026-11-23", 9): 1}


@pytest.mark.drifts_tallies
def test_saving_a_survey_with_the_same_dashboard_properties_counts_nothing_afresh(client, cx_manager):
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    by_email(survey, 9, contact_properties={"plan": "pro"})
    PropertyScore.objects.update(responses=7)  # a rebuild would set it back to 1
    client.force_login(cx_manager)
    data = survey_change_form(client, survey)
    page = client.post(reverse("admin:surveys_survey_change", args=[survey.pk]), {**data, "brand": "Beta"})
    assert page.status_code == 302
    survey.refresh_from_db()
    assert survey.brand == "Beta"
    assert PropertyScore.objects.get().responses == 7


def test_the_admin_refuses_a_list_that_is_not_of_property_names(client, cx_manager):
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    by_email(survey, 9, contact_properties={"plan": "pro"})
    client.force_login(cx_manager)
    data = survey_change_form(client, survey)
    page = client.post(
        reverse("admin:surveys_survey_change", args=[survey.pk]),
        {**data, "dashboard_properties": '["plan", "has space"]'},
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    assert "“has space” is not a valid property name" in page.content.decode()
    survey.refresh_from_db()
    assert survey.dashboard_properties == ["plan"]
    assert len(tally()) == 1


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("plan", "Enter a list of property names"),
        ([1, 2], "Enter a list of property names"),
        ([f"p{number}" for number in range(11)], "At most 10 properties"),
        (["plan", "a b"], "“a b” is not a valid property name"),
        (["plan", "plan"], "Name each property once"),
    ],
)
def test_a_survey_refuses_dashboard_properties_that_are_not_a_short_list_of_names(names, message):
    survey = make_survey(kind="nps")
    survey.dashboard_properties = names
    with pytest.raises(ValidationError, match=message):
        survey.full_clean()


def test_ten_property_names_are_allowed():
    survey = make_survey(kind="nps", dashboard_properties=[f"p.{number}" for number in range(10)])
    survey.full_clean()


@pytest.mark.django_db(transaction=True)
def test_an_answer_under_way_while_the_list_changes_is_counted_exactly():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers")
    survey = make_survey(kind="nps", dashboard_properties=["plan"])
    answered, go, changed = threading.Event(), threading.Event(), threading.Event()

    def answer():
        with transaction.atomic():
            answer_by_link(survey, 9, NOW, properties={"plan": "pro", "region": "CH"})
            answered.set()
            go.wait(5)
        connection.close()

    def change():
        answered.wait(5)
        with transaction.atomic():
            survey.dashboard_properties = ["plan", "region"]
            survey.save(update_fields=["dashboard_properties"])
            PropertyScore.objects.rebuild(survey)
        changed.set()
        connection.close()

    threads = [threading.Thread(target=answer), threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    # The answer counts when it commits, under the list in force then: the change and its
    # recount, which cannot see the open answer, do not wait for it.
    assert changed.wait(5)
    go.set()
    for thread in threads:
        thread.join()
    assert changed.is_set()
    assert tally() == {
        (survey.pk, "plan", "pro", 0, "2026-11-23", 9): 1,
        (survey.pk, "region", "CH", 0, "2026-11-23", 9): 1,
    }
