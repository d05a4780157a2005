from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.log import acting_as
from privacy.retention import LABELS, apply_retention


class Command(BaseCommand):
    help = (
        "Anonymise what is past its retention now (the periodic task does it hourly); --dry-run only counts."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be cleared; change nothing."
        )

    def handle(self, *, dry_run: bool, **options) -> None:
        with acting_as("command"):
            report = apply_retention(now=timezone.now(), dry_run=dry_run)
        verb = "Would clear" if dry_run else "Cleared"
        for name in LABELS:
            self.stdout.write(f"{verb} {report[name]} {name.replace('_', ' ')}")
