"""Export speed and memory on PostgreSQL, beside COPY of the same rows measured in the same run.

    DEBUG=true .venv/bin/python bench/export.py [--responses 1000000]

1. Loads answers with bench/dashboard.py's loader (COPY) until the NPS survey, about 60 %
   of them, holds ``--responses``; over 15 months, 40 % with a comment, contact and event
   properties. Then vacuums.
2. Downloads all the NPS survey's answers (with and without comment, the whole period) as
   CSV through ``GET /verbatims/export/`` (gunicorn, two sync workers, a signed-in
   superuser, so with personal data), reading and discarding the body: rows/s, seconds to
   the first byte, and the peak RSS (VmHWM) of the gunicorn workers, which have each
   served a small export first.
3. Beside it, ``COPY (SELECT …) TO STDOUT CSV`` of the same rows and columns (joined with
   survey, touchpoint and contact, properties as JSON) through psycopg2 into a sink.
4. Prepares the same export in the background, as a Celery worker would, in a process of
   its own: rows/s and that process's peak RSS.

It creates (and drops first) the database ``cxsurvey_bench_export`` on the local server.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from common import SERVER, bench_environment, gunicorn, record, recreate_database
from dashboard import BERLIN, DAYS, SURVEYS, ZONE, load_responses, set_up

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_export"
RUNS = 3
WARM_UPS = 4  # small exports, so that both workers have served one
TARGET_ROWS_PER_SECOND = 50_000
TARGET_COPY_RATIO = 4
TARGET_PEAK_MB = 200


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=1_000_000, help="answers of the exported survey")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)  # step 4, in its own process
    options = parser.parse_args()

    environment = bench_environment(
        DATABASE,
        TIME_ZONE=ZONE,
        # A sync worker streaming a million rows must not be taken for a hung one (30 s by default).
        GUNICORN_CMD_ARGS="--timeout 600",
    )
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    if options.prepare:
        prepare(options.prepare)
        return
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user, _token, surveys = set_up()
    nps = surveys["nps"]
    share = next(share for kind, _name, share, _touchpoints in SURVEYS if kind == "nps")

    print(f"CXSurvey export bench on PostgreSQL: about {options.responses:,} answers of one survey")
    load_responses(round(options.responses / share), surveys, DATABASE)
    vacuum()
    today = datetime.now(BERLIN).date()
    query = {
        "survey": nps.pk,
        "since": (today - timedelta(days=DAYS - 1)).isoformat(),
        "until": today.isoformat(),
        "comment": "any",
    }

    session, today_only = signed_in(user), {**query, "since": query["until"]}
    with gunicorn(environment) as server:
        port = server.port
        for _ in range(WARM_UPS):  # each worker imports the app and connects on its first request
            download(port, session, today_only, server.process.pid)
        downloads = [download(port, session, query, server.process.pid) for _ in range(RUNS)]
    copies = [copy(nps, query) for _ in range(RUNS)]
    prepared = prepare_in_a_process(user, query, environment)

    rows = downloads[0]["rows"]
    if any(run["rows"] != rows for run in downloads + copies + [prepared]):
        raise SystemExit(f"NOT THE SAME ROWS: {downloads}, {copies}, {prepared}")
    http_rate = statistics.median(rows / run["seconds"] for run in downloads)
    copy_rate = statistics.median(rows / run["seconds"] for run in copies)
    peak = max(run["peak"] for run in downloads)
    print(f"\n{rows:,} rows, median of {RUNS} runs:")
    print(
        f"  CSV through GET /verbatims/export/: {http_rate:,.0f} rows/s "
        f"({statistics.median(run['bytes'] for run in downloads) / 1e6:,.0f} MB, "
        f"first byte after {statistics.median(run['first'] for run in downloads) * 1000:,.0f} ms), "
        f"workers' peak RSS {peak:,.0f} MB"
    )
    print(
        f"  COPY … TO STDOUT CSV: {copy_rate:,.0f} rows/s "
        f"({statistics.median(run['bytes'] for run in copies) / 1e6:,.0f} MB)"
    )
    print(f"      COPY / HTTP: {copy_rate / http_rate:.1f}×")
    print(
        f"  prepared in the background, CSV into the storage: {rows / prepared['seconds']:,.0f} rows/s, "
        f"peak RSS of its process {prepared['peak']:,.0f} MB"
    )
    print(
        f"\nTargets: ≥ {TARGET_ROWS_PER_SECOND:,} rows/s, within {TARGET_COPY_RATIO}× of COPY, "
        f"peak RSS < {TARGET_PEAK_MB} MB"
    )
    for passed, what in (
        (http_rate >= TARGET_ROWS_PER_SECOND, f"{http_rate:,.0f} rows/s"),
        (copy_rate / http_rate <= TARGET_COPY_RATIO, f"{copy_rate / http_rate:.1f}× of COPY"),
        (peak < TARGET_PEAK_MB, f"{peak:,.0f} MB streamed"),
        (prepared["peak"] < TARGET_PEAK_MB, f"{prepared['peak']:,.0f} MB in the background"),
    ):
        print(f"  {'PASS' if passed else 'MISS'}  {what}")
    record(
        "CSV export of a million answers over HTTP",
        http_rate,
        "rows/s",
        target=TARGET_ROWS_PER_SECOND,
        limit=copy_rate,
        limit_name="COPY",
        passed=http_rate >= TARGET_ROWS_PER_SECOND and copy_rate / http_rate <= TARGET_COPY_RATIO,
    )
    record(
        "peak memory of a worker streaming the export",
        peak,
        "MB",
        target=TARGET_PEAK_MB,
        limit=None,
        limit_name="",
        lower_is_better=True,
    )


def vacuum() -> None:
    import psycopg2

    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    connection.autocommit = True
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) surveys_response")
    connection.close()
    print(f"  VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")


def download(port: int, session: str, query: dict, master: int) -> dict:
    """One CSV download over a plain socket, its body read into one buffer over and over: HTTP/1.0,
    so that neither chunks nor a client in Python slow the reading down. The rows are the record's."""
    from feedback.models import ExportRecord

    request = (
        f"GET /verbatims/export/?{urlencode({**query, 'format': 'csv'})} HTTP/1.0\r\n"
        f"Host: 127.0.0.1\r\nCookie: sessionid={session}\r\n\r\n"
    ).encode()
    buffer = bytearray(1 << 20)
    with socket.create_connection(("127.0.0.1", port), timeout=600) as connection:
        started = time.perf_counter()
        connection.sendall(request)
        size = connection.recv_into(buffer)
        first = time.perf_counter() - started
        if b" 200 " not in buffer[:16]:
            raise RuntimeError(f"the export answered {bytes(buffer[:300])!r}")
        while read := connection.recv_into(buffer):
            size += read
        seconds = time.perf_counter() - started
    record = ExportRecord.objects.latest("created_at")
    return {
        "rows": record.rows,
        "seconds": seconds,
        "first": first,
        "bytes": size,
        "peak": workers_peak(master),
    }


