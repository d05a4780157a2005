"""The dashboard's charts as plotly figures, and the rows of their data tables.

The figures are built here and handed to plotly.js in the page as JSON. The same rows feed a
chart and its table alternative, so both always show the same numbers. Nothing here queries the
database: everything comes from a built ``Dashboard``. Numbers are formatted here for hover
texts with the active language's separators, rounded as the page's templates round them.
"""

from dataclasses import dataclass
from datetime import date

from django.template.defaultfilters import floatformat
from django.utils.formats import date_format, get_format
from django.utils.text import capfirst, slugify
from django.utils.translation import get_language, gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from feedback.counts import bucket_starts, next_bucket
from feedback.dashboard import Dashboard, IntervalChoice
from feedback.metrics import SMALL_SAMPLE, Change, Summary, summarise
from surveys.scales import LANGUAGES, SCALES

METRIC_NAMES = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}
METRIC_UNITS = {"nps": "", "csat": " %", "ces": ""}
# One decimal for every metric, everywhere: NPS 26.0, CSAT 79.4 %, CES 5.3, so that figures of
# different surveys read alike.
DECIMALS = {"nps": 1, "csat": 1, "ces": 1}
# What a change of each metric is counted in: NPS and the CES mean in points, CSAT in percentage points.
CHANGE_UNITS = {"nps": _("points"), "csat": _("percentage points"), "ces": _("points")}
# The test behind "significantly": the brief's for NPS, the textbook ones for CSAT and CES.
CHANGE_TESTS = {
    "nps": _("a z-test on the adjusted-Wald NPS"),
    "csat": _("a two-proportion z-test on the share of satisfied answers"),
    "ces": _("Welch’s t-test on the mean scores"),
}
MINUS = "\u2212"
# Where each metric's axis runs: the whole possible range, so that lines are comparable.
METRIC_RANGES = {"nps": [-100, 100], "csat": [0, 100], "ces": [1, 7]}
METRIC_TICKS = {"nps": 50, "csat": 20, "ces": 1}
# (singular, plural) per category code; CSAT and CES share "neutral".
CATEGORY_NAMES = {
    "detractor": (_("detractor"), _("detractors")),
    "passive": (_("passive"), _("passives")),
    "promoter": (_("promoter"), _("promoters")),
    "dissatisfied": (pgettext_lazy("category", "dissatisfied"), pgettext_lazy("categories", "dissatisfied")),
    "satisfied": (pgettext_lazy("category", "satisfied"), pgettext_lazy("categories", "satisfied")),
    "difficult": (pgettext_lazy("category", "difficult"), pgettext_lazy("categories", "difficult")),
    "easy": (pgettext_lazy("category", "easy"), pgettext_lazy("categories", "easy")),
    "neutral": (pgettext_lazy("category", "neutral"), pgettext_lazy("categories", "neutral")),
}
# Worst, middle, best category. Each keeps 3:1 against white (WCAG 1.4.11), and red and
# green differ in lightness too, so that they stay apart without colour vision.
CATEGORY_COLOURS = ("#d64541", "#8a8f98", "#146c43")
METRIC_COLOUR = "#2456a6"
BAND_COLOUR = "rgba(36, 86, 166, 0.18)"
TEXT_COLOUR = "#1d2330"
GRID_COLOUR = "#e3e6ec"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
MAX_TICKS = 12
UNFINISHED_COLOUR = "#5f6673"


@dataclass(frozen=True)
class CategoryFigure:
    code: str
    label: str
    colour: str
    count: int
    share: float | None  # % of the responses; None without responses


