"""Contact uploads: a CSV file of customers to ask at a touchpoint, under the same rules as events.

Excel in Germany saves CSV as Windows-1252 with semicolons; other tools write
UTF-8 with commas. Both are read. Columns ``email``, ``external_id``, ``name``,
``language``, ``legal_basis``, ``consent_text``, ``consent_given_at`` and
``occurred_at`` are known; every other column becomes a contact property (``plan``,
``region``, …). A consent's wording and time go with the row's legal basis into the
contact's consent history.
"""

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from surveys.ingest import EventIn, Outcome, ingest_events
from surveys.models import (
    CONSENT_CLOCK_DIFFERENCE,
    CONSENT_TEXT_MAX_LENGTH,
    Consent,
    Event,
    LegalBasis,
    Touchpoint,
)
from surveys.properties import MAX_PROPERTIES, PROPERTY_NAME, value_problem
from surveys.scales import LANGUAGES

MAX_ROWS = 50_000
CHUNK = 1_000
KNOWN_COLUMNS = (
    "email",
    "external_id",
    "name",
    "language",
    "legal_basis",
    "consent_text",
    "consent_given_at",
    "occurred_at",
)


@dataclass
class Upload:
    """A parsed file: the events of its good rows, and what is wrong with the others."""

    events: list[EventIn] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the file line of each event
    errors: list[tuple[int, str]] = field(default_factory=list)
    properties: list[str] = field(default_factory=list)


def parse_contacts(data: bytes, *, touchpoint: Touchpoint, now: datetime) -> Upload:
    """Read a CSV file; raises ValidationError when the file as a whole cannot be used."""
    text = _decode(data)
    if "\x00" in text:
        raise ValidationError(_("The file contains NUL characters; is it really a CSV file?"))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # Universal newlines: Excel for Mac ended lines with a lone carriage return.
    rows = _rows(csv.reader(io.StringIO(text, newline=None), dialect))
    header = [column.strip().lower() for column in next(rows, [])]
    properties = _property_columns(header)
    upload = Upload(properties=properties)
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(upload.events) + len(upload.errors) >= MAX_ROWS:
            raise ValidationError(_("A file can hold at most %(limit)d contacts.") % {"limit": MAX_ROWS})
        try:
            upload.events.append(_event(dict(zip(header, row, strict=False)), properties, touchpoint, now))
            upload.lines.append(line)
        except ValidationError as error:
            upload.errors.append((line, " ".join(error.messages)))
    return upload


