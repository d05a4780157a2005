"""Ingestion and dispatch speed on PostgreSQL, each beside its raw limit measured in the same run.

    DEBUG=true .venv/bin/python bench/dispatch.py [--events 100000] [--emails 20000]

1. ``--events`` events through ``POST /api/v1/events/bulk/`` (gunicorn, two workers,
   two clients, 1,000 events a request), against plain ``executemany`` INSERTs of
   the same number of rows into an indexed table over one connection.
2. ``--emails`` of the scheduled invitations sent by one dispatch process to a local
   SMTP sink, against an SMTP client sending pre-rendered mails over one connection,
   without and with a durable commit per email before it is sent (the cost of recording each
   send as it happens); then as many again by two dispatch processes side by side.

It creates (and drops first) the database ``cxsurvey_bench`` on the local server.
"""

import argparse
import http.client
import json
import os
import smtplib
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from common import SERVER, bench_environment, free_port, record, recreate_database, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench"
BATCH = 1000
EMAILS_PER_PROCESS = 400  # the target of one sending process


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=20_000)
    options = parser.parse_args()

    environment = bench_environment(DATABASE, RECONTACT_MINIMUM_DAYS="0", RATE_LIMIT_API="1000000")
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    token, touchpoint = set_up()

    print(f"CXSurvey dispatch bench on PostgreSQL: {options.events:,} events, {options.emails:,} emails")
    api_rate = ingest_through_api(token, touchpoint, options.events, environment)
    raw_rate = insert_rows(options.events)
    report("events through the bulk endpoint", api_rate, "events/s", raw_rate, "executemany INSERT")
    record(
        "events through the bulk endpoint",
        api_rate,
        "events/s",
        target=None,
        limit=raw_rate,
        limit_name="INSERT",
    )

    with smtp_sink() as port:
        environment["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
        one = dispatch_with(1, options.emails, environment)
        raw_mail = send_prerendered(port, min(options.emails, 5_000))
        report("emails by one dispatch process", one, "emails/s", raw_mail, "pre-rendered SMTP")
        recorded_mail = send_prerendered(port, min(options.emails, 5_000), commit_each=True)
        report("emails by one dispatch process", one, "emails/s", recorded_mail, "… with a commit each")
        record(
            "emails by one dispatch process",
            one,
            "emails/s",
            target=EMAILS_PER_PROCESS,
            limit=raw_mail,
            limit_name="pre-rendered SMTP",
        )
        two = dispatch_with(2, options.emails, environment)
        report("emails by two dispatch processes", two, "emails/s", one, "one process")


def set_up():
    from django.contrib.auth import get_user_model

    from surveys.models import ApiToken, Survey, Touchpoint

    user = get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True)
    _, token = ApiToken.issue(user=user, name="bench", write=True)
    survey = Survey.objects.create(name="Bench NPS", kind="nps", brand="Nordwind Möbel")
    touchpoint = Touchpoint.objects.create(
        slug="order-delivered", name="Order delivered", survey=survey, send_window=None, recontact_days=0
    )
    return token, touchpoint


