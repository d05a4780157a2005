"""A drill on one machine that stands for many: the whole installation, one web server and one
worker killed under load, and afterwards nothing lost or doubled.

    DEBUG=true .venv/bin/python bench/drill.py [--users 16] [--seconds 60] [--contacts 10000]
                                              [--web-workers 2] [--drain 120] [--no-proxy]

1. Starts, on this machine: a PostgreSQL primary with a streaming replica (``tests/clusters.py``),
   an SMTP sink and a webhook receiver on loopback that count what they get per Message-ID and
   webhook-id, two gunicorn servers with production settings (the replica as
   ``DATABASE_REPLICA_URL``) behind nginx (without nginx: the load is split over both ports), two
   Celery workers and one beat on Redis (databases 9 and 10 as broker and cache, flushed first).
2. Sets up what ``bench/load.py`` sets up, with a touchpoint whose events send an invitation at once
   and a webhook subscription for new responses, and drives the answering flow, the widget and
   single events (``bench/locustfile.py``) for ``--seconds``. A third of the way in it kills one
   web server (SIGKILL; without nginx, one gunicorn worker, which its master replaces) and brings
   it back 10 s later; half-way it kills one Celery worker and restarts it 10 s later.
3. Waits up to ``--drain`` seconds for the due invitations to be sent and the webhook messages to
   be delivered, then prints the combined throughput per flow; the answers and events acknowledged
   against those stored; the invitations sent against the emails received, and the webhook
   messages against their deliveries (duplicates, lost, stuck, longest delay); and the verdict.

Locust comes from ``bench/requirements.txt`` (``make bench`` installs it). Every process and the
temporary cluster are stopped at the end, also on Ctrl-C or a failure.
"""

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from common import UNLIMITED, bench_environment, free_port, record, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.clusters import streaming_cluster  # noqa: E402 - the project is on the path from here

DATABASE = "cxsurvey_bench_drill"
GUNICORN = str(ROOT / ".venv/bin/gunicorn")
BROKER, CACHE = "redis://127.0.0.1:6379/9", "redis://127.0.0.1:6379/10"
# Flows: locust class → (the request that acknowledges one answer or event, the one that counts a
# whole flow for its throughput, unit). The email's score link records the answer on the GET.
FLOWS = {
    "Answering": ("answer: GET page", "answer: POST comment", "answers/s"),
    "Widget": ("widget: POST answer", "widget: POST answer", "answers/s"),
    "Event": ("events: POST one", "events: POST one", "events/s"),
}
BACK_AFTER = 10  # seconds between killing a process and starting it again
# Invitation statuses after the email left.
SENT = ("sent", "delivered", "opened", "bounced", "complained")


@dataclass
class Tally:
    """What a sink received: the first arrival of each id, and how often each came."""

    first: dict[str, float] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.first.setdefault(key, time.time())
            self.count[key] += 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--no-proxy", action="store_true", help="two ports even where nginx is installed")
    parser.add_argument("--drain", type=int, default=120, help="longest wait for the queues, seconds")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # clean up as on Ctrl-C
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cxsurvey-drill-")))
        emails, smtp_port = stack.enter_context(smtp_sink())
        hooks, hooks_port = stack.enter_context(webhook_receiver())
        cluster = stack.enter_context(streaming_cluster(local_major_version()))
        environment = bench_environment(
            DATABASE,
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{cluster.primary_port}/{DATABASE}",
            CELERY_BROKER_URL=BROKER,
            CACHE_URL=CACHE,
            EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
            **UNLIMITED,
            RECONTACT_MINIMUM_DAYS="0",
            WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        )
        fixture = scratch / "fixture.json"
        fixture.write_text(json.dumps(set_up(environment, cluster.primary_port, hooks_port, options)))
        flush_redis()
        stack.callback(flush_redis)
        web_environment = {
            **environment,
            "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{cluster.replica_port}/{DATABASE}",
        }
        web = WebTier(web_environment, options.web_workers, scratch, proxy=not options.no_proxy)
        stack.enter_context(web)
        workers = stack.enter_context(WorkerTier(environment, scratch))
        mode = "two gunicorn servers behind nginx" if web.proxy_port else "two gunicorn ports, no proxy"
        print(
            f"CXSurvey drill: {mode} ({options.web_workers} workers each), 2 Celery workers and a beat, "
            f"PostgreSQL with a streaming replica, {options.users} users for {options.seconds} s"
        )
        stats = drive(web, workers, fixture, scratch, options)
        drained = drain(options.drain)
        report(stats, emails, hooks, drained, options)


