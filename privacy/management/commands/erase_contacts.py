"""Erase the people a file names, one email address or external id a line, or a CSV file with a
column ``email`` or ``external_id`` (``--column`` names another). ``--dry-run`` says what each
erasure would touch and changes nothing. Each erasure is recorded in the audit log as the
command's."""

import csv
import sys
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.log import acting_as
from privacy.erasure import AmbiguousIdentity, erase_contact, find_person
from privacy.places import PLACES, counts

KNOWN_COLUMNS = ("email", "external_id")


def read_identities(text: str, *, column: str | None = None) -> list[tuple[str, str]]:
    """(email, external id) of each person the file names. A file whose first line names a column
    ``email`` or ``external_id`` (or ``column``) is read as CSV (comma, semicolon or tab); any
    other has one value a line. A value with an @ is an email address, any other an external id."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    delimiter = next((mark for mark in ",;\t" if mark in lines[0]), ",")
    header = [name.strip().lower() for name in next(csv.reader([lines[0]], delimiter=delimiter))]
    if column and column.lower() not in header:
        raise CommandError(f"The file has no column {column!r}; its first line is {lines[0]!r}.")
    named = [column.lower()] if column else [name for name in KNOWN_COLUMNS if name in header]
    if not named:
        return [_identity(line.strip()) for line in lines]
    found = []
    for row in csv.DictReader(lines[1:], fieldnames=header, delimiter=delimiter):
        values = {name: (row.get(name) or "").strip() for name in named}
        if column and column.lower() not in KNOWN_COLUMNS:
            email, external_id = _identity(values[column.lower()])
        else:
            email, external_id = values.get("email", ""), values.get("external_id", "")
        if email or external_id:
            found.append((email, external_id))
    return found


def _identity(value: str) -> tuple[str, str]:
    return (value, "") if "@" in value else ("", value)


class Command(BaseCommand):
    help = "Erase the contacts a file names (one email or external id a line, or a CSV file)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The file; - reads standard input.")
        parser.add_argument("--column", help="The CSV column that names each person.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would go; change nothing.")
        parser.add_argument(
            "--keep-comments",
            action="store_true",
            default=None,
            help="Keep the answers' comments, masked (default: the setting ERASURE_KEEP_COMMENTS).",
        )
        parser.add_argument(
            "--delete-answers", action="store_true", help="Delete the answers instead of anonymising them."
        )

    def handle(self, *, file: str, column: str | None, dry_run: bool, **options) -> None:
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from None
        totals: Counter = Counter()
        outcomes: Counter = Counter()
        with acting_as("command"):
            for line, (email, external_id) in enumerate(read_identities(text, column=column), start=1):
                who = email or external_id
                try:
                    if dry_run:
                        person = find_person(email=email, external_id=external_id)
                        found = counts(person) if person is not None else None
                    else:
                        erased = erase_contact(
                            email=email,
                            external_id=external_id,
                            keep_comments=options["keep_comments"],
                            delete_answers=options["delete_answers"],
                        )
                        found = erased.counts if erased is not None else None
                except AmbiguousIdentity:
                    self.stderr.write(f"{line}: {who}: the email and the external id belong to two contacts")
                    outcomes["ambiguous"] += 1
                    continue
                if found is None:
                    self.stdout.write(f"{line}: {who}: not found")
                    outcomes["not found"] += 1
                    continue
                totals.update(found)
                outcomes["would be erased" if dry_run else "erased"] += 1
                self.stdout.write(f"{line}: {who}: {self._counts(found)}")
        verb = "Would erase" if dry_run else "Erased"
        self.stdout.write(
            f"{verb} {outcomes['would be erased' if dry_run else 'erased']} people "
            f"({self._counts(totals)}); {outcomes['not found']} not found"
            + (f", {outcomes['ambiguous']} ambiguous" if outcomes["ambiguous"] else "")
            + "."
        )

    @staticmethod
    def _counts(found) -> str:
        named = [*(place.name for place in PLACES), "suppressed"]
        return ", ".join(f"{name.replace('_', ' ')}: {found.get(name, 0)}" for name in named)
