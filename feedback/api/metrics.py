"""``GET /api/v1/metrics/``: the dashboard's numbers for programs, with the dashboard's filters.

Query parameters: ``survey`` (id), ``touchpoint`` (id, repeatable; 0 for link and widget
answers), ``since`` and ``until`` (local dates, inclusive; the last 30 days by default),
``interval`` (``day``, ``week``, ``month`` or ``quarter``; by default the dashboard's choice),
``property.<name>=<value>`` and ``tag`` (a tag's name, repeatable: answers carrying any of them).
The survey, interval and figures are the dashboard's for the same filters.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from cxsurvey.routers import replica_reads
from feedback.dashboard import build_dashboard
from feedback.forms import RANGES, DashboardFilterForm
from feedback.metrics import Summary
from surveys.api.auth import ReadsResponses, TokenScope
from surveys.api.base import form_errors

METRICS_EXAMPLE = {
    "survey": 1,
    "kind": "nps",
    "since": "2026-11-09",
    "until": "2026-11-22",
    "interval": "week",
    "responses": 205,
    "detractors": 47,
    "passives": 61,
    "promoters": 97,
    "nps": 24.390243902439025,
    "ci95": [13.151615359697333, 34.92530771722574],
    "small_sample": False,
    "previous": {
        "since": "2026-10-26",
        "until": "2026-11-08",
        "responses": 204,
        "detractors": 53,
        "passives": 63,
        "promoters": 88,
        "nps": 17.15686274509804,
        "ci95": [5.842416563211763, 27.97400855756119],
        "small_sample": False,
    },
    "change": 7.233381157340986,
    "change_significant": False,
    "response_rate": 0.23076923076923078,
    "series": [
        {
            "start": "2026-11-09",
            "responses": 102,
            "detractors": 22,
            "passives": 28,
            "promoters": 52,
            "nps": 29.41176470588235,
            "ci95": [13.300250198791804, 43.84260694406533],
            "small_sample": False,
        },
        {
            "start": "2026-11-16",
            "responses": 103,
            "detractors": 25,
            "passives": 33,
            "promoters": 45,
            "nps": 19.41747572815534,
            "ci95": [3.650917187426356, 34.08493186917742],
            "small_sample": False,
        },
    ],
}


# The dashboard's filters, as every API that reads answers by them takes them.
FILTER_PARAMETERS = [
    OpenApiParameter(
        "survey",
        int,
        description="A survey's id; by default the one the token's user opens the dashboard on most, "
        "else the one with the most answers in the period.",
    ),
    OpenApiParameter(
        "touchpoint", int, many=True, description="Touchpoint ids; 0 for link and widget answers."
    ),
    OpenApiParameter("range", str, enum=list(RANGES), description="A preset period instead of since/until."),
    OpenApiParameter(
        "since", OpenApiTypes.DATE, description="First local day; 30 days before until by default."
    ),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Last local day (inclusive); today by default."),
    OpenApiParameter(
        "property.<name>",
        str,
        description="e.g. property.plan=pro; the event's property wins. A value that no answer "
        "of the survey has is refused (400).",
    ),
    OpenApiParameter(
        "tag", str, many=True, description="A tag's name, in any case; repeated: answers carrying any."
    ),
    OpenApiParameter(
        "theme", str, many=True, description="A theme's name; repeated: answers whose comment has any."
    ),
]


@extend_schema(
    summary="The dashboard's numbers",
    description=(
        "NPS, CSAT % or CES mean with its 95 % interval, the categories, the previous period and "
        "the change with its significance, the response rate, and one entry per day, week or month. "
        "The metric and its interval are null when there are no responses. CSAT answers have "
        "satisfied/neutral/dissatisfied and mean, CES answers easy/neutral/difficult and easy_share. "
        "Nothing is rounded."
    ),
    parameters=[
        *FILTER_PARAMETERS,
        OpenApiParameter(
            "interval",
            str,
            enum=["day", "week", "month", "quarter"],
            description="The series' buckets (weeks from Monday); by default the shortest of them "
            "most of whose whole, finished buckets hold 30 answers or more, as on the dashboard.",
        ),
    ],
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT, examples=[OpenApiExample("Two weeks of NPS", METRICS_EXAMPLE)]
        )
    },
)
@api_view(["GET"])
@permission_classes([TokenScope, ReadsResponses])
def metrics(request: Request) -> ApiResponse:
    form = DashboardFilterForm(request.query_params, user=request.user)
    if not form.is_valid():
        raise exceptions.ValidationError(form_errors(form))
    filters = form.filters()
    with replica_reads(request.user):
        dashboard = build_dashboard(filters, interval=form.cleaned_data["interval"] or None)
    change = dashboard.change
    return ApiResponse(
        {
            "survey": filters.survey.pk,
            "kind": filters.survey.kind,
            "since": filters.since,
            "until": filters.until,
            "interval": dashboard.interval,
            **summary_json(dashboard.summary),
            "previous": {
                "since": filters.previous().since,
                "until": filters.previous().until,
                **summary_json(dashboard.previous),
            },
            "change": change.delta,
            "change_significant": change.significant,
            "response_rate": dashboard.response_rate,
            "series": [
                {"start": bucket.start, **summary_json(bucket.summary)} for bucket in dashboard.series
            ],
        }
    )


def summary_json(summary: Summary) -> dict:
    """n, the categories, the metric (null without responses) and its 95 % interval."""
    # NPS counts people ("promoters"); CSAT and CES name answers ("satisfied", "easy").
    plural = "s" if summary.kind == "nps" else ""
    figures: dict[str, object] = {
        "responses": summary.n,
        **{f"{code}{plural}": count for code, count in summary.categories},
    }
    figures[summary.kind] = summary.value
    figures["ci95"] = list(summary.interval) if summary.interval else None
    if summary.kind == "csat":
        figures["mean"] = summary.mean
    if summary.kind == "ces":
        figures["easy_share"] = summary.easy_share
    figures["small_sample"] = summary.small_sample
    return figures
