"""The dashboard's first view in a browser with a cold cache: how soon its charts are drawn.

    DEBUG=true .venv/bin/python bench/first_dashboard.py [--runs 15] [--contacts 5000] [--responses 20000]

1. Creates (and drops first) the database ``cxsurvey_bench_first_dashboard`` with the demo data
   (``seed_demo``), collects the static files as production does (hashed names, gzip and brotli
   copies) and serves the app with gunicorn (four sync workers, as the image runs) and production
   settings on loopback.
2. Opens ``/dashboard/``, signed in, in headless Chromium (Debian's, with the browser tests' flags),
   each time in a new browser context: an empty cache, as on a first visit. The figure is the time
   from the start of the navigation until both charts are drawn: every chart of the page holds an
   SVG with one trace group for each trace of its figure. A MutationObserver in the page marks
   that moment (``performance.mark``), so the time is the page's own, not that of polling it; the
   page's scripts have run by then (``dashboard.js`` draws the charts last).
3. The limit, loaded the same way: the same page with JavaScript off (no script is fetched or run),
   until its load event.
4. Prints the median and p95 of both, their ratio, and the bytes transferred for plotly.js
   (compressed, as sent) and for the whole page; the target is charts drawn within 1 s (median).

Playwright comes with the development tools (``make venv``).
"""

import argparse
import io
import os
import statistics
import sys
from pathlib import Path

from common import bench_environment, gunicorn, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_first_dashboard"
TARGET_MS = 1000
WARM_UPS = 2  # page loads before the measured ones: each gunicorn worker has loaded the dashboard's code

# Marks "charts-drawn" once every chart holds as many trace groups as its first view has traces.
MARK_CHARTS_DRAWN = """
(() => {
  const expected = new WeakMap();
  const traces = chart => {
    if (!expected.has(chart)) {
      const payload = JSON.parse(document.getElementById(chart.dataset.figures).textContent);
      expected.set(chart, payload.figures[Object.keys(payload.figures)[0]].data.length);
    }
    return expected.get(chart);
  };
  const drawn = () => {
    const charts = Array.from(document.querySelectorAll(".chart[data-figures]"));
    return charts.length > 0 && charts.every(
      chart => chart.querySelector(".main-svg")
        && chart.querySelectorAll(".main-svg .trace").length >= traces(chart)
    );
  };
  new MutationObserver((changes, observer) => {
    if (drawn()) {
      performance.mark("charts-drawn");
      observer.disconnect();
    }
  }).observe(document, {childList: true, subtree: true});
})();
"""
TIMINGS = """() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const plotly = resources.filter(entry => entry.name.includes("plotly"));
  const drawn = performance.getEntriesByName("charts-drawn");
  return {
    drawn: drawn.length ? drawn[0].startTime : null,
    html: navigation.responseEnd,
    load: navigation.loadEventEnd,
    plotly: plotly.reduce((sum, entry) => sum + entry.encodedBodySize, 0),
    page: resources.reduce((sum, entry) => sum + entry.transferSize, navigation.transferSize),
  };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--responses", type=int, default=20000)
    options = parser.parse_args()

    environment = bench_environment(DATABASE)
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    call_command(
        "seed_demo",
        contacts=options.contacts,
        responses=options.responses,
        force_demo_user=True,
        stdout=io.StringIO(),
    )
    print(
        f"CXSurvey first dashboard: demo data ({options.responses:,} answers), gunicorn with production "
        f"settings on loopback, headless Chromium with a cold cache, {options.runs} runs"
    )
    with gunicorn(environment, workers=4) as server:
        base = f"http://127.0.0.1:{server.port}"
        # Before Playwright starts: its event loop makes Django refuse database calls in this thread.
        cookie = {"name": "sessionid", "value": session_key(), "url": base}
        with browser() as chromium:
            for _ in range(WARM_UPS):
                first_view(chromium, base, cookie, scripts=True)
            runs = [first_view(chromium, base, cookie, scripts=True) for _ in range(options.runs)]
            limits = [first_view(chromium, base, cookie, scripts=False) for _ in range(options.runs)]
    report(runs, limits)


def session_key() -> str:
    """A signed-in session of the demo superuser."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="demo"))
    return client.cookies["sessionid"].value


class browser:
    """Headless Chromium through Playwright, for the length of a ``with`` block."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

        self.playwright = sync_playwright().start()
        return self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    def __exit__(self, *exc) -> None:
        self.playwright.stop()


def first_view(chromium, base: str, cookie: dict, *, scripts: bool) -> dict:
    """One load of the dashboard in a new context (an empty cache): its timings in ms and bytes."""
    context = chromium.new_context(
        locale="en-GB", viewport={"width": 1440, "height": 900}, java_script_enabled=scripts
    )
    context.add_cookies([cookie])
    page = context.new_page()
    encodings = []

    def note_encoding(answer) -> None:
        if "plotly" in answer.url:
            encodings.append(answer.headers.get("content-encoding"))

    page.on("response", note_encoding)
    if scripts:
        page.add_init_script(MARK_CHARTS_DRAWN)
    page.goto(f"{base}/dashboard/", wait_until="load")
    if scripts:
        page.wait_for_function("performance.getEntriesByName('charts-drawn').length > 0", timeout=30_000)
    timings = page.evaluate(TIMINGS)
    context.close()
    if page.url != f"{base}/dashboard/":
        raise RuntimeError(f"the dashboard sent the browser elsewhere: {page.url}")
    return {**timings, "encoding": encodings[0] if encodings else None}


def report(runs: list[dict], limits: list[dict]) -> None:
    median = statistics.median(run["drawn"] for run in runs)
    limit = statistics.median(run["load"] for run in limits)
    times("charts drawn", [run["drawn"] for run in runs])
    times("load event", [run["load"] for run in runs])
    times("the HTML received (server time)", [run["html"] for run in runs])
    times("limit: the HTML without scripts", [run["load"] for run in limits])
    print(f"  ratio, charts drawn to the limit:  {median / limit:.1f}")
    last, bare = runs[-1], limits[-1]
    print(f"  plotly.js transferred: {last['plotly'] / 1000:,.0f} kB ({last['encoding'] or 'uncompressed'})")
    print(f"  the whole page: {last['page'] / 1000:,.0f} kB; without scripts {bare['page'] / 1000:,.0f} kB")
    verdict = "PASS" if median <= TARGET_MS else "MISS"
    print(f"\nTarget: charts drawn within {TARGET_MS:,} ms (median): {verdict}")
    record(
        "first dashboard, cold cache: charts drawn",
        median,
        "ms",
        target=TARGET_MS,
        limit=limit,
        limit_name="HTML without scripts",
        lower_is_better=True,
    )


def times(what: str, milliseconds: list[float]) -> None:
    median, slow = statistics.median(milliseconds), p95(milliseconds)
    print(f"  {what + ':':34} median {median:6.0f} ms, p95 {slow:6.0f} ms")


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]


if __name__ == "__main__":
    main()
