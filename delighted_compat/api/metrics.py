"""``GET /metrics.json``: the project's score counts, percentages and score as Delighted gave them.

Delighted gave whole numbers: each category's share in % and the NPS, each rounded on its own
from the exact counts, halves away from zero (so the shares need not add up to 100). Without
``since`` and ``until`` the figures are those of the 30 days up to the newest answer. ``trend``
is the id of one of the survey's touchpoints. CSAT and CES projects get the same shape with their
own categories and score: CSAT the satisfied share, CES the mean score to one decimal. Without
answers the counts are 0 and the score and shares null: there is nothing to measure.
"""

from datetime import timedelta
from fractions import Fraction

from django.db.models import Count, Max
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from delighted_compat.api.base import MAX_ID, DelightedView, moment, whole
from feedback.metrics import summarise
from surveys.models import Response, Touchpoint

DEFAULT_PERIOD = timedelta(days=30)


def half_away(value: Fraction) -> int:
    """The nearest whole number, halves away from zero, as Delighted rounded."""
    nearest = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
    return nearest if value >= 0 else -nearest


def figures(kind: str, histogram: dict[int, int]) -> dict:
    """Delighted's metrics of one survey kind from its score counts."""
    summary = summarise(kind, histogram)
    n = summary.n
    shown: dict = {}
    for code, count in summary.categories[::-1]:  # Delighted named the best category first
        shown[f"{code}_count"] = count
        shown[f"{code}_percent"] = half_away(Fraction(100 * count, n)) if n else None
    score: float | None
    if kind == "nps":
        score = half_away(Fraction(100 * (summary.promoters - summary.detractors), n)) if n else None
    elif kind == "csat":
        score = shown["satisfied_percent"]
    else:
        total = sum(points * count for points, count in histogram.items())
        score = half_away(Fraction(10 * total, n)) / 10 if n else None
    return {kind: score, **shown, "response_count": n}


class Metrics(DelightedView):
    permissions = {"GET": ("surveys.view_response",)}

    def get(self, request: Request) -> ApiResponse:
        params = self.params(request)
        answers = Response.objects.filter(survey_id=self.project.survey_id)
        if (trend := whole(params, "trend", high=MAX_ID)) is not None:
            if not Touchpoint.objects.filter(pk=trend, survey_id=self.project.survey_id).exists():
                raise exceptions.NotFound(_("No trend (touchpoint) of this project has this id."))
            answers = answers.filter(touchpoint_id=trend)
        since, until = moment(params, "since"), moment(params, "until")
        if since is None and until is None:
            newest = answers.aggregate(newest=Max("created_at"))["newest"]
            if newest is not None:
                since, until = newest - DEFAULT_PERIOD, newest
        if since is not None:
            answers = answers.filter(created_at__gte=since)
        if until is not None:
            answers = answers.filter(created_at__lte=until)
        kind = self.project.touchpoint.survey.kind
        counts = answers.order_by().values_list("score").annotate(n=Count("pk"))
        return ApiResponse(figures(kind, dict(counts)))
