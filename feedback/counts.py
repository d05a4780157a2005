"""How many responses gave each score, by period, bucket, touchpoint or property.

Every number on the dashboards and in the metrics API starts here, as score
histograms; ``feedback.metrics`` turns histograms into NPS, CSAT and CES. Counting
happens in the database from a daily tally wherever one holds exactly the responses
asked about: without property filters the tally of scores (``DailyScore``, a few
thousand rows); with a filter on one property, or a breakdown by one and no filter on
another, the tally of that property (``PropertyScore``) if the survey keeps one
(``Survey.dashboard_properties``). Anything else, such as a property the survey does
not tally, filters on two properties or a filter on tags (no tally knows an answer's
tags), counts the responses themselves: a scan whose cost hardly depends on how it
groups, so the panels that share the filters (the period, the previous one, the
buckets, the touchpoints) come from one query.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db.models import Case, Count, DateField, Exists, F, OuterRef, Q, QuerySet, Sum, When
from django.db.models.functions import Cast, Coalesce, Trunc, TruncDate, TruncMonth, TruncQuarter, TruncWeek
from django.utils import timezone

from followup.models import ResponseTag
from insights.models import ResponseTheme
from surveys.models import NO_TOUCHPOINT, DailyScore, PropertyScore, Response, ResponseQuerySet, Survey
from surveys.properties import PropertyValue

INTERVALS = ("day", "week", "month", "quarter")


@dataclass(frozen=True)
class Filters:
    """What the dashboard's filters select: one survey, local days from ``since`` to ``until``."""

    survey: Survey
    since: date
    until: date
    touchpoints: tuple[int, ...] = ()  # touchpoint ids; NO_TOUCHPOINT for link and widget answers
    properties: tuple[tuple[str, str], ...] = ()  # (name, value): contact or event property
    tags: tuple[int, ...] = ()  # tag ids: answers carrying any of them
    themes: tuple[int, ...] = ()  # theme ids: answers whose comment has any of them

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
        return replace(self, since=self.since - timedelta(days=days), until=self.since - timedelta(days=1))


Histogram = Counter  # score → responses


def bucket_start(day: date, interval: str) -> date:
    """The first day of the day, ISO week (Monday), month or quarter that ``day`` falls in."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def next_bucket(start: date, interval: str) -> date:
    """The first day of the bucket after the one starting on ``start``."""
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(weeks=1)
    months = start.month - 1 + (3 if interval == "quarter" else 1)
    return date(start.year + months // 12, months % 12 + 1, 1)


def bucket_starts(since: date, until: date, interval: str) -> list[date]:
    """The first day of every bucket that the period touches, in order."""
    starts, start = [], bucket_start(since, interval)
    while start <= until:
        starts.append(start)
        start = next_bucket(start, interval)
    return starts


@dataclass(frozen=True)
class Panels:
    """The score histograms a dashboard shows for one set of filters."""

    histogram: Histogram  # the whole period
    previous: Histogram  # the period of equal length just before it
    over_time: dict[date, Histogram]  # each day, week, month or quarter by its first day, in order
    by_touchpoint: dict[int, Histogram]  # NO_TOUCHPOINT for link and widget answers


def panels(filters: Filters, interval: str) -> Panels:
    """The period's histograms, overall, for each day, week (from Monday), month or quarter and for each
    touchpoint, and the previous period's, all from one grouped query over both periods.

    Buckets and touchpoints without responses are left out; with none at all every histogram
    is empty.
    """
    histogram: Histogram = Counter()
    previous: Histogram = Counter()
    over_time: dict[date, Histogram] = defaultdict(Counter)
    by_touchpoint: dict[int, Histogram] = defaultdict(Counter)
    for bucket, touchpoint, score, count in _grouped(filters, interval):
        if bucket is None:
            previous[score] += count
            continue
        histogram[score] += count
        over_time[bucket][score] += count
        by_touchpoint[touchpoint][score] += count
    return Panels(
        histogram=histogram,
        previous=previous,
        over_time=dict(sorted(over_time.items())),
        by_touchpoint=dict(by_touchpoint),
    )


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


def _grouped(filters: Filters, interval: str) -> list[tuple]:
    """(bucket, touchpoint, score, count) rows over the period and the previous one, from a tally
    if one holds exactly the filtered responses; the bucket is None in the previous period."""
    rows = _tally(_with_previous(filters))
    if rows is None:
        return _from_responses(filters, interval)
    return _from_tally(rows, filters, interval)


def daily_counts(filters: Filters) -> dict[date, int]:
    """Responses the filters select on each local day of the period that has any: what the
    dashboard's choice of interval goes by. One grouped query, from a tally where one holds
    exactly the filtered responses."""
    rows = _tally(filters)
    if rows is None:
        day = TruncDate("created_at", tzinfo=timezone.get_current_timezone())
        counted = matching_responses(filters).annotate(local_day=day).values_list("local_day")
        counted = counted.annotate(n=Count("pk"))
    else:
        counted = rows.values_list("day").annotate(n=Sum("responses"))
    return {day: n for day, n in counted.order_by() if n}


def _with_previous(filters: Filters) -> Filters:
    return replace(filters, since=filters.previous().since)


def _tally(filters: Filters) -> QuerySet | None:
    """The tally rows that count exactly the filtered responses, or None if no tally does."""
    if filters.tags or filters.themes:
        return None
    if not filters.properties:
        return _within(DailyScore.objects.all(), filters)
    return _property_tally(filters, filters.properties[0][0])


def _property_tally(filters: Filters, name: str) -> QuerySet | None:
    """The rows of the survey's tally of ``name`` that the filters select; None if the survey
    does not tally ``name``, another property filters (no tally holds two properties) or tags do."""
    if filters.tags or filters.themes or name not in filters.survey.dashboard_properties:
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


def _from_tally(rows: QuerySet, filters: Filters, interval: str) -> list[tuple]:
    """``_grouped``'s rows from tally rows of both periods."""
    bucket = {
        "day": F("day"),
        "week": TruncWeek("day"),
        "month": TruncMonth("day"),
        "quarter": TruncQuarter("day"),
    }[interval]
    counted = _count(rows, Q(day__gte=filters.since), bucket, F("touchpoint_key"), Sum("responses"))
    return [row for row in counted if row[3]]  # a count falls to 0 when its answers change score