def _rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    """The reader's rows; a ValidationError naming the line of a row that cannot be read."""
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # With NUL refused, universal newlines and a lenient dialect, the reader's only
            # complaint is a value over its limit: usually an opening quotation mark without
            # its partner, which makes the rest of the file one value.
            raise ValidationError(
                _(
                    "Line %(line)d holds a value longer than %(limit)d kB. "
                    'Is a quotation mark (") missing its partner?'
                )
                % {"line": line, "limit": csv.field_size_limit() // 1024}
            ) from None
        yield row
        line += 1


def _property_columns(header: list[str]) -> list[str]:
    """The columns that become contact properties; a ValidationError if the header cannot be used."""
    if "email" not in header and "external_id" not in header:
        raise ValidationError(_("The first line must name the columns, with “email” or “external_id”."))
    if duplicates := sorted(column for column, count in Counter(header).items() if count > 1):
        raise ValidationError(_("Columns appear twice: %(columns)s.") % {"columns": ", ".join(duplicates)})
    properties = [column for column in header if column not in KNOWN_COLUMNS]
    if len(properties) > MAX_PROPERTIES:
        raise ValidationError(
            _("At most %(limit)d columns can become contact properties; this file has %(count)d.")
            % {"limit": MAX_PROPERTIES, "count": len(properties)}
        )
    if bad := [column for column in properties if not PROPERTY_NAME.fullmatch(column)]:
        raise ValidationError(
            _("“%(column)s” cannot be a property name (letters, digits, _ . - up to 64).")
            % {"column": bad[0]}
        )
    return properties


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _event(row: dict[str, str], properties: list[str], touchpoint: Touchpoint, now: datetime) -> EventIn:
    value = {column: (row.get(column) or "").strip() for column in (*KNOWN_COLUMNS, *properties)}
    if not value["email"] and not value["external_id"]:
        raise ValidationError(_("Neither an email nor an external id."))
    if value["email"]:
        try:
            validate_email(value["email"])
        except ValidationError:
            message = _("“%(email)s” is not an email address.") % {"email": value["email"][:100]}
            raise ValidationError(message) from None
    language = value["language"].lower()
    if language and language not in LANGUAGES:
        raise ValidationError(_("The language must be de or en, not “%(value)s”.") % {"value": language[:20]})
    legal_basis = value["legal_basis"].lower()
    if legal_basis and legal_basis not in LegalBasis.values:
        raise ValidationError(
            _("The legal basis must be consent, customer or none, not “%(value)s”.")
            % {"value": legal_basis[:20]}
        )
    occurred_at = (
        _moment(
            value["occurred_at"],
            _("occurred_at must be a time with its offset, like 2026-03-01T10:00+01:00."),
        )
        or now
    )
    consent = _consent(value, legal_basis, now)
    for name in properties:
        if problem := value_problem(name, value[name], as_text=True):
            raise ValidationError(problem)
    return EventIn(
        touchpoint=touchpoint,
        occurred_at=occurred_at,
        email=value["email"],
        external_id=value["external_id"],
        name=value["name"][:200],
        language=language,
        legal_basis=legal_basis,
        consent=consent,
        contact_properties={name: value[name] for name in properties if value[name]},
    )


def _moment(value: str, problem: str) -> datetime | None:
    """The time in a cell, None for an empty one; a ValidationError saying ``problem`` for one that
    is not a time with its offset."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well-formed but impossible, like 30 February
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(problem)
    return parsed


def _consent(value: dict[str, str], legal_basis: str, now: datetime) -> Consent | None:
    """The proof of the row's legal basis in consent_text and consent_given_at, if it has one."""
    problem = _("consent_given_at must be a time with its offset, like 2026-03-01T10:00+01:00.")
    text, given_at = value["consent_text"], _moment(value["consent_given_at"], problem)
    if not (text or given_at):
        return None
    if not legal_basis:
        raise ValidationError(_("A consent needs the legal_basis it proves in the same row."))
    if len(text) > CONSENT_TEXT_MAX_LENGTH:
        raise ValidationError(
            _("consent_text is longer than %(limit)d characters.") % {"limit": CONSENT_TEXT_MAX_LENGTH}
        )
    if given_at and given_at > now + CONSENT_CLOCK_DIFFERENCE:
        raise ValidationError(_("consent_given_at lies in the future."))
    return Consent(text=text, given_at=given_at)


def import_contacts(
    upload: Upload, *, now: datetime, recorded_by: int | None = None, dry_run: bool = False
) -> tuple[Counter, list]:
    """Ingest the upload's events in chunks: how many invitations ended how, and refused rows.
    ``recorded_by``: the id of the user who uploaded the file, for the consent history.

    A dry run decides everything exactly as the import would, then rolls back.
    """
    decisions: Counter = Counter()
    refused: list[tuple[int, str]] = []
    with transaction.atomic():
        for start in range(0, len(upload.events), CHUNK):
            chunk = upload.events[start : start + CHUNK]
            outcomes = ingest_events(chunk, now=now, source=Event.Source.UPLOAD, recorded_by=recorded_by)
            for line, outcome in zip(upload.lines[start : start + CHUNK], outcomes, strict=True):
                _tally(decisions, refused, line, outcome)
        if dry_run:
            transaction.set_rollback(True)
    return decisions, refused


def _tally(decisions: Counter, refused: list, line: int, outcome: Outcome) -> None:
    invitation = outcome.invitation  # None exactly when there is an error
    if outcome.error or invitation is None:
        refused.append((line, outcome.error))
    elif invitation.skip_reason:
        decisions[invitation.skip_reason] += 1
    else:
        decisions[invitation.status] += 1
