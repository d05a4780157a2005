"""The front door (``/``): every survey the user may see at a glance, over the last 30 days.

Per survey, one grouped count of the tallies (``feedback.counts.panels``: the period, the one
before it, and its weeks) and one of its invitations (the response rate); for all surveys at once,
one count of new detractor comments and one of open and overdue cases. The numbers are the
dashboard's: the same filters there show the same figures.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count

from feedback import charts, counts
from feedback.counts import Filters
from feedback.dashboard import period_response_rate
from feedback.metrics import Change, Summary, compare, summarise
from followup.models import OPEN_STATUSES, Case, overdue_condition
from surveys.access import AnyUser, visible_surveys
from surveys.models import Response, Survey
from surveys.scales import SCALES

PERIOD_DAYS = 30


@dataclass(frozen=True)
class SurveyCard:
    survey: Survey
    filters: Filters
    summary: Summary
    previous: Summary  # the 30 days before
    change: Change
    trend: list[float | None]  # the metric each week of the period, oldest first; None: no answers
    response_rate: float | None
    detractor_comments: int  # comments of the lowest category in the period
    open_cases: int | None  # None for who may not view cases
    overdue_cases: int | None

    @property
    def value_text(self) -> str:
        return charts.metric_text(self.survey.kind, self.summary.value)

    @property
    def interval_text(self) -> str:
        return charts.interval_text(self.survey.kind, self.summary.interval)

    @property
    def change_text(self) -> charts.ChangeText:
        """The change against the 30 days before, in the dashboard's words."""
        return charts.describe_change(
            self.survey.kind, self.summary, self.previous, self.change, days=PERIOD_DAYS
        )

    @property
    def change_id(self) -> str:
        return f"survey-{self.survey.pk}-change"

    @property
    def response_rate_text(self) -> str:
        return "–" if self.response_rate is None else f"{charts.number(100 * self.response_rate, 1)} %"

    @property
    def sparkline(self) -> str:
        """The trend as the points of an SVG polyline (``charts.sparkline``); weeks without answers
        are left out, "" with fewer than two weeks to draw."""
        scale = SCALES[self.survey.kind]
        # The metric's whole range: NPS −100–100, CSAT 0–100 %, CES the scale's mean.
        low, high = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0)}.get(
            self.survey.kind, (float(scale.low), float(scale.high))
        )
        return charts.sparkline(self.trend, low, high)


def survey_cards(user: AnyUser, *, today: date, now: datetime) -> list[SurveyCard]:
    """A card for each active survey the user may see, by name, over the 30 days up to today."""
    surveys = list(visible_surveys(user).filter(active=True).order_by("name"))
    since = today - timedelta(days=PERIOD_DAYS - 1)
    comments = _detractor_comments(surveys, since=since, until=today)
    cases = _cases(user, surveys, now=now) if user.has_perm("followup.view_case") else None
    cards = []
    for survey in surveys:
        filters = Filters(survey=survey, since=since, until=today)
        counted = counts.panels(filters, "week")
        summary = summarise(survey.kind, counted.histogram)
        previous = summarise(survey.kind, counted.previous)
        open_cases, overdue = cases.get(survey.pk, (0, 0)) if cases is not None else (None, None)
        cards.append(
            SurveyCard(
                survey=survey,
                filters=filters,
                summary=summary,
                previous=previous,
                change=compare(summary, previous),
                trend=[summarise(survey.kind, bucket).value for bucket in counted.over_time.values()],
                response_rate=period_response_rate(filters),
                detractor_comments=comments.get(survey.pk, 0),
                open_cases=open_cases,
                overdue_cases=overdue,
            )
        )
    return cards


def _detractor_comments(surveys: list[Survey], *, since: date, until: date) -> dict[int, int]:
    """Comments of each survey's lowest category in the period, by survey id, in one query."""
    if not surveys:
        return {}
    start, end = Filters(survey=surveys[0], since=since, until=until).bounds()
    rows = (
        Response.objects.filter(survey__in=surveys)
        .in_lowest_category()
        .in_period(start, end)
        .with_comment()
        .values("survey")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["survey"]: row["n"] for row in rows}


def _cases(user: AnyUser, surveys: list[Survey], *, now: datetime) -> dict[int, tuple[int, int]]:
    """(open, overdue) cases by survey id, in one query."""
    rows = (
        Case.objects.filter(survey__in=surveys, status__in=OPEN_STATUSES)
        .values("survey")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=overdue_condition(now)))
        .order_by()
    )
    return {row["survey"]: (row["open"], row["overdue"]) for row in rows}
