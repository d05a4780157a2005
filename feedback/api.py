"""``GET /api/v1/metrics/``: the dashboard's numbers for programs, with the dashboard's filters.

Query parameters: ``survey`` (id), ``touchpoint`` (id, repeatable; 0 for link and widget
answers), ``since`` and ``until`` (local dates, inclusive; the last 30 days by default),
``interval`` (``day``, ``week`` or ``month``) and ``property.<name>=<value>``.
"""

from django.core.exceptions import NON_FIELD_ERRORS
from rest_framework import exceptions
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from feedback.dashboard import build_dashboard
from feedback.forms import DashboardFilterForm
from feedback.metrics import Summary


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
