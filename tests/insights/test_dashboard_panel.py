"""The insights in brief on the dashboard: the costliest themes and the one rising most clearly,
from the themes' figures alone, with the way to the Insights page under the same filters."""

import re
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from insights.models import Theme
from surveys.models.tallies import TermTally
from tests.factories import make_survey, take_away
from tests.feedback.pages import by_id
from tests.insights.themed import NOVEMBER, OCTOBER, PERIOD, answers, matched

pytestmark = pytest.mark.django_db

URL = "/dashboard/"


@pytest.fixture
def survey():
    """100 answers in November, 99 with a comment; 100 in October."""
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    answers(
        survey,
        NOVEMBER,
        [
            *[(2, "Lieferung zu spät")] * 30,
            *[(10, "Lieferung pünktlich")] * 10,
            *[(5, "Hotline unfreundlich")] * 10,
            *[(3, "Warten")] * 2,
            *[(9, "Alles bestens")] * 47,
            (8, ""),
        ],
    )
    answers(survey, OCTOBER, [*[(2, "Lieferung zu spät")] * 5, *[(9, "Alles bestens")] * 95])
    return survey


@pytest.fixture
def defined():
    found = [
        Theme.objects.create(name="Lieferung", include="liefer*"),
        Theme.objects.create(name="Hotline", include="hotline"),
        Theme.objects.create(name="Warten", include="wart*"),
        Theme.objects.create(name="Lob", include="bestens"),
        Theme.objects.create(name="Preis", include="preis*, teuer"),
    ]
    matched(*found)
    return found


@pytest.fixture
def manager_client(client, cx_manager):
    client.force_login(cx_manager)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def look(client, survey, **params) -> str:
    page = client.get(URL, {"survey": survey.pk, **PERIOD, **params})
    assert page.status_code == 200
    return page.content.decode()


def panel_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="stack" id="insights-themes">(.*?)</table>', html, re.S)
    assert table, "no insights panel"
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr data-theme[^>]*>(.*?)</tr>", table.group(1), re.S)
    ]


def test_the_three_costliest_themes_and_the_clearest_rise_show(manager_client, survey, defined):
    html = look(manager_client, survey)
    # Of 99 comments: delivery 40, 30 of them detractors among 100 answers (cost 100 · 30 / 100);
    # the hotline 10, all detractors; waiting 2. Praise (47) costs nothing: fourth, not shown.
    assert panel_rows(html) == [
        ["Lieferung", "40.4 %", "30.0"],
        ["Hotline", "10.1 %", "10.0"],
        ["Warten", "2.0 %", "2.0"],
    ]
    # Both delivery (5 of 100 in October, z 5.97) and the hotline (0 of 100, z 3.26) rose
    # significantly, delivery more clearly; waiting (z 1.43) did not.
    assert by_id(html, "insights-rising") == "Rising: Lieferung, in 40.4 % of the comments (before: 5.0 %)"


def test_without_a_significant_rise_only_the_themes_show(manager_client, survey):
    matched(Theme.objects.create(name="Warten", include="wart*"))
    html = look(manager_client, survey)
    assert panel_rows(html) == [["Warten", "2.0 %", "2.0"]]
    assert 'id="insights-rising"' not in html


def test_the_link_opens_the_insights_page_with_the_dashboards_filters(manager_client, survey, defined):
    html = look(manager_client, survey, touchpoint="0", tag="")
    link = re.search(r'<a href="/insights/\?([^"]+)" id="to-insights">', html)
    assert link
    assert parse_qs(unescape(link.group(1))) == {
        "survey": [str(survey.pk)],
        "touchpoint": ["0"],
        **{key: [value] for key, value in PERIOD.items()},
    }
    last_30_days = look(manager_client, survey, range="30d")
    link = re.search(r'<a href="/insights/\?([^"]+)" id="to-insights">', last_30_days)
    assert link and parse_qs(unescape(link.group(1))) == {"survey": [str(survey.pk)], "range": ["30d"]}


def test_it_is_hidden_without_themes_or_themed_comments(manager_client, survey):
    assert 'id="insights-panel"' not in look(manager_client, survey)
    matched(Theme.objects.create(name="Preis", include="preis*, teuer"))
    assert 'id="insights-panel"' not in look(manager_client, survey)


def test_it_is_hidden_from_who_may_not_view_themes(client, cx_manager, survey, defined):
    take_away(cx_manager, "view_theme")
    client.force_login(cx_manager)
    assert 'id="insights-panel"' not in look(client, survey)


def test_themes_add_their_figures_five_queries_and_no_term_counting(manager_client, survey, defined):
    look(manager_client, survey)  # the session and the user are read once per request
    with CaptureQueriesContext(connection) as with_themes:
        look(manager_client, survey)
    tally = f'"{TermTally._meta.db_table}"'
    assert not any(tally in query["sql"] for query in with_themes.captured_queries)
    Theme.objects.all().delete()
    with CaptureQueriesContext(connection) as without:
        look(manager_client, survey)
    # Each period's themed answers and comments, and the answers; the breakdown by theme finds none.
    assert len(with_themes.captured_queries) == len(without.captured_queries) + 5
