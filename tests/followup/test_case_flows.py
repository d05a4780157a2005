"""The life of a case (followup.cases): opened once per answer, changed under a lock, every change
a line of the timeline and a signal."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from followup import cases
from followup.models import Case, CaseEntry
from followup.signals import case_saved
from surveys import roles
from tests.factories import make_response, make_staff, make_survey, make_team

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 27, 9, 0, tzinfo=timezone.get_fixed_timezone(60))


@pytest.fixture
def heard():
    """What case_saved reported: (created, changes) per signal."""
    said = []

    def listen(sender, *, case, created, changes, **kwargs):
        said.append((created, changes))

    case_saved.connect(listen, dispatch_uid="tests.heard")
    yield said
    case_saved.disconnect(dispatch_uid="tests.heard")


def test_it_opens_one_case_per_answer_with_its_due_time(heard):
    response = make_response(score=3)
    case, opened = cases.open_case(response=response, now=NOW, sla_hours=48)
    again, opened_again = cases.open_case(response=response, now=NOW + timedelta(hours=1), sla_hours=1)

    assert (opened, opened_again) == (True, False)
    assert again.pk == case.pk
    assert case.due_at == NOW + timedelta(hours=48)
    assert (case.survey_id, case.opening_score, case.status) == (response.survey_id, 3, Case.Status.NEW)
    assert list(case.entries.values_list("kind", flat=True)) == [CaseEntry.Kind.OPENED]
    assert heard == [(True, {})]


def test_the_database_refuses_a_second_case_for_an_answer():
    response = make_response(score=3)
    cases.open_case(response=response, now=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(response=response, survey=response.survey, opening_score=3)


def test_closing_records_when_and_reopening_forgets_it(heard):
    agent = make_staff("agent", roles.AGENT)
    case, _ = cases.open_case(response=make_response(score=2), now=NOW, sla_hours=24)

    changes = cases.change_case(
        case, by=agent, now=NOW + timedelta(hours=2), status=Case.Status.RESOLVED, resolution="solved"
    )
    assert changes == {"status": ("new", "resolved"), "resolution": ("", "solved")}
    case.refresh_from_db()
    assert case.resolved_at == NOW + timedelta(hours=2)
    assert case.first_response_at == NOW + timedelta(hours=2)  # taken up for the first time
    assert case.sla_state(NOW + timedelta(days=3)) == "met"

    cases.change_case(case, by=agent, now=NOW + timedelta(hours=5), status=Case.Status.IN_PROGRESS)
    case.refresh_from_db()
    assert (case.resolved_at, case.resolution) == (None, "")
    assert case.first_response_at == NOW + timedelta(hours=2)  # the first one stays
    statuses = case.entries.filter(kind=CaseEntry.Kind.STATUS).values_list("details", flat=True)
    assert [(d["from"], d["to"]) for d in statuses] == [("new", "resolved"), ("resolved", "in_progress")]
    assert [created for created, _changes in heard] == [True, False, False]


def test_a_change_to_the_same_values_changes_nothing(heard):
    case, _ = cases.open_case(response=make_response(score=2), now=NOW)
    assert cases.change_case(case, by=None, now=NOW, status=Case.Status.NEW, assignee=None) == {}
    assert case.entries.count() == 1
    assert len(heard) == 1


def test_assigning_a_team_and_a_person_logs_both():
    team = make_team("Kundenservice")
    agent = make_staff("agent", roles.AGENT, team=team)
    case, _ = cases.open_case(response=make_response(score=2), now=NOW)

    cases.change_case(case, by=agent, now=NOW, assignee=agent, team=team)

    case.refresh_from_db()
    assert (case.assignee, case.team) == (agent, team)
    assigned = (
        case.entries.filter(kind=CaseEntry.Kind.ASSIGNED).order_by("pk").values_list("details", flat=True)
    )
    assert [(d["field"], d["to"]) for d in assigned] == [("assignee", agent.pk), ("team", team.pk)]


@pytest.mark.parametrize(
    ("hours_after_opening", "answered_after", "state"),
    [
        (1, None, "on_track"),
        (40, None, "due_soon"),  # a quarter of 48 hours is left
        (49, None, "overdue"),
        (49, 47, "met"),
        (60, 50, "missed"),
    ],
)
def test_the_sla_state_follows_the_clock(hours_after_opening, answered_after, state):
    case, _ = cases.open_case(response=make_response(score=2), now=NOW, sla_hours=48)
    if answered_after is not None:
        cases.record_first_response(case, now=NOW + timedelta(hours=answered_after))
    assert case.sla_state(NOW + timedelta(hours=hours_after_opening)) == state


def test_a_case_without_a_due_time_has_no_sla():
    case, _ = cases.open_case(response=make_response(score=2), now=NOW)
    assert case.sla_state(NOW + timedelta(days=30)) == "none"


def test_overdue_cases_are_the_open_ones_past_their_due_time():
    survey = make_survey()
    late, _ = cases.open_case(response=make_response(survey=survey, score=1), now=NOW, sla_hours=1)
    closed, _ = cases.open_case(response=make_response(survey=survey, score=2), now=NOW, sla_hours=1)
    cases.change_case(closed, by=None, now=NOW, status=Case.Status.NO_ACTION)
    cases.open_case(response=make_response(survey=survey, score=3), now=NOW, sla_hours=100)

    assert list(Case.objects.overdue(NOW + timedelta(hours=2))) == [late]


def test_a_note_keeps_its_mentions():
    agent = make_staff("agent", roles.AGENT)
    manager = make_staff("manager", roles.CX_MANAGER)
    case, _ = cases.open_case(response=make_response(score=2), now=NOW)

    entry = cases.add_note(case, by=agent, text="@manager bitte anrufen", now=NOW, mentions=[manager])

    assert list(entry.mentions.all()) == [manager]
    assert list(case.entries.values_list("kind", flat=True)) == ["opened", "note"]


def test_a_revised_score_shows_on_the_case():
    response = make_response(score=3)
    case, _ = cases.open_case(response=response, now=NOW)
    response.revise(score=8, comment=None, now=NOW + timedelta(hours=1))

    entry = cases.record_revised_answer(response, old_score=3, now=NOW + timedelta(hours=1))

    assert entry is not None and (entry.case, entry.details) == (case, {"from": 3, "to": 8})
    assert cases.record_revised_answer(make_response(score=3), old_score=2, now=NOW) is None  # no case


def test_a_due_time_counts_hours_across_the_change_to_summer_time(settings):
    """Opened on the Saturday before the clocks go forward in Berlin, a 48-hour case is due 48
    hours later: at 11:00 local time on Monday, not 10:00; overdue a moment after, not before."""
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    opened = datetime(2026, 3, 28, 10, 0, tzinfo=berlin)
    case, _ = cases.open_case(response=make_response(score=2), now=opened, sla_hours=48)

    assert case.due_at.astimezone(berlin) == datetime(2026, 3, 30, 11, 0, tzinfo=berlin)
    assert case.due_at - opened == timedelta(hours=48)
    assert case.sla_state(datetime(2026, 3, 30, 10, 59, tzinfo=berlin)) == "due_soon"
    assert case.sla_state(datetime(2026, 3, 30, 11, 1, tzinfo=berlin)) == "overdue"
