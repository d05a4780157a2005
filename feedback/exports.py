"""Verbatims as files: CSV, XLSX and JSON Lines, streamed row by row.

One list of columns for every format: the response, its survey and touchpoint, the
answer, the contact, then one column per contact property and per event property
present among the exported rows. Who may not see personal data gets a stable
pseudonym for the contact instead of its external id, email and name.

Spreadsheets evaluate cells that look like formulas. In CSV such a text gets a
leading apostrophe; in XLSX it is stored as text with Excel's quote prefix, so
that it stays text even when the cell is edited. JSON keeps every value exactly.
"""

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.functional import cached_property
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from feedback.verbatims import VerbatimQuery, find_verbatims
from surveys.models import Response

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "jsonl": ("application/x-ndjson", "jsonl"),
}
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 2000  # read from the database and written out at a time
BOM = "\ufeff"  # tells Excel that the CSV is UTF-8

# (column, field read from the database); the contact's identity follows, then the properties.
ANSWER_COLUMNS = (
    ("response_id", "public_id"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("survey", "survey__name"),
    ("kind", "kind"),
    ("touchpoint", "touchpoint__name"),
    ("score", "score"),
    ("category", None),  # from the score
    ("comment", "comment"),
    ("language", "language"),
    ("channel", "channel"),
    ("contact_id", "contact_id"),  # the pseudonym, never the database id
)
PERSONAL_COLUMNS = (
    ("contact_external_id", "contact__external_id"),
    ("contact_email", "contact__email"),
    ("contact_name", "contact__name"),
)
CONTACT_PREFIX, EVENT_PREFIX = "contact.", "event."


@dataclass(frozen=True)
class Export:
    """What to export and for whom: ``personal`` if the reader may see who answered."""

    query: VerbatimQuery
    personal: bool

    def responses(self) -> QuerySet[Response]:
        return find_verbatims(self.query)

    def count(self) -> int:
        return self.responses().count()


class Table:
    """The export's header and its rows as lists of values, read in chunks."""

    def __init__(self, export: Export):
        self.export = export
        self.count = 0  # rows read so far
        self._responses = export.responses().order_by("created_at", "pk")
        self._identity = ANSWER_COLUMNS + (PERSONAL_COLUMNS if export.personal else ())
        scale = export.query.filters.survey.scale
        self._categories = {score: scale.category(score) for score in scale.points}
        self._pseudonyms: dict[int, str] = {}

    @cached_property
    def contact_keys(self) -> list[str]:
        return property_names(self._responses, "contact_properties")

    @cached_property
    def event_keys(self) -> list[str]:
        return property_names(self._responses, "event_properties")

    @cached_property
    def columns(self) -> list[str]:
        """The header: read from the database on first use, as it lists the properties present."""
        return [
            *(column for column, _field in self._identity),
            *(CONTACT_PREFIX + key for key in self.contact_keys),
            *(EVENT_PREFIX + key for key in self.event_keys),
        ]

    def records(self) -> Iterator[dict]:
        """Each row as a dict from column to value, properties nested as typed (JSON Lines)."""
        names = [column for column, _field in self._identity]
        for values in self._values():
            record = dict(zip(names, values[:-2], strict=True))
            record["contact_properties"], record["event_properties"] = values[-2], values[-1]
            yield record

    def rows(self) -> Iterator[list]:
        """Each row as a flat list in the header's order (CSV, XLSX); missing properties empty."""
        for values in self._values():
            contact, event = values[-2], values[-1]
            yield [
                *values[:-2],
                *(contact.get(key) for key in self.contact_keys),
                *(event.get(key) for key in self.event_keys),
            ]

    def _values(self) -> Iterator[list]:
        zone = timezone.get_current_timezone()
        fields = [field for _column, field in self._identity if field] + [
            "contact_properties",
            "event_properties",
        ]
        for row in self._responses.values_list(*fields).iterator(chunk_size=ROWS_PER_CHUNK):
            self.count += 1
            public_id, created, updated, survey, kind, touchpoint, score, *rest = row
            comment, language, channel, contact_id, *personal = rest[:-2]
            contact, event = (value if isinstance(value, dict) else {} for value in rest[-2:])
            yield [
                str(public_id),
                created.astimezone(zone).isoformat(),
                updated.astimezone(zone).isoformat(),
                survey,
                kind,
                touchpoint or "",
                score,
                self._categories[score],
                comment,
                language,
                channel,
                self._pseudonym(contact_id),
                *personal,
                contact,
                event,
            ]

    def _pseudonym(self, contact_id: int | None) -> str:
        """The same contact always gets the same pseudonym; it cannot be turned back into an id."""
        if contact_id is None:
            return ""
        if contact_id not in self._pseudonyms:
            self._pseudonyms[contact_id] = salted_hmac(
                "feedback.exports.contact", str(contact_id)
            ).hexdigest()[:20]
        return self._pseudonyms[contact_id]


def property_names(responses: QuerySet[Response], column: str) -> list[str]:
    """The keys of a JSON column among the responses, sorted: one grouped query in the database."""
    sql, params = responses.order_by().values(column).query.sql_with_params()
    if connection.vendor == "postgresql":
        keys = f"SELECT DISTINCT jsonb_object_keys(rows.{column}) FROM ({sql}) rows WHERE jsonb_typeof(rows.{column}) = 'object'"  # noqa: S608, E501
    else:
        keys = f"SELECT DISTINCT item.key FROM ({sql}) rows, json_each(rows.{column}) item WHERE json_type(rows.{column}) = 'object'"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(keys, params)
        return sorted(key for (key,) in cursor.fetchall())


def neutralised(value: object) -> object:
    """A text that a spreadsheet would run as a formula, prefixed with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell_text(value: object) -> object:
    """Nested values (a property holding a list or object) as JSON text in a cell."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def csv_chunks(table: Table) -> Iterator[bytes]:
    """RFC 4180 CSV in UTF-8 with a byte-order mark; the mark leaves before the first query."""
    yield BOM.encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for number, row in enumerate(table.rows(), start=1):
        writer.writerow([neutralised(_cell_text(value)) for value in row])
        if number % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def jsonl_chunks(table: Table) -> Iterator[bytes]:
    """One JSON object a line, values as stored: comments and properties exactly as typed."""
    lines = []
    for record in table.records():
        lines.append(json.dumps(record, ensure_ascii=False))
        if len(lines) == ROWS_PER_CHUNK:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def write_xlsx(table: Table, file) -> None:
    """The workbook, written row by row (openpyxl's write-only mode) into ``file``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("verbatims")
    sheet.append(table.columns)
    for row in table.rows():
        cells = []
        for value in row:
            value = _cell_text(value)
            if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # openpyxl would store "=…" as a formula
                cell.quotePrefix = True
                value = cell
            cells.append(value)
        sheet.append(cells)
    workbook.save(file)


def xlsx_file(table: Table) -> tempfile.SpooledTemporaryFile:
    """The workbook in a temporary file (kept in memory while small), at its start."""
    file = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    write_xlsx(table, file)
    file.seek(0)
    return file
