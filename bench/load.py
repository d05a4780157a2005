"""The hot paths under concurrent load: gunicorn on PostgreSQL with production settings.

    DEBUG=true .venv/bin/python bench/load.py [--contacts 10000] [--users 8,16,32] [--seconds 15]
                                             [--flows answering,widget,...] [--workers 4]

1. Creates (and drops first) the database ``cxsurvey_bench_load`` on the local server with
   ``--contacts`` contacts, an NPS survey with a touchpoint, a webhook subscription (so that each
   answer and event writes its outbox message, as in most installations), enough sent invitations
   for every answering flow, and an API token; collects the static files.
2. Serves the app with gunicorn (``--workers`` sync workers) and production settings, rate limits
   raised out of the way, and drives it with locust (``bench/locustfile.py``, headless, on this
   machine) at each number of ``--users`` in turn, for ``--seconds`` each: the same server's 404
   page and a static file (the limits), the answering flow (GET the email's score link, POST the
   score, POST a comment), the widget without and with a signed email, single events, bulk events
   (100 a request), a Delighted integration's people (``POST /delighted/v1/people.json``) and the
   dashboard's metrics API.
3. Prints, per flow and number of users, the throughput, p50 / p95 / p99 and errors, the ratio of
   the throughput to the 404 page's at the same number of users, the CPU time per request of the
   web workers and of PostgreSQL's backends, and the web workers' peak memory; then checks the
   targets of the hot paths at the highest number of users.

Locust comes from ``bench/requirements.txt`` (``make bench`` installs it).
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import UNLIMITED, bench_environment, gunicorn, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_load"
ORIGIN = "https://shop.example.com"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP_SECONDS = 5
# Flows: (locust class, request name that counts one flow, unit). The first two are the limits.
FLOWS = {
    "trivial": ("Trivial", "404 page", "req/s"),
    "static": ("Static", "static file", "req/s"),
    "answering": ("Answering", "answer: POST comment", "answers/s"),
    "widget": ("Widget", "widget: POST answer", "answers/s"),
    "widget-email": ("WidgetWithEmail", "widget with email: POST answer", "answers/s"),
    "events": ("Event", "events: POST one", "events/s"),
    "bulk-events": ("BulkEvents", "events: POST 100", "requests/s"),
    "delighted": ("DelightedPeople", "delighted: POST person", "people/s"),
    "dashboard": ("Dashboard", "metrics API", "req/s"),
}
# The issue's targets at the highest number of users: (flows per second, p99 in ms).
TARGETS = {"answering": (300, 250), "widget": (250, 250), "widget-email": (250, 250), "events": (300, 250)}


@dataclass
class Result:
    flow: str
    users: int
    rate: float  # flows per second
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float  # ms, over all of the flow's requests
    web_cpu_ms: float  # per request
    db_cpu_ms: float


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--users", default="8,16,32", help="numbers of concurrent clients, in turn")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--flows", default=",".join(FLOWS))
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()
    levels = [int(users) for users in options.users.split(",")]
    flows = ["trivial", *(flow for flow in options.flows.split(",") if flow != "trivial")]

    environment = bench_environment(
        DATABASE, **UNLIMITED, RECONTACT_MINIMUM_DAYS="0", WEBHOOK_ALLOWED_HOSTS="127.0.0.1"
    )
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    # More invitations than the answering flow can answer in the warm-up and the runs.
    answers = (len(levels) * options.seconds + WARM_UP_SECONDS) * 500
    with tempfile.TemporaryDirectory() as scratch:
        fixture = Path(scratch) / "fixture.json"
        fixture.write_text(json.dumps(set_up(options.contacts, answers)))
        print(
            f"CXSurvey load bench: gunicorn with {options.workers} sync workers, PostgreSQL, "
            f"{options.contacts:,} contacts, {options.seconds} s per run, users {options.users}"
        )
        results = []
        with Server(environment, options.workers) as server:
            for flow in flows:  # every worker loads what each flow needs, and PostgreSQL its caches
                drive(server, flow, options.workers * 2, WARM_UP_SECONDS, fixture, Path(scratch))
            for flow in flows:
                for users in levels:
                    result = drive(server, flow, users, options.seconds, fixture, Path(scratch))
                    results.append(result)
                    print_result(result, results)
            peak = server.peak_memory_mb()
    print(f"\nPeak memory of a web worker: {peak:.0f} MB")
    check_targets(results, max(levels), options.contacts)


class Server(gunicorn):
    """The app under gunicorn, with its workers' CPU time and peak memory."""

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def peak_memory_mb(self) -> float:
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks, default=0)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far; 0 for one that has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def database_cpu_seconds() -> dict[int, float]:
    """CPU time of each PostgreSQL backend connected to the bench's database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DATABASE]
        )
        return {pid: cpu_seconds(pid) for (pid,) in cursor.fetchall()}


def drive(server: Server, flow: str, users: int, seconds: int, fixture: Path, scratch: Path) -> Result:
    user_class, counted, _ = FLOWS[flow]
    prefix = scratch / f"{flow}-{users}-{time.monotonic_ns()}"
    web_before, db_before = server.cpu_seconds(), database_cpu_seconds()
    command = [str(ROOT / ".venv/bin/locust"), "-f", str(ROOT / "bench/locustfile.py"), "--headless"]
    command += ["--only-summary"]
    command += ["--host", f"http://127.0.0.1:{server.port}", "-u", str(users), "-r", str(users)]
    command += ["-t", f"{seconds}s", "--csv", str(prefix), "--loglevel", "ERROR", user_class]
    subprocess.run(
        command,
        env={**os.environ, "LOAD_FIXTURE": str(fixture)},
        stdout=subprocess.DEVNULL,
        stderr=(scratch / "locust.log").open("a"),
        check=False,  # locust exits 1 when any request failed; the failures are reported
    )
    web = server.cpu_seconds() - web_before
    db_after = database_cpu_seconds()
    db = sum(after - db_before.get(pid, 0.0) for pid, after in db_after.items())
    with open(f"{prefix}_stats.csv") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    total = rows["Aggregated"]
    if total["50%"] == "N/A":
        log = (scratch / "locust.log").read_text()[-3000:]
        raise RuntimeError(f"{flow}: no request was answered in {seconds} s\n{log}")
    requests = int(total["Request Count"])
    per_request = 1000 / max(requests, 1)
    return Result(
        flow=flow,
        users=users,
        rate=float(rows[counted]["Requests/s"]) if counted in rows else 0.0,
        requests=requests,
        failures=int(total["Failure Count"]),
        p50=float(total["50%"]),
        p95=float(total["95%"]),
        p99=float(total["99%"]),
        web_cpu_ms=web * per_request,
        db_cpu_ms=db * per_request,
    )


def print_result(result: Result, results: list[Result]) -> None:
    if len(results) == 1 or results[-2].flow != result.flow:
        unit = FLOWS[result.flow][2]
        print(f"\n{result.flow} ({unit}):")
        print("  users      rate   vs 404    p50    p95    p99  errors  web CPU/req  db CPU/req")
    limit = next((r.rate for r in results if r.flow == "trivial" and r.users == result.users), 0)
    ratio = f"{result.rate / limit:6.2f}" if limit else "     —"
    latency = f"{result.p50:5.0f}  {result.p95:5.0f}  {result.p99:5.0f}"
    print(
        f"  {result.users:5d}  {result.rate:8.1f}  {ratio}  {latency}  {result.failures:6d}"
        f"  {result.web_cpu_ms:8.1f} ms  {result.db_cpu_ms:7.1f} ms"
    )


def check_targets(results: list[Result], users: int, contacts: int) -> None:
    print(f"\nTargets at {users} users:")
    limit = next(r.rate for r in results if r.flow == "trivial" and r.users == users)
    for result in results:
        if result.users != users or result.flow not in TARGETS:
            continue
        rate, p99 = TARGETS[result.flow]
        ok = result.rate >= rate and result.p99 < p99 and not result.failures
        unit = FLOWS[result.flow][2]
        print(
            f"  {result.flow}: {result.rate:.0f} {unit} (≥ {rate}), p99 {result.p99:.0f} ms (< {p99}), "
            f"{result.failures} errors: {'pass' if ok else 'short'}"
        )
        record(
            f"{result.flow} at {users} users, {contacts:,} contacts",
            result.rate,
            unit,
            target=rate,
            limit=limit,
            limit_name="404 page",
            passed=ok,
        )


def insert_contacts(count: int, properties: dict) -> int:
    """``count`` customers customer<n>@example.com with ``properties``, written by one INSERT; the
    first one's id (the ids follow each other)."""
    from django.db import connection

    from surveys.models import Contact, LegalBasis

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO surveys_contact (email, external_id, name, language, properties, legal_basis, "
            "created_at, updated_at) SELECT 'customer' || n || '@example.com', 'C' || n, '', 'de', "
            "%s, %s, now(), now() FROM generate_series(1, %s) AS n",
            [json.dumps(properties), LegalBasis.CUSTOMER, count],
        )
        cursor.execute("VACUUM ANALYZE surveys_contact")
    return Contact.objects.order_by("pk").values_list("pk", flat=True)[0]


