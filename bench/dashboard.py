"""Dashboard speed on PostgreSQL, beside the raw limit measured in the same run.

    DEBUG=true .venv/bin/python bench/dashboard.py [--responses 1000000] [--big]

1. Loads ``--responses`` answers (``--big``: 10,000,000) spread over the last 15 months
   into three surveys with ``COPY``: 60 % NPS, 25 % CSAT, 15 % CES. The surveys tally
   the contact properties plan and region. Then rebuilds the daily tallies of scores
   and of properties and vacuums.
2. Times the complete data of the NPS survey's dashboard for the last 12 months by
   week: through ``GET /api/v1/metrics/`` (gunicorn, two workers, a bearer token), also
   filtered by a tallied property (plan) and by one that is not (the event's carrier,
   counted from the responses in one scan for all panels), through ``build_dashboard``
   in-process (with and without a breakdown by plan) and, once the page exists, through
   ``GET /dashboard/`` with a session (its static files collected first, as DEBUG is off
   in the server).
3. Beside them, hand-written SQL over the raw responses that computes the same weekly
   promoter / passive / detractor counts in one query: grouped by ``date_trunc`` of the
   local time, and as one index range per local week (the faster of the two); and
   grouped by ``date_trunc`` with each property filter, the limit of the filtered runs.
4. Checks that the API's weekly and headline numbers, unfiltered and filtered by plan
   and by carrier, equal the raw query's, changes a few hundred answers through
   ``Response.revise`` and checks again.

It creates (and drops first) the database ``cxsurvey_bench_dashboard`` on the local server.
"""

import argparse
import http.client
import io
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from datetime import time as clock
from itertools import accumulate
from math import cos, pi
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from common import SERVER, bench_environment, gunicorn, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_dashboard"
ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
DAYS = 456  # 15 months of answers; the dashboard shows the last 12 and compares with the 12 before
CHUNK = 200_000  # rows per COPY
CONTACTS = 4000
TALLIED_PROPERTIES = ["plan", "region"]
BREAKDOWN_PROPERTY = "plan"
PROPERTY_FILTER = {"property.plan": "pro"}  # tallied
UNTALLIED_FILTER = {"property.carrier": "DHL"}  # an event property, counted from the responses
RUNS, WARM_UPS, RAW_RUNS = 15, 2, 5
REVISIONS = 400