def _from_responses(filters: Filters, interval: str) -> list[tuple]:
    """``_grouped``'s rows from the responses of both periods, read once."""
    start, _ = filters.bounds()
    bucket = Trunc("created_at", interval, tzinfo=timezone.get_current_timezone())
    responses = matching_responses(_with_previous(filters))
    touchpoint = Coalesce("touchpoint_id", NO_TOUCHPOINT)
    return _count(responses, Q(created_at__gte=start), bucket, touchpoint, Count("pk"))


def _count(rows: QuerySet, current: Q, bucket, touchpoint, count) -> list[tuple]:
    """(bucket, touchpoint, score, count) for each group: the bucket's first day where
    ``current`` holds, else None, so that the previous period adds one group per touchpoint
    and score however many buckets it spans."""
    day = Case(When(current, then=Cast(bucket, DateField())), output_field=DateField())
    counted = rows.annotate(bucket=day, point=touchpoint).values_list("bucket", "point", "score")
    return list(counted.annotate(n=count).order_by())


def matching_responses(filters: Filters) -> ResponseQuerySet:
    """The responses the filters select (for breakdowns by property, verbatims, exports)."""
    responses = Response.objects.filter(survey=filters.survey).in_period(*filters.bounds())
    responses = responses.at_touchpoints(filters.touchpoints)
    for name, value in filters.properties:
        responses = responses.with_property(name, value)
    return with_themes(with_tags(responses, filters.tags), filters.themes)


def with_tags(responses: ResponseQuerySet, tags: tuple[int, ...]) -> ResponseQuerySet:
    """The responses carrying any of these tags (ids), each once; no tags: no filter."""
    if not tags:
        return responses
    return responses.filter(Exists(ResponseTag.objects.filter(response=OuterRef("pk"), tag__in=tags)))


def with_themes(responses: ResponseQuerySet, themes: tuple[int, ...]) -> ResponseQuerySet:
    """The responses whose comment has any of these themes (ids), each once; no themes: no filter."""
    if not themes:
        return responses
    return responses.filter(Exists(ResponseTheme.objects.filter(response=OuterRef("pk"), theme__in=themes)))


def histograms_by_theme(filters: Filters) -> dict[tuple[int, str], Histogram]:
    """Responses per score for each theme that the filtered responses' comments have, by (id,
    name): an answer with two themes counts in both."""
    found = ResponseTheme.objects.filter(response__in=matching_responses(filters))
    counted = found.values_list("theme_id", "theme__name", "response__score").annotate(n=Count("pk"))
    groups: dict[tuple[int, str], Histogram] = defaultdict(Counter)
    for theme, name, score, n in counted.order_by():
        groups[theme, name][score] += n
    return dict(groups)


def histograms_by_tag(filters: Filters) -> dict[tuple[int, str], Histogram]:
    """Responses per score for each tag that the filtered responses carry, by (id, name): an
    answer with two tags counts in both."""
    taggings = ResponseTag.objects.filter(response__in=matching_responses(filters))
    counted = taggings.values_list("tag_id", "tag__name", "response__score").annotate(n=Count("pk"))
    groups: dict[tuple[int, str], Histogram] = defaultdict(Counter)
    for tag, name, score, n in counted.order_by():
        groups[tag, name][score] += n
    return dict(groups)
