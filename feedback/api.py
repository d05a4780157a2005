"""``GET /api/v1/metrics/``: the dashboard's numbers for programs, with the dashboard's filters.

Query parameters: ``survey`` (id), ``touchpoint`` (id, repeatable; 0 for link and widget
answers), ``since`` and ``until`` (local dates, inclusive; the last 30 days by default),
``interval`` (``day``, ``week`` or ``month``) and ``property.<name>=<value>``.
"""

from django.core.exceptions import NON_FIELD_ERRORS
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from feedback.dashboard import build_dashboard
from feedback.forms import RANGES, DashboardFilterForm
from feedback.metrics import Summary

METRICS_EXAMPLE = {
    "survey": 1,
    "kind": "nps",
    "since": "2026-10-25",
    "until": "2026-11-23",
    "interval": "week",
    "responses": 412,
    "promoters": 198,
    "passives": 121,
    "detractors": 93,
    "nps": 25.5,
    "ci95": [18.4, 32.4],
    "small_sample": False,
    "previous": {
        "since": "2026-09-25",
        "until": "2026-10-24",
        "responses": 388,
        "nps": 19.1,
        "ci95": [11.7, 26.4],
    },
    "change": 6.4,
    "change_significant": False,
    "response_rate": 0.231,
    "series": [
        {
            "start": "2026-10-20",
            "responses": 61,
            "promoters": 30,
            "passives": 17,
            "detractors": 14,
            "nps": 26.2,
        }
    ],
}


@extend_schema(
    summary="The dashboard's numbers",
    description=(
        "NPS, CSAT % or CES mean with its 95 % interval, the categories, the previous period and "
        "the change with its significance, the response rate, and one entry per day, week or month. "
        "The metric and its interval are null when there are no responses. CSAT answers have "
        "satisfied/neutral/dissatisfied and mean, CES answers easy/neutral/difficult and easy_share."
    ),
    parameters=[
        OpenApiParameter("survey", int, description="A survey's id; the first active survey by default."),
        OpenApiParameter(
            "touchpoint", int, many=True, description="Touchpoint ids; 0 for link and widget answers."
        ),
        OpenApiParameter(
            "range", str, enum=list(RANGES), description="A preset period instead of since/until."
        ),
        OpenApiParameter(
            "since", OpenApiTypes.DATE, description="First local day; 30 days before until by default."
        ),
        OpenApiParameter(
            "until", OpenApiTypes.DATE, description="Last local day (inclusive); today by default."
        ),
        OpenApiParameter("interval", str, enum=["day", "week", "month"]),
        OpenApiParameter(
            "property.<name>", str, description="e.g. property.plan=pro; the event's property wins."
        ),
    ],
    responses={200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("NPS", METRICS_EXAMPLE)])},
    tags=["metrics"],
)
@api_view(["GET"])
def metrics(request: Request) -> ApiResponse:
    form = DashboardFilterForm(request.query_params)
    if not form.is_valid():
        raise exceptions.ValidationError(
            {
                "non_field_errors" if field == NON_FIELD_ERRORS else field: list(errors)
                for field, errors in form.errors.items()
            }
        )
    filters = form.filters()
    dashboard = build_dashboard(filters, interval=form.cleaned_data["interval"])
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
    figures = {"responses": summary.n, **{f"{code}{plural}": count for code, count in summary.categories}}
    figures[summary.kind] = summary.value
    figures["ci95"] = list(summary.interval) if summary.interval else None
    if summary.kind == "csat":
        figures["mean"] = summary.mean
    if summary.kind == "ces":
        figures["easy_share"] = summary.easy_share
    figures["small_sample"] = summary.small_sample
    return figures