@dataclass(frozen=True)
class BucketRow:
    """One bucket of the series; buckets without responses are included, with n = 0."""

    start: date
    label: str  # in full, for tables and hover
    tick: str  # short, for the axis; with the year when the period spans two
    summary: Summary
    categories: list[CategoryFigure]
    unfinished: bool  # the running bucket: today is in it

    @property
    def joined(self) -> bool:
        """Whether the metric's line runs through this bucket: a finished one of 30 answers or more.
        Small samples and the running bucket show as points of their own, so that one answer
        today cannot drag the line to a number it does not carry."""
        return self.summary.n >= SMALL_SAMPLE and not self.unfinished

    @property
    def value_text(self) -> str:
        return metric_text(self.summary.kind, self.summary.value)

    @property
    def interval_text(self) -> str:
        return interval_text(self.summary.kind, self.summary.interval)


@dataclass(frozen=True)
class ScoreRow:
    score: int
    label: str  # the scale's wording of that point, where it has one
    category: CategoryFigure
    share: float | None


SPARK_WIDTH, SPARK_HEIGHT = 120, 28


def sparkline(values: list[float | None], low: float, high: float) -> str:
    """The values as the points of an SVG polyline, SPARK_WIDTH × SPARK_HEIGHT, ``low`` at the
    bottom and ``high`` at the top; missing values are left out, "" with fewer than two to draw."""
    drawn = [(index, value) for index, value in enumerate(values) if value is not None]
    if len(drawn) < 2:
        return ""
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{SPARK_HEIGHT - (value - low) / (high - low) * SPARK_HEIGHT:.1f}"
        for index, value in drawn
    )


def number(value: float | None, decimals: int = 0, *, signed: bool = False) -> str:
    """``value`` rounded half up as the templates' floatformat does, in the active language; "–" for None."""
    if value is None:
        return "–"
    text = str(floatformat(value, f"{decimals}g"))
    return f"+{text}" if signed and text.lstrip("0,.") and value > 0 else text


def metric_text(kind: str, value: float | None) -> str:
    return f"{number(value, DECIMALS[kind])}{METRIC_UNITS[kind]}" if value is not None else gettext("no data")


