"""Answers get their themes in the background: new and changed ones by the sweep, all again when
the rules change, with progress; never on the answering path."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from insights import themes
from insights.models import ResponseTheme, Theme, ThemeSweep
from insights.tasks import match_themes
from surveys.models import Response
from tests.factories import answer_by_link, make_survey

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
LATER = NOW + themes.LAG + timedelta(seconds=1)


def themed(theme: Theme) -> set[str]:
    return set(ResponseTheme.objects.filter(theme=theme).values_list("response__comment", flat=True))


def new_theme(name: str, include: str, *, exclude: str = "", now=NOW) -> Theme:
    theme = Theme.objects.create(name=name, include=include, exclude=exclude)
    themes.start_matching(theme, now=now)
    return theme


@pytest.fixture
def survey():
    return make_survey(kind="nps")


def test_a_new_answer_gets_no_theme_while_answering_and_its_themes_at_the_next_sweep(survey):
    delivery = new_theme("Lieferung", "liefer*, versand*")
    themes.match_again(now=NOW)  # nothing there yet
    answer = answer_by_link(survey, 2, NOW, comment="Die Lieferung kam zu spät")
    answer_by_link(survey, 9, NOW, comment="Sehr freundlich")
    assert not ResponseTheme.objects.exists()  # the answering path wrote none
    assert themes.sweep(now=NOW) == 0  # too fresh: its transaction may not have committed
    assert themes.sweep(now=LATER) == 2
    assert themed(delivery) == {answer.comment}
    assert themes.sweep(now=LATER) == 0


def test_a_changed_comment_is_matched_again(survey):
    delivery = new_theme("Lieferung", "liefer*")
    answer = answer_by_link(survey, 2, NOW, comment="Die Lieferung kam zu spät")
    themes.sweep(now=LATER)
    answer.revise(score=None, comment="Hotline nicht erreichbar", now=NOW + timedelta(minutes=5))
    themes.sweep(now=NOW + timedelta(minutes=10))
    assert themed(delivery) == set()


def test_changed_rules_match_every_comment_again_batch_by_batch_with_progress(survey):
    comments = [f"Paket {n} beschädigt" if n % 2 else f"Lieferung {n} spät" for n in range(7)]
    for n, comment in enumerate(comments):
        answer_by_link(survey, 3, NOW + timedelta(minutes=n), comment=comment)
    answer_by_link(survey, 9, NOW, comment="")
    theme = new_theme("Lieferung", "liefer*")
    assert (theme.to_match, theme.matched) == (7, 0)
    while themes.match_again(now=NOW, batch_size=3):
        theme.refresh_from_db()
        assert theme.matched <= theme.to_match
    theme.refresh_from_db()
    assert (theme.matched, theme.to_match, theme.matching_after) == (7, 7, None)
    assert themed(theme) == {c for c in comments if c.startswith("Lieferung")}
    theme.include = "paket*"
    theme.save()
    themes.start_matching(theme, now=NOW)
    assert themes.match_again(now=NOW, batch_size=3) == 3
    half_way = themed(theme)  # the first batch moved; the others keep the old theme meanwhile
    assert {c for c in half_way if c.startswith("Lieferung")}
    while themes.match_again(now=NOW, batch_size=3):
        pass
    assert themed(theme) == {c for c in comments if c.startswith("Paket")}


def test_exclusions_and_a_theme_for_one_language(survey):
    delivery = new_theme("Lieferung", "liefer*, delivery", exclude="lieferadresse")
    english = Theme.objects.create(name="Delivery (EN)", include="delivery", language="en")
    themes.start_matching(english, now=NOW)
    answer_by_link(survey, 3, NOW, comment="Lieferadresse falsch")
    answer_by_link(survey, 3, NOW, comment="Lieferung falsch")
    answer_by_link(survey, 3, NOW, comment="Late delivery", language="en")
    while themes.match_again(now=NOW):
        pass
    assert themed(delivery) == {"Lieferung falsch", "Late delivery"}
    assert themed(english) == {"Late delivery"}


def test_the_periodic_task_sweeps_and_matches_and_says_whether_more_is_due(survey):
    answer_by_link(survey, 3, datetime(2026, 1, 1, tzinfo=BERLIN), comment="Paket kaputt")
    theme = new_theme("Paket", "paket*")
    assert match_themes() is False
    assert themed(theme) == {"Paket kaputt"}
    assert ThemeSweep.objects.get().updated_at is not None


def test_without_themes_the_sweep_only_moves_on(survey):
    answer_by_link(survey, 3, NOW, comment="Paket kaputt")
    assert themes.sweep(now=LATER) == 0
    assert ThemeSweep.objects.get().updated_at == LATER - themes.LAG
    assert Response.objects.count() == 1
