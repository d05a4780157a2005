"""How many responses gave each score, by period, bucket, touchpoint or property.

Every number on the dashboards and in the metrics API starts here, as score
histograms; ``feedback.metrics`` turns histograms into NPS, CSAT and CES. Counting
happens in the database, one grouped query per question. Without property filters
the daily tally (``DailyScore``, a few thousand rows) is counted; a property filter
or breakdown needs the responses themselves.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Trunc, TruncMonth, TruncWeek
from django.utils import timezone

from surveys.models import DailyScore, Response, Survey

INTERVALS = ("day", "week", "month")
NO_TOUCHPOINT = 0  # answers by link or widget


@dataclass(frozen=True)
class Filters:
    """What the dashboard's filters select: one survey, local days from ``since`` to ``until``."""

    survey: Survey
    since: date
    until: date
    touchpoints: tuple[int, ...] = ()  # touchpoint ids; NO_TOUCHPOINT for link and widget answers
    properties: tuple[tuple[str, str], ...] = ()  # (name, value): contact or event property

    def previous(self) -> "Filters":
        """The period of equal length just before this one."""
        days = (self.until - self.since).days + 1
        return Filters(
            survey=self.survey,
            since=self.since - timedelta(days=days),
            until=self.since - timedelta(days=1),
            touchpoints=self.touchpoints,
            properties=self.properties,
        )


Histogram = Counter  # score → responses


def histogram(filters: Filters) -> Histogram:
    """Responses per score over the whole period."""
    rows = _grouped(filters, by=None)
    return Counter({score: count for _, score, count in rows})


def histograms_over_time(filters: Filters, interval: str) -> dict[date, Histogram]:
    """Responses per score for each day, week (from Monday) or month, by the bucket's first day."""
    buckets: dict[date, Histogram] = defaultdict(Counter)
    for start, score, count in _grouped(filters, by=interval):
        buckets[start][score] += count
    return dict(sorted(buckets.items()))


def histograms_by_touchpoint(filters: Filters) -> dict[int, Histogram]:
    groups: dict[int, Histogram] = defaultdict(Counter)
    for touchpoint, score, count in _grouped(filters, by="touchpoint"):
        groups[touchpoint][score] += count
    return dict(groups)


def histograms_by_property(filters: Filters, name: str) -> dict[str, Histogram]:
    """Responses per score for each value of a contact or event property (the event's wins)."""
    groups: dict[str, Histogram] = defaultdict(Counter)
    rows = (
        matching_responses(filters)
        .values_list(f"contact_properties__{name}", f"event_properties__{name}", "score")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for contact_value, event_value, score, count in rows:
        value = event_value if event_value is not None else contact_value
        if value is not None:
            groups[str(value)][score] += count
    return dict(groups)


def _grouped(filters: Filters, *, by: str | None) -> list[tuple]:
    """(group, score, count) rows from the tally, or from the responses if properties filter."""
    if filters.properties:
        return _from_responses(filters, by=by)
    return _from_tally(filters, by=by)


def _from_tally(filters: Filters, *, by: str | None) -> list[tuple]:
    rows = DailyScore.objects.filter(survey=filters.survey, day__range=(filters.since, filters.until))
    if filters.touchpoints:
        rows = rows.filter(touchpoint_key__in=filters.touchpoints)
    group = {
        None: None,
        "day": F("day"),
        "week": TruncWeek("day"),
        "month": TruncMonth("day"),
        "touchpoint": F("touchpoint_key"),
    }[by]
    return [row for row in _count(rows, group, Sum("responses")) if row[2]]


def _from_responses(filters: Filters, *, by: str | None) -> list[tuple]:
    zone = timezone.get_current_timezone()
    group = {
        None: None,
        "day": Trunc("created_at", "day", tzinfo=zone),
        "week": Trunc("created_at", "week", tzinfo=zone),
        "month": Trunc("created_at", "month", tzinfo=zone),
        "touchpoint": F("touchpoint_id"),
    }[by]
    rows = _count(matching_responses(filters), group, Count("pk"))
    if by == "touchpoint":
        return [(group or NO_TOUCHPOINT, score, count) for group, score, count in rows]
    return rows


def _count(rows, group, count) -> list[tuple]:
    """(group, score, count) for each group and score; the group is None when nothing groups."""
    if group is None:
        return [(None, score, n) for score, n in rows.values_list("score").annotate(n=count).order_by()]
    counted = rows.annotate(group=group).values_list("group", "score").annotate(n=count).order_by()
    return [(_as_date(value), score, n) for value, score, n in counted]


def matching_responses(filters: Filters):
    """The responses the filters select (for breakdowns by property, verbatims, exports)."""
    zone = timezone.get_current_timezone()
    start = datetime.combine(filters.since, time.min, zone)
    end = datetime.combine(filters.until + timedelta(days=1), time.min, zone)
    responses = Response.objects.filter(survey=filters.survey, created_at__gte=start, created_at__lt=end)
    if filters.touchpoints:
        wanted = [touchpoint for touchpoint in filters.touchpoints if touchpoint != NO_TOUCHPOINT]
        condition = Q(touchpoint_id__in=wanted)
        if NO_TOUCHPOINT in filters.touchpoints:
            condition |= Q(touchpoint__isnull=True)
        responses = responses.filter(condition)
    for name, value in filters.properties:
        # The event's property wins over the contact's of the same name, as in the breakdown.
        responses = responses.filter(
            Q(**{f"event_properties__{name}": value})
            | (Q(**{f"event_properties__{name}__isnull": True}) & Q(**{f"contact_properties__{name}": value}))
        )
    return responses


def _as_date(value):
    """Bucket starts come back as dates or (for responses) aware datetimes; touchpoints as ints."""
    if isinstance(value, datetime):
        return timezone.localtime(value).date()
    return value
