"""Imports of Delighted's CSV exports: responses, people, unsubscribes and bounces.

Delighted never documented its export columns, so the kind of file is read from its header row,
whose names are matched trimmed, in any case, with ``_`` read as a space, and under several
aliases each (``COLUMNS``). A file with a ``Score`` column holds responses; one with
``Unsubscribed at`` unsubscribes, with ``Bounced at`` bounces; else one with ``Email`` people.
In responses and people every column that is not known is a property, named as its header
(``property_name``), as Delighted exported one column per property; empty cells are not set.

Everything lands in CXSurvey's own models: a survey with touchpoints (paused, so that an import
asks nobody), contacts by email, responses with their original times and with their tags and
notes (a closed case per answer with notes), and the contacts' unsubscribes and bounces. The
history arrives quietly: no ``response_saved`` and no case signals, so no webhook, alert rule
or case email fires for it. The score tallies follow by the database's triggers.

The file is read row by row and written ``BATCH_SIZE`` rows at a time, each batch in its own
transaction with a few set-wise queries, so memory stays bounded and an interrupted import is
simply started again: every row is imported once (``ImportedResponse`` for responses, the email
for everything else). A dry run does the same work in one transaction and rolls it back.
"""

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.text import slugify
from django.utils.translation import gettext as _

import audit.log
from audit.models import AuditEvent
from delighted_compat.models import ImportedResponse
from delighted_compat.properties import locale_language, property_name
from followup.models import NAME_MAX_LENGTH, Case, CaseEntry, ResponseTag, Tag
from insights import themes
from surveys.models import Contact, Response, Survey, Touchpoint
from surveys.models.contact import identified_by
from surveys.properties import MAX_PROPERTIES, value_problem
from surveys.scales import LANGUAGES, SCALES
from surveys.terms import comment_fields

BATCH_SIZE = 1_000
# Errors kept with their line; beyond them only counted, so a file of bad rows stays small in memory.
MAX_ERRORS = 1_000
COMMENT_MAX_LENGTH = 5_000
EMAIL_MAX_LENGTH = 254  # Contact.email's column
# The touchpoint of the rows without a value of the touchpoint property, or of all rows without one.
DEFAULT_TOUCHPOINT = "Delighted import"

RESPONSES, PEOPLE, UNSUBSCRIBES, BOUNCES = "responses", "people", "unsubscribes", "bounces"

# Known columns and the headers Delighted's exports and hand-made files give them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "response_id": ("response id", "id"),
    "created_at": ("response timestamp", "date", "created at", "timestamp", "created", "response date"),
    "updated_at": ("updated timestamp", "last updated", "updated at", "updated"),
    "score": ("score",),
    "comment": ("comment", "comments"),
    "tags": ("tags", "tag"),
    "notes": ("notes", "note"),
    "person_id": ("person id",),
    "name": ("name", "person name"),
    "email": ("email", "email address", "person email", "e-mail"),
    "phone": ("phone number", "phone", "person phone number"),
    "permalink": ("permalink",),
    "survey_type": ("survey type",),
    "unsubscribed_at": ("unsubscribed at", "unsubscribed", "unsubscribe date"),
    "bounced_at": ("bounced at", "bounced", "bounce date"),
    # What the people list showed about sending; not properties of the person.
    "last_sent_at": ("last sent at", "last sent", "next survey scheduled at", "next survey scheduled"),
}
# Columns read but not kept: Delighted's own ids and links, and phone numbers (SMS is not a channel).
IGNORED = {"person_id", "phone", "permalink", "last_sent_at"}
# Survey types of Delighted that are a kind of CXSurvey's.
SURVEY_TYPES = {"nps": Survey.Kind.NPS, "csat": Survey.Kind.CSAT, "ces": Survey.Kind.CES}


class ImportRefused(Exception):
    """The file, or the options, cannot be imported at all (no row is)."""