# kind, name, share of all answers, touchpoints (slug, name, share of the survey's email answers,
# extra share of answers drawn from the poor distribution).
SURVEYS = (
    (
        "nps",
        "Nordwind NPS",
        0.60,
        (
            ("order-delivered", "Order delivered", 0.5, 0.10),
            ("support-ticket-closed", "Support ticket closed", 0.3, 0.35),
            ("onboarding-completed", "Onboarding completed", 0.2, 0.0),
        ),
    ),
    (
        "csat",
        "Delivery CSAT",
        0.25,
        (
            ("delivery-csat", "Delivery (CSAT)", 0.6, 0.10),
            ("support-chat-csat", "Support chat (CSAT)", 0.4, 0.25),
        ),
    ),
    ("ces", "Returns CES", 0.15, (("return-processed", "Return processed", 1.0, 0.15),)),
)
# Score weights over each scale, lowest score first: a content and an unhappy population.
GOOD = {
    "nps": (2, 1, 2, 2, 3, 5, 7, 12, 18, 22, 26),
    "csat": (4, 6, 12, 36, 42),
    "ces": (3, 4, 7, 12, 20, 30, 24),
}
POOR = {
    "nps": (9, 6, 8, 9, 9, 11, 12, 13, 10, 7, 6),
    "csat": (20, 22, 24, 20, 14),
    "ces": (18, 17, 17, 16, 13, 11, 8),
}
CHANNELS = (("email", 0.70), ("link", 0.20), ("widget", 0.10))
PLANS = (("free", 40), ("starter", 30), ("pro", 22), ("enterprise", 8))
REGIONS = (("DE", 62), ("AT", 14), ("CH", 11), ("NL", 8), ("FR", 5))
EVENT_PROPERTIES = {
    "email": [
        json.dumps({"carrier": carrier, "store": store})
        for carrier in ("DHL", "DPD", "Hermes", "GLS")
        for store in ("online", "showroom")
    ],
    "link": [json.dumps({"source": source}) for source in ("receipt", "invoice", "newsletter")],
    "widget": [json.dumps({"page": page}) for page in ("/checkout", "/account", "/help")],
}
COMMENTS = {  # by category, worst first
    "de": (
        ("Lieferung kam zwei Wochen zu spät", "Niemand hat auf meine Mail geantwortet", "Ware beschädigt"),
        ("Ganz okay, aber teuer", "Lieferzeit könnte kürzer sein", "Passt so"),
        ("Super Service, gerne wieder", "Schnelle Lieferung und freundlich", "Alles bestens"),
    ),
    "en": (
        ("Delivery was two weeks late", "Nobody answered my email", "Item arrived damaged"),
        ("Fine, but pricey", "Delivery could be faster", "It was okay"),
        ("Great service, will buy again", "Fast delivery, friendly staff", "All good"),
    ),
}
COMMENT_CHANCE = (0.55, 0.35, 0.33)  # unhappy customers write more: about 40 % overall
HOURS = (1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 11, 11, 10, 9, 9, 9, 9, 9, 10, 11, 11, 9, 6, 3)  # local


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--big", action="store_true", help="10,000,000 responses")
    options = parser.parse_args()
    total = 10_000_000 if options.big else options.responses

    environment = bench_environment(DATABASE, TIME_ZONE=ZONE, RATE_LIMIT_API="1000000")
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user, token, surveys = set_up()
    nps = surveys["nps"]

    print(f"CXSurvey dashboard bench on PostgreSQL: {total:,} responses over {DAYS} days")
    load_responses(total, surveys)
    build_tally()

    query = {"survey": nps.pk, "range": "12m", "interval": "week"}
    with_page = page_exists()
    with gunicorn(environment) as server:
        port = server.port
        runs = measure(port, token, user, query, with_page)
        raws = {
            "": {
                "grouped by date_trunc": time_raw(raw_weekly, nps),
                "one index range per week": time_raw(raw_week_ranges, nps),
            },
            **{
                describe(filters): {
                    f"{describe(filters)}, grouped by date_trunc": time_raw(
                        raw_weekly, nps, properties=filters
                    )
                }
                for filters in (PROPERTY_FILTER, UNTALLIED_FILTER)
            },
        }
        print(f"\nRuntimes, 12 months by week of survey “{nps.name}” (median / p95 of {RUNS} runs):")
        for what, (filters, times) in runs.items():
            if times:
                report(what, times, raws[describe(filters)])
        if not with_page:
            print("  GET /dashboard/: no dashboard view yet; build_dashboard stands for it")
        for limits in raws.values():
            for shape, times in limits.items():
                print(f"  raw query, one survey, {shape}: {milliseconds(times)} (median of {RAW_RUNS})")
        print(f"  raw query, all surveys, grouped by date_trunc: {milliseconds(time_raw(raw_weekly, None))}")
        profile(query, user, BREAKDOWN_PROPERTY)
        profile({**query, **PROPERTY_FILTER}, user, "")
        profile({**query, **UNTALLIED_FILTER}, user, "")
        targets(total, runs, raws)

        print("\nExactness:")
        for filters in ({}, PROPERTY_FILTER, UNTALLIED_FILTER):
            check_exact(port, token, surveys, filters)
        revise_some(surveys)
        for filters in ({}, PROPERTY_FILTER, UNTALLIED_FILTER):
            check_exact(port, token, surveys, filters)


