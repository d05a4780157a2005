"""Alert rules on themes: a rule asking for themes looks at an answer once the themes' sweep gave
its comment its themes, fires for those that have one of them and for no other; rules without
themes work and cost as before; the dry run and the back office know the condition."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from followup.models import Alert, AlertRule, Evaluation
from followup.rules import Conditions, dry_run
from insights import themes
from insights.models import Theme
from surveys import roles
from tests.factories import answer_by_link, make_staff, make_survey, make_team
from tests.followup.test_alerts import make_rule, run_worker

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
LATER = NOW + themes.LAG + timedelta(seconds=1)


@pytest.fixture
def survey():
    return make_survey(kind="nps", name="Lieferung")


@pytest.fixture
def delivery():
    """A theme every comment is matched against, the sweep started before the answers arrive."""
    theme = Theme.objects.create(name="Lieferung", include="liefer*, versand*")
    themes.start_matching(theme, now=NOW)
    themes.match_again(now=NOW)
    assert themes.sweep(now=NOW) == 0
    return theme


def test_an_answer_whose_comment_has_the_theme_fires_the_rule_once_the_sweep_gave_it(survey, delivery, smtp):
    anna = make_staff("anna", roles.CX_MANAGER)
    make_team("Service", surveys=[survey], members=[anna])
    rule = make_rule(survey, notify=[anna])
    rule.themes.set([delivery])
    late = answer_by_link(survey, 9, NOW, comment="Die Lieferung kam zu spät")
    answer_by_link(survey, 2, NOW, comment="Der Preis ist zu hoch")

    run_worker()  # the evaluations queued on answering leave the rule out: no themes yet
    assert not Alert.objects.exists()
    assert not Evaluation.objects.exists()

    assert themes.sweep(now=LATER) == 2
    assert list(Evaluation.objects.values_list("response", "themed")) == [(late.pk, True)]
    run_worker()
    assert list(Alert.objects.values_list("rule", "response")) == [(rule.pk, late.pk)]
    assert len(smtp.messages) == 1
    assert not Evaluation.objects.exists()

    # Changed, the answer is swept and evaluated again; the rule fires once all the same.
    late.revise(score=None, comment="Die Lieferung kam wieder zu spät", now=LATER)
    run_worker()
    themes.sweep(now=LATER + themes.LAG + timedelta(seconds=1))
    assert Evaluation.objects.filter(themed=True).count() == 1
    run_worker()
    assert Alert.objects.count() == 1


def test_a_rule_with_themes_needs_its_other_conditions_too(survey, delivery):
    rule = make_rule(survey, score_max=6)
    rule.themes.set([delivery])
    answer_by_link(survey, 9, NOW, comment="Lieferung pünktlich")
    late = answer_by_link(survey, 3, NOW, comment="Lieferung zu spät")
    themes.sweep(now=LATER)
    assert Evaluation.objects.filter(themed=True).count() == 2
    run_worker()
    assert list(Alert.objects.values_list("response", flat=True)) == [late.pk]


def test_rules_without_themes_fire_at_once_in_as_many_queries_as_before(survey, delivery):
    make_rule(survey, name="Low", score_max=6)
    answer_by_link(survey, 2, NOW, comment="Lieferung zu spät")
    with CaptureQueriesContext(connection) as alone:
        run_worker()
    assert Alert.objects.get().rule.name == "Low"

    themed = make_rule(survey, name="Delivery", score_max=6)
    themed.themes.set([delivery])
    second = answer_by_link(survey, 2, NOW, comment="Lieferung wieder zu spät")
    with CaptureQueriesContext(connection) as beside_a_themed_rule:
        run_worker()
    assert list(Alert.objects.filter(response=second).values_list("rule__name", flat=True)) == ["Low"]
    assert len(beside_a_themed_rule) == len(alone)


def test_the_sweep_queues_nothing_where_no_active_rule_asks_for_the_theme(survey, delivery):
    make_rule(survey, name="Switched off", active=False).themes.set([delivery])
    price = Theme.objects.create(name="Preis", include="preis*")
    make_rule(survey, name="Price").themes.set([price])
    make_rule(make_survey(kind="nps", name="Other"), name="Other survey").themes.set([delivery])
    answer_by_link(survey, 2, NOW, comment="Die Lieferung kam zu spät")
    Evaluation.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        assert themes.sweep(now=LATER) == 1
    assert not Evaluation.objects.exists()
    assert len([query for query in queries if "followup_" in query["sql"]]) == 1


def test_the_answers_themes_must_include_one_of_the_rules():
    conditions = Conditions(themes=frozenset({1, 2}))
    response = make_survey(kind="nps").responses.model(score=5, kind="nps")
    assert conditions.match(response, previous_score=None, themes=frozenset({2, 7}))
    assert not conditions.match(response, previous_score=None, themes=frozenset({7}))
    assert not conditions.match(response, previous_score=None)
    assert Conditions().match(response, previous_score=None)


def test_the_dry_run_counts_the_answers_with_the_theme_as_the_rule_then_fires(survey, delivery):
    now = timezone.now()
    rule = make_rule(survey, active=False, score_max=6)
    rule.themes.set([delivery])
    for days, score, comment in [
        (1, 3, "Lieferung zu spät"),
        (2, 5, "Versand dauerte ewig"),
        (3, 2, "Preis zu hoch"),
        (4, 9, "Lieferung pünktlich"),
        (40, 1, "Lieferung verloren"),  # before the period
    ]:
        answer_by_link(survey, score, now - timedelta(days=days), comment=comment)
    themes.start_matching(delivery, now=now)
    themes.match_again(now=now)

    result = dry_run(rule, now=now)
    assert result.count == 2
    assert [response.comment for response in result.sample] == ["Lieferung zu spät", "Versand dauerte ewig"]


def test_a_rules_themes_are_chosen_in_the_back_office_and_kept_from_deletion(
    client, cx_manager, admin_user, delivery
):
    survey = make_survey(kind="nps", name="Support")
    make_team("Support", surveys=[survey], members=[cx_manager])
    client.force_login(cx_manager)
    data = {
        "survey": survey.pk,
        "name": "Delivery",
        "properties": "{}",
        "sla_hours": "48",
        "delivery": "instant",
        "themes": [delivery.pk],
    }
    assert client.post(reverse("admin:followup_alertrule_add"), data).status_code == 302
    rule = AlertRule.objects.get()
    assert list(rule.themes.all()) == [delivery]

    # Without its theme the rule would fire on every answer: the theme stays.
    client.force_login(admin_user)
    page = client.post(reverse("admin:insights_theme_delete", args=[delivery.pk]), {"post": "yes"})
    assert page.status_code == 200
    assert "Delivery" in page.content.decode()
    assert Theme.objects.filter(pk=delivery.pk).exists()
