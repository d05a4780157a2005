"""How well the loop closes: the dashboard's figures of the follow-up cases.

Counted in the database (``count_loop``: one aggregate over the period's cases, two grouped counts
of their durations, one aggregate over the period's uncontacted detractors), computed here in pure
Python (``loop_figures``) like ``feedback.metrics``: each share with its 95 % Wilson interval, None
when there is nothing to divide by.

The cases are those opened in the dashboard's period at its survey and touchpoints; open and
overdue say how they stand now. "Detractor" is the lowest category of the survey's scale
(dissatisfied for CSAT, difficult for CES), judged by the score the case was opened for.

Recovery follows a detractor to the next answer the same contact gave at the same touchpoint:
after the case was resolved, or, for detractors nobody contacted (no case, or a case without a
first response), after the detractor answer. Its share is of those who answered again, and says
how many of them gave a score above the lowest category.

Where a touchpoint asks again after a case ("Was your issue solved?", ``followup.rechecks``), the
share of yes among those who answered is counted apart from the survey's answers.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery

from feedback.counts import Filters
from feedback.metrics import SMALL_SAMPLE, proportion_interval
from followup.models import OPEN_STATUSES, Case, CaseQuerySet, CaseStatus, overdue_condition
from surveys.models import NO_TOUCHPOINT, Response


@dataclass(frozen=True)
class LoopCounts:
    """What the database counts for the loop's figures."""

    cases: int  # opened in the period
    open: int
    overdue: int
    detractor_cases: int
    contacted_in_time: int  # detractor cases first answered by their due time
    first_response: Mapping[timedelta, int]  # time to first response → cases
    resolution: Mapping[timedelta, int]  # time to closing → cases
    resolved_detractors: int
    resolved_answered_again: int  # of these, answered again at the touchpoint after the resolution
    resolved_recovered: int  # of these, above the lowest category
    uncontacted_detractors: int
    uncontacted_answered_again: int
    uncontacted_recovered: int
    rechecks_answered: int = 0  # "Was your issue solved?" answered, of the period's cases
    rechecks_solved: int = 0  # of these, yes


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``n`` in %, with its 95 % Wilson interval; value and interval None when n = 0."""

    successes: int
    n: int
    value: float | None
    interval: tuple[float, float] | None

    @property
    def small_sample(self) -> bool:
        return 0 < self.n < SMALL_SAMPLE


@dataclass(frozen=True)
class LoopFigures:
    cases: int
    open: int
    overdue: int
    median_first_response: timedelta | None  # None without any first response
    median_resolution: timedelta | None  # None without any closed case
    contacted_in_time: Proportion  # of the detractor cases
    recovered: Proportion  # of resolved detractors who answered again
    recovered_without_contact: Proportion  # of uncontacted detractors who answered again
    resolved_detractors: int
    uncontacted_detractors: int
    solved_when_asked: Proportion  # of the customers asked again after their case who answered


def proportion(successes: int, n: int) -> Proportion:
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes of {n}")
    return Proportion(
        successes=successes,
        n=n,
        value=100 * successes / n if n else None,
        interval=proportion_interval(successes, n),
    )


def median(durations: Mapping[timedelta, int]) -> timedelta | None:
    """The median of durations given with their counts (the mean of the two middle ones for an
    even number); None when there are none. A negative count raises ValueError."""
    if any(count < 0 for count in durations.values()):
        raise ValueError("negative count")
    n = sum(durations.values())
    if not n:
        return None
    return (_nth(durations, (n - 1) // 2) + _nth(durations, n // 2)) / 2


def _nth(durations: Mapping[timedelta, int], position: int) -> timedelta:
    """The duration at a 0-based position of the sorted durations, each repeated by its count."""
    seen = 0
    for duration in sorted(durations):
        seen += durations[duration]
        if seen > position:
            return duration
    raise ValueError(f"position {position} beyond {seen} durations")


def loop_figures(counts: LoopCounts) -> LoopFigures:
    return LoopFigures(
        cases=counts.cases,
        open=counts.open,
        overdue=counts.overdue,
        median_first_response=median(counts.first_response),
        median_resolution=median(counts.resolution),
        contacted_in_time=proportion(counts.contacted_in_time, counts.detractor_cases),
        recovered=proportion(counts.resolved_recovered, counts.resolved_answered_again),
        recovered_without_contact=proportion(counts.uncontacted_recovered, counts.uncontacted_answered_again),
        resolved_detractors=counts.resolved_detractors,
        uncontacted_detractors=counts.uncontacted_detractors,
        solved_when_asked=proportion(counts.rechecks_solved, counts.rechecks_answered),
    )


def period_cases(filters: Filters) -> CaseQuerySet:
    """The cases opened in the filters' period at their survey and touchpoints (property filters
    select answers, not cases, and do not apply)."""
    start, end = filters.bounds()
    cases = Case.objects.filter(survey=filters.survey, created_at__gte=start, created_at__lt=end)
    if filters.touchpoints:
        chosen = set(filters.touchpoints)
        condition = Q(touchpoint_id__in=chosen - {NO_TOUCHPOINT})
        if NO_TOUCHPOINT in chosen:
            condition |= Q(touchpoint__isnull=True)
        cases = cases.filter(condition)
    return cases


def count_loop(filters: Filters, *, now: datetime) -> LoopCounts:
    """The loop's counts for the dashboard's filters, in four queries."""
    lowest = filters.survey.scale.categories[0].high
    cases = period_cases(filters)
    detractor = Q(opening_score__lte=lowest)
    resolved = detractor & Q(status=CaseStatus.RESOLVED)
    next_score = _next_score(
        contact=OuterRef("response__contact_id"),
        touchpoint=OuterRef("touchpoint_id"),
        after=OuterRef("resolved_at"),
    )
    totals = cases.annotate(next_score=next_score).aggregate(
        cases=Count("pk"),
        open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        overdue=Count("pk", filter=overdue_condition(now)),
        detractor_cases=Count("pk", filter=detractor),
        contacted_in_time=Count("pk", filter=detractor & Q(first_response_at__lte=F("due_at"))),
        resolved_detractors=Count("pk", filter=resolved),
        resolved_answered_again=Count("pk", filter=resolved & Q(next_score__isnull=False)),
        resolved_recovered=Count("pk", filter=resolved & Q(next_score__gt=lowest)),
        rechecks_answered=Count("pk", filter=Q(recheck__answered_at__isnull=False)),
        rechecks_solved=Count("pk", filter=Q(recheck__solved=True)),
    )
    uncontacted = _uncontacted_detractors(filters, lowest).aggregate(
        uncontacted_detractors=Count("pk"),
        uncontacted_answered_again=Count("pk", filter=Q(next_score__isnull=False)),
        uncontacted_recovered=Count("pk", filter=Q(next_score__gt=lowest)),
    )
    return LoopCounts(
        **totals,
        **uncontacted,
        first_response=_durations(cases, "first_response_at"),
        resolution=_durations(cases, "resolved_at"),
    )


def _next_score(*, contact, touchpoint, after) -> Subquery:
    """The score of the contact's first answer at the touchpoint after a moment."""
    later = Response.objects.filter(contact_id=contact, touchpoint_id=touchpoint, created_at__gt=after)
    return Subquery(later.order_by("created_at", "pk").values("score")[:1])


def _uncontacted_detractors(filters: Filters, lowest: int) -> QuerySet:
    """The period's detractor answers of known contacts at a touchpoint that nobody answered: no
    case, or a case without a first response; each with the score of the contact's next answer."""
    start, end = filters.bounds()
    answers = (
        Response.objects.filter(survey=filters.survey, score__lte=lowest)
        .in_period(start, end)
        .at_touchpoints(filters.touchpoints)
        .filter(contact__isnull=False, touchpoint__isnull=False)
        .filter(Q(case__isnull=True) | Q(case__first_response_at__isnull=True))
    )
    return answers.annotate(
        next_score=_next_score(
            contact=OuterRef("contact_id"), touchpoint=OuterRef("touchpoint_id"), after=OuterRef("created_at")
        )
    )


def _durations(cases: CaseQuerySet, end: str) -> Counter:
    """How long the cases took from opening to ``end`` (a moment's field), counted by duration."""
    took = ExpressionWrapper(F(end) - F("created_at"), output_field=DurationField())
    rows = cases.filter(**{f"{end}__isnull": False}).annotate(took=took).values_list("took")
    return Counter(dict(rows.annotate(n=Count("pk")).order_by()))
