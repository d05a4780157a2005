"""Themes filter the dashboard and the explorer and break the dashboard down, as tags do: for a
theme, the numbers a hand count of its answers gives."""

import re
from collections import Counter
from datetime import date

import pytest

from feedback import counts
from feedback.counts import Filters
from insights import themes
from insights.models import Theme
from tests.factories import make_api_token, make_survey
from tests.feedback.pages import answer, by_id
from tests.feedback.test_tag_filters import api, nps, table_rows

pytestmark = pytest.mark.django_db

NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
ANSWERS = [
    (10, "Lieferung pünktlich"),
    (3, "Lieferung zu spät"),
    (0, "Lieferung kaputt, Preis zu hoch"),
    (8, "Preis fair"),
    (10, "Alles bestens"),
    (1, ""),
]


def scores_with(*words: str) -> list[int]:
    return [score for score, comment in ANSWERS if any(word in comment for word in words)]


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    for number, (score, comment) in enumerate(ANSWERS):
        answer(survey, score, date(2026, 11, 2 + number), comment=comment)
    for name, rules in (("Lieferung", "liefer*"), ("Preis", "preis*"), ("Hotline", "hotline")):
        themes.start_matching(Theme.objects.create(name=name, include=rules), now=survey.created_at)
    while themes.match_again(now=survey.created_at):
        pass
    return survey


def theme_ids(*names: str) -> tuple[int, ...]:
    return tuple(sorted(Theme.objects.filter(name__in=names).values_list("pk", flat=True)))


def test_a_theme_counts_the_answers_whose_comment_has_it(survey):
    chosen = Filters(
        survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30), themes=theme_ids("Preis")
    )
    assert counts.panels(chosen, "day").histogram == Counter(scores_with("Preis"))
    assert counts.histograms_by_theme(
        Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    ) == {
        (Theme.objects.get(name="Lieferung").pk, "Lieferung"): Counter(scores_with("Lieferung")),
        (Theme.objects.get(name="Preis").pk, "Preis"): Counter(scores_with("Preis")),
    }


def test_the_dashboard_filters_and_breaks_down_by_theme(manager_client, survey):
    page = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER, "theme": "Lieferung"})
    assert page.status_code == 200
    html = page.content.decode()
    chosen = scores_with("Lieferung")
    assert by_id(html, "headline-n") == str(len(chosen))
    assert by_id(html, "headline-value") == f"{nps(chosen):.1f}"
    assert "ignores the theme filter" in by_id(html, "headline-rate-ignores")
    assert re.findall(r'<input type="checkbox" name="theme" value="([^"]+)" checked>', html) == ["Lieferung"]
    assert "theme=Lieferung" in html  # the explorer's link keeps it
    everything = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER}).content.decode()
    rows = table_rows(everything, "theme-table")
    # Overall NPS −16.7; Preis (0, 8): −50 on a third of the answers pulls by −11.1, Lieferung
    # (10, 3, 0): −33.3 on half of them by −8.3. The biggest problem comes first.
    assert [row[0].split()[0] for row in rows] == ["Preis", "Lieferung"]
    assert rows[1][3] == str(len(chosen))


def test_the_explorer_lists_the_comments_with_a_theme(manager_client, survey):
    html = manager_client.get(
        "/verbatims/", {"survey": survey.pk, **NOVEMBER, "theme": "Preis"}
    ).content.decode()
    assert re.findall(r'<span class="score[^"]*">(\d+)</span>', html) == ["8", "0"]  # newest first


def test_an_unknown_theme_is_refused_by_name(manager_client, survey):
    for url in ("/dashboard/", "/verbatims/"):
        page = manager_client.get(url, {"survey": survey.pk, "theme": "Unbekannt"})
        assert page.status_code == 400
        assert "There is no theme “Unbekannt”." in page.content.decode()


def test_the_metrics_api_filters_by_theme(client, cx_manager, survey):
    token = make_api_token(user=cx_manager)
    params = {"survey": survey.pk, **NOVEMBER}
    figures = api(client, "/api/v1/metrics/", token, **params, theme="Lieferung").json()
    assert (figures["responses"], figures["nps"]) == (3, nps(scores_with("Lieferung")))
    refused = api(client, "/api/v1/metrics/", token, **params, theme="Unbekannt")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"theme": ["There is no theme “Unbekannt”."]}
