"""How many responses gave each score, by period, bucket, touchpoint or property.

Every number on the dashboards and in the metrics API starts here, as score
histograms; ``feedback.metrics`` turns histograms into NPS, CSAT and CES. Counting
happens in the database, one grouped query per question, from a daily tally wherever
one holds exactly the responses asked about: without property filters the tally of
scores (``DailyScore``, a few thousand rows); with a filter on one property, or a
breakdown by one and no filter on another, the tally of that property
(``PropertyScore``) if the survey keeps one (``Survey.dashboard_properties``). Anything
else, such as filters on two properties, counts the responses themselves.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Trunc, TruncMonth, TruncWeek
from django.utils import timezone

from surveys.models import NO_TOUCHPOINT, DailyScore, PropertyScore, Response, ResponseQuerySet, Survey
from surveys.properties import PropertyValue

INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class Filters:
    """What the dashboard's filters select: one survey, local days from ``since`` to ``until``."""

    survey: Survey
    since: date
    until: date
    touchpoints: tuple[int, ...] = ()  # touchpoint ids; NO_TOUCHPOINT for link and widget answers
    properties: tuple[tuple[str, str], ...] = ()  # (name, value): contact or event property

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as moments: the first day's start and the start of the day after the last."""
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.since, time.min, zone),
            datetime.combine(self.until + timedelta(days=1), time.min, zone),
        )

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
    """Responses per score for each value of a contact or event property (the event's wins).

    Only text values count (see ``Response.property_value``): numbers, true, false and null
    sent to the events API form no group.
    """
    rows = _property_tally(filters, name)
    if rows is None:
        # Responses without a value form a group of None, left out below: filtering them in SQL
        # would compute each response's value twice.
        rows = matching_responses(filters).annotate(value=PropertyValue(name))
        counted = rows.values_list("value", "score").annotate(n=Count("pk"))
    else:
        counted = rows.values_list("value", "score").annotate(n=Sum("responses"))
    groups: dict[str, Histogram] = defaultdict(Counter)
    for value, score, n in counted.order_by():
        if value is not None and n:
            groups[value][score] += n
    return dict(groups)


def _grouped(filters: Filters, *, by: str | None) -> list[tuple]:
    """(group, score, count) rows from a tally if one holds exactly the filtered responses."""
    rows = _tally(filters)
    if rows is None:
        return _from_responses(filters, by=by)
    return _from_tally(rows, by=by)


def _tally(filters: Filters) -> QuerySet | None:
    """The tally rows that count exactly the filtered responses, or None if no tally does."""
    if not filters.properties:
        return _within(DailyScore.objects.all(), filters)
    return _property_tally(filters, filters.properties[0][0])


def _property_tally(filters: Filters, name: str) -> QuerySet | None:
    """The rows of the survey's tally of ``name`` that the filters select; None if the survey
    does not tally ``name`` or another property filters (no tally holds two properties)."""
    if name not in filters.survey.dashboard_properties:
        return None
    if any(other != name for other, _ in filters.properties):
        return None
    rows = PropertyScore.objects.filter(name=name)
    for _, value in filters.properties:
        rows = rows.filter(value=value)
    return _within(rows, filters)


def _within(rows: QuerySet, filters: Filters) -> QuerySet:
    """Tally rows of the filters' survey, period and touchpoints."""
    rows = rows.filter(survey=filters.survey, day__range=(filters.since, filters.until))
    if filters.touchpoints:
        rows = rows.filter(touchpoint_key__in=filters.touchpoints)
    return rows


def _from_tally(rows: QuerySet, *, by: str | None) -> list[tuple]:
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


def matching_responses(filters: Filters) -> ResponseQuerySet:
    """The responses the filters select (for breakdowns by property, verbatims, exports)."""
    responses = Response.objects.filter(survey=filters.survey).in_period(*filters.bounds())
    responses = responses.at_touchpoints(filters.touchpoints)
    for name, value in filters.properties:
        responses = responses.with_property(name, value)
    return responses


def _as_date(value):
    """Bucket starts come back as dates or (for responses) aware datetimes; touchpoints as ints."""
    if isinstance(value, datetime):
        return timezone.localtime(value).date()
    return value