def interval_text(kind: str, interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "–"
    low, high = (number(bound, DECIMALS[kind]) for bound in interval)
    return gettext("%(low)s to %(high)s") % {"low": low, "high": high}


def significance_text(change: Change) -> str:
    """Whether a change is significant, as the dashboard's headline says it."""
    if change.delta is None:
        return gettext("no comparison: a period without responses")
    if change.significant is None:
        return gettext("cannot be tested: the scores do not vary")
    return gettext("significant (95 %)") if change.significant else gettext("not significant")


@dataclass(frozen=True)
class ChangeText:
    """A change as the dashboard and the home page say it, and the test behind it."""

    sentence: str  # "−7.0 points, significantly lower than the previous 30 days"
    explanation: str  # the test, its confidence level and both periods' n
    significant: bool | None


def describe_change(
    kind: str, current: Summary, previous: Summary, change: Change, *, days: int
) -> ChangeText:
    """The change from the previous ``days`` days with its unit, direction and significance."""
    if change.delta is None:
        sentence = ngettext(
            "no comparison: no answers in this period or the previous day",
            "no comparison: no answers in this period or the previous %(days)d days",
            days,
        ) % {"days": days}
    else:
        figure = change_text(kind, change)
        if change.significant is None:
            verdict = gettext("cannot be tested: the scores do not vary")
        elif change.significant and change.delta > 0:
            verdict = ngettext(
                "significantly higher than the previous day",
                "significantly higher than the previous %(days)d days",
                days,
            ) % {"days": days}
        elif change.significant:
            verdict = ngettext(
                "significantly lower than the previous day",
                "significantly lower than the previous %(days)d days",
                days,
            ) % {"days": days}
        else:
            verdict = ngettext(
                "not significantly different from the previous day",
                "not significantly different from the previous %(days)d days",
                days,
            ) % {"days": days}
        sentence = f"{figure} {CHANGE_UNITS[kind]}, {verdict}"
    explanation = gettext(
        "Tested with %(test)s, two-sided, at 95 %% confidence: a change is called significant when a "
        "difference this large would arise by chance in fewer than 5 of 100 comparisons. "
        "n = %(n)s in this period, %(previous)s in the previous one."
    ) % {"test": CHANGE_TESTS[kind], "n": number(current.n), "previous": number(previous.n)}
    return ChangeText(sentence=sentence, explanation=explanation, significant=change.significant)


def interval_note(choice: IntervalChoice) -> str:
    """Which interval the series uses, and why, in a short sentence."""
    name = str(INTERVAL_NAMES[choice.interval][1])
    if choice.reason == IntervalChoice.CHOSEN:
        return gettext("By %(interval)s, as chosen.") % {"interval": INTERVAL_NAMES[choice.interval][0]}
    if choice.reason == IntervalChoice.NO_DATA:
        return gettext("By %(interval)s: there are no answers to choose by.") % {
            "interval": INTERVAL_NAMES[choice.interval][0]
        }
    values = {
        "interval": INTERVAL_NAMES[choice.interval][0],
        "buckets": name,
        "full": choice.full,
        "counted": choice.counted,
    }
    if choice.reason == IntervalChoice.ENOUGH:
        return (
            gettext(
                "By %(interval)s, chosen automatically: %(full)d of %(counted)d whole %(buckets)s "
                "hold 30 answers or more."
            )
            % values
        )
    return (
        gettext(
            "By %(interval)s, the longest interval for this period: only %(full)d of %(counted)d whole "
            "%(buckets)s hold 30 answers or more."
        )
        % values
    )


# (singular, plural) of each interval, as the notes name them: "by week", "3 of 4 whole weeks"
# (the plural in its own context, as German declines it there).
INTERVAL_NAMES = {
    "day": (_("day"), pgettext_lazy("whole buckets", "days")),
    "week": (_("week"), pgettext_lazy("whole buckets", "weeks")),
    "month": (_("month"), pgettext_lazy("whole buckets", "months")),
    "quarter": (_("quarter"), pgettext_lazy("whole buckets", "quarters")),
}


def change_text(kind: str, change: Change) -> str | None:
    """The change in the metric's decimals, signed with a true minus; None without a previous period
    to compare with."""
    return (
        None
        if change.delta is None
        else number(change.delta, DECIMALS[kind], signed=True).replace("-", MINUS)
    )


def category_figures(summary: Summary) -> list[CategoryFigure]:
    """The categories in scale order (worst first) with counts, shares and colours."""
    return [
        CategoryFigure(
            code=code,
            label=str(capfirst(CATEGORY_NAMES[code][1])),
            colour=colour,
            count=count,
            share=summary.share(code),
        )
        for (code, count), colour in zip(summary.categories, CATEGORY_COLOURS, strict=True)
    ]


def category_label(code: str) -> str:
    return str(capfirst(CATEGORY_NAMES[code][0]))


def category_index(response) -> int:
    """0 for the scale's worst category, 1 for the middle one, 2 for the best: the colour's place."""
    return [category.code for category in SCALES[response.kind].categories].index(response.category)


def series_rows(dashboard: Dashboard) -> list[BucketRow]:
    """Every bucket of the period in order, those without responses as n = 0 ("no data")."""
    kind, interval, filters = dashboard.filters.survey.kind, dashboard.interval, dashboard.filters
    known = {bucket.start: bucket.summary for bucket in dashboard.series}
    starts = bucket_starts(filters.since, filters.until, interval)
    # Across New Year every tick names its year: "Dec 30" then "Jan 6" would read as going back.
    with_year = len({start.year for start in starts} | {filters.until.year}) > 1
    rows = []
    for start in starts:
        summary = known.get(start) or summarise(kind, {})
        label, tick = _bucket_labels(start, interval, with_year=with_year)
        rows.append(
            BucketRow(
                start=start,
                label=label,
                tick=tick,
                summary=summary,
                categories=category_figures(summary),
                # Only while the period reaches today: a bucket the period's end cuts off is done.
                unfinished=start <= dashboard.today <= filters.until
                and dashboard.today < next_bucket(start, interval),
            )
        )
    return rows


def unfinished_note(rows: list[BucketRow]) -> str:
    """ "unfinished: 12 answers so far" for the running bucket, "" if the period does not reach it."""
    for row in rows:
        if row.unfinished:
            return ngettext(
                "%(bucket)s is unfinished: %(n)s answer so far",
                "%(bucket)s is unfinished: %(n)s answers so far",
                row.summary.n,
            ) % {"bucket": row.label, "n": number(row.summary.n)}
    return ""


def score_rows(dashboard: Dashboard) -> list[ScoreRow]:
    """Every point of the scale, lowest first, with its responses over the whole period."""
    scale = dashboard.filters.survey.scale
    labels = scale.point_labels(scale_language())
    total = dashboard.summary.n
    rows = []
    for score in scale.points:
        count = dashboard.histogram.get(score, 0)
        code = scale.category(score)
        index = [category.code for category in scale.categories].index(code)
        category = CategoryFigure(
            code=code,
            label=str(capfirst(CATEGORY_NAMES[code][1])),
            colour=CATEGORY_COLOURS[index],
            count=count,
            share=None,
        )
        rows.append(
            ScoreRow(
                score=score,
                label=labels.get(score, ""),
                category=category,
                share=100 * count / total if total else None,
            )
        )
    return rows


def over_time(dashboard: Dashboard, rows: list[BucketRow]) -> dict:
    """Both views of the series chart ("share" and "count") and plotly's config."""
    return {
        "figures": {view: _over_time_figure(dashboard, rows, view) for view in ("share", "count")},
        "config": _config(dashboard, "over-time"),
    }


def distribution(dashboard: Dashboard, rows: list[ScoreRow]) -> dict:
    """The score histogram, one trace per category so that the legend names the colours."""
    kind = dashboard.filters.survey.kind
    traces = []
    for code in dict.fromkeys(row.category.code for row in rows):
        points = [row for row in rows if row.category.code == code]
        traces.append(
            {
                "type": "bar",
                "name": points[0].category.label,
                "x": [str(row.score) for row in points],
                "y": [row.category.count for row in points],
                "marker": {"color": points[0].category.colour, "line": {"color": "#ffffff", "width": 1}},
                "customdata": [_score_hover(row) for row in points],
                "hovertemplate": "%{customdata}<extra></extra>",
            }
        )
    scale = SCALES[kind]
    layout = _layout(
        height=300,
        bargap=0.15,
        xaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [str(score) for score in scale.points],
            "title": {"text": gettext("score")},
        },
        yaxis={"title": {"text": gettext("responses")}, "gridcolor": GRID_COLOUR},
    )
    figure = {"data": traces, "layout": layout}
    return {"figures": {"count": figure}, "config": _config(dashboard, "distribution")}