def measure(
    port: int, token: str, user, query: dict, with_page: bool
) -> dict[str, tuple[dict, list[float] | None]]:
    """The property filters and seconds per run of each way to the dashboard's data; None for a
    page that is not there."""
    breakdown = {**query, "breakdown": BREAKDOWN_PROPERTY}
    return {
        "metrics API over HTTP": ({}, timed(lambda: api_get(port, token, query))),
        "build_dashboard in-process, the API's panels": ({}, time_in_process(query, user)),
        f"build_dashboard in-process, all panels (breakdown by {BREAKDOWN_PROPERTY})": (
            {},
            time_in_process(query, user, breakdown=BREAKDOWN_PROPERTY),
        ),
        "GET /dashboard/ over HTTP": ({}, time_page(port, user, query) if with_page else None),
        f"GET /dashboard/ over HTTP, breakdown by {BREAKDOWN_PROPERTY}": (
            {},
            time_page(port, user, breakdown) if with_page else None,
        ),
        f"metrics API over HTTP, filtered by {describe(PROPERTY_FILTER)} (tallied)": (
            PROPERTY_FILTER,
            timed(lambda: api_get(port, token, {**query, **PROPERTY_FILTER})),
        ),
        f"metrics API over HTTP, filtered by {describe(UNTALLIED_FILTER)} (not tallied)": (
            UNTALLIED_FILTER,
            timed(lambda: api_get(port, token, {**query, **UNTALLIED_FILTER})),
        ),
    }


def set_up():
    """A user with an API token, the three surveys with their touchpoints, and the contacts."""
    from django.contrib.auth import get_user_model

    from surveys.models import ApiToken, Contact, Survey, Touchpoint

    user = get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True)
    _, token = ApiToken.issue(user=user, name="bench")
    surveys = {}
    for kind, name, _share, touchpoints in SURVEYS:
        survey = Survey.objects.create(
            name=name, kind=kind, brand="Nordwind Möbel", dashboard_properties=TALLIED_PROPERTIES
        )
        for slug, title, _weight, _poor in touchpoints:
            Touchpoint.objects.create(slug=slug, name=title, survey=survey)
        surveys[kind] = survey
    rng = random.Random(4)
    Contact.objects.bulk_create(
        Contact(
            email=f"customer{number}@example.com",
            language=rng.choices(("de", "en"), (7, 3))[0],
            properties={"plan": pick(rng, PLANS), "region": pick(rng, REGIONS)},
        )
        for number in range(CONTACTS)
    )
    return user, token, surveys


def pick(rng: random.Random, weighted: tuple) -> str:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def load_responses(total: int, surveys: dict, database: str = DATABASE) -> None:
    """COPY ``total`` generated responses into ``database`` in chunks, generating the next chunk
    while one loads. bench/export.py loads its own database with it.

    The triggers that keep the tallies are off during the load, as for any bulk load of this
    size: the caller recounts the tallies (``rebuild_tallies``) if it reads them."""
    import psycopg2

    columns = (
        "public_id, survey_id, kind, touchpoint_id, contact_id, channel, score, comment, language, "
        "contact_properties, event_properties, created_at, updated_at"
    )
    chunks: queue.Queue = queue.Queue(maxsize=2)

    def produce() -> None:
        try:
            generate(total, surveys, chunks)
        except BaseException as error:
            chunks.put(error)  # rather than leave the loader waiting for ever
            raise

    generator = threading.Thread(target=produce, daemon=True)
    connection = psycopg2.connect(f"{SERVER}/{database}")
    started = time.perf_counter()
    generator.start()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("ALTER TABLE surveys_response DISABLE TRIGGER USER")
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise RuntimeError("generating the responses failed") from chunk
            cursor.copy_expert(f"COPY surveys_response ({columns}) FROM STDIN", io.StringIO(chunk))
            connection.commit()
        cursor.execute("ALTER TABLE surveys_response ENABLE TRIGGER USER")
        connection.commit()
    elapsed = time.perf_counter() - started
    connection.close()
    print(f"  loaded {total:,} responses with COPY in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s)")