def local_major_version() -> int:
    """The major version of the local PostgreSQL, whose programs start the drill's cluster."""
    import psycopg2
    from common import SERVER

    connection = psycopg2.connect(f"{SERVER}/postgres")
    major = connection.server_version // 10000
    connection.close()
    return major


def set_up(environment: dict, primary_port: int, hooks_port: int, options: argparse.Namespace) -> dict:
    """The database on the cluster's primary, with what ``bench/load.py`` sets up; events of its
    touchpoint invite at once, and its subscription posts to the receiver. The locust fixture."""
    import psycopg2

    connection = psycopg2.connect(f"postgres://postgres@127.0.0.1:{primary_port}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {DATABASE}")
    connection.close()
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command
    from load import set_up as set_up_load

    from surveys.models import Touchpoint
    from webhooks.models import Subscription

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    fixture = set_up_load(options.contacts, options.seconds * 200)
    Touchpoint.objects.update(send_window=None, recontact_days=0, delay_seconds=0)
    Subscription.objects.update(url=f"http://127.0.0.1:{hooks_port}/hooks")
    return fixture


def flush_redis() -> None:
    import redis

    for url in (BROKER, CACHE):
        redis.Redis.from_url(url).flushdb()


@contextmanager
def smtp_sink():
    """An SMTP server on loopback that counts the emails it gets per Message-ID."""
    from aiosmtpd.controller import Controller

    tally = Tally()

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:
            message = message_from_bytes(envelope.original_content, policy=policy.default)
            tally.add(str(message["Message-ID"]).strip())
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield tally, controller.port
    finally:
        controller.stop()