def signed_in(user) -> str:
    """A session of ``user``: its cookie's value."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def workers_peak(master: int) -> float:
    """The highest peak RSS (VmHWM) among the gunicorn master's workers, in MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return max(peak_rss(pid) for pid in children)


def peak_rss(pid: str | int = "self") -> float:
    """VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def copy(survey, query: dict) -> dict:
    """The same rows through COPY … TO STDOUT CSV, written into a sink that counts them."""
    import psycopg2

    class Sink:
        size = 0

        def write(self, data: bytes) -> None:
            self.size += len(data)

    start = datetime.fromisoformat(query["since"]).replace(tzinfo=BERLIN)
    end = datetime.fromisoformat(query["until"]).replace(tzinfo=BERLIN) + timedelta(days=1)
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    sink = Sink()
    with connection.cursor() as cursor:
        cursor.execute(f"SET TIME ZONE '{ZONE}'")
        select = cursor.mogrify(
            "SELECT r.public_id, r.created_at, r.updated_at, s.name, r.kind, t.name, r.score, "
            "CASE WHEN r.score <= 6 THEN 'detractor' WHEN r.score <= 8 THEN 'passive' ELSE 'promoter' END, "
            "r.comment, r.language, r.channel, r.contact_id, c.external_id, c.email, c.name, "
            "r.contact_properties, r.event_properties "
            "FROM surveys_response r JOIN surveys_survey s ON s.id = r.survey_id "
            "LEFT JOIN surveys_touchpoint t ON t.id = r.touchpoint_id "
            "LEFT JOIN surveys_contact c ON c.id = r.contact_id "
            "WHERE r.survey_id = %s AND r.created_at >= %s AND r.created_at < %s "
            "ORDER BY r.created_at, r.id",
            [survey.pk, start, end],
        ).decode()
        started = time.perf_counter()
        cursor.copy_expert(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)
        seconds = time.perf_counter() - started
        rows = cursor.rowcount
    connection.close()
    return {"rows": rows, "seconds": seconds, "bytes": sink.size}


def prepare_in_a_process(user, query: dict, environment: dict) -> dict:
    """Step 4: a queued CSV export, written by a process of its own (what a worker does)."""
    from django.utils import timezone

    from feedback.models import ExportRecord

    record = ExportRecord.objects.create(
        user=user,
        username=user.get_username(),
        format="csv",
        filters={key: [str(value)] for key, value in query.items()},
        personal=True,
        background=True,
        filename="bench.csv",
        expires_at=timezone.now() + timedelta(days=1),
    )
    command = [sys.executable, __file__, "--prepare", str(record.pk)]
    output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout
    record.refresh_from_db()
    if record.status != ExportRecord.Status.DONE:
        raise RuntimeError(f"the background export {record.status}: {record.error}")
    return {"rows": record.rows, **json.loads(output)}


def prepare(record_id: int) -> None:
    """In the process of step 4: writes the export into a temporary storage folder, then prints
    its seconds and this process's peak RSS as JSON."""
    import django

    django.setup()
    from django.conf import settings

    from feedback.exports import prepare_export

    with tempfile.TemporaryDirectory() as folder:
        settings.MEDIA_ROOT = folder
        started = time.perf_counter()
        prepare_export(record_id=record_id)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak": peak_rss()}))


if __name__ == "__main__":
    main()
