"""The dashboard and the verbatim explorer in a real browser: demo data, plotly charts, filters,
and the API's numbers."""

import io
import json
import re
import urllib.request
from dataclasses import replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from feedback.api.metrics import summary_json
from feedback.counts import Filters
from feedback.dashboard import build_dashboard, default_survey, period_response_rate
from feedback.verbatims import VerbatimQuery, find_verbatims
from surveys.models import PropertyLabel, Survey
from tests.factories import make_api_token

pytestmark = pytest.mark.django_db(transaction=True)

DECIMALS = {"nps": 1, "csat": 1, "ces": 1}
UNITS = {"nps": "", "csat": " %", "ces": ""}


@pytest.fixture
def demo(live_server):
    with override_settings(DEBUG=True):  # the demo user's public password, as in development
        call_command("seed_demo", contacts=300, responses=1500, stdout=io.StringIO())


def log_in(page, live_server):
    page.goto(f"{live_server.url}/login/?next=/dashboard/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "cxsurvey-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")


def demo_user():
    return get_user_model().objects.get(username="demo")


def displayed(kind: str, value: float, separator: str = ".") -> str:
    """The metric as the page rounds it: half up, to the kind's decimals."""
    places = Decimal(1).scaleb(-DECIMALS[kind])
    text = str(Decimal(repr(value)).quantize(places, rounding=ROUND_HALF_UP)).replace(".", separator)
    return text + UNITS[kind]


def api_metrics(live_server, token: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/metrics/?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def charts_drawn(page) -> None:
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    expect(page.locator("#over-time-chart svg.main-svg").first).to_be_visible()
    expect(page.locator("#distribution-chart svg.main-svg").first).to_be_visible()
    assert page.locator("#over-time-chart .trace.bars").count() == 3  # one per category
    # Band edges, the line, and the points of small samples and of the running bucket.
    assert page.locator("#over-time-chart .scatterlayer .trace").count() == 5


# Every figure the page hands to plotly.js, checked against the attributes the served bundle knows:
# a trace type or attribute missing from the basic bundle would be dropped silently when drawn. An
# attribute set to null is unset to plotly (validate calls it invalid); nulls in data arrays are gaps.
UNKNOWN_TO_THE_BUNDLE = """() => {
  const unsetIsAbsent = function (key, value) {
    return value === null && !Array.isArray(this) ? undefined : value;
  };
  return Array.from(document.querySelectorAll(".chart[data-figures]")).flatMap(chart => {
    const payload = JSON.parse(document.getElementById(chart.dataset.figures).textContent, unsetIsAbsent);
    return Object.values(payload.figures).flatMap(
      figure => Plotly.validate(figure.data, figure.layout) || []
    );
  }).map(error => error.msg);
}"""


def assert_the_bundle_knows_every_attribute(page) -> None:
    assert page.evaluate(UNKNOWN_TO_THE_BUNDLE) == []
    # The check itself sees what the bundle lacks: a trace type that only the full bundle has.
    assert page.evaluate("() => Plotly.validate([{type: 'scattergl', y: [1]}], {})")


def test_the_dashboard_with_demo_data_follows_its_filters(page, live_server, demo):
    log_in(page, live_server)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    charts_drawn(page)
    assert_the_bundle_knows_every_attribute(page)

    # The default: the survey with the most answers over the last 30 days (the demo user has
    # looked at none before), by the interval chosen for it, as the metrics API computes it.
    today = timezone.localdate()
    survey = default_survey(demo_user(), Survey.objects.all(), since=today - timedelta(days=29), until=today)
    expected = build_dashboard(Filters(survey=survey, since=today - timedelta(days=29), until=today))
    value = summary_json(expected.summary)[survey.kind]
    expect(page.locator("#headline-value")).to_have_text(displayed(survey.kind, value))
    expect(page.locator("#headline-n")).to_have_text(f"{expected.summary.n:,}")

    # Another survey, by week, through the form.
    nps = Survey.objects.get(kind="nps")
    page.select_option("#f-survey", str(nps.pk))
    page.select_option("#f-range", "90d")
    page.select_option("#f-interval", "week")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/dashboard/?*interval=week*")
    query = urlsplit(page.url).query
    assert parse_qs(query) == {"survey": [str(nps.pk)], "range": ["90d"], "interval": ["week"]}
    charts_drawn(page)
    metrics = api_metrics(live_server, make_api_token(user=demo_user()), query)
    assert metrics["kind"] == "nps" and metrics["interval"] == "week"
    expect(page.locator("#headline-value")).to_have_text(displayed("nps", metrics["nps"]))
    low, high = metrics["ci95"]
    expect(page.locator("#headline-interval")).to_have_text(
        f"{displayed('nps', low)} to {displayed('nps', high)}"
    )
    expect(page.locator("#headline-n")).to_have_text(f"{metrics['responses']:,}")
    since = today - timedelta(days=89)
    weeks = (today - (since - timedelta(days=since.weekday()))).days // 7 + 1
    expect(page.locator("#over-time-table tbody tr")).to_have_count(weeks)  # every week, with data or not
    with_data = [bucket for bucket in metrics["series"] if bucket["responses"]]
    assert page.locator("#over-time-chart .trace.bars .point").count() >= len(with_data)

    # Shares and counts: the bars' axis changes with the toggle.
    expect(page.locator("#over-time-chart .ytitle")).to_have_text("NPS")
    expect(page.locator("#over-time-chart .y2title")).to_have_text("% of responses")
    page.click("text=Show counts")
    expect(page.locator("#over-time-chart .y2title")).to_have_text("responses")
    expect(page.locator("button.toggle")).to_have_text("Show percentages")

    # The data table behind the chart, for screen readers and anyone who prefers numbers.
    page.locator("section:has(#over-time-title) summary").click()
    expect(page.locator("#over-time-table caption")).to_have_text("NPS over time")
    expect(page.locator("#over-time-table")).to_be_visible()

    # The PNG download of plotly's mode bar, named after survey, chart and period.
    with page.expect_download() as download:
        page.locator("#distribution-chart .modebar-btn").first.click()
    filename = download.value.suggested_filename
    assert filename.startswith("nordwind-weiterempfehlung-nps-distribution-") and filename.endswith(".png")

    assert page.errors == []  # includes any refusal by the Content-Security-Policy
    # Nothing from another origin: plotly.js is the app's own; the PNG is a blob of this page.
    own = (live_server.url, f"blob:{live_server.url}/")
    assert [r.url for r in page.requests if not r.url.startswith(own)] == []


def test_the_dashboard_in_german_on_a_tablet(browser, live_server, demo):
    context = browser.new_context(locale="de-DE", viewport={"width": 768, "height": 1024})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    log_in(page, live_server)
    csat = Survey.objects.get(kind="csat")
    page.goto(f"{live_server.url}/dashboard/?survey={csat.pk}&range=12m&interval=month&breakdown=plan")
    charts_drawn(page)
    assert page.locator("html").get_attribute("lang") == "de"
    expect(page.locator("label[for=f-survey]")).to_have_text("Umfrage")

    metrics = api_metrics(live_server, make_api_token(user=demo_user()), f"survey={csat.pk}&range=12m")
    expect(page.locator("#headline-value")).to_have_text(displayed("csat", metrics["csat"], separator=","))
    expect(page.locator("#property-table tbody tr")).to_have_count(4)
    segments = page.locator("#property-table tbody th .segment").all_inner_texts()
    assert sorted(segments) == ["(nicht gesetzt)", "basic", "plus", "pro"]  # anonymous answers have no plan

    # Usable at 768 px: nothing wider than the screen, the panels stacked.
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    assert errors == []
    context.close()


def test_from_the_dashboard_into_the_verbatim_explorer(page, live_server, demo):
    log_in(page, live_server)
    page.set_viewport_size({"width": 1280, "height": 900})
    nps = Survey.objects.get(kind="nps")
    page.goto(f"{live_server.url}/dashboard/?survey={nps.pk}&range=12m")
    page.click("#all-verbatims")
    page.wait_for_url("**/verbatims/?*")
    assert parse_qs(urlsplit(page.url).query) == {"survey": [str(nps.pk)], "range": ["12m"]}

    # A word from the newest detractor comment, searched among the detractors.
    today = timezone.localdate()
    filters = Filters(survey=nps, since=today - timedelta(days=364), until=today)
    newest = find_verbatims(VerbatimQuery(filters, category="detractor")).first()
    word = max(newest.comment.split(), key=len).strip(".,!?")
    page.fill("#f-q", word)
    page.select_option("#f-category", "detractor")
    page.click(".search button[type=submit]")
    page.wait_for_url("**/verbatims/?*q=*")
    expected = find_verbatims(VerbatimQuery(filters, text=word, category="detractor")).count()
    expect(page.locator("#results-title")).to_have_text(
        f"{expected:,} answer" + ("s" if expected != 1 else "")
    )
    first = page.locator("#verbatims > li").first
    expect(first.locator("mark").first).to_be_visible()
    expect(first.locator(".score")).to_have_text(str(newest.score))  # newest first
    assert all(int(score) <= 6 for score in page.locator("#verbatims .score").all_inner_texts())

    # Another survey has another scale: its categories and scores are cleared with the choice.
    csat = Survey.objects.get(kind="csat")
    page.select_option("#f-survey", str(csat.pk))
    page.click("#filters button[type=submit]")
    page.wait_for_url(f"**/verbatims/?survey={csat.pk}*")
    assert "category" not in parse_qs(urlsplit(page.url).query)
    expect(page.locator("#f-category option")).to_have_text(["any", "Dissatisfied", "Neutral", "Satisfied"])
    assert page.errors == []
    assert [r.url for r in page.requests if not r.url.startswith(live_server.url)] == []


def test_the_first_view_of_the_demo_tells_the_truth(browser, live_server):
    """The dashboard as one first opens it, on a phone, a tablet and a desktop: the busiest survey, an
    interval whose buckets mostly hold 30 answers, no line through small samples or the running
    bucket, the change in words with its test on hover and focus, and one decimal."""
    with override_settings(DEBUG=True):  # enough answers a week for the busiest survey
        call_command("seed_demo", contacts=1000, responses=8000, stdout=io.StringIO())
    for width in (390, 768, 1440):
        _first_view(browser, live_server, width)


def _first_view(browser, live_server, width: int) -> None:
    context = browser.new_context(locale="en-GB", viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    log_in(page, live_server)
    charts_drawn(page)

    today = timezone.localdate()
    since = today - timedelta(days=29)
    busiest = max(
        Survey.objects.all(),
        key=lambda survey: build_dashboard(Filters(survey, since, today), interval="day").summary.n,
    )
    expect(page.locator("#f-survey option[selected]")).to_have_attribute("value", str(busiest.pk))
    board = build_dashboard(Filters(busiest, since, today))
    assert board.interval_choice.reason == "enough"
    assert 2 * board.interval_choice.full > board.interval_choice.counted
    expect(page.locator("#interval-note")).to_contain_text(f"By {board.interval}, chosen automatically")
    expect(page.locator("#f-interval option[selected]")).to_have_text(f"Automatic ({board.interval})")

    # The line runs only through finished buckets of 30 answers or more; the running one is a point.
    figure = json.loads(page.locator("#over-time-data").text_content())["figures"]["share"]
    traces = {trace.get("name"): trace for trace in figure["data"]}
    rows = page.locator("#over-time-table tbody tr")
    n = [
        int(text.replace(",", ""))
        for text in page.locator("#over-time-table tbody tr td:nth-child(2)").all_text_contents()
    ]
    assert len(n) == rows.count() == len(traces["NPS"]["y"])
    classes = [rows.nth(i).get_attribute("class") for i in range(len(n))]
    for count, value, row_class in zip(n, traces["NPS"]["y"], classes, strict=True):
        if value is not None:
            assert count >= 30 and row_class != "unfinished"
    assert traces["NPS"]["y"][-1] is None  # today's bucket is not on the line
    expect(page.locator("#over-time-table tbody tr.unfinished")).to_have_count(1)
    expect(page.locator("#unfinished-note")).to_contain_text("is unfinished:")
    expect(page.locator("#unfinished-note")).to_contain_text("so far")
    assert page.locator("#over-time-chart .legendtext", has_text="unfinished").count() == 1

    # One decimal, and the change in words, explained on hover and on keyboard focus.
    assert re.fullmatch(r"-?\d+\.\d( %)?", page.locator("#headline-value").text_content())
    change = page.locator("#headline-significance")
    sentence = (
        r"^[+\u2212]?\d+\.\d (percentage )?points, "
        r"(significantly (higher|lower) than|not significantly different from) the previous 30 days$"
    )
    expect(change).to_have_text(re.compile(sentence))
    explanation = page.locator("#headline-significance-explanation")
    expect(explanation).to_be_hidden()
    change.hover()
    expect(explanation).to_be_visible()
    page.mouse.move(0, 0)
    expect(explanation).to_be_hidden()
    page.locator("#f-survey").focus()
    for _ in range(80):  # through the filters by keyboard, to the change
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "headline-significance":
            break
    expect(change).to_be_focused()
    expect(explanation).to_be_visible()
    expect(explanation).to_contain_text("95 % confidence")
    assert errors == []
    context.close()


@pytest.mark.parametrize("width", [390, 1440])
def test_a_year_of_the_demo_names_years_labels_properties_and_refuses_unknown_values(
    browser, live_server, demo, width
):
    # The demo labels its properties; this one is relabelled, as in the back office.
    PropertyLabel.objects.update_or_create(
        name="region", defaults={"label_de": "Region", "label_en": "Region of the customer"}
    )
    context = browser.new_context(locale="en-GB", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    log_in(page, live_server)
    nps = Survey.objects.get(kind="nps")
    page.goto(f"{live_server.url}/dashboard/?survey={nps.pk}&range=12m&breakdown=region")
    charts_drawn(page)
    # Twelve months cross New Year: every tick of the time axis names its year.
    ticks = page.locator("#over-time-chart .xtick text").all_text_contents()
    assert ticks and all(re.search(r"20\d\d", tick) for tick in ticks)
    assert len(ticks) <= max(2, width // 110)  # a phone labels fewer buckets, so that labels do not overlap
    # The metric's scale above, the answers' below, each on the left of its own panel: no line
    # over bars on a second scale.
    metric = [box["y"] + box["height"] for box in _boxes(page, "#over-time-chart .ytick")]
    answers = [box["y"] for box in _boxes(page, "#over-time-chart .y2tick")]
    assert metric and answers and max(metric) < min(answers)
    lefts = [box["x"] for box in _boxes(page, "#over-time-chart .ytick, #over-time-chart .y2tick")]
    plot = page.locator("#over-time-chart .nsewdrag").first.bounding_box()
    assert all(left < plot["x"] for left in lefts)
    expect(page.locator("#property-table thead th").first).to_have_text("Region of the customer")
    expect(page.locator("label", has_text="Region of the customer")).to_have_count(1)

    # A value none of the survey's answers has: refused, named, and no response rate claimed.
    page.goto(f"{live_server.url}/dashboard/?survey={nps.pk}&range=12m&property.region=Nord")
    expect(page.locator(".errors")).to_contain_text(
        "No answer to this survey has “Nord” as Region of the customer."
    )
    expect(page.locator("#headline-rate")).to_have_count(0)
    # A value that exists: the rate follows it, over the invitations of that region only.
    page.goto(f"{live_server.url}/dashboard/?survey={nps.pk}&range=12m&property.region=CH")
    filters = Filters(
        survey=nps, since=timezone.localdate() - timedelta(days=364), until=timezone.localdate()
    )
    everyone, swiss = (
        period_response_rate(filters),
        period_response_rate(replace(filters, properties=(("region", "CH"),))),
    )
    assert swiss is not None and everyone is not None and swiss != everyone
    expect(page.locator("#headline-rate")).to_have_text(displayed("csat", 100 * swiss))  # one decimal, in %
    assert page.errors == []
    context.close()


def _boxes(page, selector: str) -> list[dict]:
    return [box for box in (element.bounding_box() for element in page.locator(selector).all()) if box]