def _over_time_figure(dashboard: Dashboard, rows: list[BucketRow], view: str) -> dict:
    """Two panels on one time axis, each with its own scale: the metric above (its line joins
    finished buckets of 30 answers or more; small samples and the running bucket are points of
    their own, with their intervals), the answers' split as bars below."""
    kind = dashboard.filters.survey.kind
    x = [row.label for row in rows]
    traces: list[dict] = []
    for index, (code, _count) in enumerate(rows[0].summary.categories):
        figures = [row.categories[index] for row in rows]
        traces.append(
            {
                "type": "bar",
                "name": figures[0].label,
                "x": x,
                "y": [
                    (item.share if view == "share" else item.count) if item.count else None
                    for item in figures
                ],
                "yaxis": "y2",
                "marker": {
                    "color": figures[0].colour,
                    # Small samples and the running bucket are lighter; the running one is hatched.
                    "opacity": [0.45 if row.summary.small_sample or row.unfinished else 1 for row in rows],
                    "pattern": {
                        "shape": ["/" if row.unfinished else "" for row in rows],
                        "fillmode": "overlay",  # stripes over the colour, not instead of it
                        "fgcolor": "#ffffff",
                        "size": 7,
                        "solidity": 0.45,
                    },
                    "line": {"color": "#ffffff", "width": 1},
                },
                "customdata": [
                    f"{item.label}: {number(item.share)} % ({number(item.count)})" if item.count else ""
                    for item in figures
                ],
                "hovertemplate": "%{customdata}<extra></extra>",
                "legendgroup": code,
            }
        )
    band = {
        "type": "scatter",
        "x": x,
        "mode": "lines",
        "line": {"width": 0},
        "hoverinfo": "skip",
        "showlegend": False,
    }
    joined = [row if row.joined else None for row in rows]
    traces.append(
        {**band, "y": [row.summary.interval[1] if row and row.summary.interval else None for row in joined]}
    )
    traces.append(
        {
            **band,
            "y": [row.summary.interval[0] if row and row.summary.interval else None for row in joined],
            "fill": "tonexty",
            "fillcolor": BAND_COLOUR,
            # xgettext:no-python-format
            "name": gettext("95 % interval"),
            "showlegend": True,
        }
    )
    traces.append(
        {
            "type": "scatter",
            "name": METRIC_NAMES[kind],
            "x": x,
            "y": [row.summary.value if row else None for row in joined],
            "mode": "lines+markers",
            "connectgaps": False,
            "line": {"color": METRIC_COLOUR, "width": 2.5},
            "marker": {"color": METRIC_COLOUR, "size": 7},
            "customdata": [_bucket_hover(kind, row) if row else "" for row in joined],
            "hovertemplate": "%{customdata}<extra></extra>",
        }
    )
    for name, symbol, colour, selected in (
        (gettext("fewer than 30 answers"), "circle-open", METRIC_COLOUR, lambda row: not row.unfinished),
        (gettext("unfinished"), "diamond-open", UNFINISHED_COLOUR, lambda row: row.unfinished),
    ):
        points = [row if row.summary.n and not row.joined and selected(row) else None for row in rows]
        traces.append(_loose_points(kind, x, points, name=name, symbol=symbol, colour=colour))
    step = _tick_step(len(x))
    layout = _layout(
        height=460,
        barmode="stack",
        hovermode="x unified",
        xaxis={
            "type": "category",
            "anchor": "y2",  # the time axis under the lower panel
            "tickmode": "array",
            "tickvals": x[::step],
            "ticktext": [row.tick for row in rows][::step],
        },
        yaxis={
            "title": {"text": METRIC_NAMES[kind]},
            "domain": [0.42, 1],
            "range": _padded(METRIC_RANGES[kind]),
            "dtick": METRIC_TICKS[kind],
            "gridcolor": GRID_COLOUR,
            "zeroline": kind == "nps",
        },
        yaxis2={
            # xgettext:no-python-format
            "title": {"text": gettext("% of responses") if view == "share" else gettext("responses")},
            "domain": [0, 0.32],
            "range": [0, 100] if view == "share" else None,
            "automargin": True,
            "fixedrange": True,
            "gridcolor": GRID_COLOUR,
        },
    )
    return {"data": traces, "layout": layout}