@dataclass(frozen=True)
class ImportOptions:
    """Where and how to import. An existing ``survey``, else a new one named ``survey_name`` of
    ``kind`` (empty: the first row's ``Survey type``, else NPS)."""

    survey: Survey | None = None
    survey_name: str = ""
    kind: str = ""
    touchpoint_property: str = ""
    time_zone: str = ""  # for times without an offset; empty: settings.TIME_ZONE
    dry_run: bool = False
    batch_size: int = BATCH_SIZE


@dataclass
class ImportReport:
    """What an import did, or, in a dry run, would have done."""

    kind: str = ""
    dry_run: bool = False
    survey: Survey | None = None
    survey_created: bool = False
    rows: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    responses_created: int = 0
    responses_skipped: int = 0  # imported before, or twice in the file
    touchpoints_created: int = 0
    tags: int = 0  # tags put on responses
    notes: int = 0
    unsubscribes: int = 0
    bounces: int = 0
    error_count: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message), the first MAX_ERRORS

    def add_error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, message))

    @property
    def imported(self) -> int:
        """Rows that changed something or were found imported before: 0 means nothing could be."""
        return self.rows - self.error_count

    def counts(self) -> dict[str, int]:
        """The counts alone, as the audit log keeps them."""
        names = (
            "rows",
            "contacts_created",
            "contacts_updated",
            "responses_created",
            "responses_skipped",
            "touchpoints_created",
            "tags",
            "notes",
            "unsubscribes",
            "bounces",
            "error_count",
        )
        return {name: getattr(self, name) for name in names}


class RowError(Exception):
    """What is wrong with one row; the row is skipped."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Row:
    """One row of a file: its first line, its known cells and its properties (non-empty)."""

    line: int
    cells: dict[str, str]
    properties: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


def import_file(
    source: IO[bytes],
    *,
    options: ImportOptions,
    now: datetime,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import one export; the report of what was done. ImportRefused when the file or the options
    cannot be used at all (nothing is imported then); bad rows are skipped and reported by line.
    ``progress`` is called with the report after every batch."""
    local = zone(options.time_zone)
    reader = _Reader(source)
    kind, columns, properties = _read_header(reader.header)
    wanted = property_name(options.touchpoint_property) if options.touchpoint_property else ""
    if kind == RESPONSES and wanted and wanted not in properties.values():
        raise ImportRefused(
            _("The file has no column “%(name)s” for the touchpoints.")
            % {"name": options.touchpoint_property}
        )
    options = replace(options, touchpoint_property=wanted)
    report = ImportReport(kind=kind, dry_run=options.dry_run)
    rows = reader.rows(columns, properties)
    with transaction.atomic() if options.dry_run else nullcontext():
        if kind == RESPONSES:
            _import_responses(rows, options=options, report=report, zone=local, now=now, progress=progress)
        else:
            for batch in _batches(rows, options.batch_size, report):
                with transaction.atomic():
                    if kind == PEOPLE:
                        _import_people(batch, report=report, zone=local, now=now)
                    else:
                        _import_suppressions(batch, kind=kind, report=report, zone=local, now=now)
                if progress:
                    progress(report)
        if options.dry_run:
            transaction.set_rollback(True)
    return report


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportRefused(_("“%(zone)s” is not a time zone.") % {"zone": name[:64]}) from None


# Reading


