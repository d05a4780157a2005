"""Handing tasks to the broker without making a request wait for it.

Whatever a task works on is in the database before the task is queued (webhook messages,
queued exports, due invitations), and a periodic sweep finds it there: the broker only makes
the work start sooner. So no request talks to the broker. Once its transaction commits, its
tasks go to a thread of the process that publishes them. A broker that is down costs that
thread one failed attempt; for the next seconds hand-offs are dropped, not queued behind
it, and the sweeps take their work.
"""

import logging
import os
import queue
import threading
import time

from celery import Task
from django.db import transaction

logger = logging.getLogger(__name__)

PAUSE_AFTER_FAILURE = 30.0  # seconds without hand-offs after the broker failed one
BACKLOG = 1000  # hand-offs waiting for the thread at most; more are dropped


class Publisher:
    """One thread per process that publishes tasks, started in the process that needs it
    (gunicorn forks its workers after importing the app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=BACKLOG)
        self._paused_until = 0.0

    def submit(self, task: Task, args: tuple) -> None:
        if self.paused():
            return
        self._start()
        try:
            self._queue.put_nowait((task, args))
        except queue.Full:
            logger.warning("The broker is behind: %s left to the periodic sweep", task.name)

    def paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def pending(self) -> int:
        """Hand-offs waiting for the thread."""
        return self._queue.qsize()

    def wait(self) -> None:
        """Until every hand-off submitted so far was published or dropped."""
        if self._pid == os.getpid():
            self._queue.join()

    def _start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=BACKLOG)
                threading.Thread(target=self._run, name="broker-handoff", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            task, args = self._queue.get()
            try:
                if not self.paused():
                    task.apply_async(args, retry=False)
            except Exception:
                self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
                logger.warning(
                    "The broker refused a task; hand-offs pause for %d s and the periodic sweeps "
                    "take their work",
                    PAUSE_AFTER_FAILURE,
                    exc_info=True,
                )
            finally:
                self._queue.task_done()


publisher = Publisher()


def after_commit(task: Task, *args) -> None:
    """Queue ``task`` once the current transaction commits, without waiting for the broker."""
    transaction.on_commit(lambda: publisher.submit(task, args), robust=True)