def _loose_points(kind: str, x: list[str], rows: list, *, name: str, symbol: str, colour: str) -> dict:
    """Buckets shown as points of their own, not joined to the line, with their intervals as bars."""
    values = [row.summary.value if row else None for row in rows]
    intervals = [row.summary.interval if row else None for row in rows]
    return {
        "type": "scatter",
        "name": name,
        "x": x,
        "y": values,
        "mode": "markers",
        "marker": {"color": colour, "size": 9, "symbol": symbol, "line": {"width": 2, "color": colour}},
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": [
                i[1] - v if i and v is not None else None for i, v in zip(intervals, values, strict=True)
            ],
            "arrayminus": [
                v - i[0] if i and v is not None else None for i, v in zip(intervals, values, strict=True)
            ],
            "color": colour,
            "thickness": 1,
            "width": 3,
        },
        "customdata": [_bucket_hover(kind, row) if row else "" for row in rows],
        "hovertemplate": "%{customdata}<extra></extra>",
        "showlegend": any(value is not None for value in values),
    }


def _padded(bounds: list[int]) -> list[float]:
    """An axis' range a little beyond the metric's, so that points at its ends stay whole."""
    low, high = bounds
    margin = (high - low) * 0.04
    return [low - margin, high + margin]


def _layout(*, height: int, xaxis: dict, yaxis: dict, **chart) -> dict:
    """The charts' common layout with the chart's own settings; its axes extend the common ones."""
    return {
        "height": height,
        "margin": {"l": 56, "r": 56, "t": 40, "b": 16},
        "font": {"family": FONT, "size": 13, "color": TEXT_COLOUR},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        # Fixed axes: dragging a finger over a chart on a tablet scrolls the page, it does not zoom.
        "xaxis": {"automargin": True, "fixedrange": True, **xaxis},
        "yaxis": {"automargin": True, "fixedrange": True, **yaxis},
        # Decimal and thousands separators of the page's language.
        "separators": f"{get_format('DECIMAL_SEPARATOR')}{get_format('THOUSAND_SEPARATOR')}",
        **chart,
    }


