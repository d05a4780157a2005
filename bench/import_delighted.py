"""Speed and memory of the Delighted importer on PostgreSQL, beside COPY of the same answers
measured in the same run.

    DEBUG=true .venv/bin/python bench/import_delighted.py [--rows 1000000]

1. Writes a Delighted responses export of ``--rows`` rows to a temporary file, a row at a time:
   response ids, times over 15 months in Delighted's "YYYY-MM-DD HH:MM:SS +0100" style, scores
   of an NPS survey, German comments with umlauts, commas, quotes and line breaks on about 40 %,
   tags on about 10 %, notes on about 2 %, about ``rows / 3`` distinct people by email with their
   names, and three property columns (plan, region, locale).
2. Imports it with ``import_file`` into a new survey (production settings, the importer's own
   batch size), in a process of its own, progress printed every tenth: rows/s, seconds and that
   process's peak RSS (VmHWM). Then imports the same file again in a fresh process: its seconds,
   and that it added nothing (the count of answers is unchanged, every row skipped).
3. The limit: the answers the importer wrote, with their comment terms, contacts and times, as
   ``COPY … FROM STDIN`` into surveys_response itself for a second survey, with the tally triggers
   as they are, in one statement. That is the least the database must do for these rows: the
   importer pays for the same rows, indexes and triggers on the same table, so a COPY into a
   table without triggers or indexes would flatter the limit with work the import cannot skip.
   Left out of it, and so what the ratio measures: reading and checking the CSV, the comment
   terms, contacts, the import's ids, tags, cases, themes and a transaction per batch.
4. Checks that the tallies agree with a fresh count (``tally_drift``) for both surveys.
5. Prints each figure against its target: ≥ 1,000 rows/s and a peak RSS ≤ 300 MB.

It creates (and drops first) the database ``cxsurvey_bench_import`` on the local server.
"""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import SERVER, bench_environment, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_import"
ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
DAYS = 456  # 15 months
SURVEY = "Nordwind NPS (Delighted)"
# A million rows in under 17 minutes. Measured at 1,000,000 rows on a quiet 2-core machine: 1,066
# rows/s, 1,500 over the first 100,000, slowing as more rows update contacts and the tables grow.
TARGET_ROWS_PER_SECOND = 1_000
# The file is read and written a batch at a time, so memory does not grow with it: 134 MB at
# 1,000,000 rows, most of it Django and the comment terms' dictionaries.
TARGET_PEAK_MB = 300
PROGRESS_STEPS = 10

