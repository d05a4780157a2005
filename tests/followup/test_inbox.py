"""The cases inbox: who sees which cases, the filters, the order, paging, and bulk changes."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

from followup.models import Case, CaseEntry
from followup.views import CASES_PER_PAGE
from tests.factories import make_staff
from tests.followup.conftest import answer, case_for, overdue

pytestmark = pytest.mark.django_db

URL = "/cases/"


def shown(response) -> list[str]:
    return re.findall(r'data-case="([0-9a-f-]+)"', response.content.decode())


def test_an_agent_sees_the_open_cases_of_their_teams_surveys_soonest_due_first(client, loop):
    later = case_for(answer(loop.survey), hours=72)
    sooner = case_for(answer(loop.survey), hours=2)
    case_for(answer(loop.other))
    client.force_login(loop.agent)

    response = client.get(URL)

    assert response.status_code == 200
    assert shown(response) == [str(sooner.public_id), str(later.public_id)]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert 'src="/static/followup/inbox.js"' in response.content.decode()


def test_each_row_shows_the_score_comment_survey_assignee_and_the_state_of_its_due_time(client, loop):
    case = overdue(case_for(answer(loop.survey, 3, "Paket beschädigt"), assignee=loop.colleague))
    client.force_login(loop.agent)

    page = client.get(URL).content.decode()

    assert "Paket beschädigt" in page
    assert ">3</span>" in page
    assert "Lieferung" in page and "Zustellung" in page
    assert "bert" in page
    assert 'data-sla="overdue"' in page
    assert case.get_absolute_url() in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("who=mine", ["mine"]),
        ("who=team", ["team"]),
        ("who=unassigned", ["nobody"]),
        ("overdue=on", ["late"]),
        ("status=closed", ["closed"]),
        ("status=all", ["mine", "team", "nobody", "late", "closed"]),
        ("status=in_progress", ["team"]),
    ],
)
def test_the_filters_narrow_the_cases(client, loop, query, expected):
    cases = {
        "mine": case_for(answer(loop.survey), hours=1, assignee=loop.agent),
        "team": case_for(answer(loop.survey), hours=2, team=loop.team),
        "nobody": case_for(answer(loop.survey), hours=3),
        "late": overdue(case_for(answer(loop.survey), hours=4, assignee=loop.colleague)),
        "closed": case_for(answer(loop.survey), hours=5, assignee=loop.colleague),
    }
    Case.objects.filter(pk=cases["team"].pk).update(status="in_progress")
    closed = {"status": "resolved", "resolution": "solved", "resolved_at": cases["closed"].created_at}
    Case.objects.filter(pk=cases["closed"].pk).update(**closed)
    client.force_login(loop.agent)

    response = client.get(f"{URL}?{query}")

    assert response.status_code == 200
    assert set(shown(response)) == {str(cases[name].public_id) for name in expected}


def test_the_survey_and_touchpoint_filters_offer_only_the_users_surveys(client, loop):
    mine = case_for(answer(loop.survey))
    case_for(answer(loop.survey))
    client.force_login(loop.agent)

    response = client.get(f"{URL}?survey={loop.survey.pk}&touchpoint={mine.touchpoint_id}")
    foreign = client.get(f"{URL}?survey={loop.other.pk}")

    assert shown(response) == [str(mine.public_id)]
    assert foreign.status_code == 400
    assert shown(foreign) == []


def test_another_teams_manager_sees_none_of_them(client, loop):
    case_for(answer(loop.survey))
    client.force_login(loop.foreigner)

    assert shown(client.get(URL)) == []


def test_staff_without_the_permission_are_refused_and_nobody_goes_to_the_login(client, loop):
    client.force_login(make_staff("outsider"))
    assert client.get(URL).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302


def test_the_inbox_pages_its_cases_in_a_fixed_number_of_queries(client, loop, django_assert_max_num_queries):
    for _ in range(CASES_PER_PAGE + 3):
        case_for(answer(loop.survey), assignee=loop.colleague, team=loop.team)
    client.force_login(loop.agent)
    client.get(URL)  # sessions, permissions and content types cached

    # the session, the user, their permissions, the count, the page, and the choices of the forms
    with django_assert_max_num_queries(10):
        first = client.get(URL)
    second = client.get(f"{URL}?page=2")

    assert len(shown(first)) == CASES_PER_PAGE
    assert len(shown(second)) == 3


def test_the_cases_link_shows_in_the_navigation_for_who_may_see_cases(client, loop, analyst):
    client.force_login(loop.agent)
    assert f'href="{URL}"' in client.get("/verbatims/").content.decode()


# Bulk changes


def bulk(client, cases, **changes):
    data = {"case": [str(case.public_id) for case in cases], "next": f"{URL}?who=unassigned"}
    data |= {f"bulk-{name}": value for name, value in changes.items()}
    return client.post(reverse("followup:bulk_change"), data)


def test_selected_cases_are_assigned_at_once_with_a_line_on_each_timeline(client, loop):
    first, second = case_for(answer(loop.survey)), case_for(answer(loop.survey))
    untouched = case_for(answer(loop.survey))
    client.force_login(loop.agent)

    response = bulk(client, [first, second], assignee=loop.colleague.pk, team=loop.team.pk)

    assert response.status_code == 303
    assert response["Location"] == f"{URL}?who=unassigned"
    assert set(Case.objects.filter(assignee=loop.colleague, team=loop.team)) == {first, second}
    assert Case.objects.get(pk=untouched.pk).assignee is None
    assert CaseEntry.objects.filter(case=first, kind="assigned").count() == 2


def test_a_bulk_status_change_to_closed_needs_a_resolution(client, loop):
    case = case_for(answer(loop.survey))
    client.force_login(loop.agent)

    refused = bulk(client, [case], status="resolved")
    assert Case.objects.get(pk=case.pk).status == "new"
    bulk(client, [case], status="resolved", resolution="solved")

    assert refused.status_code == 303
    case.refresh_from_db()
    assert (case.status, case.resolution) == ("resolved", "solved")


def test_a_case_cannot_go_to_someone_who_may_not_see_its_survey(client, loop):
    case = case_for(answer(loop.survey))
    client.force_login(loop.agent)

    with translation.override("en"):
        bulk(client, [case], assignee=loop.foreigner.pk)

    assert Case.objects.get(pk=case.pk).assignee is None


def test_a_foreign_or_unknown_case_in_the_selection_is_not_found_and_nothing_changes(client, loop):
    mine = case_for(answer(loop.survey))
    foreign = case_for(answer(loop.other))
    client.force_login(loop.agent)

    assert bulk(client, [mine, foreign], assignee=loop.agent.pk).status_code == 404
    assert client.post(reverse("followup:bulk_change"), {"case": "not-a-uuid"}).status_code == 404
    assert Case.objects.get(pk=mine.pk).assignee is None


def test_bulk_changes_need_the_permission_csrf_and_post(loop, analyst):
    from django.test import Client

    case = case_for(answer(loop.survey))
    loop.team.members.add(analyst)
    reader = Client()
    reader.force_login(analyst)
    assert bulk(reader, [case], assignee=loop.agent.pk).status_code == 403
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(loop.agent)
    assert bulk(guarded, [case], assignee=loop.agent.pk).status_code == 403
    assert guarded.get(reverse("followup:bulk_change")).status_code == 405
    assert Case.objects.get(pk=case.pk).assignee is None
