"""The complete data of one dashboard: what the page shows and ``/api/v1/metrics/`` serves.

The headline, the previous period, the series and the touchpoints come from one grouped
query (``feedback.counts.panels``), a breakdown by property from one more, the breakdown by
tag from another; the statistics come from ``feedback.metrics``. Unless asked for one, the
interval is chosen from one more count, of answers per day. Nothing here loops over responses.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connections
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from feedback import counts
from feedback.counts import INTERVALS, Filters, bucket_start, bucket_starts, next_bucket
from feedback.metrics import SMALL_SAMPLE, Change, Summary, compare, summarise
from feedback.models import SurveyVisit
from surveys.access import AnyUser
from surveys.models import NO_TOUCHPOINT, DailyScore, Invitation, Response, Survey, Touchpoint
from surveys.properties import property_condition
from surveys.stats import response_rate

LATEST_VERBATIMS = 10
NOT_SET = None  # the segment of responses without the property broken down by


# The shortest period each interval is offered for: a chart of one or two buckets shows no trend.
SHORTEST_PERIOD_DAYS = {"day": 1, "week": 14, "month": 60, "quarter": 180}


@dataclass(frozen=True)
class IntervalChoice:
    """The series' interval and why: ``reason`` is CHOSEN (in the filters), ENOUGH (the shortest
    interval most of whose buckets hold SMALL_SAMPLE answers or more), LONGEST (none does: the
    longest the period allows) or NO_DATA. ``full`` of ``counted`` buckets hold enough answers;
    counted are the finished buckets wholly in the period, or all if there are none such."""

    CHOSEN = "chosen"
    ENOUGH = "enough"
    LONGEST = "longest"
    NO_DATA = "no data"

    interval: str
    reason: str
    full: int = 0
    counted: int = 0


def pick_interval(daily: Mapping[date, int], *, since: date, until: date, today: date) -> IntervalChoice:
    """The shortest of day, week, month and quarter (as long as the period spans two of them) for
    which most buckets hold SMALL_SAMPLE answers or more, from the answers per day; else the
    longest. Without answers: days for periods under 45 days, else weeks."""
    days = (until - since).days + 1
    if not any(daily.values()):
        return IntervalChoice("day" if days < 45 else "week", IntervalChoice.NO_DATA)
    choice = IntervalChoice("day", IntervalChoice.LONGEST)
    for interval in INTERVALS:
        if days < SHORTEST_PERIOD_DAYS[interval]:
            break
        full, counted = _full_buckets(daily, since=since, until=until, today=today, interval=interval)
        if 2 * full > counted:
            return IntervalChoice(interval, IntervalChoice.ENOUGH, full, counted)
        choice = IntervalChoice(interval, IntervalChoice.LONGEST, full, counted)
    return choice


def _full_buckets(
    daily: Mapping[date, int], *, since: date, until: date, today: date, interval: str
) -> tuple[int, int]:
    """(buckets with SMALL_SAMPLE answers or more, buckets counted): the finished buckets that lie
    wholly in the period, as partial ones at its edges and the running one hold fewer by design;
    all buckets where none is such."""
    totals: Counter = Counter()
    for day, n in daily.items():
        totals[bucket_start(day, interval)] += n
    starts = bucket_starts(since, until, interval)
    whole = [
        start
        for start in starts
        if start >= since and next_bucket(start, interval) <= min(today, until + timedelta(days=1))
    ]
    counted = whole or starts
    return sum(1 for start in counted if totals[start] >= SMALL_SAMPLE), len(counted)


@dataclass(frozen=True)
class Bucket:
    start: date
    summary: Summary


@dataclass(frozen=True)
class Segment:
    """One row of a breakdown: a touchpoint, a property value, NOT_SET, or a tag (by its id)."""

    key: object
    label: str
    summary: Summary
    share: float  # of all responses in the period
    difference: float | None  # from the overall value
    pull: float  # share × difference: how much this segment moves the total


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    interval: str
    interval_choice: IntervalChoice
    today: date  # the running bucket, if the period reaches it, is unfinished
    summary: Summary
    previous: Summary
    change: Change
    response_rate: float | None
    response_rate_ignores: tuple[str, ...]  # filters the rate cannot follow: "tags"
    histogram: Counter
    series: list[Bucket]
    by_touchpoint: list[Segment]
    by_property: list[Segment]
    breakdown_property: str
    by_tag: list[Segment]  # an answer with two tags counts in both: the shares add up to more
    by_theme: list[Segment]  # likewise for themes
    latest_verbatims: list[Response]


def build_dashboard(
    filters: Filters,
    *,
    interval: str | None = None,
    today: date | None = None,
    breakdown_property: str = "",
    breakdown_tags: bool = False,
    breakdown_themes: bool = False,
) -> Dashboard:
    """The dashboard for these filters, by ``interval`` or, if None, by the one ``pick_interval``
    chooses from the answers per day."""
    kind = filters.survey.kind
    today = today or timezone.localdate()
    if interval:
        choice = IntervalChoice(interval, IntervalChoice.CHOSEN)
    else:
        choice = pick_interval(
            counts.daily_counts(filters), since=filters.since, until=filters.until, today=today
        )
    interval = choice.interval
    counted = counts.panels(filters, interval)
    histogram = counted.histogram
    summary = summarise(kind, histogram)
    previous = summarise(kind, counted.previous)
    series = [
        Bucket(start=start, summary=summarise(kind, bucket)) for start, bucket in counted.over_time.items()
    ]
    return Dashboard(
        filters=filters,
        interval=interval,
        interval_choice=choice,
        today=today,
        summary=summary,
        previous=previous,
        change=compare(summary, previous),
        response_rate=period_response_rate(filters),
        response_rate_ignores=(
            *(("tags",) if filters.tags else ()),
            *(("themes",) if filters.themes else ()),
        ),
        histogram=histogram,
        series=series,
        by_touchpoint=_segments(kind, summary, counted.by_touchpoint, _touchpoint_names()),
        by_property=_segments(kind, summary, _property_groups(filters, breakdown_property, histogram), {})
        if breakdown_property
        else [],
        breakdown_property=breakdown_property,
        by_tag=_overlapping_segments(kind, summary, counts.histograms_by_tag(filters))
        if breakdown_tags
        else [],
        by_theme=_overlapping_segments(kind, summary, counts.histograms_by_theme(filters))
        if breakdown_themes
        else [],
        latest_verbatims=_latest_verbatims(filters),
    )


def _property_groups(filters: Filters, name: str, histogram: Counter) -> dict:
    """The histograms by the property's value, and under NOT_SET those of responses without it,
    so that the segments add up to all responses."""
    groups: dict[str | None, Counter] = dict(counts.histograms_by_property(filters, name).items())
    not_set = histogram - sum(groups.values(), Counter())
    if not_set:
        groups[NOT_SET] = not_set
    return groups


def _overlapping_segments(
    kind: str, overall: Summary, groups: dict[tuple[int, str], Counter]
) -> list[Segment]:
    """The segments of tags or themes, by (id, name); each one's share is of all responses, as an
    answer may be in several."""
    labels = {key: name for key, name in groups}
    return _segments(
        kind, overall, {key: histogram for (key, _), histogram in groups.items()}, labels, total=overall.n
    )


def _segments(
    kind: str, overall: Summary, groups: dict, labels: dict, total: int | None = None
) -> list[Segment]:
    """Segments sorted by how much each pulls the total down: the biggest problem first. Shares are
    of ``total``, by default the sum of the groups (which then must not overlap)."""
    if total is None:
        total = sum(sum(histogram.values()) for histogram in groups.values())
    segments = []
    for key, histogram in groups.items():
        summary = summarise(kind, histogram)
        share = summary.n / total if total else 0.0
        difference = (
            summary.value - overall.value if summary.value is not None and overall.value is not None else None
        )
        segments.append(
            Segment(
                key=key,
                label=labels.get(key, str(key)),
                summary=summary,
                share=share,
                difference=difference,
                pull=share * difference if difference is not None else 0.0,
            )
        )
    return sorted(segments, key=lambda segment: (segment.pull, -segment.summary.n, segment.label))


def _touchpoint_names() -> dict[int, str]:
    names = dict(Touchpoint.objects.values_list("pk", "name"))
    names[NO_TOUCHPOINT] = "—"
    return names


def period_response_rate(filters: Filters) -> float | None:
    """Answered among the period's invitations that reached the contact (sent minus bounced), at
    the filters' touchpoints and with their properties as the invitation knows them: the event's,
    else the contact's. Tags are not known before the answer: the rate ignores them. None when
    no invitation was delivered."""
    start, end = filters.bounds()
    invitations = Invitation.objects.filter(survey=filters.survey, created_at__gte=start, created_at__lt=end)
    if filters.touchpoints:
        invitations = invitations.filter(touchpoint__in=filters.touchpoints)
    vendor = connections[invitations.db].vendor
    for name, value in filters.properties:
        invitations = invitations.filter(
            property_condition(name, value, event="properties", contact="contact__properties", vendor=vendor)
        )
    funnel = invitations.aggregate(
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        bounced=Count("pk", filter=Q(status=Invitation.Status.BOUNCED)),
        answered=Count("pk", filter=Q(answered_at__isnull=False, sent_at__isnull=False)),
    )
    return response_rate(funnel["answered"], funnel["sent"], funnel["bounced"])


def _latest_verbatims(filters: Filters) -> list[Response]:
    """The newest comments, detractors (the lowest category) first."""
    scale = filters.survey.scale
    lowest = scale.categories[0]
    comments = (
        counts.matching_responses(filters)
        .with_comment()
        .select_related("touchpoint")
        .only("public_id", "score", "comment", "created_at", "language", "touchpoint__name", "kind")
    )
    worst = list(comments.filter(score__lte=lowest.high).order_by("-created_at")[:LATEST_VERBATIMS])
    rest = comments.filter(score__gt=lowest.high).order_by("-created_at")[: LATEST_VERBATIMS - len(worst)]
    return worst + list(rest)


def default_survey(user: AnyUser, surveys: QuerySet[Survey], *, since: date, until: date) -> Survey | None:
    """Of ``surveys``, the one the user opened the dashboard on most often; if none, the one with
    the most answers from ``since`` to ``until``; then active ones, then by name. One query."""
    # An anonymous user (no id) has no visits: no user has the id 0.
    visits = SurveyVisit.objects.filter(user_id=user.pk or 0, survey=OuterRef("pk")).values("visits")
    answers = (
        DailyScore.objects.filter(survey=OuterRef("pk"), day__range=(since, until))
        .order_by()
        .values("survey")
        .annotate(n=Sum("responses"))
        .values("n")
    )
    return (
        surveys.annotate(visits=Coalesce(Subquery(visits), 0), answers=Coalesce(Subquery(answers), 0))
        .order_by("-visits", "-answers", "-active", "name")
        .first()
    )