class _Reader:
    """The file's rows as text, decoded as UTF-8 (else Windows-1252, as Excel saves it in Germany),
    separated by commas, semicolons or tabs, whichever the header row has most of."""

    def __init__(self, source: IO[bytes]) -> None:
        start = source.read(65_536)
        encoding = "utf-8-sig"
        try:
            codecs.getincrementaldecoder("utf-8-sig")().decode(start, final=False)
        except UnicodeDecodeError:
            encoding = "cp1252"
        rest = io.BufferedReader(_Chained(start, source))
        # newline="": the csv reader sees the line ends itself, inside quoted comments too.
        self.text = io.TextIOWrapper(rest, encoding=encoding, errors="replace", newline="")
        first = start.decode(encoding, errors="replace").split("\n", 1)[0]
        delimiter = max(",;\t", key=first.count)
        self.reader = csv.reader(self.text, delimiter=delimiter)
        try:
            self.header = next(self.reader)
        except (StopIteration, csv.Error):
            raise ImportRefused(_("The file is empty or not a CSV file.")) from None

    def rows(self, columns: dict[int, str], properties: dict[int, str]) -> Iterator[Row | RowError]:
        """Each row, or the error of a row that cannot be read, with its first line."""
        while True:
            line = self.reader.line_num + 1
            try:
                cells = next(self.reader)
            except StopIteration:
                return
            except csv.Error:
                # Usually an opening quotation mark without its partner: the rest of the file is
                # one value. Nothing after it can be read.
                raise ImportRefused(
                    _('Line %(line)d cannot be read: is a quotation mark (") missing its partner?')
                    % {"line": line}
                ) from None
            if not any(cell.strip() for cell in cells):
                continue
            if "\x00" in "".join(cells):
                yield RowError(_("The row contains a NUL character."), line)
                continue
            yield Row(
                line=line,
                cells={column: cells[i].strip() for i, column in columns.items() if i < len(cells)},
                properties={
                    name: cells[i].strip()
                    for i, name in properties.items()
                    if i < len(cells) and cells[i].strip()
                },
            )


class _Chained(io.RawIOBase):
    """The bytes already read, then the rest of the source."""

    def __init__(self, start: bytes, source: IO[bytes]) -> None:
        self.start, self.source = start, source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.start:
            data, self.start = self.start[: len(buffer)], self.start[len(buffer) :]
        else:
            data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _normalise(header: str) -> str:
    return " ".join(header.replace("_", " ").strip().lower().split())


ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}


def _read_header(header: list[str]) -> tuple[str, dict[int, str], dict[int, str]]:
    """The kind of file, its known columns by position and its property columns by position."""
    columns: dict[int, str] = {}
    properties: dict[int, str] = {}
    for position, cell in enumerate(header):
        known = ALIASES.get(_normalise(cell))
        if known is not None:
            if known in columns.values():
                raise ImportRefused(
                    _("The column “%(column)s” appears twice.") % {"column": cell.strip()[:64]}
                )
            columns[position] = known
        elif cell.strip():
            properties[position] = property_name(cell)
    found = set(columns.values())
    if "score" in found:
        kind = RESPONSES
    elif "unsubscribed_at" in found:
        kind = UNSUBSCRIBES
    elif "bounced_at" in found:
        kind = BOUNCES
    elif "email" in found:
        kind = PEOPLE
    else:
        raise ImportRefused(
            _(
                "The first line must name the columns: “Score” for responses, “Email” for people, "
                "with “Unsubscribed at” or “Bounced at” for unsubscribes or bounces."
            )
        )
    if kind in (UNSUBSCRIBES, BOUNCES):
        properties = {}
    names = list(properties.values())
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise ImportRefused(_("Several columns become the property “%(name)s”.") % {"name": duplicates[0]})
    return kind, columns, properties


def _batches(rows: Iterator[Row | RowError], size: int, report: ImportReport) -> Iterator[list[Row]]:
    """The good rows in lists of ``size``; the bad ones go to the report."""
    batch: list[Row] = []
    for row in rows:
        report.rows += 1
        if isinstance(row, RowError):
            report.add_error(row.line, str(row))
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# Cells


