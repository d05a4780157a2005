"""``manage.py runtasks``: the periodic tasks in this process, for installations without a broker.

``make run`` starts it beside the web server. It runs every task of the Celery app's beat
schedule (``CELERY_BEAT_SCHEDULE``) at its interval, as Celery's beat and a worker would:
sending invitations and reminders, delivering webhooks, purging idempotency keys, tidying
exports. Tasks are found by name through ``celery.current_app``, so nothing here imports the
apps that define them.
"""

import logging
import time
from typing import NoReturn

from celery import Celery, current_app
from django.core.management.base import BaseCommand

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the periodic tasks (invitations, webhooks, clean-ups) in this process, without a broker."

    def handle(self, **options) -> None:
        run_schedule(current_app.conf.beat_schedule, app=current_app)


def run_schedule(schedule: dict, *, app: Celery) -> NoReturn:
    """Run each scheduled task when its interval (in seconds) has passed, for ever; a failing task
    is logged and tried again at its next turn.

    A task that returns True (sending invitations or webhooks: its batch was full, more may be
    due) runs again at once, after the other due tasks, as a worker would take the next batch:
    a backlog goes out at a worker's pace, not one batch per interval. The loop sleeps only
    when nothing is due."""
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    due = dict.fromkeys(schedule, 0.0)
    while True:
        for name, entry in schedule.items():
            if time.monotonic() >= due[name]:
                more = False
                try:
                    result = app.tasks[entry["task"]].apply(kwargs=entry.get("kwargs", {}))
                    more = result.successful() and result.result is True
                except Exception:
                    logger.exception("The periodic task %s failed.", name)
                due[name] = time.monotonic() + (0 if more else entry["schedule"])
        pause = min(due.values()) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