def generate(total: int, surveys: dict, chunks: queue.Queue) -> None:
    """COPY text for ``total`` responses in the order they arrived, ``CHUNK`` rows at a time, then None.

    Chronological like a real table, so the time indexes grow at their end as in production.
    """
    from surveys.models import Contact

    rng = random.Random(2026)
    today = datetime.now(BERLIN)
    first = today.date() - timedelta(days=DAYS - 1)
    days = [first + timedelta(days=n) for n in range(DAYS)]
    # Local date and its UTC offset at noon: only answers in the small hours of the two
    # daylight-saving days get an offset that differs from the wall clock's.
    stamps = [f"{day.isoformat()} %s{datetime.combine(day, clock(12), BERLIN):%z}" for day in days]
    cumulative = list(accumulate(day_weight(n, day) for n, day in enumerate(days)))
    ends = [round(total * weight / cumulative[-1]) for weight in cumulative]
    # The Christmas rush: late deliveries make more customers unhappy.
    rush = [0.15 if (d.month, d.day) >= (12, 10) or (d.month, d.day) <= (1, 6) else 0.0 for d in days]
    seconds_today = today.hour * 3600 + today.minute * 60 + today.second
    times = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
    contacts = [
        (str(pk), language, json.dumps(properties))
        for pk, language, properties in Contact.objects.values_list("pk", "language", "properties")
    ]
    plans = survey_plans(surveys)
    kinds, kind_weights = [kind for kind, *_ in SURVEYS], [share for _k, _n, share, _t in SURVEYS]
    channels, channel_weights = [channel for channel, _ in CHANNELS], [weight for _, weight in CHANNELS]
    version = 0x4000 << 64 | 0x8000 << 48  # a version 4, RFC 4122 variant UUID
    mask = ~(0xF000 << 64 | 0xC000 << 48)

    lines: list[str] = []
    for day, stamp in enumerate(stamps):
        size = ends[day] - (ends[day - 1] if day else 0)
        seconds = sorted(hour * 3600 + rng.randrange(3600) for hour in rng.choices(range(24), HOURS, k=size))
        if day == DAYS - 1:
            seconds = [second * seconds_today // 86_400 for second in seconds]
        for kind, channel, second in zip(
            rng.choices(kinds, kind_weights, k=size),
            rng.choices(channels, channel_weights, k=size),
            seconds,
            strict=True,
        ):
            plan = plans[kind]
            if channel == "email":
                touchpoint, poor = rng.choices(plan["touchpoints"], plan["weights"])[0]
            else:
                touchpoint, poor = "\\N", 0.15
            scores = plan["poor"] if rng.random() < poor + rush[day] else plan["good"]
            score = rng.choices(plan["scores"], scores)[0]
            category = plan["category"][score - plan["scores"][0]]
            if channel == "email" or rng.random() < 0.4:
                contact, language, properties = contacts[rng.randrange(CONTACTS)]
            else:
                contact, language, properties = "\\N", "de" if rng.random() < 0.7 else "en", "{}"
            comment = (
                rng.choice(COMMENTS[language][category]) if rng.random() < COMMENT_CHANCE[category] else ""
            )
            updated = second if rng.random() < 0.95 else rng.randrange(second, 86_400)
            if day == DAYS - 1:
                updated = min(updated, seconds_today)
            lines.append(
                f"{rng.getrandbits(128) & mask | version:032x}\t{plan['survey']}\t{kind}\t{touchpoint}\t"
                f"{contact}\t{channel}\t{score}\t{comment}\t{language}\t{properties}\t"
                f"{rng.choice(EVENT_PROPERTIES[channel])}\t"
                f"{stamp % times[second]}\t{stamp % times[updated]}\n"
            )
            if len(lines) == CHUNK:
                chunks.put("".join(lines))
                lines = []
    chunks.put("".join(lines))
    chunks.put(None)


def survey_plans(surveys: dict) -> dict:
    """Per kind: the survey's id, its touchpoints' ids with their weights, and its score weights."""
    from surveys.models import Touchpoint
    from surveys.scales import SCALES

    plans = {}
    for kind, _name, _share, touchpoints in SURVEYS:
        ids = {t.slug: str(t.pk) for t in Touchpoint.objects.filter(survey=surveys[kind])}
        scale = SCALES[kind]
        plans[kind] = {
            "survey": str(surveys[kind].pk),
            "touchpoints": [(ids[slug], poor) for slug, _title, _weight, poor in touchpoints],
            "weights": [weight for *_, weight, _poor in touchpoints],
            "scores": list(scale.points),
            "good": GOOD[kind],
            "poor": POOR[kind],
            # The index of each score's category, worst first.
            "category": [
                next(n for n, c in enumerate(scale.categories) if c.low <= score <= c.high)
                for score in scale.points
            ],
        }
    return plans


def day_weight(number: int, day: date) -> float:
    """Fewer answers at weekends, more before Christmas, and slowly more over the months."""
    weekday = (1.15, 1.1, 1.05, 1.0, 0.95, 0.6, 0.5)[day.weekday()]
    season = 1 + 0.3 * cos(2 * pi * (day.timetuple().tm_yday - 340) / 365.25)
    growth = 0.7 + 0.6 * number / DAYS
    return weekday * season * growth


def build_tally() -> None:
    import psycopg2

    from surveys.models import DailyScore, PropertyScore

    for what, tally in (
        ("daily tally", DailyScore),
        (f"property tally ({', '.join(TALLIED_PROPERTIES)})", PropertyScore),
    ):
        started = time.perf_counter()
        rows = tally.objects.rebuild()
        print(f"  rebuilt the {what} in {time.perf_counter() - started:.1f} s ({rows:,} rows)")
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    connection.autocommit = True
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # VACUUM too: the raw query's index-only scan needs the visibility map.
        cursor.execute("VACUUM (ANALYZE) surveys_response")
        cursor.execute("VACUUM (ANALYZE) surveys_dailyscore")
        cursor.execute("VACUUM (ANALYZE) surveys_propertyscore")
    connection.close()
    print(f"  VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")


def timed(function, runs: int = RUNS, warm_ups: int = WARM_UPS) -> list[float]:
    """Seconds of each of ``runs`` calls after ``warm_ups`` untimed ones."""
    for _ in range(warm_ups):
        function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def get(port: int, path: str, headers: dict) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("GET", path, headers=headers)
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, body


def api_get(port: int, token: str, query: dict) -> dict:
    status, body = get(port, f"/api/v1/metrics/?{urlencode(query)}", {"Authorization": f"Bearer {token}"})
    if status != 200:
        raise RuntimeError(f"/api/v1/metrics/ answered {status}: {body[:300]!r}")
    return json.loads(body)


def time_in_process(query: dict, user, breakdown: str = "") -> list[float]:
    """build_dashboard with the filters read from the same query string as the API's."""
    from django.http import QueryDict

    from feedback.dashboard import build_dashboard
    from feedback.forms import DashboardFilterForm

    def run():
        form = DashboardFilterForm(QueryDict(urlencode(query)), user=user)
        if not form.is_valid():
            raise RuntimeError(f"the filters are invalid: {form.errors}")
        return build_dashboard(
            form.filters(), interval=form.cleaned_data["interval"] or None, breakdown_property=breakdown
        )

    return timed(run)


def page_exists() -> bool:
    """Whether the dashboard page has been built yet; if so, with its static files collected."""
    import importlib.util

    if importlib.util.find_spec("feedback.views") is None:
        return False
    from feedback import views

    if not hasattr(views, "dashboard"):
        return False
    from django.core.management import call_command

    # DEBUG is off in the server: the page's static files need their manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    return True


def time_page(port: int, user, query: dict) -> list[float] | None:
    """GET /dashboard/ (the HTML, not its static files) with a signed-in session; None if it fails."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    headers = {"Cookie": f"sessionid={client.cookies['sessionid'].value}", "Accept-Language": "en"}
    path = f"/dashboard/?{urlencode(query)}"
    status, _ = get(port, path, headers)
    if status != 200:
        print(f"  GET {path} answered {status}: not timed")
        return None
    return timed(lambda: get(port, path, headers))


def period(until: date | None = None) -> tuple[datetime, datetime]:
    """The metrics' "last 12 months" (364 days back from today) as local-midnight bounds."""
    today = until or datetime.now(BERLIN).date()
    since = today - timedelta(days=364)
    return (
        datetime.combine(since, clock.min, BERLIN),
        datetime.combine(today + timedelta(days=1), clock.min, BERLIN),
    )


def raw_weekly(
    cursor, survey, start: datetime, end: datetime, kind: str = "nps", properties: dict | None = None
) -> dict:
    """Category counts per local week from the raw responses: {week's Monday: {category: count}}.

    ``properties`` as in the API's query (``property.plan``: value): the event's property if it
    has one, else the contact's, must be that text.
    """
    from surveys.scales import SCALES

    categories = SCALES[kind].categories
    filters = ", ".join(f"count(*) FILTER (WHERE score BETWEEN {c.low} AND {c.high})" for c in categories)
    where = "created_at >= %s AND created_at < %s"
    parameters = [start, end]
    if survey is not None:
        where += " AND survey_id = %s"
        parameters.append(survey.pk)
    for key, value in (properties or {}).items():
        name = key.removeprefix("property.")
        where += " AND COALESCE(event_properties -> %s, contact_properties -> %s) = to_jsonb(%s::text)"
        parameters += [name, name, value]
    cursor.execute(
        f"SELECT date_trunc('week', created_at AT TIME ZONE '{ZONE}')::date AS week, {filters} "
        f"FROM surveys_response WHERE {where} GROUP BY 1 ORDER BY 1",
        parameters,
    )
    return {
        week: dict(zip((c.code for c in categories), figures, strict=True))
        for week, *figures in cursor.fetchall()
    }


def raw_week_ranges(cursor, survey, start: datetime, end: datetime, kind: str = "nps") -> dict:
    """The same counts as ``raw_weekly`` for one survey, with one index range per local week.

    No per-row time zone arithmetic and no sort: each week is an index-only range scan
    between its local Monday midnights.
    """
    from surveys.scales import SCALES

    categories = SCALES[kind].categories
    filters = ", ".join(f"count(*) FILTER (WHERE score BETWEEN {c.low} AND {c.high})" for c in categories)
    first = start.date() - timedelta(days=start.weekday())
    cursor.execute(
        f"SELECT week::date, counts.* FROM generate_series(%s::timestamp, %s::timestamp, interval '1 week') "
        f"AS week CROSS JOIN LATERAL (SELECT count(*) AS n, {filters} FROM surveys_response "
        f"WHERE survey_id = %s AND created_at >= greatest(week AT TIME ZONE '{ZONE}', %s) "
        f"AND created_at < least((week + interval '1 week') AT TIME ZONE '{ZONE}', %s)) AS counts "
        "WHERE counts.n > 0 ORDER BY 1",
        [first, end.date(), survey.pk, start, end],
    )
    return {
        week: dict(zip((c.code for c in categories), figures, strict=True))
        for week, _n, *figures in cursor.fetchall()
    }


def time_raw(query, survey, **options) -> list[float]:
    """A hand-written limit over one survey (or all, counted as NPS), its bounds computed in Python."""
    import psycopg2

    start, end = period()
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    with connection.cursor() as cursor:
        times = timed(lambda: query(cursor, survey, start, end, **options), runs=RAW_RUNS, warm_ups=1)
    connection.close()
    return times


def describe(properties: dict) -> str:
    return ", ".join(f"{key.removeprefix('property.')} = {value}" for key, value in properties.items())


def milliseconds(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:,.1f} ms"


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def report(what: str, times: list[float], raws: dict) -> None:
    median = statistics.median(times)
    ratios = ", ".join(f"{statistics.median(raw) / median:.1f}× ({shape})" for shape, raw in raws.items())
    print(f"  {what}: median {median * 1000:,.1f} ms, p95 {p95(times) * 1000:,.1f} ms")
    print(f"      raw / this: {ratios}")


def targets(total: int, runs: dict, raws: dict) -> None:
    limit = 0.25 if total <= 1_000_000 else 1.0
    print(f"\nTarget for {total:,} responses: complete dashboard data in ≤ {limit * 1000:,.0f} ms median")
    for what, (filters, times) in runs.items():
        if times:
            median = statistics.median(times)
            print(f"  {'PASS' if median <= limit else 'MISS'}  {what}: {median * 1000:,.1f} ms")
            raw = min(statistics.median(times) for times in raws[describe(filters)].values())
            record(
                f"dashboard, {total:,} answers: {what}",
                median * 1000,
                "ms",
                target=limit * 1000,
                limit=raw * 1000,
                limit_name="raw SQL",
                lower_is_better=True,
            )


def profile(query: dict, user, breakdown: str) -> None:
    """Each query of one in-process dashboard (with a breakdown: all panels), slowest first."""
    from django.db import connection
    from django.http import QueryDict

    from feedback.dashboard import build_dashboard
    from feedback.forms import DashboardFilterForm

    spent: list[tuple[float, str]] = []

    def record(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append((time.perf_counter() - started, sql))

    form = DashboardFilterForm(QueryDict(urlencode(query)), user=user)
    form.is_valid()
    with connection.execute_wrapper(record):
        started = time.perf_counter()
        build_dashboard(
            form.filters(), interval=form.cleaned_data["interval"] or None, breakdown_property=breakdown
        )
        elapsed = time.perf_counter() - started
    in_queries = sum(seconds for seconds, _ in spent)
    properties = {key: value for key, value in query.items() if key.startswith("property.")}
    shown = f"breakdown by {breakdown}" if breakdown else "the API's panels"
    shown += f", filtered by {describe(properties)}" if properties else ""
    print(
        f"\nWhere one build_dashboard ({shown}) spends its {elapsed * 1000:,.1f} ms "
        f"({len(spent)} queries, {in_queries * 1000:,.1f} ms in the database and driver):"
    )
    for seconds, sql in sorted(spent, reverse=True)[:6]:
        print(f"  {seconds * 1000:8.1f} ms  {' '.join(sql.split())[:150]}")


def check_exact(port: int, token: str, surveys: dict, properties: dict | None = None) -> None:
    """The API's weekly and headline counts equal the raw query's, for every survey, with the
    property filters given; else raise."""
    import psycopg2

    from surveys.scales import SCALES

    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    problems = []
    label = f", {describe(properties)}" if properties else ""
    with connection.cursor() as cursor:
        for kind, survey in surveys.items():
            query = {"survey": survey.pk, "range": "12m", "interval": "week", **(properties or {})}
            body = api_get(port, token, query)
            key = {c.code: c.code + ("s" if kind == "nps" else "") for c in SCALES[kind].categories}
            until = date.fromisoformat(body["until"])
            current = raw_weekly(cursor, survey, *period(until), kind, properties)
            if not properties and raw_week_ranges(cursor, survey, *period(until), kind) != current:
                problems.append(f"{kind}: the two raw queries disagree")
            previous = raw_weekly(cursor, survey, *period(until - timedelta(days=365)), kind, properties)
            served = {
                date.fromisoformat(bucket["start"]): {code: bucket[name] for code, name in key.items()}
                for bucket in body["series"]
            }
            if served != current:
                weeks = sorted(w for w in served.keys() | current.keys() if served.get(w) != current.get(w))
                problems.append(
                    f"{kind}{label}: {len(weeks)} weeks differ, e.g. {weeks[0]}: API {served.get(weeks[0])}, "
                    f"raw {current.get(weeks[0])}"
                )
            for name, figures, raw in (("headline", body, current), ("previous", body["previous"], previous)):
                totals: defaultdict[str, int] = defaultdict(int)
                for week in raw.values():
                    for code, count in week.items():
                        totals[code] += count
                expected = {key[code]: count for code, count in totals.items()}
                expected["responses"] = sum(totals.values())
                got = {field: figures[field] for field in expected}
                if got != expected:
                    problems.append(f"{kind}{label} {name}: API {got}, raw {expected}")
            counted = sum(sum(week.values()) for week in current.values())
            print(f"  {kind}{label}: {len(current)} weeks, {counted:,} responses")
    connection.close()
    if problems:
        raise SystemExit("NOT EXACT:\n  " + "\n  ".join(problems))
    print("  exact: every week's and both periods' counts equal the raw query's")


def revise_some(surveys: dict) -> None:
    """Change the score of ``REVISIONS`` random answers the way the app does."""
    from django.db.models import Max, Min
    from django.utils import timezone

    from surveys.models import Response

    rng = random.Random(11)
    bounds = Response.objects.aggregate(low=Min("pk"), high=Max("pk"))
    chosen = rng.sample(range(bounds["low"], bounds["high"] + 1), REVISIONS)
    started = time.perf_counter()
    changed = 0
    for response in Response.objects.filter(pk__in=chosen).select_related("survey"):
        scores = [s for s in response.survey.scale.points if s != response.score]
        response.revise(score=rng.choice(scores), comment=None, now=timezone.now())
        changed += 1
    elapsed = time.perf_counter() - started
    print(f"  changed the score of {changed} answers with Response.revise in {elapsed:.1f} s; again:")


if __name__ == "__main__":
    main()