def ingest_through_api(token: str, touchpoint, count: int, environment: dict) -> float:
    port = free_port()
    server = subprocess.Popen(
        [ROOT / ".venv/bin/gunicorn", "cxsurvey.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "-k", "sync"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        bodies = [
            json.dumps(
                {
                    "events": [
                        {
                            "touchpoint": touchpoint.slug,
                            "email": f"customer{start + n}@example.com",
                            "name": f"Kunde {start + n}",
                            "language": "de",
                            "properties": {"order_id": str(start + n), "carrier": "DHL"},
                            "occurred_at": datetime.now(UTC).isoformat(),
                        }
                        for n in range(min(BATCH, count - start))
                    ]
                }
            ).encode()
            for start in range(0, count, BATCH)
        ]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        errors: list[str] = []

        def client(part: list[bytes]) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for body in part:
                connection.request("POST", "/api/v1/events/bulk/", body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                if answer.status != 200:
                    errors.append(f"{answer.status}: {payload[:200]!r}")

        threads = [threading.Thread(target=client, args=(bodies[n::2],)) for n in range(2)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    from surveys.models import Invitation

    scheduled = Invitation.objects.filter(status="scheduled").count()
    print(f"  {count:,} events in {elapsed:.1f} s; {scheduled:,} invitations scheduled")
    return count / elapsed


def insert_rows(count: int) -> float:
    """The hand-written limit: the same number of rows, executemany over one connection."""
    import psycopg2

    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE raw_events (id bigserial PRIMARY KEY, touchpoint_id int, email text, "
            "properties jsonb, occurred_at timestamptz, received_at timestamptz)"
        )
        cursor.execute("CREATE INDEX ON raw_events (touchpoint_id, received_at)")
        now = datetime.now(UTC)
        rows = [
            (1, f"customer{n}@example.com", json.dumps({"order_id": str(n)}), now, now) for n in range(count)
        ]
        started = time.perf_counter()
        for start in range(0, count, BATCH):
            cursor.executemany(
                "INSERT INTO raw_events (touchpoint_id, email, properties, occurred_at, received_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                rows[start : start + BATCH],
            )
            connection.commit()
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE raw_events")
    connection.commit()
    connection.close()
    return count / elapsed


class smtp_sink:
    """A local SMTP server that accepts and discards every message, in its own process."""

    def __enter__(self) -> int:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-c",
                "aiosmtpd.handlers.Sink",
                "-l",
                f"127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self.port

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait()


def dispatch_with(processes: int, emails: int, environment: dict) -> float:
    """Send ``emails`` due invitations with this many dispatch processes; emails per second."""
    from surveys.email.dispatch import BATCH_SIZE
    from surveys.models import Invitation

    before = Invitation.objects.filter(status="sent").count()
    batches = emails // BATCH_SIZE // processes
    code = (
        "import django; django.setup(); from surveys.email.dispatch import dispatch_due; "
        f"dispatch_due(max_batches={batches})"
    )
    started = time.perf_counter()
    workers = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=environment) for _ in range(processes)
    ]
    for worker in workers:
        if worker.wait() != 0:
            raise RuntimeError("a dispatch process failed")
    elapsed = time.perf_counter() - started
    sent = Invitation.objects.filter(status="sent").count() - before
    print(f"  {processes} process(es): {sent:,} emails in {elapsed:.1f} s")
    return sent / elapsed


def send_prerendered(port: int, count: int, *, commit_each: bool = False) -> float:
    """The hand-written limit: the same kind of mail, rendered beforehand, over one connection.

    With ``commit_each``, each send is first recorded by an UPDATE and a durable commit, as a
    sender that leaves at most the email in flight in doubt after a crash must do.
    """
    import psycopg2

    from surveys.email.messages import invitation_message
    from surveys.models import Invitation

    invitation = (
        Invitation.objects.filter(status="sent").select_related("survey", "touchpoint", "contact").first()
    )
    if invitation is None:
        raise SystemExit("no sent invitation to render")
    # Django 5.2's SafeMIMEMultipart.as_bytes takes linesep; django-stubs 6 describe Django 6's
    # stdlib EmailMessage, which does not (revisit on upgrading Django).
    message = invitation_message(invitation).message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE raw_sends (id int PRIMARY KEY, started_at timestamptz)")
        cursor.execute("INSERT INTO raw_sends (id) SELECT generate_series(0, %s)", [count])
        connection.commit()
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for number in range(count):
                if commit_each:
                    cursor.execute("UPDATE raw_sends SET started_at = now() WHERE id = %s", [number])
                    connection.commit()
                smtp.sendmail("surveys@localhost", [f"customer{number}@example.com"], message)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE raw_sends")
    connection.commit()
    connection.close()
    return count / elapsed


def report(what: str, rate: float, unit: str, limit: float, limit_name: str) -> None:
    print(f"{what}: {rate:,.0f} {unit}; {limit_name}: {limit:,.0f} {unit}; ratio {rate / limit:.2f}")


if __name__ == "__main__":
    main()
