"""The insights page: for a survey and period, its themes, the terms that set its detractors apart
from its promoters, the terms that rose or fell against the previous period, and the comments
whose tone disagrees with their score; each links to the comments behind it in the verbatim
explorer."""

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.text import capfirst
from django.utils.translation import gettext

from cxsurvey.routers import replica_reads
from feedback import charts
from feedback.counts import Filters, matching_responses
from feedback.views import feedback_page, filter_controls, filter_query, invalid_filters, tone_agreement
from insights.compare import Comparison
from insights.figures import ThemeFigures, theme_figures, theme_trends
from insights.forms import InsightsFilterForm
from insights.logodds import MIN_COUNT, TermScore
from insights.suggest import suggested_themes
from insights.terms import compared
from insights.tone import Tone, strongest_disagreements, tone_label
from surveys.models import Response
from surveys.scales import SCALES

DISAGREEMENTS_SHOWN = 5  # a handful to read; the explorer has them all


@dataclass(frozen=True)
class TermRow:
    score: TermScore
    z: str  # one decimal, signed, in the active language
    link: str  # the verbatim explorer's URL parameters: the side's comments with the term


@dataclass(frozen=True)
class Side:
    title: str
    rows: list[TermRow]


@dataclass(frozen=True)
class Section:
    """One comparison as the page shows it: its two groups' names and comments, and each side's terms."""

    name_a: str
    name_b: str
    comments_a: int
    comments_b: int
    too_few: bool  # either group has fewer comments than a term needs
    sides: tuple[Side, Side]


@dataclass(frozen=True)
class ThemeRow:
    figures: ThemeFigures
    share: str  # of the period's comments, in %
    value: str  # the metric over the theme's answers
    interval: str
    impact: str  # points the metric would gain
    impact_interval: str
    change: str  # "rising", "falling" or "" against the previous period
    link: str  # the explorer's parameters: the theme's answers in the lowest category
    trend: str  # its share week by week as an SVG polyline's points, from 0 to its highest week


@dataclass(frozen=True)
class Disagreement:
    response: Response
    category: str
    category_index: int  # the category's colour
    tone: Tone


@feedback_page
def insights(request: HttpRequest) -> HttpResponse:
    form = InsightsFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        context, status = invalid_filters(form)
    else:
        with replica_reads(request.user):
            context, status = _insights_context(form), 200
    return render(request, "insights/insights.html", context, status=status)


def _insights_context(form: InsightsFilterForm) -> dict:
    filters, language = form.filters(), form.cleaned_data["language"]
    categories = SCALES[filters.survey.kind].categories
    low, high = categories[0].code, categories[-1].code
    by_category = compared(filters, "categories", language=language)
    by_period = compared(filters, "previous", language=language)
    plural = {code: str(charts.CATEGORY_NAMES[code][1]) for code in (low, high)}
    return {
        "form": form,
        "controls": filter_controls(form, filters.survey, filters),
        "filters": filters,
        "previous_period": filters.previous(),
        "low": plural[low],
        "high": plural[high],
        "categories": _section(
            by_category,
            names=(capfirst(plural[low]), capfirst(plural[high])),
            titles=(
                gettext("Typical of %(group)s") % {"group": plural[low]},
                gettext("Typical of %(group)s") % {"group": plural[high]},
            ),
            links=(_link(form, filters, category=low), _link(form, filters, category=high)),
        ),
        "periods": _section(
            by_period,
            names=(gettext("This period"), gettext("Previous period")),
            titles=(gettext("Rising"), gettext("Falling")),
            links=(_link(form, filters), _link(form, filters.previous())),
        ),
        "min_count": MIN_COUNT,
        "themes": _theme_rows(form, filters, low),
        "suggested": suggested_themes(by_category),
        "low_link": _link(form, filters, category=low).urlencode(),
        "may_add_theme": form.user.has_perm("insights.add_theme"),
        **_tone_context(form, filters, language),
    }


def _tone_context(form: InsightsFilterForm, filters: Filters, language: str) -> dict:
    """How far to trust the tone, and the period's strongest disagreements with a link to all of
    them; none before a lexicon is learned, when no comment has a tone."""
    agreement = tone_agreement()
    if not agreement:
        return {"tone_agreement": agreement}
    responses = matching_responses(filters)
    if language:
        responses = responses.filter(language=language)
    query = _link(form, filters)
    query["tone"] = "disagree"
    return {
        "tone_agreement": agreement,
        "disagreements": [
            Disagreement(
                response=response,
                category=charts.category_label(response.category),
                category_index=charts.category_index(response),
                tone=tone_label(response.tone.value),
            )
            for response in strongest_disagreements(responses, limit=DISAGREEMENTS_SHOWN)
        ],
        "disagreements_link": query.urlencode(),
    }


def _theme_rows(form: InsightsFilterForm, filters: Filters, low: str) -> list[ThemeRow]:
    kind, rows = filters.survey.kind, []
    all_figures = theme_figures(filters)
    trends = theme_trends(filters, [figures.theme for figures in all_figures]) if all_figures else {}
    for figures in all_figures:
        trend = trends[figures.theme.pk]
        highest = max([1.0, *(share for share in trend if share is not None)])
        query = _link(form, filters, category=low)
        query["theme"] = figures.theme.name
        rows.append(
            ThemeRow(
                figures=figures,
                share=charts.number(figures.share.value, 1),
                value=charts.metric_text(kind, figures.summary.value),
                interval=charts.interval_text(kind, figures.summary.interval),
                impact=charts.number(figures.impact.value, charts.DECIMALS[kind]),
                impact_interval=charts.interval_text(kind, figures.impact.interval),
                change={1: "rising", -1: "falling"}.get(figures.change, ""),
                link=query.urlencode(),
                trend=charts.sparkline(trend, 0, highest),
            )
        )
    return rows


def _section(
    comparison: Comparison,
    *,
    names: tuple[str, str],
    titles: tuple[str, str],
    links: tuple[QueryDict, QueryDict],
) -> Section:
    comments_a, comments_b = comparison.counts_a.comments, comparison.counts_b.comments
    terms = (comparison.terms.a, comparison.terms.b)
    return Section(
        name_a=names[0],
        name_b=names[1],
        comments_a=comments_a,
        comments_b=comments_b,
        too_few=min(comments_a, comments_b) < MIN_COUNT,
        sides=(
            Side(titles[0], [_row(score, links[0]) for score in terms[0]]),
            Side(titles[1], [_row(score, links[1]) for score in terms[1]]),
        ),
    )


def _row(score: TermScore, query: QueryDict) -> TermRow:
    query = query.copy()
    query["term"] = score.term
    z = charts.number(score.z, 1, signed=True).replace("-", charts.MINUS)
    return TermRow(score=score, z=z, link=query.urlencode())


def _link(form: InsightsFilterForm, filters: Filters, *, category: str = "") -> QueryDict:
    """The explorer's parameters for the filters' comments (of the category, if given): the period
    as dates, which the previous period has no range for."""
    query = filter_query(form, filters)
    query.pop("range", None)
    query["since"], query["until"] = filters.since.isoformat(), filters.until.isoformat()
    if category:
        query["category"] = category
    return query