def _config(dashboard: Dashboard, chart: str) -> dict:
    """plotly.js options: only the PNG download in the mode bar, named after survey, chart and period."""
    filters = dashboard.filters
    filename = (
        f"{slugify(filters.survey.name) or filters.survey.kind}-{chart}-{filters.since}-{filters.until}"
    )
    config = {
        "displaylogo": False,
        "displayModeBar": True,  # touch screens have no hover to reveal it
        "modeBarButtons": [["toImage"]],
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
        "responsive": True,
    }
    language = get_language() or "en"
    if not language.startswith("en"):
        download = gettext("Download plot as a PNG image")
        config["locale"] = language
        config["locales"] = {language: {"dictionary": {"Download plot as a png": download}}}
    return config


def _bucket_hover(kind: str, row: BucketRow) -> str:
    summary = row.summary
    if not summary.n:
        return gettext("no responses")
    text = gettext("%(metric)s %(value)s (95 %% interval %(interval)s), n = %(n)s") % {
        "metric": METRIC_NAMES[kind],
        "value": metric_text(kind, summary.value),
        "interval": interval_text(kind, summary.interval),
        "n": number(summary.n),
    }
    if row.unfinished:
        text += " · " + gettext("unfinished: so far")
    elif summary.small_sample:
        text += " · " + gettext("small sample")
    return text


def _score_hover(row: ScoreRow) -> str:
    label = f" ({row.label})" if row.label else ""
    return gettext("Score %(score)s%(label)s: %(count)s responses (%(share)s %%)") % {
        "score": row.score,
        "label": label,
        "count": number(row.category.count),
        "share": number(row.share),
    }


def _bucket_labels(start: date, interval: str, *, with_year: bool) -> tuple[str, str]:
    """The bucket's label in full and its axis tick, which carries the year if ``with_year``."""
    if interval == "quarter":
        label = gettext("Q%(quarter)d %(year)d") % {"quarter": (start.month - 1) // 3 + 1, "year": start.year}
        return label, label
    if interval == "month":
        return date_format(start, "YEAR_MONTH_FORMAT"), date_format(start, "M Y")
    tick = date_format(start, "MONTH_DAY_FORMAT")
    if with_year:
        tick = f"{tick}<br>{start.year}"
    if interval == "week":
        return gettext("week of %(date)s") % {"date": date_format(start, "DATE_FORMAT")}, tick
    return date_format(start, "DATE_FORMAT"), tick


def _tick_step(buckets: int) -> int:
    """Every n-th bucket gets an axis label, so that at most MAX_TICKS labels share the axis."""
    return max(1, -(-buckets // MAX_TICKS))


def scale_language() -> str:
    language = (get_language() or "en")[:2]
    return language if language in LANGUAGES else "en"
