"""The front door (``/``): each survey the user may see, with the dashboard's numbers for the last
30 days, its detractor comments and cases; everyone else is sent to sign in."""

from datetime import timedelta

import pytest
from django.utils import timezone

from feedback.counts import Filters
from feedback.dashboard import build_dashboard
from followup.cases import change_case, open_case
from tests.factories import make_response, make_survey, make_team, make_touchpoint, take_away
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db
URL = "/"


@pytest.fixture
def surveys(cx_manager):
    """The manager's team's NPS survey with answers over the last weeks, and another team's."""
    ours = make_survey(kind="nps", name="Delivery")
    theirs = make_survey(kind="csat", name="Elsewhere")
    make_team("Ours", surveys=[ours], members=[cx_manager])
    make_team("Theirs", surveys=[theirs])
    desk = make_touchpoint(survey=ours)
    today = timezone.localdate()
    for days_ago, score, comment in [
        (1, 2, "late"),
        (2, 10, ""),
        (9, 9, "great"),
        (16, 0, "broken"),
        (40, 3, "old"),
    ]:
        answer(ours, score, today - timedelta(days=days_ago), touchpoint=desk, comment=comment)
    answer(theirs, 5, today - timedelta(days=1))
    return ours, theirs


def test_anyone_not_signed_in_is_sent_to_sign_in(client):
    page = client.get(URL)
    assert page.status_code == 302
    assert page["Location"].startswith("/login/") and "next=/" in page["Location"]


def test_staff_who_may_not_read_feedback_are_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_a_survey_shows_the_dashboards_numbers_for_the_last_30_days(client, cx_manager, surveys):
    ours, _theirs = surveys
    client.force_login(cx_manager)

    html = client.get(URL).content.decode()

    today = timezone.localdate()
    board = build_dashboard(
        Filters(survey=ours, since=today - timedelta(days=29), until=today), interval="week"
    )
    card = by_id(html, f"survey-{ours.pk}")
    assert f'id="survey-{ours.pk}" data-n="4"' in html and board.summary.n == 4
    # Two promoters and two detractors of four: NPS 0, the 40-day-old answer left out.
    assert board.summary.value == 0
    assert f'data-value="{board.summary.value}"' in html
    assert "n = 4" in card
    assert '<a class="detractor-comments"' in html and ">2</a>" in html  # "late" and "broken"
    assert f'href="/dashboard/?survey={ours.pk}"' in html


def test_only_the_users_own_surveys_are_shown(client, cx_manager, surveys):
    ours, theirs = surveys
    client.force_login(cx_manager)
    html = client.get(URL).content.decode()
    assert f'id="survey-{ours.pk}"' in html
    assert f'id="survey-{theirs.pk}"' not in html


def test_a_paused_survey_is_left_out(client, cx_manager, surveys):
    ours, _theirs = surveys
    ours.active = False
    ours.save()
    client.force_login(cx_manager)
    html = client.get(URL).content.decode()
    assert 'id="no-surveys"' in html


def test_open_and_overdue_cases_show_for_who_may_view_them(client, cx_manager, surveys):
    ours, _theirs = surveys
    now = timezone.now()
    open_case(response=make_response(survey=ours, score=1), now=now - timedelta(days=3), sla_hours=24)
    open_case(response=make_response(survey=ours, score=2), now=now, sla_hours=48)
    closed, _ = open_case(response=make_response(survey=ours, score=3), now=now, sla_hours=1)
    change_case(closed, by=None, now=now, status="no_action")
    client.force_login(cx_manager)

    html = client.get(URL).content.decode()

    assert f'<a class="open-cases" href="/cases/?survey={ours.pk}">2</a>' in html
    assert '<dd class="overdue-cases">1</dd>' in html


def test_who_may_not_view_cases_sees_no_cases(client, cx_manager, surveys):
    take_away(cx_manager, "view_case")
    client.force_login(cx_manager)
    html = client.get(URL).content.decode()
    assert 'class="open-cases"' not in html


def test_the_trend_is_drawn_from_the_weeks_with_answers(client, cx_manager, surveys):
    client.force_login(cx_manager)
    html = client.get(URL).content.decode()
    assert html.count('<polyline points="') == 1


def test_the_page_costs_a_few_queries_per_survey(client, cx_manager, surveys, django_assert_max_num_queries):
    more = [make_survey(name=f"More {n}") for n in range(3)]
    make_team("More", surveys=more, members=[cx_manager])
    client.force_login(cx_manager)
    # Session and user, the surveys, comments and cases at once, then tallies and invitations per survey.
    with django_assert_max_num_queries(8 + 2 * 4):
        assert client.get(URL).status_code == 200


def test_every_staff_page_leads_home(client, cx_manager, surveys):
    client.force_login(cx_manager)
    for page in ("/dashboard/", "/admin/"):
        assert 'href="/"' in client.get(page).content.decode()


def test_a_cards_change_is_said_as_on_the_dashboard(client, cx_manager, surveys):
    ours, _theirs = surveys
    client.force_login(cx_manager)
    html = client.get(URL).content.decode()
    # NPS 0 now (2 promoters, 2 detractors); before, one detractor: −100. n = 4 and 1: not significant.
    change = by_id(html, f"survey-{ours.pk}-change")
    assert change == "+100.0 points, not significantly different from the previous 30 days"
    dashboard = client.get("/dashboard/", {"survey": ours.pk, "range": "30d"}).content.decode()
    assert by_id(dashboard, "headline-significance") == change
    explanation = by_id(html, f"survey-{ours.pk}-change-explanation")
    assert "n = 4 in this period, 1 in the previous one" in explanation
    change_id = f"survey-{ours.pk}-change"
    assert f'tabindex="0" id="{change_id}" aria-describedby="{change_id}-explanation"' in html
