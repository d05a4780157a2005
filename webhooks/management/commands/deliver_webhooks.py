"""``manage.py deliver_webhooks``: deliver the webhook messages that are due, once or with ``--loop``.

The embedded default (``make run``) runs the loop beside ``dispatch --loop`` instead of
Celery workers; both call the same function.
"""

import time

from django.core.management.base import BaseCommand

from webhooks.delivery import deliver_due


class Command(BaseCommand):
    help = "Deliver the webhook messages that are due."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running, checking every few seconds.")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between checks (--loop).")

    def handle(self, *, loop: bool, interval: float, **options) -> None:
        while True:
            report = deliver_due()
            if report or not loop:
                summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.items()))
                self.stdout.write(summary or "Nothing was due.")
            if not loop:
                return
            time.sleep(interval)
