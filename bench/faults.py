"""Fault drills on PostgreSQL with production settings: what a fault costs, and that nothing
acknowledged is sent twice, lost or stuck.

    DEBUG=true .venv/bin/python bench/faults.py [--drills broker database smtp-down sender-killed]
                                               [--clients 16] [--invitations 1000] [--outage 60]

- ``broker``: answers from the widget, with a webhook subscription, while the broker (a Redis
  server of the drill's own) is stopped for 20 s and started again; a Celery worker and the beat
  deliver the webhook messages. Prints the answering rate and the slowest answer before, during
  and after the outage.
- ``database``: answers from the widget while another session terminates every connection to the
  database every 100 ms for 10 s. Every answer gets 201 or 503 with Retry-After, never a 500, and
  the server answers as before once the terminations stop.
- ``smtp-down``: the mail server is down for ``--outage`` seconds (nothing listens on its port)
  while ``manage.py runtasks`` sends; then it comes back.
- ``sender-killed``: a sender is killed (SIGKILL) in the middle of a batch to a slow mail server;
  its claims are then aged past the lease and another sender takes over.

Each drill prints what was sent (acknowledged), duplicated, lost and stuck, and the longest delay.
It creates (and drops first) the database ``cxsurvey_bench_faults`` on the local server. A drill is
one function taking the options and the environment; add more to ``DRILLS``.
"""

import argparse
import http.client
import http.server
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    SERVER,
    UNLIMITED,
    bench_environment,
    free_port,
    gunicorn,
    record,
    recreate_database,
    wait_for_port,
)

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_faults"
ORIGIN = "https://shop.example.com"
SENDER = "import django; django.setup(); from surveys.email.dispatch import dispatch_due; dispatch_due()"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drills", nargs="+", choices=list(DRILLS), default=list(DRILLS))
    parser.add_argument("--clients", type=int, default=16, help="answering clients (broker, database)")
    parser.add_argument("--invitations", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=60, help="seconds the mail server is down")
    options = parser.parse_args()

    environment = bench_environment(DATABASE, **UNLIMITED, WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    environment.pop("CELERY_BROKER_URL", None)
    os.environ.update(environment)
    os.environ.pop("CELERY_BROKER_URL", None)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for name in options.drills:
        print(f"\n{name}:")
        DRILLS[name](options, environment)


# Answers under faults


@dataclass
class Answers:
    """What the clients saw: each answer's status, when it was sent and how long it took."""

    outcomes: list[tuple[float, int, float, str | None]] = field(default_factory=list)  # at, status, s, id
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, at: float, status: int, took: float, public_id: str | None) -> None:
        with self.lock:
            self.outcomes.append((at, status, took, public_id))

    def acknowledged(self) -> list[str]:
        return [public_id for _, status, _, public_id in self.outcomes if status == 201 and public_id]

    def between(self, start: float, end: float) -> list[tuple[float, int, float, str | None]]:
        return [outcome for outcome in self.outcomes if start <= outcome[0] < end]