@contextmanager
def webhook_receiver():
    """An HTTP server on loopback that answers 200 to every webhook and counts them per webhook-id."""
    tally = Tally()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            tally.add(self.headers["webhook-id"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tally, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class Process:
    """A program in a process group of its own, so that killing it kills its children too."""

    def __init__(self, command: list, environment: dict, log: Path) -> None:
        self.command, self.environment, self.log = command, environment, log
        self.start()

    def start(self) -> None:
        self.popen = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("a"),
            start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def children(self) -> list[int]:
        pid = self.popen.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


class WebTier:
    """Two gunicorn servers, behind nginx when it is installed."""

    def __init__(self, environment: dict, workers: int, scratch: Path, *, proxy: bool) -> None:
        self.environment, self.workers, self.scratch = environment, workers, scratch
        self.with_proxy = proxy and shutil.which("nginx") is not None
        self.proxy_port: int | None = None

    def __enter__(self) -> "WebTier":
        self.ports = [free_port(), free_port()]
        self.servers = [
            Process(
                [GUNICORN, "cxsurvey.wsgi", "-w", str(self.workers), "-b", f"127.0.0.1:{port}"],
                self.environment,
                self.scratch / f"gunicorn-{port}.log",
            )
            for port in self.ports
        ]
        self.proxy = None
        for port in self.ports:
            wait_for_port(port)
        if self.with_proxy:
            self.proxy_port = free_port()
            configuration = self.scratch / "nginx.conf"
            configuration.write_text(nginx_configuration(self.scratch, self.ports, self.proxy_port))
            self.proxy = Process(
                ["nginx", "-p", str(self.scratch), "-c", str(configuration)],
                dict(os.environ),
                self.scratch / "nginx.log",
            )
            wait_for_port(self.proxy_port)
        return self

    def __exit__(self, *exc) -> None:
        for process in [*self.servers, *([self.proxy] if self.proxy else [])]:
            process.stop()

    def hosts(self) -> list[str]:
        """Where the clients go: the proxy, or each server."""
        ports = [self.proxy_port] if self.proxy_port else self.ports
        return [f"http://127.0.0.1:{port}" for port in ports]

    def kill_one(self) -> str:
        """Kill the first server whole when the proxy can send its requests to the other, else
        one of its workers (the master starts another)."""
        if self.proxy:
            self.servers[0].kill()
            return "killed web server 1 (gunicorn master and workers)"
        worker = self.servers[0].children()[0]
        os.kill(worker, signal.SIGKILL)
        return f"killed gunicorn worker {worker} of web server 1"

    def recover(self) -> str | None:
        if self.servers[0].popen.poll() is None:
            return None
        self.servers[0].start()
        return "started web server 1 again"


def nginx_configuration(folder: Path, ports: list[int], listen: int) -> str:
    """A reverse proxy in the foreground that spreads requests over the servers and passes a
    request to the other server when one cannot be reached."""
    servers = "".join(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=5s; " for port in ports)
    temporary = "".join(
        f"{kind}_temp_path {folder}/{kind}; " for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off; pid {folder}/nginx.pid; error_log {folder}/nginx-error.log; worker_processes 1;\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {temporary}\n"
        f"  upstream cxsurvey {{ {servers}}}\n"
        f"  server {{ listen 127.0.0.1:{listen};\n"
        "    location / { proxy_pass http://cxsurvey; proxy_set_header Host $http_host;\n"
        "      proxy_next_upstream error timeout; } } }\n"
    )


class WorkerTier:
    """Two Celery workers and one beat."""

    def __init__(self, environment: dict, scratch: Path) -> None:
        self.environment, self.scratch = environment, scratch

    def __enter__(self) -> "WorkerTier":
        celery = [str(ROOT / ".venv/bin/celery"), "-A", "cxsurvey"]
        self.workers = [
            Process(
                [*celery, "worker", "-n", f"drill{number}@%h", "-c", "2", "-l", "WARNING"],
                self.environment,
                self.scratch / f"worker{number}.log",
            )
            for number in (1, 2)
        ]
        schedule = str(self.scratch / "beat-schedule")
        self.beat = Process(
            [*celery, "beat", "-s", schedule, "-l", "WARNING"], self.environment, self.scratch / "beat.log"
        )
        return self

    def __exit__(self, *exc) -> None:
        for process in [*self.workers, self.beat]:
            process.stop()

    def kill_one(self) -> str:
        self.workers[0].kill()
        return "killed Celery worker 1 (main process and pool)"

    def recover(self) -> str:
        self.workers[0].start()
        return "started Celery worker 1 again"


def drive(web: WebTier, workers: WorkerTier, fixture: Path, scratch: Path, options) -> dict[str, dict]:
    """Locust on every host at once (the users split between them), one web server and one worker
    killed and started again on the way; the stats per request name, summed over the hosts."""
    hosts = web.hosts()
    runs = []
    for number, host in enumerate(hosts):
        # Each locust answers invitations of its own: the same invitation answered twice is one answer.
        own = json.loads(fixture.read_text())
        own["tokens"] = own["tokens"][number :: len(hosts)]
        (scratch / f"fixture-{number}.json").write_text(json.dumps(own))
        users = options.users // len(hosts)
        runs.append(locust(host, users, options.seconds, scratch / f"fixture-{number}.json", scratch))
    try:
        started = time.monotonic()
        plan = [
            (options.seconds / 3, web.kill_one),
            (options.seconds / 3 + BACK_AFTER, web.recover),
            (options.seconds / 2, workers.kill_one),
            (options.seconds / 2 + BACK_AFTER, workers.recover),
        ]
        for at, action in sorted(plan, key=lambda step: step[0]):
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            if said := action():
                print(f"  {time.monotonic() - started:5.1f} s: {said}")
        for run in runs:
            run.popen.wait()  # locust exits 1 when a request failed; the failures are reported
    finally:
        for run in runs:
            run.stop()
    stats: dict[str, dict] = defaultdict(lambda: {"requests": 0, "failures": 0, "rate": 0.0})
    for run in runs:
        with open(run.log.with_name(f"{run.log.stem}_stats.csv")) as rows:
            for row in csv.DictReader(rows):
                total = stats[row["Name"]]
                total["requests"] += int(row["Request Count"])
                total["failures"] += int(row["Failure Count"])
                total["rate"] += float(row["Requests/s"])
    return stats


def locust(host: str, users: int, seconds: int, fixture: Path, scratch: Path) -> "Process":
    """Locust, headless, with the answering, widget and event users against ``host``; its stats
    go to the CSV files beside its log."""
    prefix = scratch / f"locust-{host.rsplit(':', 1)[1]}"
    command = [str(ROOT / ".venv/bin/locust"), "-f", str(ROOT / "bench/locustfile.py"), "--headless"]
    command += ["--only-summary", "--host", host, "-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    # Users finish the flow they are in at the end, so that every request sent is counted.
    command += ["--stop-timeout", "30", "--csv", str(prefix), "--loglevel", "ERROR", *FLOWS]
    return Process(command, {**os.environ, "LOAD_FIXTURE": str(fixture)}, prefix.with_suffix(".log"))


def drain(seconds: int) -> float:
    """Wait until no invitation is due or being sent and no webhook message waits, at most
    ``seconds``; how long it took."""
    from django.db.models import Q
    from django.utils import timezone

    from surveys.models import Invitation
    from webhooks.models import Message

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        now = timezone.now()
        due = Invitation.objects.filter(
            Q(status=Invitation.Status.SCHEDULED, scheduled_for__lte=now)
            | Q(status=Invitation.Status.SENDING)
        )
        waiting = Message.objects.filter(status__in=[Message.Status.PENDING, Message.Status.SENDING])
        if not due.exists() and not waiting.exists():
            break
        time.sleep(1)
    return time.monotonic() - started


def report(stats: dict, emails: Tally, hooks: Tally, drained: float, options) -> None:
    """Print the figures and the verdict, and record the headline figures."""
    print("\nCombined throughput:")
    for acknowledging, counted, unit in FLOWS.values():
        flow = acknowledging.split(":")[0]
        failed = sum(total["failures"] for name, total in stats.items() if name.split(":")[0] == flow)
        print(f"  {flow:8s} {stats[counted]['rate']:8.1f} {unit}, {failed} failed requests")
    print("\nAcknowledged (HTTP 2xx) against stored:")
    lost, doubled, stuck = check_answers_and_events(stats), 0, 0
    print(f"\nAfter {drained:.0f} s of draining the queues:")
    for outcome in (check_emails(emails), check_webhooks(hooks)):
        lost, doubled, stuck = lost + outcome.lost, doubled + outcome.doubled, stuck + outcome.stuck
    verdict = "yes" if not lost and not doubled else f"no: {lost} lost, {doubled} doubled"
    print(f"\nNothing lost or doubled: {verdict}; {stuck} stuck after the drain")
    answers = stats["answer: POST comment"]["rate"] + stats["widget: POST answer"]["rate"]
    what = f"drill, {options.users} users, a web server and a worker killed"
    record(f"{what}: answers", answers, "answers/s", target=None, limit=None, limit_name="")
    events = stats["events: POST one"]["rate"]
    record(f"{what}: events", events, "events/s", target=None, limit=None, limit_name="")
    for figure, name in ((lost + doubled, "lost or doubled"), (stuck, "stuck after the drain")):
        record(f"{what}: {name}", figure, "items", target=0, limit=None, limit_name="", lower_is_better=True)


def check_answers_and_events(stats: dict) -> int:
    """Print each flow's acknowledged requests against the rows stored, and the rows beyond the
    requests sent; how many were lost (acknowledged, not stored). The rows beyond the requests do
    not count as doubled: locust's counts fall short of the requests by a few (answers beyond them
    appear too, where the schema allows one answer per invitation)."""
    from surveys.models import Event, Response

    stored = {
        "answer: GET page": Response.objects.filter(invitation__isnull=False).count(),
        "widget: POST answer": Response.objects.filter(channel=Response.Channel.WIDGET).count(),
        "events: POST one": Event.objects.count(),
    }
    lost = 0
    for name, rows in stored.items():
        sent = stats[name]["requests"]
        acknowledged = sent - stats[name]["failures"]
        missing, extra = max(0, acknowledged - rows), max(0, rows - sent)
        lost += missing
        print(
            f"  {name.split(':')[0]:8s} {acknowledged:7,} acknowledged, {rows:7,} stored "
            f"({rows - acknowledged:+,} unacknowledged), lost {missing}, more than requests {extra}"
        )
    return lost


@dataclass(frozen=True)
class Outcome:
    lost: int
    doubled: int
    stuck: int


def check_emails(emails: Tally) -> Outcome:
    """The invitations of the run's events against the emails the sink received: lost (sent but
    never received), doubled (received twice), stuck (still due or being sent)."""
    from surveys.models import Invitation

    invitations = Invitation.objects.filter(event__isnull=False)
    waiting = (Invitation.Status.SCHEDULED, Invitation.Status.SENDING)
    rows = [
        (status, message_id, at, status in SENT, status in waiting)
        for status, message_id, at in invitations.values_list("status", "message_id", "created_at")
    ]
    return compare("emails", rows, emails)


def check_webhooks(hooks: Tally) -> Outcome:
    """The webhook messages against the deliveries the receiver counted: lost (delivered but never
    received), doubled (received twice), stuck (still waiting)."""
    from webhooks.models import Message

    waiting = (Message.Status.PENDING, Message.Status.SENDING)
    rows = [
        (status, key, at, status == Message.Status.DELIVERED, status in waiting)
        for status, key, at in Message.objects.values_list("status", "webhook_id", "created_at")
    ]
    return compare("webhooks", rows, hooks)


def compare(what: str, rows: list[tuple], tally: Tally) -> Outcome:
    """Print what was made (by status), sent and received, and the longest delay from creation to
    the first arrival. ``rows``: status, id (empty before sending), created, sent, waiting."""
    statuses = Counter(status for status, *_ in rows)
    created = {key: at for _, key, at, _, _ in rows if key}
    sent = {key for _, key, _, done, _ in rows if done and key}
    waiting = {key for _, key, _, _, waits in rows if waits}
    received = tally.first.keys()
    outcome = Outcome(
        lost=len(sent - received),
        doubled=sum(count - 1 for count in tally.count.values()),
        stuck=sum(waits for *_, waits in rows),
    )
    delays = [tally.first[key] - created[key].timestamp() for key in received & created.keys()]
    longest = f"{max(delays):.1f} s" if delays else "—"
    twice = [key for key, count in tally.count.items() if count > 1]
    print(f"  {what}: {len(rows):,} made ({', '.join(f'{n:,} {s}' for s, n in statuses.most_common())})")
    print(
        f"    {len(sent):,} sent, {len(received):,} received: lost {outcome.lost}, "
        f"doubled {outcome.doubled}, stuck {outcome.stuck} (received all the same: "
        f"{len(received & waiting)}), unknown {len(received - created.keys())}; longest delay {longest}"
    )
    if twice:
        print(f"    received twice: {', '.join(twice[:5])}")
    return outcome


if __name__ == "__main__":
    if not shutil.which("locust", path=str(ROOT / ".venv/bin")):
        sys.exit("locust is missing: pip install -r bench/requirements.txt (make bench does)")
    main()
