"""``manage.py import_delighted FILE [FILE …]``: bring Delighted's CSV exports into CXSurvey.

Each file's kind (responses, people, unsubscribes, bounces) is read from its header row
(``delighted_compat.importer``). Responses go to ``--survey ID`` or to a new survey named by
``--create-survey NAME`` (of ``--kind``); the files are imported in the order given, into the
same survey. Progress goes to stderr every batch, a summary per file to stdout. The exit status
is 1 on bad options and when no row of any file could be imported.
"""

from dataclasses import replace
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from delighted_compat.importer import (
    ImportOptions,
    ImportRefused,
    ImportReport,
    import_file,
    record_import,
    zone,
)
from surveys.models import Survey

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = "Import Delighted's CSV exports of responses, people, unsubscribes and bounces."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--survey", type=int, help="The id of the survey that receives the responses.")
        target.add_argument("--create-survey", metavar="NAME", help="Create a survey of this name for them.")
        parser.add_argument("--kind", choices=[*Survey.Kind.values], default="", help="Of a new survey.")
        parser.add_argument(
            "--touchpoint-property", default="", help="A property whose values become touchpoints."
        )
        parser.add_argument("--time-zone", default="", help="Of times without an offset (default TIME_ZONE).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be done; change nothing."
        )

    def handle(self, *, files: list[str], **options) -> None:
        paths = [Path(name) for name in files]
        if missing := [str(path) for path in paths if not path.is_file()]:
            raise CommandError(f"No such file: {', '.join(missing)}")
        survey = None
        if options["survey"] is not None:
            survey = Survey.objects.filter(pk=options["survey"]).first()
            if survey is None:
                raise CommandError(f"There is no survey {options['survey']}.")
        try:
            zone(options["time_zone"])
        except ImportRefused as refused:
            raise CommandError(str(refused)) from None
        settings = ImportOptions(
            survey=survey,
            survey_name=options["create_survey"] or "",
            kind=options["kind"],
            touchpoint_property=options["touchpoint_property"],
            time_zone=options["time_zone"],
            dry_run=options["dry_run"],
        )
        imported = 0
        for path in paths:
            report = self._import(path, settings)
            imported += report.imported if report else 0
            if report and report.survey_created and not settings.dry_run:
                # The next files' responses go to the survey this one created.
                settings = replace(settings, survey=report.survey, survey_name="")
        if not imported:
            raise CommandError("Nothing could be imported.", returncode=1)

    def _import(self, path: Path, settings: ImportOptions) -> ImportReport | None:
        def progress(report: ImportReport) -> None:
            self.stderr.write(f"{path.name}: {report.rows:,} rows…")

        try:
            with path.open("rb") as source:
                report = import_file(source, options=settings, now=timezone.now(), progress=progress)
        except ImportRefused as refused:
            self.stderr.write(f"{path.name}: {refused}")
            return None
        record_import(report, file_name=path.name)
        self._summarise(path, report)
        return report

    def _summarise(self, path: Path, report: ImportReport) -> None:
        write = self.stdout.write
        dry_run = " (dry run: nothing was changed)" if report.dry_run else ""
        write(f"{path.name}: {report.kind}, {report.rows:,} rows{dry_run}")
        if report.survey is not None:
            created = "created" if report.survey_created else "existing"
            write(f"  survey: {report.survey.name} ({created}, {report.survey.kind})")
        for name, count in report.counts().items():
            if name not in ("rows", "error_count"):
                write(f"  {name.replace('_', ' ')}: {count:,}")
        write(f"  errors: {report.error_count:,}")
        for line, message in report.errors[:SHOWN_ERRORS]:
            write(f"    line {line}: {message}")
        if report.error_count > SHOWN_ERRORS:
            write(f"    … and {report.error_count - SHOWN_ERRORS:,} more")