def send_invitations(survey, touchpoint, *, first: int, contacts: int, count: int) -> None:
    """``count`` invitations of the touchpoint, sent now, to the contacts from id ``first`` in turn."""
    from datetime import timedelta

    from django.utils import timezone

    from surveys.models import Invitation

    now = timezone.now()
    Invitation.objects.bulk_create(
        (
            Invitation(
                survey=survey,
                touchpoint=touchpoint,
                contact_id=first + number % contacts,
                status=Invitation.Status.SENT,
                sent_at=now,
                expires_at=now + timedelta(days=30),
            )
            for number in range(count)
        ),
        batch_size=5000,
    )


def set_up(contacts: int, invitations: int) -> dict:
    """The survey, its touchpoint and subscription, the contacts and the invitations to answer."""
    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles.storage import staticfiles_storage

    from delighted_compat.models import Project
    from surveys.models import ApiToken, Invitation, Survey, Touchpoint
    from webhooks.models import Subscription

    user = get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True)
    api_token, token = ApiToken.issue(user=user, name="bench", write=True)
    survey = Survey.objects.create(
        name="Lieferung", kind="nps", brand="Nordwind Möbel", widget_origins=ORIGIN
    )
    touchpoint = Touchpoint.objects.create(survey=survey, slug="delivery", name="Lieferung")
    Project.objects.create(token=api_token, touchpoint=touchpoint)  # the token is a Delighted key too
    Subscription.objects.create(owner=user, url="http://127.0.0.1:9/hooks", events=["response.created"])
    started = time.perf_counter()
    first = insert_contacts(contacts, {"plan": "pro"})
    send_invitations(survey, touchpoint, first=first, contacts=contacts, count=invitations)
    took = time.perf_counter() - started
    print(f"Set up {contacts:,} contacts and {invitations:,} invitations in {took:.0f} s")
    return {
        "tokens": list(Invitation.objects.values_list("token", flat=True)),
        "emails": [f"customer{number}@example.com" for number in range(1, min(contacts, 100_000) + 1)],
        "key": survey.public_key,
        "identity_secret": survey.identity_secret,
        "survey": survey.pk,
        "touchpoint": touchpoint.slug,
        "api_token": token,
        "origin": ORIGIN,
        "static": staticfiles_storage.url("cxsurvey/respondent.css"),
    }


if __name__ == "__main__":
    if not shutil.which("locust", path=str(ROOT / ".venv/bin")):
        sys.exit("locust is missing: pip install -r bench/requirements.txt (make bench does)")
    main()
