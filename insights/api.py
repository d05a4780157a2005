"""The insights for programs, as the Insights page shows them, each under the metrics API's filters
(``survey``, ``touchpoint``, ``range`` or ``since`` and ``until``, ``property.<name>``, ``tag``,
``theme``) and checks:

- ``GET /api/v1/insights/terms/``: the terms that set two groups of comments apart; ``compare``:
  ``categories`` (the scale's lowest category against its highest: detractors against promoters)
  or ``previous`` (the period against the one of equal length before it); ``language`` (``de`` or
  ``en``; any by default).
- ``GET /api/v1/insights/themes/``: each theme's share, metric, cost and change.
- ``GET /api/v1/insights/tone/``: how far the tone agrees with the score, and the comments' tones.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from cxsurvey.routers import replica_reads
from feedback.api.metrics import FILTER_PARAMETERS, summary_json
from feedback.counts import matching_responses
from feedback.forms import DashboardFilterForm
from insights.counts import Group, TermCounts
from insights.figures import ThemeFigures, theme_figures
from insights.forms import COMPARISONS, InsightsFilterForm, TermsQueryForm
from insights.logodds import TermScore
from insights.models import ToneLexicon
from insights.terms import compared
from insights.tone import agreement, tones_counted
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


THEME_EXAMPLE = {
    "id": 3,
    "name": "Lieferung",
    "comments": 40,
    "share": 40.4,
    "metric": {
        "responses": 40,
        "detractors": 30,
        "passives": 0,
        "promoters": 10,
        "nps": -50.0,
        "ci95": [-76.1, -23.9],
        "small_sample": False,
    },
    "impact": 30.0,
    "impact_ci95": [21.9, 39.6],
    "previous_comments": 5,
    "previous_share": 5.0,
    "change_z": 5.97,
    "change": "rising",
}
THEMES_EXAMPLE = {
    "survey": 1,
    "kind": "nps",
    "since": "2026-11-01",
    "until": "2026-11-30",
    "comments": 99,
    "previous": {"since": "2026-10-02", "until": "2026-10-31", "comments": 100},
    "themes": [THEME_EXAMPLE],
}


@extend_schema(
    summary="Each theme's share, metric, cost and change",
    description=(
        "Every theme, the costliest first: how many of the period's comments have it (share in %), "
        "the metric over its answers with the 95 % interval (as the metrics API gives it), its cost "
        "(impact: how many points the survey's metric would gain if its unhappy answers had not been "
        "unhappy) with the 95 % interval, and its share in the previous period of equal length. "
        "change_z is the two-proportion z-score of the share against the previous one; change is "
        "rising or falling when |z| > 1.96, else null. Shares, intervals and z are null where "
        "there is nothing to divide by; comments are null without themes. Nothing is rounded."
    ),
    parameters=FILTER_PARAMETERS,
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("One theme", THEMES_EXAMPLE)])
    },
)
@api_view(["GET"])
@permission_classes([TokenScope, ReadsResponses])
def themes(request: Request) -> ApiResponse:
    form = DashboardFilterForm(request.query_params, user=request.user)
    if not form.is_valid():
        raise exceptions.ValidationError(form_errors(form))
    filters = form.filters()
    with replica_reads(request.user):
        figures = theme_figures(filters)
    previous = filters.previous()
    return ApiResponse(
        {
            "survey": filters.survey.pk,
            "kind": filters.survey.kind,
            "since": filters.since,
            "until": filters.until,
            "comments": figures[0].share.of if figures else None,
            "previous": {
                "since": previous.since,
                "until": previous.until,
                "comments": figures[0].previous.of if figures else None,
            },
            "themes": [_theme(row) for row in figures],
        }
    )


def _theme(row: ThemeFigures) -> dict:
    return {
        "id": row.theme.pk,
        "name": row.theme.name,
        "comments": row.share.comments,
        "share": row.share.value,
        "metric": summary_json(row.summary),
        "impact": row.impact.value,
        "impact_ci95": list(row.impact.interval) if row.impact.interval else None,
        "previous_comments": row.previous.comments,
        "previous_share": row.previous.value,
        "change_z": row.z,
        "change": {1: "rising", -1: "falling"}.get(row.change),
    }


TONE_EXAMPLE = {
    "survey": 1,
    "since": "2026-11-01",
    "until": "2026-11-30",
    "language": None,
    "lexicons": [
        {
            "language": "de",
            "learned_at": "2026-11-30T02:00:00Z",
            "comments": 8200,
            "held_out": 1640,
            "agreement": 81.2,
            "agreement_ci95": [79.2, 83.0],
            "neutral": 12.4,
        }
    ],
    "comments": {"toned": 260, "positive": 130, "neutral": 60, "negative": 70, "disagree": 9},
}


@extend_schema(
    summary="How far the tone agrees with the score, and the comments' tones",
    description=(
        "The tone of a comment is learned from the installation's own scored comments, per language "
        "(a lexicon). lexicons: each language's, when it was learned, from how many comments, and on "
        "how many held-out comments of the lowest and highest category the tone agreed with the "
        "score (agreement in %, with its 95 % interval; neutral: the share of them whose tone is "
        "neutral; null without held-out comments); empty before any is learned. comments: of the "
        "answers the filters select, how many have a tone, how many each tone, and how many "
        "disagree with their score (a promoter with a negative tone, a detractor with a positive "
        "one). Nothing is rounded."
    ),
    parameters=[
        OpenApiParameter(
            "language", str, enum=["de", "en"], description="Only comments in this language; any by default."
        ),
        *FILTER_PARAMETERS,
    ],
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("A German lexicon", TONE_EXAMPLE)])
    },
)
@api_view(["GET"])
@permission_classes([TokenScope, ReadsResponses])
def tone(request: Request) -> ApiResponse:
    form = InsightsFilterForm(request.query_params, user=request.user)
    if not form.is_valid():
        raise exceptions.ValidationError(form_errors(form))
    filters, language = form.filters(), form.cleaned_data["language"]
    responses = matching_responses(filters)
    if language:
        responses = responses.filter(language=language)
    with replica_reads(request.user):
        lexicons = list(ToneLexicon.objects.order_by("language"))
        counted = tones_counted(responses)
    return ApiResponse(
        {
            "survey": filters.survey.pk,
            "since": filters.since,
            "until": filters.until,
            "language": language or None,
            "lexicons": [_lexicon(lexicon) for lexicon in lexicons],
            "comments": counted,
        }
    )


def _lexicon(lexicon: ToneLexicon) -> dict:
    figures = agreement(lexicon)
    return {
        "language": lexicon.language,
        "learned_at": lexicon.learned_at,
        "comments": lexicon.comments,
        "held_out": figures.n,
        "agreement": figures.share,
        "agreement_ci95": list(figures.interval) if figures.interval else None,
        "neutral": figures.neutral,
    }
