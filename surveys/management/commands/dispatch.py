"""``manage.py dispatch``: send what is due once, or with ``--loop`` do the periodic work in process.

Once, it sends the invitations and reminders that are due. With ``--loop`` (the
embedded default of ``make run``, without Celery) it runs every task of
``CELERY_BEAT_SCHEDULE`` at its interval, as Celery's beat and a worker would:
sending invitations, delivering webhooks, purging idempotency keys, tidying exports.
Tasks are found by name, so this app imports none of the others.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from cxsurvey.celery import app
from surveys.email.dispatch import dispatch_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Send the invitations and reminders that are due; with --loop, run the periodic tasks in process."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running the periodic tasks.")

    def handle(self, *, loop: bool, **options) -> None:
        if loop:
            run_schedule(settings.CELERY_BEAT_SCHEDULE)
        report = dispatch_due()
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.items()))
        self.stdout.write(summary or "Nothing was due.")


def run_schedule(schedule: dict) -> None:
    """Run each scheduled task when its interval has passed, for ever; a failing task is logged
    and tried again at its next turn."""
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    due = dict.fromkeys(schedule, 0.0)
    while True:
        for name, entry in schedule.items():
            if time.monotonic() >= due[name]:
                try:
                    app.tasks[entry["task"]].apply(kwargs=entry.get("kwargs", {}))
                except Exception:
                    logger.exception("The periodic task %s failed.", name)
                due[name] = time.monotonic() + entry["schedule"]
        time.sleep(max(0.5, min(due.values()) - time.monotonic()))
