"""The complete data of one dashboard: what the page shows and ``/api/v1/metrics/`` serves.

The headline, the previous period, the series and the touchpoints come from one grouped
query (``feedback.counts.panels``), a breakdown by property from one more, the breakdown by
tag from another; the statistics come from ``feedback.metrics``. Nothing here loops over
responses.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q

from feedback import counts
from feedback.counts import Filters
from feedback.metrics import Change, Summary, compare, summarise
from surveys.models import NO_TOUCHPOINT, Invitation, Response, Touchpoint
from surveys.stats import response_rate

LATEST_VERBATIMS = 10
NOT_SET = None  # the segment of responses without the property broken down by


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
    summary: Summary
    previous: Summary
    change: Change
    response_rate: float | None
    histogram: Counter
    series: list[Bucket]
    by_touchpoint: list[Segment]
    by_property: list[Segment]
    breakdown_property: str
    by_tag: list[Segment]  # an answer with two tags counts in both: the shares add up to more
    latest_verbatims: list[Response]


def build_dashboard(
    filters: Filters, *, interval: str, breakdown_property: str = "", breakdown_tags: bool = False
) -> Dashboard:
    kind = filters.survey.kind
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
        summary=summary,
        previous=previous,
        change=compare(summary, previous),
        response_rate=period_response_rate(filters),
        histogram=histogram,
        series=series,
        by_touchpoint=_segments(kind, summary, counted.by_touchpoint, _touchpoint_names()),
        by_property=_segments(kind, summary, _property_groups(filters, breakdown_property, histogram), {})
        if breakdown_property
        else [],
        breakdown_property=breakdown_property,
        by_tag=_tag_segments(kind, summary, filters) if breakdown_tags else [],
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


def _tag_segments(kind: str, overall: Summary, filters: Filters) -> list[Segment]:
    """The tags' segments; each one's share is of all responses, as groups may overlap."""
    groups = counts.histograms_by_tag(filters)
    labels = {tag: name for tag, name in groups}
    return _segments(
        kind, overall, {tag: histogram for (tag, _), histogram in groups.items()}, labels, total=overall.n
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
    """Answered among the period's invitations that reached the contact (sent minus bounced)."""
    start, end = filters.bounds()
    invitations = Invitation.objects.filter(survey=filters.survey, created_at__gte=start, created_at__lt=end)
    if filters.touchpoints:
        invitations = invitations.filter(touchpoint__in=filters.touchpoints)
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