def widget_survey() -> dict:
    """A survey for the widget, and a webhook subscription of its answers to a receiver."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from surveys.models import Survey
    from webhooks.models import Subscription

    owner, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    survey = Survey.objects.create(name="Shop", kind="nps", brand="Nordwind Möbel", widget_origins=ORIGIN)
    Subscription.objects.filter(owner=owner).update(active=False)
    receiver = Receiver()
    Subscription.objects.create(owner=owner, url=receiver.url, events=["response.created"])
    connection.close()
    return {"key": survey.public_key, "receiver": receiver}


class celery:
    """A Celery worker and the beat, for the length of a ``with`` block: they deliver the webhook
    messages, at once when the broker takes the hand-off, else by the beat's sweep."""

    def __init__(self, environment: dict) -> None:
        self.environment = environment

    def __enter__(self) -> "celery":
        self.directory = tempfile.mkdtemp()
        base = [str(ROOT / ".venv/bin/celery"), "-A", "cxsurvey"]
        worker = [*base, "worker", "--pool=solo", "--without-gossip", "--without-mingle", "-n", "drill@bench"]
        beat = [*base, "beat", "-s", str(Path(self.directory) / "schedule")]
        self.processes = [
            subprocess.Popen(
                command, cwd=ROOT, env=self.environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for command in (worker, beat)
        ]
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.terminate()
            process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


class Receiver:
    """A webhook receiver on loopback that counts the deliveries of each message."""

    def __init__(self) -> None:
        self.deliveries: Counter = Counter()
        self.delays: list[float] = []  # seconds from the answer to its message's arrival
        deliveries, delays = self.deliveries, self.delays

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                deliveries[(self.headers["webhook-id"], payload["data"]["id"])] += 1
                answered = datetime.fromisoformat(payload["timestamp"])
                delays.append((datetime.now(UTC) - answered).total_seconds())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def answer_continuously(port: int, key: str, answers: Answers, stop: threading.Event) -> None:
    """One client: widget answers one after the other until ``stop``."""
    body = json.dumps({"key": key, "score": 9}).encode()
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    while not stop.is_set():
        started = time.monotonic()
        try:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            client.request("POST", "/api/v1/widget/responses/", body=body, headers=headers)
            reply = client.getresponse()
            content = reply.read()
            client.close()
            status = reply.status
            public_id = json.loads(content)["id"] if status == 201 else None
            if status == 503 and reply.getheader("Retry-After") is None:
                status = -503  # a 503 that does not say when to try again
        except OSError:
            status, public_id = 0, None
        answers.add(started, status, time.monotonic() - started, public_id)


def load(port: int, key: str, clients: int, seconds: float, during=None) -> tuple[Answers, float]:
    """``clients`` answering for ``seconds``; ``during(start)`` runs meanwhile. The start time."""
    answers, stop = Answers(), threading.Event()
    threads = [
        threading.Thread(target=answer_continuously, args=(port, key, answers, stop)) for _ in range(clients)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    if during:
        during(start)
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join()
    return answers, start


def stored(public_ids: list[str]) -> Counter:
    """How many responses the database holds for each of these public ids."""
    from django.db import connection

    from surveys.models import Response

    found = Counter(str(public_id) for public_id in Response.objects.values_list("public_id", flat=True))
    connection.close()
    return Counter({public_id: found[public_id] for public_id in public_ids})


def phase(answers: Answers, start: float, end: float) -> str:
    outcomes = answers.between(start, end)
    rate = sum(1 for _, status, _, _ in outcomes if status == 201) / (end - start)
    slowest = max((took for _, _, took, _ in outcomes), default=0)
    median = statistics.median([took for _, _, took, _ in outcomes]) if outcomes else 0
    return f"{rate:6.1f} answers/s, median {median * 1000:5.0f} ms, slowest {slowest * 1000:6.0f} ms"


def report_counts(what: str, acknowledged: list[str], counts: Counter, stuck: int, longest: float) -> int:
    lost = sum(1 for public_id in acknowledged if counts[public_id] == 0)
    duplicated = sum(1 for public_id in acknowledged if counts[public_id] > 1)
    print(
        f"  {what}: sent {len(acknowledged):,}, duplicated {duplicated}, lost {lost}, stuck {stuck}, "
        f"longest delay {longest:.2f} s"
    )
    return lost + duplicated + stuck


# The broker


class redis_server:
    """A Redis server of the drill's own, to stop and start, on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = tempfile.mkdtemp()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def broker_drill(
    options, environment: dict, *, before: float = 10, outage: float = 20, after: float = 10
) -> None:
    """Answers while the broker is down for ``outage`` seconds."""
    print(f"  broker down for {outage:.0f} s, {options.clients} clients answering through the widget")
    broker = redis_server()
    broker.start()
    environment = {**environment, "CELERY_BROKER_URL": f"redis://127.0.0.1:{broker.port}/0"}
    world = widget_survey()
    receiver = world["receiver"]
    try:
        with celery(environment), gunicorn(environment, workers=4) as server:
            port = server.port

            def outage_window(start: float) -> None:
                time.sleep(before)
                broker.stop()
                time.sleep(outage)
                broker.start()

            answers, start = load(port, world["key"], options.clients, before + outage + after, outage_window)
            acknowledged = answers.acknowledged()
            deadline = time.monotonic() + 120
            while sum(receiver.deliveries.values()) < len(acknowledged) and time.monotonic() < deadline:
                time.sleep(0.5)
    finally:
        broker.close()
    print(f"  before:  {phase(answers, start, start + before)}")
    print(f"  outage:  {phase(answers, start + before, start + before + outage)}")
    print(f"  after:   {phase(answers, start + before + outage, start + before + outage + after)}")
    problems = report_counts("answers", acknowledged, stored(acknowledged), 0, slowest(answers))
    by_answer: Counter = Counter()
    for (_, answer_id), times in receiver.deliveries.items():
        by_answer[answer_id] += times
    stuck = sum(1 for public_id in acknowledged if by_answer[public_id] == 0)
    longest = max(receiver.delays, default=0.0)
    problems += report_counts("webhook messages", acknowledged, by_answer, stuck, longest)
    normal = rate(answers, start, start + before)
    down = rate(answers, start + before, start + before + outage)
    print(f"  answering during the outage: {down / normal:.2f} of the rate before it")
    record(
        "answers/s while the broker is down",
        down,
        "answers/s",
        target=None,
        limit=normal,
        limit_name="rate before the outage",
        passed=not problems and down >= 0.8 * normal,
    )


def rate(answers: Answers, start: float, end: float) -> float:
    return sum(1 for _, status, _, _ in answers.between(start, end) if status == 201) / (end - start)


def slowest(answers: Answers) -> float:
    return max((took for _, _, took, _ in answers.outcomes), default=0)


# The database


def database_drill(
    options, environment: dict, *, before: float = 5, cutting: float = 10, after: float = 5
) -> None:
    """Answers while every database connection is terminated again and again."""
    print(f"  database connections terminated every 100 ms for {cutting:.0f} s, {options.clients} clients")
    world = widget_survey()
    terminated: Counter = Counter()
    with gunicorn(environment, workers=4) as server:
        port = server.port

        def cut_window(start: float) -> None:
            time.sleep(before)
            cut_connections(start + before + cutting, terminated)

        answers, start = load(port, world["key"], options.clients, before + cutting + after, cut_window)
    statuses = Counter(status for _, status, _, _ in answers.outcomes)
    print(f"  {terminated['connections']:,} connections terminated; answers by status: {dict(statuses)}")
    print(f"  before:  {phase(answers, start, start + before)}")
    print(f"  cutting: {phase(answers, start + before, start + before + cutting)}")
    print(f"  after:   {phase(answers, start + before + cutting, start + before + cutting + after)}")
    acknowledged = answers.acknowledged()
    problems = report_counts("answers", acknowledged, stored(acknowledged), 0, slowest(answers))
    unclean = statuses[500] + statuses[-503] + statuses[0]
    print(f"  500s, 503s without Retry-After and dropped connections: {unclean}")
    recovered = rate(answers, start + before + cutting + 1, start + before + cutting + after)
    normal = rate(answers, start, start + before)
    record(
        "answers/s after the database connections were cut",
        recovered,
        "answers/s",
        target=None,
        limit=normal,
        limit_name="rate before the cuts",
        passed=not problems and not unclean and recovered >= 0.8 * normal,
    )


def cut_connections(until: float, terminated: Counter) -> None:
    import psycopg2

    session = psycopg2.connect(f"{SERVER}/{DATABASE}")
    session.autocommit = True
    with session.cursor() as cursor:
        while time.monotonic() < until:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
            (count,) = cursor.fetchone() or (0,)
            terminated["connections"] += count
            time.sleep(0.1)
    session.close()


# Sending under faults


def smtp_down(options, environment: dict) -> None:
    """The mail server is down for a while under a running sender, then back."""
    from django.utils import timezone

    port = free_port()
    scheduled = schedule_invitations(options.invitations)
    sender = subprocess.Popen(
        [sys.executable, "manage.py", "runtasks"],
        cwd=ROOT,
        env={**environment, "EMAIL_URL": f"smtp://127.0.0.1:{port}"},
    )
    try:
        most_sending = 0
        deadline = time.monotonic() + options.outage
        while time.monotonic() < deadline:
            most_sending = max(most_sending, statuses()["sending"])
            time.sleep(0.5)
        print(f"  down for {options.outage:.0f} s: at most {most_sending} invitations in 'sending' at once")
        with SmtpSink(port) as sink:
            back = timezone.now()
            wait_until_settled(options.invitations, timeout=120)
            problems, delay = report_sends(sink, scheduled, since=back)
            record(
                f"invitations sent after a {options.outage:.0f} s mail server outage (longest delay)",
                delay,
                "s",
                target=60,
                limit=None,
                limit_name="",
                lower_is_better=True,
                passed=not problems and most_sending == 0 and delay <= 60,
            )
    finally:
        sender.terminate()
        sender.wait()


def sender_killed(options, environment: dict) -> None:
    """A sender killed mid-batch against a slow mail server; another takes over after the lease."""
    from django.db.models import F

    from surveys.email.dispatch import BATCH_SIZE, CLAIM_LEASE
    from surveys.models import Invitation

    count = min(options.invitations, BATCH_SIZE)  # one batch: the kill lands inside it
    scheduled = schedule_invitations(count)
    with SmtpSink(free_port(), delay=0.01) as sink:
        mail = {**environment, "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
        sender = subprocess.Popen([sys.executable, "-c", SENDER], cwd=ROOT, env=mail)
        while len(sink.received) < count // 3 and sender.poll() is None:
            time.sleep(0.001)
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        at_kill = statuses()
        delivered = len(sink.received)
        print(
            f"  killed after {delivered} delivered: {at_kill['sent']} recorded as sent, "
            f"{at_kill['sending']} still claimed"
        )
        # What the lease does after 10 minutes, at once.
        Invitation.objects.filter(status="sending").update(claimed_at=F("claimed_at") - CLAIM_LEASE)
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", SENDER], cwd=ROOT, env=mail, check=True)
        print(f"  the next sender finished in {time.monotonic() - started:.1f} s")
        problems, _ = report_sends(sink, scheduled, since=None)
        in_doubt = statuses()["review"]
        record(
            "emails in doubt after a sender was killed mid-batch",
            in_doubt,
            "emails",
            target=1,
            limit=None,
            limit_name="",
            lower_is_better=True,
            passed=not problems and in_doubt <= 1,
        )


def schedule_invitations(count: int):
    """``count`` invitations due now, each to its own contact; the time they became due."""
    from django.utils import timezone

    from surveys.models import Contact, Invitation, Survey, Touchpoint

    Invitation.objects.all().delete()
    Contact.objects.all().delete()
    survey, _ = Survey.objects.get_or_create(name="Drill NPS", kind="nps", brand="Nordwind Möbel")
    touchpoint, _ = Touchpoint.objects.get_or_create(
        slug="order-delivered", defaults={"name": "Order delivered", "survey": survey, "send_window": None}
    )
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(email=f"customer{n}@example.com", name=f"Kunde {n}", language="de") for n in range(count)
    )
    Invitation.objects.bulk_create(
        Invitation(
            survey=survey,
            touchpoint=touchpoint,
            contact=contact,
            status=Invitation.Status.SCHEDULED,
            scheduled_for=now,
            expires_at=now + timedelta(days=30),
        )
        for contact in contacts
    )
    return now


def statuses() -> Counter:
    from surveys.models import Invitation

    return Counter(Invitation.objects.values_list("status", flat=True))


def wait_until_settled(count: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = statuses()
        if counts["sent"] + counts["review"] + counts["failed"] >= count:
            return
        time.sleep(0.2)


def report_sends(sink: "SmtpSink", scheduled, *, since) -> tuple[int, float]:
    """Sent, duplicated, lost, stuck and the longest delay (from ``since``, else from due);
    returns the duplicated, lost and stuck invitations, and the delay."""
    from django.db.models import Max

    from surveys.models import Invitation

    counts = statuses()
    received = Counter(sink.received)
    sent_ids = set(Invitation.objects.filter(status="sent").values_list("message_id", flat=True))
    last = Invitation.objects.filter(status="sent").aggregate(last=Max("sent_at"))["last"]
    delay = (last - (since or scheduled)).total_seconds() if last else float("nan")
    total = sum(counts.values())
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    lost = total - counts["sent"] - counts["review"] - counts["failed"]
    print(
        f"  sent {counts['sent']}, duplicated {duplicated}, lost {lost}, "
        f"stuck {counts['sending']}, to review {counts['review']}, "
        f"delivered but not recorded {len(set(received) - sent_ids)}, "
        f"longest delay {delay:.1f} s (from {'the server coming back' if since else 'due'})"
    )
    return duplicated + lost + counts["sending"], delay


class SmtpSink:
    """A real SMTP server on loopback, in this process, that keeps the Message-IDs it received."""

    def __init__(self, port: int, *, delay: float = 0) -> None:
        self.port, self.delay = port, delay
        self.received: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        import asyncio
        from email import message_from_bytes

        if self.delay:
            await asyncio.sleep(self.delay)
        self.received.append(message_from_bytes(envelope.original_content)["Message-ID"])
        return "250 Message accepted"

    def __enter__(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


DRILLS: dict[str, Callable[[argparse.Namespace, dict], None]] = {
    "broker": broker_drill,
    "database": database_drill,
    "smtp-down": smtp_down,
    "sender-killed": sender_killed,
}


if __name__ == "__main__":
    main()
