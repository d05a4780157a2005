"""``manage.py dispatch``: send what is due once, or keep sending with ``--loop``.

The embedded default (``make run``) uses the loop instead of Celery workers; both
call the same function.
"""

import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from surveys.dispatch import dispatch_due
from surveys.idempotency import purge_idempotency_keys


class Command(BaseCommand):
    help = "Send the invitations and reminders that are due."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running, checking every few seconds.")
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between checks (--loop).")

    def handle(self, *, loop: bool, interval: float, **options) -> None:
        next_purge = time.monotonic()
        while True:
            if loop and time.monotonic() >= next_purge:  # what Celery's beat does hourly
                purge_idempotency_keys(now=timezone.now())
                next_purge = time.monotonic() + 3600
            report = dispatch_due()
            if report or not loop:
                summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.items()))
                self.stdout.write(summary or "Nothing was due.")
            if not loop:
                return
            time.sleep(interval)
