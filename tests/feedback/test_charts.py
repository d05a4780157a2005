"""The dashboard's words and figures for a built dashboard: the change, the interval's note, the
running bucket and the years on the time axis."""

from collections import Counter
from datetime import date

import pytest
from django.utils import translation

from feedback import charts
from feedback.counts import Filters
from feedback.dashboard import Bucket, Dashboard, IntervalChoice
from feedback.metrics import Change, compare, summarise
from surveys.models import Survey

MINUS = "\u2212"


def summary(kind: str, scores: dict[int, int]):
    return summarise(kind, Counter(scores))


@pytest.mark.parametrize(
    ("kind", "current", "previous", "sentence"),
    [
        # NPS 30 % promoters, 40 % detractors against 60 % / 10 %: a clear fall.
        ("nps", {10: 30, 5: 40, 8: 30}, {10: 60, 5: 10, 8: 30}, f"{MINUS}60.0 points, significantly lower"),
        (
            "nps",
            {10: 5, 5: 4, 8: 3},
            {10: 5, 5: 3, 8: 4},
            f"{MINUS}8.3 points, not significantly different from",
        ),
        ("csat", {5: 80, 2: 20}, {5: 50, 2: 50}, "+30.0 percentage points, significantly higher"),
        ("ces", {7: 10, 6: 10}, {7: 10, 6: 10}, "0.0 points, not significantly different from"),
    ],
)
def test_a_change_is_said_with_its_unit_direction_and_significance(kind, current, previous, sentence):
    now, before = summary(kind, current), summary(kind, previous)
    with translation.override("en"):
        text = charts.describe_change(kind, now, before, compare(now, before), days=30)
    assert text.sentence.startswith(sentence)
    assert text.sentence.endswith("the previous 30 days")
    assert "95 % confidence" in text.explanation
    assert f"n = {now.n} in this period, {before.n} in the previous one" in text.explanation


def test_a_change_without_a_comparison_or_a_test_says_so():
    empty, some = summary("csat", {}), summary("csat", {5: 3})
    with translation.override("en"):
        assert charts.describe_change("csat", some, empty, compare(some, empty), days=7).sentence == (
            "no comparison: no answers in this period or the previous 7 days"
        )
        untestable = Change(delta=10.0, z=None, significant=None)
        assert charts.describe_change("csat", some, some, untestable, days=1).sentence == (
            "+10.0 percentage points, cannot be tested: the scores do not vary"
        )
    with translation.override("de"):
        text = charts.describe_change(
            "nps", some, some, Change(delta=-7.04, z=-2.5, significant=True), days=30
        )
    assert text.sentence.startswith(f"{MINUS}7,0 ")


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [("nps", 26, "26.0"), ("csat", 79.44, "79.4 %"), ("ces", 5.25, "5.3"), ("nps", None, "no data")],
)
def test_every_metric_has_one_decimal(kind, value, text):
    with translation.override("en"):
        assert charts.metric_text(kind, value) == text


def board(since: date, until: date, interval: str, *, today: date, series: dict[date, dict[int, int]]):
    survey = Survey(kind="nps", name="NPS")
    histogram = sum((Counter(scores) for scores in series.values()), Counter())
    summarised = summarise("nps", histogram)
    return Dashboard(
        filters=Filters(survey=survey, since=since, until=until),
        interval=interval,
        interval_choice=IntervalChoice(interval, IntervalChoice.CHOSEN),
        today=today,
        summary=summarised,
        previous=summarised,
        change=compare(summarised, summarised),
        response_rate=None,
        response_rate_ignores=(),
        histogram=histogram,
        series=[Bucket(start=start, summary=summarise("nps", scores)) for start, scores in series.items()],
        by_touchpoint=[],
        by_property=[],
        breakdown_property="",
        by_tag=[],
        by_theme=[],
        latest_verbatims=[],
    )


def test_the_running_bucket_and_small_samples_are_not_joined_to_the_line():
    dashboard = board(
        date(2026, 11, 7),
        date(2026, 12, 6),
        "week",
        today=date(2026, 12, 6),
        series={
            date(2026, 11, 16): {10: 40},
            date(2026, 11, 23): {10: 20, 0: 20},
            date(2026, 11, 30): {0: 1},  # today's week: one answer so far
        },
    )
    with translation.override("en"):
        rows = charts.series_rows(dashboard)
        figure = charts.over_time(dashboard, rows)["figures"]["share"]
        note = charts.unfinished_note(rows)
    assert [row.unfinished for row in rows] == [False, False, False, False, True]
    assert note == "week of Nov. 30, 2026 is unfinished: 1 answer so far"
    line = next(trace for trace in figure["data"] if trace.get("name") == "NPS")
    assert line["y"] == [None, None, 100.0, 0.0, None]  # no drop to −100 for one answer today
    unfinished = next(trace for trace in figure["data"] if trace.get("name") == "unfinished")
    assert unfinished["y"] == [None, None, None, None, -100.0]
    assert unfinished["marker"]["symbol"] == "diamond-open"
    bars = figure["data"][0]
    assert bars["marker"]["pattern"]["shape"] == ["", "", "", "", "/"]  # the running week is hatched


def test_ticks_carry_the_year_when_the_period_crosses_new_year():
    with translation.override("en"):
        across = charts.series_rows(
            board(date(2026, 12, 28), date(2027, 1, 3), "day", today=date(2027, 2, 1), series={})
        )
        within = charts.series_rows(
            board(date(2026, 11, 1), date(2026, 11, 3), "day", today=date(2027, 2, 1), series={})
        )
        quarters = charts.series_rows(
            board(date(2026, 1, 1), date(2026, 12, 31), "quarter", today=date(2027, 1, 1), series={})
        )
    assert [row.tick for row in across][::6] == ["December 28<br>2026", "January 3<br>2027"]
    assert [row.tick for row in within] == ["November 1", "November 2", "November 3"]
    assert [row.tick for row in quarters] == ["Q1 2026", "Q2 2026", "Q3 2026", "Q4 2026"]


@pytest.mark.parametrize(
    ("choice", "note"),
    [
        (
            IntervalChoice("week", IntervalChoice.ENOUGH, 3, 4),
            "By week, chosen automatically: 3 of 4 whole weeks hold 30 answers or more.",
        ),
        (
            IntervalChoice("month", IntervalChoice.LONGEST, 0, 2),
            "By month, the longest interval for this period: only 0 of 2 whole months hold 30 answers "
            "or more.",
        ),
        (IntervalChoice("day", IntervalChoice.CHOSEN), "By day, as chosen."),
        (IntervalChoice("week", IntervalChoice.NO_DATA), "By week: there are no answers to choose by."),
    ],
)
def test_the_interval_note_says_why(choice, note):
    with translation.override("en"):
        assert charts.interval_note(choice) == note
