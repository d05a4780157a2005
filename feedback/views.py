"""The CX manager's dashboard: where the metric stands, where it is going, where it hurts."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from uuid import UUID

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from cxsurvey.routers import replica_chunks, replica_reads
from cxsurvey.signin import back_office_required
from feedback import charts, exports, tasks
from feedback.counts import Filters
from feedback.dashboard import NOT_SET, Dashboard, Segment, build_dashboard
from feedback.forms import INTERVALS, RANGES, DashboardFilterForm, VerbatimFilterForm
from feedback.home import PERIOD_DAYS, survey_cards
from feedback.loop import Proportion, count_loop, loop_figures
from feedback.models import ExportRecord, SurveyVisit
from feedback.verbatims import VerbatimQuery, find_verbatims, highlighted, parse_search
from followup.models import Tag
from insights.figures import ThemeFigures, theme_figures
from insights.models import ResponseTone, Theme, ToneLexicon
from insights.tone import Tone, agreement, tone_label
from surveys.access import get_survey_for_user, is_admin, may_export, may_read_feedback, may_see_personal_data
from surveys.models import NO_TOUCHPOINT, PropertyLabel, Response, Survey
from surveys.properties import PROPERTY_PREFIX, counted_value, is_filterable_property, not_filterable_message

# plotly.js styles its SVG inline and injects a stylesheet; it needs no eval and no other origin.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PROPERTY_SAMPLE = 2000  # newest responses read to offer property names and values
PROPERTY_NAMES_OFFERED = 10
PROPERTY_CHOICES_SECONDS = 300
PROPERTY_VALUES_OFFERED = 20
VERBATIMS_PER_PAGE = 50
EXPORTS_LISTED = 50  # on "My exports"; older ones stay in the back office's record
TAGS_OFFERED = 200  # in the filters, alphabetically; any other is still found by its name in the URL
BREAKDOWN_ROWS_SHOWN = 25  # the biggest problems; a breakdown by a free-text property can be long
INSIGHTS_THEMES_SHOWN = 3  # on the dashboard; the Insights page has them all


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind the login (back_office_required): its user is signed in."""

    user: User


class DashboardPageForm(DashboardFilterForm):
    """The metrics filters plus the page's own choice: the property to break the metric down by."""

    breakdown = forms.CharField(label=_("breakdown by property"), required=False, max_length=64)

    def clean_breakdown(self) -> str:
        name = self.cleaned_data["breakdown"]
        if name and not is_filterable_property(name):
            raise forms.ValidationError(not_filterable_message(name))
        return name


