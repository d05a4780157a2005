"""``GET /api/v1/insights/terms/``: the terms that set two groups of comments apart, as the
insights page shows them.

Query parameters: the metrics API's filters (``survey``, ``touchpoint``, ``range`` or ``since``
and ``until``, ``property.<name>``, ``tag``), ``language`` (``de`` or ``en``; any by default) and
``compare``: ``categories`` (the scale's lowest category against its highest: detractors against
promoters) or ``previous`` (the period against the one of equal length before it).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from cxsurvey.routers import replica_reads
from feedback.api.metrics import FILTER_PARAMETERS
from insights.counts import Group, TermCounts
from insights.forms import COMPARISONS, TermsQueryForm
from insights.logodds import TermScore
from insights.terms import compared
from surveys.api.auth import ReadsResponses, TokenScope
from surveys.api.base import form_errors

TERM_EXAMPLE = {
    "term": "spät",
    "z": 5.21,
    "delta": 2.48,
    "count_a": 31,
    "count_b": 2,
    "share_a": 25.8,
    "share_b": 1.4,
}
TERMS_EXAMPLE = {
    "survey": 1,
    "kind": "nps",
    "compare": "categories",
    "language": None,
    "a": {
        "since": "2026-11-09",
        "until": "2026-11-22",
        "categories": ["detractor"],
        "comments": 120,
        "terms": [TERM_EXAMPLE],
    },
    "b": {
        "since": "2026-11-09",
        "until": "2026-11-22",
        "categories": ["promoter"],
        "comments": 140,
        "terms": [
            {
                **TERM_EXAMPLE,
                "term": "freundlich",
                "z": -4.02,
                "delta": -1.75,
                "count_a": 3,
                "count_b": 38,
                "share_a": 2.5,
                "share_b": 27.1,
            }
        ],
    },
}


@extend_schema(
    summary="The terms that set two groups of comments apart",
    description=(
        "Words and two-word phrases of the comments (in their basic form, without stop words and "
        "personal data) typical of group a and of group b, by the log-odds ratio with an informative "
        "Dirichlet prior: z above 1.96 for a, below −1.96 for b, strongest first, at most 25 per "
        "group, each in at least 5 comments of both groups together. Counts are comments that use "
        "the term; shares are in % of the group's comments with terms. Nothing is rounded."
    ),
    parameters=[
        OpenApiParameter(
            "compare",
            str,
            enum=list(COMPARISONS),
            required=True,
            description="categories: the scale's lowest category (a) against its highest (b), e.g. "
            "detractors against promoters; previous: the period (a) against the one of equal length "
            "before it (b).",
        ),
        OpenApiParameter(
            "language", str, enum=["de", "en"], description="Only comments in this language; any by default."
        ),
        *FILTER_PARAMETERS,
    ],
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            examples=[OpenApiExample("Detractors against promoters", TERMS_EXAMPLE)],
        )
    },
)
@api_view(["GET"])
@permission_classes([TokenScope, ReadsResponses])
def terms(request: Request) -> ApiResponse:
    form = TermsQueryForm(request.query_params, user=request.user)
    if not form.is_valid():
        raise exceptions.ValidationError(form_errors(form))
    filters, language, compare = form.filters(), form.cleaned_data["language"], form.cleaned_data["compare"]
    with replica_reads(request.user):
        comparison = compared(filters, compare, language=language)
    return ApiResponse(
        {
            "survey": filters.survey.pk,
            "kind": filters.survey.kind,
            "compare": compare,
            "language": language or None,
            "a": _group(comparison.a, comparison.counts_a, comparison.terms.a),
            "b": _group(comparison.b, comparison.counts_b, comparison.terms.b),
        }
    )


def _group(group: Group, counts: TermCounts, scores: tuple[TermScore, ...]) -> dict:
    return {
        "since": group.filters.since,
        "until": group.filters.until,
        "categories": list(group.categories),
        "comments": counts.comments,
        "terms": [term_json(score) for score in scores],
    }


def term_json(score: TermScore) -> dict:
    return {
        "term": score.term,
        "z": score.z,
        "delta": score.delta,
        "count_a": score.count_a,
        "count_b": score.count_b,
        "share_a": score.share_a,
        "share_b": score.share_b,
    }