HEADER = [
    "Response ID",
    "Response timestamp",
    "Updated timestamp",
    "Score",
    "Comment",
    "Tags",
    "Notes",
    "Person ID",
    "Name",
    "Email",
    "Permalink",
    "Survey type",
    "plan",
    "Region",
    "locale",
]
# Pieces of comments, joined one to three at a time with commas, full stops or line breaks.
PIECES = (
    "Schnelle Lieferung",
    "die Größe passte nicht",
    "der Umtausch war mühsam",
    '"top" Service',
    "würde es jederzeit empfehlen",
    "Ware beschädigt angekommen",
    "kein Rückruf trotz Zusage",
    "freundliche Beratung am Telefon",
    "zu teuer für die Qualität",
    "Rücksendung ging problemlos",
    "Verpackung war übertrieben groß",
    "Lieferzeit länger als angekündigt",
    "sehr zufrieden, gerne wieder",
    "die Montageanleitung ist unverständlich",
    "Kundenservice hat schnell geholfen",
    "Farbe weicht vom Foto ab",
    "günstiger als im Möbelhaus",
    "Bestellung über die App klappte nicht",
    "Fahrer war unhöflich",
    "Qualität überzeugt, Preis ok",
    "Rechnung kam doppelt",
    "Schrank wackelt ein wenig",
    "Gutschein wurde nicht angerechnet",
    "tolle Auswahl an Stoffen",
)
SEPARATORS = (", ", ". ", "\n", "; ", " – ")
FIRST_NAMES = ("Jürgen", "Sören", "Anna", "Björn", "Käthe", "Lena", "Özlem", "Thomas", "Mia", "Günther")
LAST_NAMES = ("Müller", "Schäfer", "Weiß", "Becker", "Groß", "Köhler", "Yılmaz", "Fischer", "Brückner")
TAGS = ("Lieferung", "Preis", "Rückruf", "Qualität", "Montage", "Service")
NOTES = ("Kunde angerufen", "Gutschein geschickt", "Bitte prüfen, ob erledigt", "Ersatzteil bestellt")
PLANS = ("pro", "basic", "")
REGIONS = ("Nord", "Süd", "West", "Ost")
LOCALES = ("de", "de", "de-AT", "en", "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the export")
    parser.add_argument("--import-file", help=argparse.SUPPRESS)  # step 2, in its own process
    options = parser.parse_args()

    environment = bench_environment(DATABASE, TIME_ZONE=ZONE)
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    if options.import_file:
        import_in_this_process(Path(options.import_file), options.rows)
        return
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"CXSurvey Delighted import bench on PostgreSQL: {options.rows:,} response rows")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "delighted-responses.csv"
        started = time.perf_counter()
        write_export(path, options.rows)
        print(
            f"  wrote the export in {time.perf_counter() - started:.1f} s "
            f"({path.stat().st_size / 1e6:,.0f} MB)",
            flush=True,
        )
        print("  importing:", flush=True)
        first = import_in_a_process(path, options.rows, environment)
        if first["created"] != options.rows or first["errors"]:
            raise SystemExit(f"NOT ALL IMPORTED: {first}")
        rate = options.rows / first["seconds"]
        print(
            f"  imported in {first['seconds']:,.1f} s: {rate:,.0f} rows/s, peak RSS of the importing "
            f"process {first['peak']:,.0f} MB ({first['contacts']:,} contacts, {first['tags']:,} tags, "
            f"{first['notes']:,} notes)"
        )
        answers = count_answers()
        print("  importing the same file again:", flush=True)
        again = import_in_a_process(path, options.rows, environment)
    if count_answers() != answers or again["created"] or again["skipped"] != options.rows:
        raise SystemExit(f"THE SECOND IMPORT CHANGED SOMETHING: {again}")
    print(
        f"  imported again in {again['seconds']:,.1f} s ({options.rows / again['seconds']:,.0f} rows/s): "
        f"nothing added, {again['skipped']:,} rows skipped, peak RSS {again['peak']:,.0f} MB"
    )

    copied = copy_limit()
    copy_rate = options.rows / copied
    print(f"  COPY of the same answers into surveys_response, triggers on: {copy_rate:,.0f} rows/s")
    print(f"      COPY / import: {copy_rate / rate:.1f}×")
    check_tallies()

    print(f"\nTargets: ≥ {TARGET_ROWS_PER_SECOND:,} rows/s, peak RSS ≤ {TARGET_PEAK_MB} MB")
    for passed, what in (
        (rate >= TARGET_ROWS_PER_SECOND, f"{rate:,.0f} rows/s ({copy_rate / rate:.1f}× slower than COPY)"),
        (first["peak"] <= TARGET_PEAK_MB, f"{first['peak']:,.0f} MB peak RSS"),
    ):
        print(f"  {'PASS' if passed else 'MISS'}  {what}")
    record(
        f"Delighted import of {options.rows:,} rows",
        rate,
        "rows/s",
        target=TARGET_ROWS_PER_SECOND,
        limit=copy_rate,
        limit_name="COPY",
    )
    record(
        "peak memory of the Delighted import",
        first["peak"],
        "MB",
        target=TARGET_PEAK_MB,
        limit=None,
        limit_name="",
        lower_is_better=True,
    )


def write_export(path: Path, rows: int) -> None:
    """The export, written as Delighted's dashboard wrote it, a row at a time, oldest first."""
    rng = random.Random(7)
    people = max(1, rows // 3)
    end = datetime.now(BERLIN).replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    step = (end - start).total_seconds() / rows
    with path.open("w", newline="", encoding="utf-8") as export:
        writer = csv.writer(export)
        writer.writerow(HEADER)
        for number in range(rows):
            created = start + timedelta(seconds=int(number * step + rng.random() * step))
            updated = created + timedelta(minutes=rng.choice((0, 0, 0, 5, 90)))
            person = rng.randrange(people)
            tags = rng.sample(TAGS, rng.choice((1, 1, 2))) if rng.random() < 0.10 else []
            notes = rng.sample(NOTES, rng.choice((1, 2))) if rng.random() < 0.02 else []
            response_id = str(10_000_000 + number)
            writer.writerow(
                [
                    response_id,
                    created.strftime("%Y-%m-%d %H:%M:%S %z"),
                    updated.strftime("%Y-%m-%d %H:%M:%S %z"),
                    rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 7, 8, 8, 9, 9, 9, 10, 10, 10)),
                    comment(rng) if rng.random() < 0.40 else "",
                    ", ".join(tags),
                    "\n".join(notes),
                    f"p{person}",
                    f"{FIRST_NAMES[person % len(FIRST_NAMES)]} {LAST_NAMES[person % len(LAST_NAMES)]}",
                    f"Kunde.{person}@example.de",
                    f"https://delighted.com/r/{response_id}",
                    "nps",
                    rng.choice(PLANS),
                    rng.choice(REGIONS),
                    rng.choice(LOCALES),
                ]
            )