def feedback_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A page for those who may read feedback: behind the login, GET only, with the pages' CSP."""

    @back_office_required  # anyone else goes to the back office's login, under the back office's rule
    @require_GET
    @wraps(view)
    def page(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if not may_read_feedback(request.user):
            raise PermissionDenied
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = PAGE_CSP
        return response

    return page


def exporting_page(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """A feedback page for those who may also export answers."""

    @wraps(view)
    def page(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if not may_export(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return feedback_page(page)


def invalid_filters(form: DashboardFilterForm) -> tuple[dict, int]:
    """The page's context and status for filters that cannot be applied."""
    # A new installation without surveys is a state to explain, not a bad request.
    no_survey = form.has_error(NON_FIELD_ERRORS, "no_survey")
    context = {
        "form": form,
        "controls": filter_controls(form, form.cleaned_data.get("survey")),
        "no_survey": no_survey,
    }
    return context, 200 if no_survey else 400


@feedback_page
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every survey the user may see at a glance (``feedback.home``); anyone else signs in first."""
    now = timezone.now()
    with replica_reads(request.user):
        cards = survey_cards(request.user, today=timezone.localdate(now), now=now)
    return render(request, "feedback/home.html", {"cards": cards, "period_days": PERIOD_DAYS})


@feedback_page
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = DashboardPageForm(request.GET, user=request.user)
    if not form.is_valid():  # the survey and the user's access to it come from the primary
        context, status = invalid_filters(form)
    else:
        # The one write of the page, to the primary: which survey the user looks at (the default next time).
        SurveyVisit.objects.record(
            user_id=request.user.pk, survey_id=form.filters().survey.pk, now=timezone.now()
        )
        with replica_reads(request.user):
            context, status = _dashboard_context(form), 200
            if request.user.has_perm("followup.view_case"):
                context["loop"] = _loop_panel(form.filters(), now=timezone.now())
            if request.user.has_perm("insights.view_theme"):
                context["insights"] = _insights_panel(form.filters())
    return render(request, "feedback/dashboard.html", context, status=status)


@dataclass(frozen=True)
class InsightsPanel:
    top: list[ThemeFigures]  # the costliest themes of the period's comments
    rising: ThemeFigures | None  # the one whose share rose most clearly, if any rose significantly
    decimals: int  # of the costs, as the metric has


def _insights_panel(filters: Filters) -> InsightsPanel | None:
    """The themes in brief, from their figures alone (the terms are the Insights page's); None
    when no comment of the period has a theme."""
    figures = [row for row in theme_figures(filters) if row.share.comments]
    if not figures:
        return None
    rising = [row for row in figures if row.change == 1]
    return InsightsPanel(
        top=figures[:INSIGHTS_THEMES_SHOWN],
        rising=max(rising, key=lambda row: row.z or 0) if rising else None,
        decimals=charts.DECIMALS[filters.survey.kind],
    )


@feedback_page
def verbatims(request: HttpRequest) -> HttpResponse:
    """The verbatim explorer: every comment the filters select, newest first, a page at a time."""
    form = VerbatimFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        context, status = invalid_filters(form)
    else:
        with replica_reads(request.user):
            context, status = _verbatims_context(form, request), 200
    context["search"] = _search_controls(form, form.cleaned_data.get("survey"))
    if context.get("controls"):  # the term shows in the filters' summary line
        context["controls"]["term"] = context["search"]["term"]
    return render(request, "feedback/verbatims.html", context, status=status)


def _dashboard_context(form: DashboardPageForm) -> dict:
    filters = form.filters()
    board = build_dashboard(
        filters,
        interval=form.cleaned_data["interval"] or None,
        breakdown_property=form.cleaned_data["breakdown"],
        breakdown_tags=True,
        breakdown_themes=True,
    )
    series, scores = charts.series_rows(board), charts.score_rows(board)
    controls = filter_controls(form, filters.survey, filters, interval=board.interval)
    return {
        "form": form,
        "controls": controls,
        "breakdown_label": controls["labels"].get(board.breakdown_property, board.breakdown_property),
        "interval_note": charts.interval_note(board.interval_choice),
        "unfinished_note": charts.unfinished_note(series),
        "dashboard": board,
        "filters": filters,
        "previous_period": filters.previous(),
        "metric_name": charts.METRIC_NAMES[filters.survey.kind],
        "headline": _headline(board),
        "series_rows": series,
        "score_rows": scores,
        "over_time": charts.over_time(board, series),
        "distribution": charts.distribution(board, scores),
        "by_touchpoint": _segment_rows(board, board.by_touchpoint),
        "by_property": _segment_rows(board, board.by_property),
        "by_tag": _segment_rows(board, board.by_tag),
        "by_theme": _segment_rows(board, board.by_theme),
        "verbatims": [
            (response, charts.category_label(response.category), charts.category_index(response))
            for response in board.latest_verbatims
        ],
        "filter_query": filter_query(form, filters).urlencode(),
    }


@exporting_page
def export_verbatims(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The explorer's answers as a file: CSV and JSON Lines streamed, XLSX once written."""
    form, export, chosen = _export_request(request.GET, request.user)
    if form.errors or export is None:  # no export without errors
        return _refused_export(request, form)
    record = ExportRecord.objects.create(
        user=request.user,
        username=request.user.get_username(),
        format=chosen,
        filters={key: values for key, values in request.GET.lists() if key != "format"},
        personal=export.personal,
        status=ExportRecord.Status.RUNNING,
    )
    table = exports.Table(export)
    content_type, _extension = exports.FORMATS[chosen]
    filename = export.filename(chosen)
    if chosen == "xlsx":
        with replica_reads(request.user):
            file = exports.xlsx_file(table)
        _finish(record, table)
        return FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
    chunks = exports.csv_chunks(table) if chosen == "csv" else exports.jsonl_chunks(table)
    chunks = replica_chunks(chunks, request.user)
    response = StreamingHttpResponse(_recorded(chunks, record, table), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


@back_office_required
@require_POST
def prepare_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The explorer's answers as a file written in the background; then the export's page.

    Without a broker the task runs before the redirect, and the page shows the file ready.
    """
    if not (may_read_feedback(request.user) and may_export(request.user)):
        raise PermissionDenied
    form, export, chosen = _export_request(request.POST, request.user)
    if not form.errors and (busy := exports.too_many_unfinished(request.user)):
        form.add_error(None, busy)
    if form.errors or export is None:  # no export without errors
        return _refused_export(request, form)
    record = exports.prepared_record(request.user, export, chosen, dict(request.POST.lists()))
    tasks.start(record)
    return redirect("feedback:export", public_id=record.public_id)


def _export_request(
    data: QueryDict, user: User | AnonymousUser
) -> tuple[VerbatimFilterForm, exports.Export | None, str]:
    """The filters and the format asked for; what prevents the export is on the form's errors."""
    form, chosen = VerbatimFilterForm(data, user=user), data.get("format", "")
    if not form.is_valid():
        return form, None, chosen
    export = exports.Export(form.verbatim_query(), personal=may_see_personal_data(user))
    if refusal := exports.refusal(export, chosen):
        form.add_error(None, refusal)
    return form, export, chosen


def _refused_export(request: HttpRequest, form: VerbatimFilterForm) -> HttpResponse:
    """The explorer with the reason the export cannot be written."""
    context, _status = invalid_filters(form)
    context["search"] = _search_controls(form, form.cleaned_data.get("survey"))
    response = render(request, "feedback/verbatims.html", context, status=400)
    response["Content-Security-Policy"] = PAGE_CSP
    return response


def _recorded(chunks: Iterator[bytes], record: ExportRecord, table: exports.Table) -> Iterator[bytes]:
    """The chunks; then the record gets the rows sent, even when the download is cut short."""
    try:
        yield from chunks
    finally:
        _finish(record, table)


def _finish(record: ExportRecord, table: exports.Table) -> None:
    ExportRecord.objects.filter(pk=record.pk).update(
        status=ExportRecord.Status.DONE, rows=table.count, finished_at=timezone.now()
    )


@exporting_page
def my_exports(request: HttpRequest) -> HttpResponse:
    """The exports the user prepared in the background, newest first."""
    records = ExportRecord.objects.prepared().filter(user=request.user)[:EXPORTS_LISTED]
    rows = [(record, _export_status(record)) for record in records]
    return render(request, "feedback/exports.html", {"rows": rows, "lifetime": exports.EXPORT_LIFETIME.days})


@exporting_page
def export_page(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """A prepared export: its progress while it is written, then its file or what went wrong."""
    record = _get_export_for_user(request.user, public_id)
    return render(request, "feedback/export.html", {"record": record, "status": _export_status(record)})


@exporting_page
def export_status(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The export page's progress as JSON, asked for every few seconds while it is written."""
    return JsonResponse(_export_status(_get_export_for_user(request.user, public_id)))


@exporting_page
def download_export(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    """The prepared file, until it expires."""
    record = _get_export_for_user(request.user, public_id)
    if not record.downloadable:
        raise Http404
    return exports.prepared_file(record)


def _get_export_for_user(user: User | AnonymousUser, public_id: UUID) -> ExportRecord:
    """A prepared export, for the user who started it or an Admin, of a survey they may still
    see; one with personal data only for who may see it now. Anything else is not found, exactly
    like an unknown id."""
    record = get_object_or_404(ExportRecord.objects.prepared(), public_id=public_id)
    if record.user_id != user.pk and not is_admin(user):
        raise Http404
    if record.personal and not may_see_personal_data(user):
        raise Http404
    get_survey_for_user(user, record.filters["survey"][0])  # the survey must still be theirs
    return record


def _export_status(record: ExportRecord) -> dict:
    return {
        "status": record.status,
        "label": capfirst(record.get_status_display()),
        "finished": record.finished,
        "rows": record.rows,
        "total": record.total,
        "percent": record.percent,
        "text": exports.progress_text(record),
        "download": reverse("feedback:download_export", args=[record.public_id])
        if record.downloadable
        else None,
    }


def _rate_ignores(filters: tuple[str, ...]) -> str:
    """Which filters the response rate cannot follow, in words; "" if it follows them all."""
    if set(filters) == {"tags", "themes"}:
        return gettext(
            "It ignores the tag and theme filters: invitations are sent before any tag or comment."
        )
    if "tags" in filters:
        return gettext("It ignores the tag filter: invitations are sent before any tag.")
    if "themes" in filters:
        return gettext("It ignores the theme filter: invitations are sent before any comment.")
    return ""


@dataclass(frozen=True)
class VerbatimRow:
    response: Response
    category: str
    category_index: int  # the category's colour
    touchpoint: str
    comment: SafeString  # escaped, the search's matches marked
    # (name, value) sorted by name; as lists, since a template would read a key "items" of a dict
    contact_properties: list[tuple[str, object]]
    event_properties: list[tuple[str, object]]
    tags: list[str]
    tone: Tone | None  # None: the comment has no tone (yet)


def _verbatims_context(form: VerbatimFilterForm, request: HttpRequest) -> dict:
    query = form.verbatim_query()
    # The page's tags in one query, whatever the number of answers.
    answers = (
        find_verbatims(query)
        .select_related("tone")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
    )
    page = Paginator(answers, VERBATIMS_PER_PAGE).get_page(request.GET.get("page"))
    link_and_widget = capfirst(gettext("link and widget"))
    page_query = request.GET.copy()
    page_query.pop("page", None)
    return {
        "form": form,
        "controls": filter_controls(form, query.filters.survey, query.filters),
        "filters": query.filters,
        "page": page,
        "rows": [
            VerbatimRow(
                response=response,
                category=charts.category_label(response.category),
                category_index=charts.category_index(response),
                touchpoint=response.touchpoint.name if response.touchpoint else link_and_widget,
                comment=highlighted(response, query.text),
                contact_properties=_sorted_items(response.contact_properties),
                event_properties=_sorted_items(response.event_properties),
                tags=[tag.name for tag in response.tags.all()],
                tone=_tone(response),
            )
            for response in page
        ],
        "tone_agreement": tone_agreement(),
        "search_hint": _search_hint(form, query) if query.text and not page.paginator.count else None,
        "page_query": page_query.urlencode(),
        "dashboard_query": filter_query(form, query.filters).urlencode(),
        "formats": [(key, label) for key, label in ExportRecord.Format.choices],
        # The same filters for an export prepared in the background, as the form's hidden fields.
        "export_fields": [(key, value) for key, values in page_query.lists() for value in values],
    }


def _tone(response: Response) -> Tone | None:
    try:
        return tone_label(response.tone.value)
    except ResponseTone.DoesNotExist:
        return None


def tone_agreement() -> list[dict]:
    """Per language with a lexicon: how often the tone agreed with the score on held-out comments;
    empty before any lexicon is learned."""
    return [
        {"language": lexicon.language, "figures": agreement(lexicon)}
        for lexicon in ToneLexicon.objects.order_by("language")
    ]


def _search_hint(form: VerbatimFilterForm, query: VerbatimQuery) -> dict:
    """For a search that found nothing: whether it had quoted phrases, and the other filters
    that narrowed it, each as "label: values"."""
    filters, labels = query.filters, {name: capfirst(field.label) for name, field in form.fields.items()}
    narrowing = [f"{name}: {value}" for name, value in filters.properties]
    if filters.touchpoints:
        chosen = [capfirst(str(name)) for pk, name in form.touchpoint_choices if pk in filters.touchpoints]
        narrowing.insert(0, f"{labels['touchpoint']}: {', '.join(chosen)}")
    if filters.tags:
        narrowing.append(f"{labels['tag']}: {', '.join(sorted(form.cleaned_data['tag'].values()))}")
    if filters.themes:
        narrowing.append(f"{labels['theme']}: {', '.join(sorted(form.cleaned_data['theme'].values()))}")
    if query.category:
        narrowing.append(f"{labels['category']}: {charts.category_label(query.category)}")
    if query.score is not None:
        narrowing.append(f"{labels['score']}: {query.score}")
    if query.with_comment is False:
        narrowing.append(f"{labels['comment']}: {VerbatimFilterForm.COMMENT_CHOICES['without']}")
    if query.tone:
        narrowing.append(f"{labels['tone']}: {VerbatimFilterForm.TONE_CHOICES[query.tone]}")
    return {"text": query.text, "phrases": bool(parse_search(query.text).phrases), "narrowing": narrowing}


def _sorted_items(properties: object) -> list[tuple[str, object]]:
    return sorted(properties.items()) if isinstance(properties, dict) else []


def _search_controls(form: VerbatimFilterForm, survey: Survey | None) -> dict:
    """The explorer's own fields: category and score of the survey's scale, comments, search text."""
    data, scale = form.data, survey.scale if survey else None
    score_chosen = data.get("score", "")
    labels = scale.point_labels(charts.scale_language()) if scale else {}
    return {
        "categories": [
            Option(category.code, charts.category_label(category.code), category.code == data.get("category"))
            for category in (scale.categories if scale else ())
        ],
        "scores": [
            Option(
                str(score),
                f"{score} ({labels[score]})" if score in labels else str(score),
                str(score) == score_chosen,
            )
            for score in (scale.points if scale else ())
        ],
        "comments": [
            Option(key, label, key == (data.get("comment") or "with"))
            for key, label in VerbatimFilterForm.COMMENT_CHOICES.items()
        ],
        "tones": [
            Option(key, label, key == data.get("tone"))
            for key, label in VerbatimFilterForm.TONE_CHOICES.items()
        ],
        "q": data.get("q", ""),
        "term": form.cleaned_data.get("term", data.get("term", "")),
        "without_term": _without(data, "term", "page"),
    }


def _without(data: QueryDict, *names: str) -> str:
    """The URL parameters but ``names``, encoded."""
    query = data.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@dataclass(frozen=True)
class Headline:
    value: str  # the metric, or "no data"
    interval: str
    n: int
    small_sample: bool
    detail: str  # CSAT's mean score, CES's share of easy answers
    previous_value: str
    change: str | None  # signed, None when either period has no data
    change_text: charts.ChangeText
    response_rate: str  # in %, or "–"
    response_rate_ignores: str  # which filters the rate cannot follow, or ""
    categories: list[charts.CategoryFigure]


def _headline(board: Dashboard) -> Headline:
    kind, summary, change = board.filters.survey.kind, board.summary, board.change
    detail = ""
    if kind == "csat" and summary.mean is not None:
        detail = gettext("mean score %(mean)s") % {"mean": charts.number(summary.mean, charts.DECIMALS[kind])}
    elif kind == "ces" and summary.easy_share is not None:
        detail = gettext("%(share)s %% easy") % {"share": charts.number(summary.easy_share)}
    return Headline(
        value=charts.metric_text(kind, summary.value),
        interval=charts.interval_text(kind, summary.interval),
        n=summary.n,
        small_sample=summary.small_sample,
        detail=detail,
        previous_value=charts.metric_text(kind, board.previous.value),
        change=charts.change_text(kind, change),
        change_text=charts.describe_change(
            kind, summary, board.previous, change, days=(board.filters.until - board.filters.since).days + 1
        ),
        response_rate="–"
        if board.response_rate is None
        else f"{charts.number(100 * board.response_rate, 1)} %",
        response_rate_ignores=_rate_ignores(board.response_rate_ignores),
        categories=charts.category_figures(summary),
    )


@dataclass(frozen=True)
class ShareText:
    value: str  # in %, or "no data"
    interval: str
    successes: int
    n: int
    small_sample: bool


def _share_text(share: Proportion) -> ShareText:
    return ShareText(
        value=charts.metric_text("csat", share.value),
        interval=charts.interval_text("csat", share.interval),
        successes=share.successes,
        n=share.n,
        small_sample=share.small_sample,
    )


def _duration_text(duration: timedelta | None) -> str:
    """Hours up to two days, days beyond, to a tenth; "–" without a duration."""
    if duration is None:
        return "–"
    hours = duration.total_seconds() / 3600
    if hours < 48:
        return gettext("%(hours)s h") % {"hours": charts.number(hours, 1)}
    return gettext("%(days)s days") % {"days": charts.number(hours / 24, 1)}


def _loop_panel(filters: Filters, *, now: datetime) -> dict:
    """The loop's figures for the dashboard's survey, period and touchpoints, as the page shows
    them: each share with what it is a share of."""
    figures = loop_figures(count_loop(filters, now=now))
    category = {"category": charts.category_label(filters.survey.scale.categories[0].code)}
    rows = [
        (
            "in-time",
            gettext("Contacted within the time due"),
            _share_text(figures.contacted_in_time),
            gettext("%(category)s answers with a case") % category,
        ),
        (
            "recovered",
            gettext("Recovered after a resolved case"),
            _share_text(figures.recovered),
            gettext("answered again at the touchpoint, of %(total)s resolved cases of %(category)s answers")
            % {**category, "total": figures.resolved_detractors},
        ),
        (
            "uncontacted",
            gettext("Recovered without contact"),
            _share_text(figures.recovered_without_contact),
            gettext("answered again at the touchpoint, of %(total)s %(category)s answers nobody contacted")
            % {**category, "total": figures.uncontacted_detractors},
        ),
    ]
    if figures.solved_when_asked.n:  # only where a touchpoint asks again after a case
        rows.append(
            (
                "solved",
                gettext("Issue solved, as the customer says"),
                _share_text(figures.solved_when_asked),
                gettext("answers to “Was your issue solved?”, asked after the case"),
            )
        )
    return {
        "figures": figures,
        "median_first_response": _duration_text(figures.median_first_response),
        "median_resolution": _duration_text(figures.median_resolution),
        "rows": rows,
    }


@dataclass(frozen=True)
class SegmentRow:
    label: str
    value: str
    interval: str
    n: int
    share: str  # of all responses, in %
    difference: str  # from the overall figure, signed
    below: bool  # worse than overall
    small_sample: bool


def _segment_rows(board: Dashboard, segments: list[Segment]) -> list[SegmentRow]:
    """The breakdown's first rows, in build_dashboard's order: the biggest problem first."""
    kind = board.filters.survey.kind
    return [
        SegmentRow(
            label=_segment_label(segment),
            value=charts.metric_text(kind, segment.summary.value),
            interval=charts.interval_text(kind, segment.summary.interval),
            n=segment.summary.n,
            share=charts.number(100 * segment.share),
            difference=charts.number(segment.difference, charts.DECIMALS[kind], signed=True),
            below=segment.difference is not None and segment.difference < 0,
            small_sample=segment.summary.small_sample,
        )
        for segment in segments[:BREAKDOWN_ROWS_SHOWN]
    ]


def _segment_label(segment: Segment) -> str:
    if segment.key == NO_TOUCHPOINT:
        return capfirst(gettext("link and widget"))
    if segment.key is NOT_SET:
        return gettext("(not set)")
    return segment.label


def property_choices(survey: Survey) -> dict[str, list[str]]:
    """Property names to filter and break down by, each with its most frequent values in
    alphabetical order: the menus of the property filters and the breakdown.

    The names and values come from the survey's newest PROPERTY_SAMPLE responses, read into
    Python in one indexed query, only to offer choices and never for a number (a grouped query
    over the period costs tens of milliseconds per property on large surveys). The survey's
    dashboard properties come first, then the other names, most common first. Names whose
    values never repeat (order numbers) are left out, as no value of theirs selects more than
    one response; so are values that are not text.
    """
    rows = (
        Response.objects.filter(survey=survey)
        .order_by("-created_at")
        .values_list("contact_properties", "event_properties")[:PROPERTY_SAMPLE]
    )
    values: dict[str, Counter] = defaultdict(Counter)
    for contact, event in rows:
        present = {
            *(contact if isinstance(contact, dict) else ()),
            *(event if isinstance(event, dict) else ()),
        }
        for name in present:
            value = counted_value(name, event=event, contact=contact)
            if value is not None and is_filterable_property(name):
                values[name][value] += 1
    tallied = [name for name in survey.dashboard_properties if name in values]
    repeated = {name: counter for name, counter in values.items() if counter.most_common(1)[0][1] > 1}
    others = sorted(repeated.keys() - set(tallied), key=lambda name: (-repeated[name].total(), name))
    names = [*tallied, *others][:PROPERTY_NAMES_OFFERED]
    return {
        name: sorted(value for value, _ in values[name].most_common(PROPERTY_VALUES_OFFERED))
        for name in names
    }


def _offered_properties(survey: Survey) -> dict[str, list[str]]:
    """``property_choices``, remembered for a few minutes: they only fill menus, and reading the
    sample takes longer than counting a panel."""
    key = f"feedback:property-choices:{survey.pk}:{','.join(survey.dashboard_properties)}"
    return cache.get_or_set(key, lambda: property_choices(survey), PROPERTY_CHOICES_SECONDS) or {}


@dataclass(frozen=True)
class Option:
    value: str
    label: str | Promise  # lazy translations too
    selected: bool


def filter_controls(
    form: DashboardFilterForm, survey: Survey | None, filters: Filters | None = None, *, interval: str = ""
) -> dict:
    """The filter form's fields and choices, showing what the URL asked for (or, if valid, what
    applies); properties under their labels. ``interval``: the one applied, if chosen automatically."""
    data = form.data
    chosen_range = _chosen_range(form)
    since = filters.since.isoformat() if filters else data.get("since", "")
    until = filters.until.isoformat() if filters else data.get("until", "")
    chosen_interval = data.get("interval", "")
    automatic = dict(INTERVALS).get(interval) if not chosen_interval else None
    chosen_touchpoints = set(data.getlist("touchpoint"))
    touchpoints = dict(form.touchpoint_choices)
    offered: list[tuple[int, str | Promise]] = (
        list(survey.touchpoints.order_by("name").values_list("pk", "name")) if survey else []
    )
    # Chosen touchpoints of another survey stay visible, so that they can be unticked.
    offered += [(key, name) for key, name in touchpoints.items() if str(key) in chosen_touchpoints]
    offered.append((NO_TOUCHPOINT, touchpoints[NO_TOUCHPOINT]))
    properties = _offered_properties(survey) if survey else {}
    chosen_properties = dict(reversed(form.properties))
    for name, value in chosen_properties.items():
        if value not in properties.setdefault(name, []):
            properties[name] = sorted([*properties[name], value])
    breakdown = data.get("breakdown") or ""
    chosen_tags = {name.strip().lower() for name in data.getlist("tag")}
    labels = PropertyLabel.objects.names()
    return {
        "labels": labels,
        "surveys": [
            Option(str(pk), name, survey is not None and pk == survey.pk)
            for pk, name in form.surveys.order_by("-active", "name").values_list("pk", "name")
        ],
        "ranges": [Option(key, label, key == chosen_range) for key, label in RANGES.items()],
        "since": since,
        "until": until,
        "intervals": [
            Option(
                "",
                gettext("automatic (%(interval)s)") % {"interval": automatic}
                if automatic
                else gettext("automatic"),
                not chosen_interval,
            ),
            *(Option(key, capfirst(label), key == chosen_interval) for key, label in INTERVALS),
        ],
        "touchpoints": [
            Option(str(key), name, str(key) in chosen_touchpoints) for key, name in dict(offered).items()
        ],
        "properties": [
            (
                PROPERTY_PREFIX + name,
                labels.get(name, name),
                [Option(value, value, chosen_properties.get(name) == value) for value in values],
            )
            for name, values in properties.items()
        ],
        "breakdowns": [
            Option(name, labels.get(name, name), name == breakdown)
            for name in sorted(
                {*properties, breakdown} - {""}, key=lambda name: str(labels.get(name) or name).lower()
            )
        ],
        "tags": [Option(name, name, name.lower() in chosen_tags) for name in _offered_tags(chosen_tags)],
        "themes": [
            Option(name, name, name in data.getlist("theme"))
            for name in Theme.objects.order_by("name").values_list("name", flat=True)
        ],
    }


def _offered_tags(chosen: set[str]) -> list[str]:
    """The tags to filter by, alphabetically; chosen ones stay visible, so that they can be unticked."""
    offered = list(Tag.objects.order_by("name").values_list("name", flat=True)[:TAGS_OFFERED])
    missing = chosen - {name.lower() for name in offered}
    if missing and len(offered) == TAGS_OFFERED:
        condition = Q()
        for name in missing:
            condition |= Q(name__iexact=name)
        offered = sorted([*offered, *Tag.objects.filter(condition).values_list("name", flat=True)])
    return offered


def _chosen_range(form: DashboardFilterForm) -> str:
    """The period choice in effect: the URL's, "custom" for bare dates, else the default 30 days."""
    data = form.data
    return data.get("range") or ("custom" if data.get("since") or data.get("until") else "30d")


def filter_query(form: DashboardFilterForm, filters: Filters) -> QueryDict:
    """The filters as URL parameters, for the verbatim explorer; a chosen range stays a range."""
    query = QueryDict(mutable=True)
    query["survey"] = str(filters.survey.pk)
    query.setlist("touchpoint", [str(touchpoint) for touchpoint in filters.touchpoints])
    if (chosen := _chosen_range(form)) != "custom":
        query["range"] = chosen
    else:
        query["since"], query["until"] = filters.since.isoformat(), filters.until.isoformat()
    for name, value in filters.properties:
        query.appendlist(PROPERTY_PREFIX + name, value)
    query.setlist("tag", sorted(form.cleaned_data.get("tag", {}).values()))
    query.setlist("theme", sorted(form.cleaned_data.get("theme", {}).values()))
    return query
