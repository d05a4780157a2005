"""Retention speed on PostgreSQL, beside the same change written by hand in the same run.

    DEBUG=true .venv/bin/python bench/retention.py [--responses 1000000]

1. Loads ``--responses`` answers with comments into one survey, all older than its comment
   retention (one year), with ``INSERT … SELECT generate_series`` (the tally triggers off
   during the load, then the tallies rebuilt), and vacuums.
2. Times ``apply_retention``: every comment emptied, in batches of 1,000 rows claimed with
   ``FOR UPDATE SKIP LOCKED``, each batch its own transaction.
3. Puts the comments back and times the hand-written limit: one ``UPDATE`` of the same rows in
   one transaction (which holds every row's lock until it ends: what the batches avoid).
4. Checks that the tallies still equal a fresh count.

It creates (and drops first) the database ``cxsurvey_bench_retention`` on the local server.
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from common import bench_environment, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_retention"
DAYS = 365


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responses", type=int, default=1_000_000)
    options = parser.parse_args()

    os.environ.update(bench_environment(DATABASE, RETENTION_COMMENT_DAYS=str(DAYS)))
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from privacy.retention import apply_retention
    from surveys.models import Survey, rebuild_tallies, tally_drift

    call_command("migrate", verbosity=0)
    survey = Survey.objects.create(name="Bench NPS", kind="nps", brand="Nordwind")
    now = timezone.now()
    load(connection, survey.pk, options.responses, now)
    rebuild_tallies()
    print(f"CXSurvey retention bench on PostgreSQL: {options.responses:,} answers older than {DAYS} days")

    started = time.perf_counter()
    report = apply_retention(now=now)
    ours = time.perf_counter() - started
    if report["comments"] != options.responses:
        raise SystemExit(f"the retention cleared {report['comments']:,} comments, not {options.responses:,}")

    with connection.cursor() as cursor:
        cursor.execute("UPDATE surveys_response SET comment = 'Die Lieferung kam zu spät.'")
        cursor.execute("VACUUM ANALYZE surveys_response")
        started = time.perf_counter()
        cursor.execute(
            "UPDATE surveys_response SET comment = '', updated_at = %s "
            "WHERE survey_id = %s AND created_at < %s AND comment <> ''",
            [now, survey.pk, now - timedelta(days=DAYS)],
        )
        raw = time.perf_counter() - started
    if drift := tally_drift():
        raise SystemExit(f"the tallies drifted: {drift}")

    rate, raw_rate = options.responses / ours, options.responses / raw
    print(
        f"retention of {options.responses:,} comments: {ours:.1f} s ({rate:,.0f} rows/s); "
        f"one hand-written UPDATE: {raw:.1f} s ({raw_rate:,.0f} rows/s); ratio {rate / raw_rate:.2f}"
    )
    record("retention of old comments", rate, "rows/s", target=None, limit=raw_rate, limit_name="one UPDATE")


def load(connection, survey_id: int, count: int, now) -> None:
    """``count`` answers with comments, a minute apart, the newest a year and a day old."""
    newest = now - timedelta(days=DAYS + 1)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE surveys_response DISABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO surveys_response (public_id, survey_id, kind, channel, score, comment, language, "
            "claimed_email, claimed_external_id, claimed_name, contact_properties, event_properties, "
            "created_at, updated_at) "
            "SELECT gen_random_uuid(), %s, 'nps', 'link', n %% 11, 'Die Lieferung kam zu spät.', 'de', "
            "'', '', '', '{}', '{}', t, t "
            "FROM generate_series(1, %s) AS n, LATERAL (SELECT %s - n * interval '1 minute' AS t) AS at",
            [survey_id, count, newest],
        )
        cursor.execute("ALTER TABLE surveys_response ENABLE TRIGGER USER")
        cursor.execute("VACUUM ANALYZE surveys_response")
    print(f"  loaded {count:,} answers in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