def parse_time(value: str, zone: tzinfo) -> datetime:
    """A moment from ISO 8601 (with or without an offset), "YYYY-MM-DD HH:MM:SS +0100" or "… UTC",
    or Unix seconds; a time without an offset is one in ``zone``. RowError otherwise."""
    text = value.strip()
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    if text.upper().endswith(" UTC"):
        text = text[:-4] + "+00:00"
    text = re.sub(r"\s*([+-]\d{2}):?(\d{2})$", r"+\1:\2", text).replace("++", "+").replace("+-", "-")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(_("“%(value)s” is not a time.") % {"value": value[:40]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment


def _email(row: Row, *, required: bool) -> str:
    email = row.get("email")
    if not email:
        if required:
            raise RowError(_("The email is missing."))
        return ""
    try:
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise RowError(_("“%(email)s” is not an email address.") % {"email": email[:100]}) from None
    return email


def _properties(row: Row) -> dict[str, str]:
    if len(row.properties) > MAX_PROPERTIES:
        raise RowError(
            _("At most %(limit)d properties can be kept; this row has %(count)d.")
            % {"limit": MAX_PROPERTIES, "count": len(row.properties)}
        )
    for name, value in row.properties.items():
        if problem := value_problem(name, value):
            raise RowError(problem)
    return row.properties


# Contacts


@dataclass
class _Person:
    """What rows say about one contact, and when they said it."""

    email: str
    at: datetime
    name: str
    properties: dict[str, str]
    created_at: datetime | None = None


def _upsert_contacts(people: list[_Person], *, report: ImportReport, now: datetime) -> dict[str, Contact]:
    """The contacts of these people by lower-cased email, created or updated: what a person says
    replaces what the contact holds if it is newer than the contact's last update, else only fills
    what is missing, so the order of rows and files does not matter and a repeated import changes
    nothing. Three queries and two bulk writes per batch."""
    emails = sorted({person.email.lower() for person in people})
    contacts = {
        contact.email.lower(): contact
        for contact in Contact.objects.select_for_update().filter(identified_by(emails, []))
    }
    changed: dict[str, Contact] = {}
    new: dict[str, Contact] = {}
    for person in sorted(people, key=lambda person: person.at):
        key = person.email.lower()
        contact = contacts.get(key) or new.get(key)
        if contact is None:
            created = min(person.created_at or person.at, person.at)
            contact = Contact(email=person.email, created_at=created, updated_at=person.at)
            new[key] = contact
        if _merge(contact, person) and key not in new:
            changed[key] = contact
    Contact.objects.bulk_create(new.values(), ignore_conflicts=True)
    Contact.objects.bulk_update(changed.values(), ["name", "language", "properties", "updated_at"])
    report.contacts_created += len(new)
    report.contacts_updated += len(changed)
    if new:
        # ignore_conflicts gives no ids; a contact created meanwhile by another path is found too.
        for contact in Contact.objects.filter(identified_by(list(new), [])):
            contacts[contact.email.lower()] = contact
    return contacts


def _merge(contact: Contact, person: _Person) -> bool:
    """Bring what the person says into the contact; whether anything changed."""
    newer = person.at >= contact.updated_at
    before = (contact.name, contact.language, dict(contact.properties), contact.updated_at)
    properties = dict(contact.properties)
    for name, value in person.properties.items():
        if newer or name not in properties:
            properties[name] = value
    contact.properties = properties
    if person.name and (newer or not contact.name):
        contact.name = person.name[:200]
    if (language := locale_language(person.properties)) and (newer or not contact.language):
        contact.language = language
    if newer and (contact.name, contact.language, contact.properties) != before[:3]:
        contact.updated_at = person.at
    return (contact.name, contact.language, contact.properties, contact.updated_at) != before


def _import_people(batch: list[Row], *, report: ImportReport, zone: tzinfo, now: datetime) -> None:
    people = []
    for row in batch:
        try:
            email = _email(row, required=True)
            created = parse_time(row.get("created_at"), zone) if row.get("created_at") else None
            people.append(_Person(email, now, row.get("name"), _properties(row), created_at=created))
        except RowError as error:
            report.add_error(row.line, str(error))
    if people:
        _upsert_contacts(people, report=report, now=now)


def _import_suppressions(
    batch: list[Row], *, kind: str, report: ImportReport, zone: tzinfo, now: datetime
) -> None:
    """Unsubscribes or bounces: the contact's ``unsubscribed_at`` or ``bounced_at``, the earlier
    time kept if it has one; a contact unknown until now is created."""
    column = "unsubscribed_at" if kind == UNSUBSCRIBES else "bounced_at"
    times: dict[str, datetime] = {}
    people = []
    for row in batch:
        try:
            email = _email(row, required=True)
            at = parse_time(row.get(column), zone) if row.get(column) else now
        except RowError as error:
            report.add_error(row.line, str(error))
            continue
        key = email.lower()
        times[key] = min(at, times.get(key, at))
        people.append(_Person(email, now, row.get("name"), {}, created_at=at))
    if not people:
        return
    contacts = _upsert_contacts(people, report=report, now=now)
    changed = []
    for key, at in times.items():
        contact = contacts[key]
        current = getattr(contact, column)
        if current is None or at < current:
            setattr(contact, column, at)
            changed.append(contact)
    Contact.objects.bulk_update(changed, [column])
    if kind == UNSUBSCRIBES:
        report.unsubscribes += len(changed)
    else:
        report.bounces += len(changed)


# Responses


@dataclass
class _Answer:
    """A response row, checked."""

    line: int
    key: str
    email: str
    name: str
    score: int
    comment: str
    created_at: datetime
    updated_at: datetime
    properties: dict[str, str]
    tags: list[str]
    notes: list[str]
    touchpoint: str  # the value of the touchpoint property, or ""


def _import_responses(
    rows: Iterator[Row | RowError],
    *,
    options: ImportOptions,
    report: ImportReport,
    zone: tzinfo,
    now: datetime,
    progress: Callable[[ImportReport], None] | None,
) -> None:
    peeked = _peekable(rows)
    survey = options.survey or _create_survey(options, first=peeked.first, now=now)
    report.survey, report.survey_created = survey, options.survey is None
    touchpoints = _Touchpoints(survey, report=report, now=now)
    for batch in _batches(iter(peeked), options.batch_size, report):
        answers = []
        for row in batch:
            try:
                answers.append(_answer(row, survey=survey, options=options, zone=zone))
            except RowError as error:
                report.add_error(row.line, str(error))
        with transaction.atomic():
            _write_answers(answers, survey=survey, touchpoints=touchpoints, report=report, now=now)
        if progress:
            progress(report)


class _peekable:
    """The rows, with the first good one read ahead (its ``Survey type`` names a new survey's kind)."""

    def __init__(self, rows: Iterator[Row | RowError]) -> None:
        self.ahead: list[Row | RowError] = []
        self.first: Row | None = None
        for row in rows:
            self.ahead.append(row)
            if isinstance(row, Row):
                self.first = row
                break
        self.rest = rows

    def __iter__(self) -> Iterator[Row | RowError]:
        yield from self.ahead
        yield from self.rest


def _create_survey(options: ImportOptions, *, first: Row | None, now: datetime) -> Survey:
    if not options.survey_name.strip():
        raise ImportRefused(_("A responses export needs a survey: choose one or name a new one."))
    kind = options.kind or SURVEY_TYPES.get((first.get("survey_type") if first else "").lower(), "nps")
    if kind not in SCALES:
        raise ImportRefused(_("The kind must be nps, csat or ces."))
    name = options.survey_name.strip()
    return Survey.objects.create(name=name[:200], kind=kind, brand=name[:100], created_at=now)


class _Touchpoints:
    """The survey's touchpoints by name, created paused when first needed (nobody is asked by an
    import); their slugs from their names, made unique."""

    def __init__(self, survey: Survey, *, report: ImportReport, now: datetime) -> None:
        self.survey, self.report, self.now = survey, report, now
        self.ids: dict[str, int] = {}

    def id(self, value: str) -> int:
        name = (value or DEFAULT_TOUCHPOINT)[:200]
        if name not in self.ids:
            existing = Touchpoint.objects.filter(survey=self.survey, name=name).order_by("pk").first()
            self.ids[name] = existing.pk if existing else self._create(name).pk
        return self.ids[name]

    def _create(self, name: str) -> Touchpoint:
        base = slugify(name)[:80] or "delighted"
        taken = set(
            Touchpoint.objects.filter(Q(slug=base) | Q(slug__startswith=f"{base}-")).values_list(
                "slug", flat=True
            )
        )
        slug, number = base, 1
        while slug in taken:
            number += 1
            slug = f"{base}-{number}"
        self.report.touchpoints_created += 1
        return Touchpoint.objects.create(
            survey=self.survey, name=name, slug=slug, active=False, created_at=self.now
        )


def _answer(row: Row, *, survey: Survey, options: ImportOptions, zone: tzinfo) -> _Answer:
    scale = survey.scale
    survey_type = row.get("survey_type").lower()
    if survey_type and SURVEY_TYPES.get(survey_type) != survey.kind:
        raise RowError(
            _("The survey type “%(type)s” is not the survey's kind (%(kind)s).")
            % {"type": survey_type[:20], "kind": survey.kind}
        )
    try:
        score = int(row.get("score"))
    except ValueError:
        raise RowError(_("“%(value)s” is not a score.") % {"value": row.get("score")[:20]}) from None
    if not scale.low <= score <= scale.high:
        raise RowError(
            _("The score %(score)d is outside %(low)d–%(high)d.")
            % {"score": score, "low": scale.low, "high": scale.high}
        )
    if not row.get("created_at"):
        raise RowError(_("The response's time is missing."))
    created_at = parse_time(row.get("created_at"), zone)
    updated_at = parse_time(row.get("updated_at"), zone) if row.get("updated_at") else created_at
    comment = row.cells.get("comment", "")
    if len(comment) > COMMENT_MAX_LENGTH:
        raise RowError(_("The comment is longer than %(limit)d characters.") % {"limit": COMMENT_MAX_LENGTH})
    email = _email(row, required=False)
    tags = _tags(row.get("tags"))
    properties = _properties(row)
    key = row.get("response_id") or _row_key(email, created_at, score, comment)
    return _Answer(
        line=row.line,
        key=key[:100],
        email=email,
        name=row.get("name"),
        score=score,
        comment=comment,
        created_at=created_at,
        updated_at=max(updated_at, created_at),
        properties=properties,
        tags=tags,
        notes=split_notes(row.cells.get("notes", "")),
        touchpoint=properties.get(options.touchpoint_property, "") if options.touchpoint_property else "",
    )


def _row_key(email: str, created_at: datetime, score: int, comment: str) -> str:
    """The key of a response row without a Response ID: the same row gives the same key."""
    text = "\n".join((email.lower(), created_at.astimezone(UTC).isoformat(), str(score), comment))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _tags(cell: str) -> list[str]:
    """Comma-separated tag names, trimmed, each once whatever its case."""
    tags: dict[str, str] = {}
    for name in (part.strip() for part in cell.split(",")):
        if not name:
            continue
        if len(name) > NAME_MAX_LENGTH:
            raise RowError(
                _("The tag “%(tag)s…” is longer than %(limit)d characters.")
                % {"tag": name[:NAME_MAX_LENGTH], "limit": NAME_MAX_LENGTH}
            )
        tags.setdefault(name.lower(), name)
    return list(tags.values())


def split_notes(cell: str) -> list[str]:
    """The notes of a cell: one per line, blank lines left out."""
    return [line.strip() for line in cell.splitlines() if line.strip()]


def _response_language(answer: _Answer, contact: Contact | None) -> str:
    if language := locale_language(answer.properties):
        return language
    if contact is not None and contact.language:
        return contact.language
    return settings.LANGUAGE_CODE[:2] if settings.LANGUAGE_CODE[:2] in LANGUAGES else LANGUAGES[0]


def _write_answers(
    answers: list[_Answer], *, survey: Survey, touchpoints: _Touchpoints, report: ImportReport, now: datetime
) -> None:
    """Write a batch of checked response rows: those not imported before, each once."""
    known = set(
        ImportedResponse.objects.filter(delighted_id__in=[a.key for a in answers]).values_list(
            "delighted_id", flat=True
        )
    )
    fresh: dict[str, _Answer] = {}
    for answer in answers:
        if answer.key in known or answer.key in fresh:
            report.responses_skipped += 1
        else:
            fresh[answer.key] = answer
    if not fresh:
        return
    people = [_Person(a.email, a.updated_at, a.name, a.properties) for a in fresh.values() if a.email]
    contacts = _upsert_contacts(people, report=report, now=now) if people else {}
    responses = []
    for answer in fresh.values():
        contact = contacts.get(answer.email.lower()) if answer.email else None
        language = _response_language(answer, contact)
        responses.append(
            Response(
                survey=survey,
                kind=survey.kind,
                touchpoint_id=touchpoints.id(answer.touchpoint),
                contact=contact,
                # Delighted asked by email, SMS and links; CXSurvey has no channel for imports.
                channel=Response.Channel.EMAIL,
                score=answer.score,
                comment=answer.comment,
                **comment_fields(answer.comment, language),
                language=language,
                event_properties=answer.properties,
                created_at=answer.created_at,
                updated_at=answer.updated_at,
            )
        )
    Response.objects.bulk_create(responses)
    themes.give(responses)  # the sweep follows new answers only; these have their past times
    ImportedResponse.objects.bulk_create(
        ImportedResponse(delighted_id=key, response=response)
        for key, response in zip(fresh, responses, strict=True)
    )
    report.responses_created += len(responses)
    pairs = list(zip(fresh.values(), responses, strict=True))
    _tag(pairs, report=report, now=now)
    _note(pairs, report=report)


def _tag(pairs: list[tuple[_Answer, Response]], *, report: ImportReport, now: datetime) -> None:
    names: dict[str, str] = {}
    for answer, _response in pairs:
        for name in answer.tags:
            names.setdefault(name.lower(), name)
    if not names:
        return
    Tag.objects.bulk_create(
        [Tag(name=name, created_at=now) for name in names.values()], ignore_conflicts=True
    )
    tags = dict(Tag.objects.annotate(key=Lower("name")).filter(key__in=list(names)).values_list("key", "pk"))
    taggings = [
        ResponseTag(response=response, tag_id=tags[name.lower()], created_at=response.created_at)
        for answer, response in pairs
        for name in answer.tags
    ]
    ResponseTag.objects.bulk_create(taggings)
    report.tags += len(taggings)


def _note(pairs: list[tuple[_Answer, Response]], *, report: ImportReport) -> None:
    """A closed case ("no action needed") for each answer with notes, its notes as its entries:
    Delighted kept notes on responses, CXSurvey keeps them on a case's timeline."""
    noted = [(answer, response) for answer, response in pairs if answer.notes]
    if not noted:
        return
    cases = Case.objects.bulk_create(
        Case(
            response=response,
            survey_id=response.survey_id,
            touchpoint_id=response.touchpoint_id,
            status=Case.Status.NO_ACTION,
            opening_score=response.score,
            created_at=response.created_at,
            updated_at=response.updated_at,
            resolved_at=response.updated_at,
        )
        for _noted, response in noted
    )
    entries = [
        CaseEntry(case=case, kind=CaseEntry.Kind.NOTE, text=note, created_at=response.updated_at)
        for (answer, response), case in zip(noted, cases, strict=True)
        for note in answer.notes
    ]
    CaseEntry.objects.bulk_create(entries)
    report.notes += len(entries)


def record_import(report: ImportReport, *, file_name: str, request=None, user=None) -> None:
    """Note a real import in the audit log, with its counts only: the file's rows are personal."""
    if report.dry_run:
        return
    audit.log.record(
        AuditEvent.Action.DATA_IMPORTED,
        request=request,
        user=user,
        target=report.survey,
        object_type="" if report.survey else "delighted_compat.import",
        object_repr="" if report.survey else report.kind,
        details={"source": "delighted", "kind": report.kind, "file": file_name[:100], **report.counts()},
    )