def comment(rng: random.Random) -> str:
    pieces = rng.sample(PIECES, rng.choice((1, 2, 2, 3)))
    text = pieces[0][:1].upper() + pieces[0][1:]
    for piece in pieces[1:]:
        text += rng.choice(SEPARATORS) + piece
    return text + rng.choice(("", ".", "!"))


def import_in_a_process(path: Path, rows: int, environment: dict) -> dict:
    """Step 2: the file imported by a process of its own, so that its peak RSS is the import's."""
    command = [sys.executable, __file__, "--import-file", str(path), "--rows", str(rows)]
    output = subprocess.run(command, env=environment, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(output.splitlines()[-1])


def import_in_this_process(path: Path, rows: int) -> None:
    """In the process of step 2: imports the file into the survey of an earlier import, or a new
    one, printing progress every tenth to stderr; then prints seconds, peak RSS and the counts as
    JSON."""
    import django

    django.setup()
    from django.utils import timezone

    from delighted_compat.importer import ImportOptions, ImportReport, import_file
    from surveys.models import Survey

    survey = Survey.objects.filter(name=SURVEY).first()
    options = ImportOptions(survey=survey, survey_name=SURVEY)
    step = max(1, rows // PROGRESS_STEPS)
    shown = 0
    started = time.perf_counter()

    def progress(report: ImportReport) -> None:
        nonlocal shown
        if report.rows >= shown + step:
            shown = report.rows - report.rows % step
            elapsed = time.perf_counter() - started
            print(
                f"    {report.rows:,} rows in {elapsed:,.0f} s ({report.rows / elapsed:,.0f} rows/s)",
                file=sys.stderr,
            )

    with path.open("rb") as source:
        report = import_file(source, options=options, now=timezone.now(), progress=progress)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "peak": peak_rss(),
        "created": report.responses_created,
        "skipped": report.responses_skipped,
        "errors": report.error_count,
        "contacts": report.contacts_created,
        "tags": report.tags,
        "notes": report.notes,
    }
    print(json.dumps(result))


def peak_rss() -> float:
    """VmHWM of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def count_answers() -> int:
    from surveys.models import Response

    return Response.objects.count()


def copy_limit() -> float:
    """Step 3: the imported answers read out as COPY text into a file, then copied into
    surveys_response for a second survey with a touchpoint of its own, triggers on, in one
    statement; the seconds of that COPY alone."""
    import psycopg2

    from surveys.models import Survey, Touchpoint

    imported = Survey.objects.get(name=SURVEY)
    survey = Survey.objects.create(name="Nordwind NPS (COPY)", kind="nps", brand="Nordwind Möbel")
    touchpoint = Touchpoint.objects.create(survey=survey, name="COPY", slug="copy", active=False)
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    with connection.cursor() as cursor, tempfile.TemporaryFile() as data:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'surveys_response' "
            "AND column_name NOT IN ('id', 'public_id', 'survey_id', 'touchpoint_id', 'invitation_id') "
            "ORDER BY ordinal_position"
        )
        columns = ", ".join(name for (name,) in cursor.fetchall())
        select = cursor.mogrify(
            f"SELECT gen_random_uuid(), %s, %s, {columns} FROM surveys_response "
            "WHERE survey_id = %s ORDER BY id",
            [survey.pk, touchpoint.pk, imported.pk],
        ).decode()
        cursor.copy_expert(f"COPY ({select}) TO STDOUT", data)
        data.seek(0)
        started = time.perf_counter()
        cursor.copy_expert(
            f"COPY surveys_response (public_id, survey_id, touchpoint_id, {columns}) FROM STDIN", data
        )
        connection.commit()
        seconds = time.perf_counter() - started
    connection.close()
    return seconds


def check_tallies() -> None:
    """Step 4: the tallies, kept by the triggers, against a fresh count; SystemExit on drift."""
    from surveys.models.tallies import tally_drift

    started = time.perf_counter()
    drift = tally_drift()
    if drift:
        raise SystemExit(f"THE TALLIES DRIFT: {len(drift):,} rows, first {drift[:3]}")
    print(f"  the tallies agree with a fresh count ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
