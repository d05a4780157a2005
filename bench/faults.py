"""Fault drills on PostgreSQL with production settings: what is sent, doubled, lost or stuck.

    DEBUG=true .venv/bin/python bench/faults.py [--drills smtp-down sender-killed] [--invitations 1000]

Each drill prints the invitations sent, duplicated (a Message-ID the mail server received twice),
lost (neither sent nor set aside for review), stuck (still "sending") and the longest delay.

- ``smtp-down``: the mail server is down for ``--outage`` seconds (nothing listens on its port)
  while ``manage.py runtasks`` sends; then it comes back.
- ``sender-killed``: a sender is killed (SIGKILL) in the middle of a batch to a slow mail server;
  its claims are then aged past the lease and another sender takes over.

It creates (and drops first) the database ``cxsurvey_faults`` on the local server. A drill is one
function taking the options; add more to ``DRILLS``.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from common import bench_environment, free_port, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_faults"
SENDER = "import django; django.setup(); from surveys.email.dispatch import dispatch_due; dispatch_due()"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drills", nargs="+", choices=sorted(DRILLS), default=sorted(DRILLS))
    parser.add_argument("--invitations", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=60, help="seconds the mail server is down")
    options = parser.parse_args()

    environment = bench_environment(DATABASE)
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for name in options.drills:
        print(f"{name}:")
        DRILLS[name](options, environment)


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
            report(sink, scheduled, since=back)
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
        report(sink, scheduled, since=None)


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


def report(sink: "SmtpSink", scheduled, *, since) -> None:
    """Sent, duplicated, lost, stuck and the longest delay (from ``since``, else from due)."""
    from django.db.models import Max

    from surveys.models import Invitation

    counts = statuses()
    received = Counter(sink.received)
    sent_ids = set(Invitation.objects.filter(status="sent").values_list("message_id", flat=True))
    last = Invitation.objects.filter(status="sent").aggregate(last=Max("sent_at"))["last"]
    delay = (last - (since or scheduled)).total_seconds() if last else float("nan")
    total = sum(counts.values())
    print(
        f"  sent {counts['sent']}, duplicated {sum(n - 1 for n in received.values() if n > 1)}, "
        f"lost {total - counts['sent'] - counts['review'] - counts['failed']}, "
        f"stuck {counts['sending']}, to review {counts['review']}, "
        f"delivered but not recorded {len(set(received) - sent_ids)}, "
        f"longest delay {delay:.1f} s (from {'the server coming back' if since else 'due'})"
    )


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


DRILLS = {"smtp-down": smtp_down, "sender-killed": sender_killed}


if __name__ == "__main__":
    main()
