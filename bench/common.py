"""What the benchmarks share: a scratch database on the local server and free local ports."""

import http.client
import json
import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

SERVER = "postgres://postgres@127.0.0.1:5432"
ROOT = Path(__file__).resolve().parent.parent
# Rate limits out of the way of a load generator on one address.
UNLIMITED = {
    name: "10000000"
    for name in ("RATE_LIMIT_ANSWER", "RATE_LIMIT_LINK", "RATE_LIMIT_WIDGET", "RATE_LIMIT_API")
}


def bench_environment(database: str, **settings: str) -> dict[str, str]:
    """The process environment of a bench: production settings on its own database, quiet logs."""
    return {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{database}",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "cxsurvey.settings",
        **settings,
    }


def recreate_database(name: str) -> None:
    """Drop and create ``name`` on the local PostgreSQL server."""
    import psycopg2

    connection = psycopg2.connect(f"{SERVER}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    connection.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class gunicorn:
    """The app under gunicorn with ``workers`` sync workers on a free local port, for the length
    of a ``with`` block, each worker awake (``wake_up``) before the block starts."""

    def __init__(self, environment: dict, workers: int = 2) -> None:
        self.environment, self.workers = environment, workers

    def __enter__(self) -> Self:
        self.port = free_port()
        command = [str(ROOT / ".venv/bin/gunicorn"), "cxsurvey.wsgi", "-w", str(self.workers)]
        self.process = subprocess.Popen(
            [*command, "-b", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        wake_up(self.port, workers=self.workers)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait()

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]


def wake_up(port: int, *, workers: int) -> None:
    """Rounds of simultaneous requests, so that each web worker has loaded the URLs and views (a
    worker's first request does) before anything is measured."""

    def ask(_) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", "/no-such-page/")
        connection.getresponse().read()
        connection.close()

    with ThreadPoolExecutor(workers * 2) as pool:
        for _ in range(5):
            list(pool.map(ask, range(workers * 2)))


def record(
    what: str,
    figure: float,
    unit: str,
    *,
    target: float | None,
    limit: float | None,
    limit_name: str,
    passed: bool | None = None,
    lower_is_better: bool = False,
) -> None:
    """Keep a bench's headline figure for ``make bench``'s summary (``bench/summary.py``): appended
    to the file ``BENCH_RESULTS`` names, if it does. ``passed`` defaults to the figure against
    the target; the ratio is to the hand-written limit measured in the same run."""
    if passed is None and target is not None:
        passed = figure <= target if lower_is_better else figure >= target
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    entry = {
        "what": what,
        "figure": figure,
        "unit": unit,
        "target": target,
        "ratio": figure / limit if limit else None,
        "limit": limit_name,
        "passed": passed,
        "lower_is_better": lower_is_better,
    }
    with open(path, "a") as results:
        results.write(json.dumps(entry) + "\n")
