"""Each theme's figures over what the dashboard's filters select: how many comments have it, its
metric with interval, what it costs (``insights.impact``) and whether it rises against the
previous period. Counted in the database, from the answers' themes; arithmetic in Python.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from math import sqrt

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from feedback.counts import Filters, bucket_start, bucket_starts, matching_responses
from feedback.metrics import Z_95, Summary, summarise
from insights.impact import Impact, theme_impact
from insights.models import ResponseTheme, Theme


@dataclass(frozen=True)
class Share:
    """A theme's comments among all comments, in %; None without comments."""

    comments: int
    of: int

    @property
    def value(self) -> float | None:
        return 100 * self.comments / self.of if self.of else None


@dataclass(frozen=True)
class ThemeFigures:
    theme: Theme
    share: Share
    previous: Share  # the same over the period of equal length before
    summary: Summary  # the metric over the theme's answers
    impact: Impact

    @property
    def z(self) -> float | None:
        """The two-proportion z-score of the share against the previous period's (positive when it
        rose); None when either period has no comments or both shares are 0 or 100 %."""
        now, before = self.share, self.previous
        if not now.of or not before.of:
            return None
        pooled = (now.comments + before.comments) / (now.of + before.of)
        se = sqrt(pooled * (1 - pooled) * (1 / now.of + 1 / before.of))
        if not se:
            return None
        return (now.comments / now.of - before.comments / before.of) / se

    @property
    def change(self) -> int:
        """+1 if the share rose significantly (``z`` above 1.96), −1 if it fell, else 0."""
        z = self.z
        return 0 if z is None else 1 if z > Z_95 else -1 if z < -Z_95 else 0


def theme_figures(filters: Filters) -> list[ThemeFigures]:
    """Every theme's figures, the costliest first (then by name); themes without answers in the
    period too, so that a theme that vanished still shows. Without themes, nothing else is counted."""
    themes = list(Theme.objects.order_by("name"))
    if not themes:
        return []
    kind = filters.survey.kind
    now, before = _counted(filters), _counted(filters.previous())
    answers = matching_responses(filters).count()
    figures = [
        ThemeFigures(
            theme=theme,
            share=Share(sum(now.histograms[theme.pk].values()), now.comments),
            previous=Share(sum(before.histograms[theme.pk].values()), before.comments),
            summary=summarise(kind, now.histograms[theme.pk]),
            impact=theme_impact(kind, now.histograms[theme.pk], answers),
        )
        for theme in themes
    ]
    return sorted(figures, key=lambda row: -(row.impact.value or 0))


@dataclass(frozen=True)
class _Counts:
    comments: int
    histograms: dict[int, Counter]  # theme id → its answers by score


def _counted(filters: Filters) -> _Counts:
    responses = matching_responses(filters)
    histograms: dict[int, Counter] = defaultdict(Counter)
    rows = ResponseTheme.objects.filter(response__in=responses.values("pk"))
    for theme, score, n in rows.values_list("theme_id", "response__score").annotate(n=Count("pk")).order_by():
        histograms[theme][score] += n
    return _Counts(comments=responses.exclude(comment_ngrams=[]).count(), histograms=histograms)


def theme_trends(filters: Filters, themes: list[Theme]) -> dict[int, list[float | None]]:
    """Each theme's share of the comments (in %) in every week that the period touches, oldest
    first; None for a week without comments. Two counts by local day, whichever the themes."""
    weeks = bucket_starts(filters.since, filters.until, "week")
    responses = matching_responses(filters).exclude(comment_ngrams=[])
    day = TruncDate("created_at", tzinfo=timezone.get_current_timezone())
    comments: Counter = Counter()
    for local_day, n in responses.annotate(day=day).values_list("day").annotate(n=Count("pk")).order_by():
        comments[bucket_start(local_day, "week")] += n
    themed: dict[int, Counter] = defaultdict(Counter)
    rows = ResponseTheme.objects.filter(response__in=responses.values("pk")).annotate(
        day=TruncDate("response__created_at", tzinfo=timezone.get_current_timezone())
    )
    for theme, local_day, n in rows.values_list("theme_id", "day").annotate(n=Count("pk")).order_by():
        themed[theme][bucket_start(local_day, "week")] += n
    return {
        theme.pk: [
            100 * themed[theme.pk][week] / comments[week] if comments[week] else None for week in weeks
        ]
        for theme in themes
    }


def _share(themed: int, comments: int) -> float | None:
    return Share(themed, comments).value
