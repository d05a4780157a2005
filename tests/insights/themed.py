"""Answers with comments for the themes' tests: November's against October's, and their themes
matched as the background work matches them."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from insights import themes
from insights.models import Theme
from tests.factories import answer_by_link

BERLIN = ZoneInfo("Europe/Berlin")
NOVEMBER = datetime(2026, 11, 10, 10, 0, tzinfo=BERLIN)
OCTOBER = NOVEMBER - timedelta(days=30)
PERIOD = {"since": "2026-11-01", "until": "2026-11-30"}


def answers(survey, at: datetime, rows: list[tuple[int, str]]) -> None:
    """An answer by link for each (score, comment), a minute apart from ``at``."""
    for n, (score, comment) in enumerate(rows):
        answer_by_link(survey, score, at + timedelta(minutes=n), comment=comment)


def matched(*found: Theme) -> None:
    """Every comment matched against the themes' rules, as after their rules were saved."""
    for theme in found:
        themes.start_matching(theme, now=NOVEMBER)
    while themes.match_again(now=NOVEMBER):
        pass
