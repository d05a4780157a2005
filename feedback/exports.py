"""Verbatims as files: CSV, XLSX and JSON Lines, read and written a page of rows at a time.

One list of columns for every format: the response, its survey and touchpoint, the
answer, its tags, its comment's themes and tone (``insights``), the contact, then one
column per contact property and per event property present among the exported rows.
Who may not see personal data gets a stable pseudonym for the contact instead of its
external id, email and name, and nothing of the identity that an unsigned link or
widget answer claimed (``claimed_*``: unverified, never a contact's).

Spreadsheets evaluate cells that look like formulas: those starting with =, +, -, @,
a tab or a carriage return. JSON keeps every value exactly. XLSX cells are typed and
never split: a text that starts like a formula is stored as text with Excel's quote
prefix, so that it stays text even when the cell is edited.

CSV is the hard case, because the reader's spreadsheet decides where its cells start.
Our files are comma-separated, but Excel splits a CSV opened by double-click at its
locale's list separator (a semicolon in German), and LibreOffice at whatever its
import dialog has ticked: commas, semicolons, tabs, several at once. A reader that
splits at semicolons starts a cell after every semicolon in a text; our quotes stand
in the middle of what it takes for a field, so it reads them as plain characters and
starts a row after every line break in a text as well. Quoting alone cannot keep
``ok;=1+1`` from running ``=1+1`` there, so a CSV text is written thus:

- Wherever a cell may start in it (at its start, and after a semicolon, a tab or a
  line break), a formula start, perhaps behind quotes, gets an apostrophe before it:
  ``=1`` is written ``'=1``, ``ok;=1+1`` ``ok;'=1+1``, a line ``- schnell`` in a
  comment ``'- schnell``. A comma is no such place: a text holding one is quoted
  (below), which a reader splitting at commas respects, and to any other reader a
  comma is a character like any other.
- A text holding a comma, quote, semicolon, tab or line break is quoted (RFC 4180),
  so that a reader splitting at commas, with or without semicolons and tabs, keeps it
  one cell.

The apostrophes stay in the text that a program reads back (``;-)`` reads ``;'-)``);
JSON Lines and XLSX keep texts exactly.

A download streams while it is written. A large export can instead be prepared in
the background: a worker writes the file into the default storage, reporting its
progress on the export's record after every page, and the file is deleted when it
expires.
"""

import json
import logging
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import islice

from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, connections, transaction
from django.db.models import Aggregate, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast, NullIf
from django.http import FileResponse, Http404, QueryDict
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import slugify
from django.utils.translation import gettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from audit import log as audit_log
from cxsurvey.routers import replica_reads
from feedback.forms import VerbatimFilterForm
from feedback.models import ExportRecord
from feedback.verbatims import VerbatimQuery, find_verbatims
from followup.models import ResponseTag
from insights.models import ResponseTheme, Theme
from insights.tone import tone_label
from surveys.access import AnyUser, pseudonym
from surveys.models import Response

logger = logging.getLogger(__name__)

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "jsonl": ("application/x-ndjson", "jsonl"),
}
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Where a cell may start in a CSV text (its start; after a semicolon, tab or line break),
# followed by one of FORMULA_STARTS, perhaps behind quotes: see the module's docstring.
FORMULA_CELL = re.compile(r'(?:^|[;\t\r\n])(?="*[=+\-@\t\r])')
# A text starting with one of these may need an apostrophe at its start (FORMULA_CELL).
RISKY_STARTS = (*FORMULA_STARTS, '"')
# Read from the database, written out and reported as progress at a time: large enough that a
# page's query costs little beside its rows, small enough that memory stays flat.
ROWS_PER_PAGE = 10_000
# Property texts and pseudonyms remembered per export: a contact's properties and pseudonym repeat
# on each of their answers, while a bound keeps memory flat over a million different ones.
REMEMBERED = 20_000
BOM = "\ufeff"  # tells Excel that the CSV is UTF-8
# URL parameters of the explorer that select nothing: kept out of an export's recorded filters.
IGNORED_PARAMETERS = ("range", "interval", "page", "format", "csrfmiddlewaretoken")
STORAGE_FOLDER = "exports"
EXPORT_LIFETIME = timedelta(days=7)  # a prepared file is deleted after this
# Pages take well under a second; an export this long without progress lost its worker.
STALLED_AFTER = timedelta(minutes=10)
# A user's exports being prepared at a time: a million rows take a worker a minute, and one
# user's impatience must not keep every worker from everyone else's.
MAX_UNFINISHED_PER_USER = 3
# Exports take a minute or two; one queued this long without a worker lost its task.
UNSTARTED_AFTER = timedelta(hours=1)

# The contact's identity follows, then the properties.
ANSWER_COLUMNS = (
    "response_id",
    "created_at",
    "updated_at",
    "survey",
    "kind",
    "touchpoint",
    "score",
    "category",
    "comment",
    "language",
    "channel",
    "tags",  # the names, alphabetically: a list in JSON, else separated by ", "
    "themes",  # the comment's themes' names, alphabetically: a list in JSON, else separated by "; "
    "tone",  # the comment's tone as the explorer names it (positive, neutral, negative); empty without
    "tone_value",  # the number it is named by (insights.tone), as the score is to the category
    "contact_id",  # the pseudonym, never the database id
)
# Then who an unsigned answer claimed to be, apart from the contact: nobody vouched for it.
PERSONAL_COLUMNS = (
    "contact_external_id",
    "contact_email",
    "contact_name",
    "claimed_external_id",
    "claimed_email",
    "claimed_name",
)
PERSONAL_FIELDS = (
    "contact__external_id",
    "contact__email",
    "contact__name",
    "claimed_external_id",
    "claimed_email",
    "claimed_name",
)
CONTACT_PREFIX, EVENT_PREFIX = "contact.", "event."


class ExportFailed(Exception):
    """An export that cannot be written; the message tells its reader why."""


def filter_form(filters: dict[str, list[str]], user: AnyUser) -> VerbatimFilterForm:
    """The explorer's form for ``user``, bound to filters given as URL parameters ({name: [values]})."""
    data = QueryDict(mutable=True)
    for key, values in filters.items():
        data.setlist(key, values)
    return VerbatimFilterForm(data, user=user)


@dataclass(frozen=True)
class Export:
    """What to export and for whom: ``personal`` if the reader may see who answered."""

    query: VerbatimQuery
    personal: bool

    @classmethod
    def from_filters(cls, filters: dict[str, list[str]], *, user: User | None, personal: bool) -> "Export":
        """The export that a record's filters select for its user; ExportFailed if they no longer
        apply (a touchpoint deleted since, the survey no longer the user's, the user deleted)."""
        if user is None:
            raise ExportFailed(gettext("The user who started the export no longer exists."))
        form = filter_form(filters, user)
        try:
            valid = form.is_valid()
        except Http404:
            raise ExportFailed(gettext("The survey of this export is no longer among yours.")) from None
        if not valid:
            raise ExportFailed(
                " ".join(str(message) for messages in form.errors.values() for message in messages)
            )
        return cls(form.verbatim_query(), personal=personal)

    def responses(self) -> QuerySet[Response]:
        return find_verbatims(self.query)

    def count(self) -> int:
        return self.responses().count()

    def filename(self, file_format: str) -> str:
        """The name a file of this export is offered under: the survey and the period."""
        filters = self.query.filters
        name = f"{slugify(filters.survey.name)}-{filters.since.isoformat()}-{filters.until.isoformat()}"
        return f"{name}.{FORMATS[file_format][1]}"


def refusal(export: Export, file_format: str) -> str | None:
    """Why the export cannot be written in this format (one query for XLSX), or None."""
    if file_format not in FORMATS:
        return gettext("Choose the file format: CSV, XLSX or JSON Lines.")
    if file_format == "xlsx" and (rows := export.count()) > XLSX_MAX_ROWS:
        return _too_many_rows(rows)
    return None


def _too_many_rows(rows: int) -> str:
    message = gettext("%(rows)s answers are more than a spreadsheet holds; export them as CSV.")
    return message % {"rows": rows}


class Table:
    """The export's header and its rows, read a page at a time, oldest first.

    A download reads all rows through one cursor. An export with ``progress`` (in the
    background) reads each page with a query of its own and calls ``progress`` with the
    rows read after each page, so that what it records there is committed as it goes.
    """

    def __init__(self, export: Export, *, progress: Callable[[int], object] | None = None):
        self.export = export
        self.count = 0  # rows read so far
        self._progress = progress
        self._survey = export.query.filters.survey
        self._responses = export.responses().order_by("created_at", "pk")
        self._identity = ANSWER_COLUMNS + (PERSONAL_COLUMNS if export.personal else ())
        scale = self._survey.scale
        self._categories = {score: scale.category(score) for score in scale.points}
        self._properties = lru_cache(maxsize=REMEMBERED)(_properties)

    @cached_property
    def contact_keys(self) -> list[str]:
        return self._property_names["contact_properties"]

    @cached_property
    def event_keys(self) -> list[str]:
        return self._property_names["event_properties"]

    @cached_property
    def _property_names(self) -> dict[str, list[str]]:
        return property_names(self._responses)

    @cached_property
    def columns(self) -> list[str]:
        """The header: read from the database on first use, as it lists the properties present."""
        return [
            *self._identity,
            *(CONTACT_PREFIX + key for key in self.contact_keys),
            *(EVENT_PREFIX + key for key in self.event_keys),
        ]

    def records(self) -> Iterator[list[dict]]:
        """Pages of rows as dicts from column to value, properties nested as typed (JSON Lines)."""
        properties = self._properties
        for page in self.rows(flat=False):
            yield [
                {
                    **dict(zip(self._identity, row[:-2], strict=True)),
                    "contact_properties": properties(row[-2]),
                    "event_properties": properties(row[-1]),
                }
                for row in page
            ]

    def rows(self, *, flat: bool = True) -> Iterator[list[tuple]]:
        """Pages of rows in the header's order, values as typed (XLSX): missing properties
        empty, nested ones as JSON text. Not ``flat`` (JSON Lines): each row ends with its
        two JSON texts instead of the properties' cells."""
        zone = timezone.get_current_timezone()
        survey, kind, categories = self._survey.name, self._survey.kind, self._categories
        remembered_pseudonym = lru_cache(maxsize=REMEMBERED)(pseudonym)
        tag_names = _joined_tags if flat else _tag_list
        theme_names = self._joined_themes if flat else self._theme_list
        contact_properties = self._cells(self.contact_keys) if flat else _as_texts
        event_properties = self._cells(self.event_keys) if flat else _as_texts
        for page in self._pages():
            rows = []
            for (public_id, created, updated, touchpoint, score, comment, language, channel, tags,
                 themes, tone, contact_json, event_json, _pk, contact_id, *personal) in page:  # fmt: skip
                rows.append(
                    (
                        str(public_id),
                        created.astimezone(zone).isoformat(),
                        (updated or created).astimezone(zone).isoformat(),
                        survey,
                        kind,
                        touchpoint or "",
                        score,
                        categories[score],
                        comment,
                        language,
                        channel,
                        tag_names(tags),
                        theme_names(themes),
                        None if tone is None else tone_label(tone).value,
                        tone,
                        remembered_pseudonym(contact_id),
                        *personal,
                        *contact_properties(contact_json),
                        *event_properties(event_json),
                    )
                )
            yield rows

    def csv_lines(self) -> Iterator[str]:
        """Pages of CSV lines, the header left out, exactly as csv.writer would write the rows
        with every text neutralised (and quoted if it holds a semicolon or tab, which
        csv.writer leaves bare): see the module's docstring.

        The hot loop of a large export, so not through csv.writer: what repeats (the
        survey, touchpoints, scores, contacts, property texts) is written once and
        remembered, and per row only the times and the comment are formatted. Ids,
        times, codes and numbers never need quotes.
        """
        zone = timezone.get_current_timezone()
        fixed = csv_line([neutralised(self._survey.name), self._survey.kind])
        scores = {score: csv_line([score, category]) for score, category in self._categories.items()}
        touchpoints = lru_cache(maxsize=REMEMBERED)(lambda name: _csv_field(neutralised(name or "")))
        contacts = lru_cache(maxsize=REMEMBERED)(
            lambda contact_id, *personal: csv_line([pseudonym(contact_id), *map(neutralised, personal)])
        )
        contact_properties = self._csv_cells(self.contact_keys)
        event_properties = self._csv_cells(self.event_keys)
        tag_cells = lru_cache(maxsize=REMEMBERED)(lambda tags: _csv_field(neutralised(_joined_tags(tags))))
        theme_cells = lru_cache(maxsize=REMEMBERED)(
            lambda themes: _csv_field(neutralised(self._joined_themes(themes)))
        )
        for page in self._pages():
            lines = []
            for (public_id, created, updated, touchpoint, score, comment, language, channel, tags,
                 themes, tone, contact_json, event_json, _pk, *contact) in page:  # fmt: skip
                created_at = created.astimezone(zone).isoformat()
                updated_at = created_at if updated is None else updated.astimezone(zone).isoformat()
                # _csv_field(neutralised(comment)), without the calls unless it may need an apostrophe
                if (
                    comment.startswith(RISKY_STARTS)
                    or ";" in comment
                    or "\n" in comment
                    or "\t" in comment
                    or "\r" in comment
                ):
                    comment = _csv_field(neutralised(comment))
                elif "," in comment or '"' in comment:
                    comment = '"' + comment.replace('"', '""') + '"'
                lines.append(
                    f"{public_id},{created_at},{updated_at},{fixed},{touchpoints(touchpoint)},{scores[score]},"
                    f"{comment},{language},{channel},{tag_cells(tags)},{theme_cells(themes)},"
                    f"{'' if tone is None else tone_label(tone).value},{'' if tone is None else tone},"
                    f"{contacts(*contact)}"
                    f"{contact_properties(contact_json)}{event_properties(event_json)}\r\n"
                )
            text = "".join(lines)
            del page, lines  # see _streamed
            yield text

    def _cells(self, keys: list[str]) -> Callable[[str | None], tuple]:
        """A JSON column's text turned into the cells of ``keys``, remembered per text."""

        @lru_cache(maxsize=REMEMBERED)
        def cells(text: str | None) -> tuple:
            properties = self._properties(text)
            return tuple(_cell_text(properties.get(key)) for key in keys)

        return cells

    def _csv_cells(self, keys: list[str]) -> Callable[[str | None], str]:
        """A JSON column's text turned into the CSV of the cells of ``keys``, each after a
        comma (nothing without keys), formulas neutralised; remembered per text."""

        @lru_cache(maxsize=REMEMBERED)
        def cells(text: str | None) -> str:
            properties = self._properties(text)
            return "".join("," + _csv_field(neutralised(_cell_text(properties.get(key)))) for key in keys)

        return cells

    @cached_property
    def _theme_names(self) -> dict[str, str]:
        """The themes' names by id (as text, as ``ThemedAs`` joins them): few, read once."""
        themes = Theme.objects.using(self._responses.db).values_list("pk", "name")
        return {str(pk): name for pk, name in themes}

    def _theme_list(self, joined: str | None) -> list[str]:
        """The names of the themes whose ids ``ThemedAs`` joined, alphabetically; a theme deleted
        since the rows were read is left out."""
        if not joined:
            return []
        names = self._theme_names
        return sorted(names[pk] for pk in joined.split(TAG_SEPARATOR) if pk in names)

    def _joined_themes(self, joined: str | None) -> str:
        return "; ".join(self._theme_list(joined))

    def _pages(self) -> Iterator[list[tuple]]:
        # psycopg2 parses every uuid into a UUID object, only for it to be written as text again.
        public_id = Cast("public_id", TextField()) if connection.vendor == "postgresql" else "public_id"
        rows = self._responses.values_list(
            public_id,
            "created_at",
            # None unless the answer was changed, as most never are: a time costs a parse and a format.
            NullIf("updated_at", "created_at"),
            "touchpoint__name",
            "score",
            "comment",
            "language",
            "channel",
            TaggedAs(),
            ThemedAs(),
            "tone__value",
            # As text, decoded here and remembered: Django would decode every row's JSON anew.
            Cast("contact_properties", TextField()),
            Cast("event_properties", TextField()),
            "pk",
            "contact_id",
            *(PERSONAL_FIELDS if self.export.personal else ()),
        )
        yield from self._streamed(rows) if self._progress is None else self._paged(rows, self._progress)

    def _streamed(self, rows: QuerySet) -> Iterator[list[tuple]]:
        """All rows through one server-side cursor on PostgreSQL. It takes a transaction, on the
        database the rows come from (the replica, if read there): without one, PostgreSQL
        computes every row before the first leaves (WITH HOLD)."""
        with transaction.atomic(using=rows.db):
            cursor = rows.iterator(chunk_size=ROWS_PER_PAGE)
            while page := list(islice(cursor, ROWS_PER_PAGE)):
                self.count += len(page)
                yield page
                del page  # one page in memory at a time: this one goes before the next is read

    def _paged(self, rows: QuerySet, progress: Callable[[int], object]) -> Iterator[list[tuple]]:
        """A query a page, each starting after the last row of the page before (created_at,
        then id), with no transaction around them: the progress between pages commits."""
        page = list(rows[:ROWS_PER_PAGE])
        while page:
            self.count += len(page)
            last, more = page[-1], len(page) == ROWS_PER_PAGE
            yield page
            del page  # see _streamed
            progress(self.count)
            if not more:
                return
            # The redundant bound lets the database start its index scan at the last row.
            after = Q(created_at__gte=last[1]) & (Q(created_at__gt=last[1]) | Q(pk__gt=last[13]))
            page = list(rows.filter(after)[:ROWS_PER_PAGE])


def _properties(text: str | None) -> dict:
    """A JSON column's text as a dict; anything but an object (null) as an empty one."""
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def _as_texts(text: str | None) -> tuple[str | None]:
    return (text,)


# Between the names of an answer's tags as the database joins them: a tag's name cannot hold it,
# since names are stored with every run of whitespace made one space (``followup.tags``).
TAG_SEPARATOR = "\x1f"


class TaggedAs(Subquery):
    """The names of the answer's tags, joined by TAG_SEPARATOR in any order; null without tags.
    A subquery per row, each a look-up in the index of the answer's tags: no query per page."""

    def __init__(self) -> None:
        names = ResponseTag.objects.filter(response=OuterRef("pk")).values("response")
        super().__init__(
            names.annotate(names=_JoinedNames("tag__name")).values("names"), output_field=TextField()
        )


class _JoinedNames(Aggregate):
    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, char(31))"
    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, function="STRING_AGG", template="%(function)s(%(expressions)s, chr(31))"
        )


class ThemedAs(Subquery):
    """The ids of the themes of the answer's comment, as texts joined by TAG_SEPARATOR in any
    order; null without themes. Like ``TaggedAs``, a look-up per row in the index of the answer's
    themes (their unique constraint), without the themes' table: their names are read once."""

    def __init__(self) -> None:
        ids = ResponseTheme.objects.filter(response=OuterRef("pk")).values("response")
        super().__init__(
            ids.annotate(ids=_JoinedNames(Cast("theme_id", TextField()))).values("ids"),
            output_field=TextField(),
        )


def _tag_list(joined: str | None) -> list[str]:
    return sorted(joined.split(TAG_SEPARATOR)) if joined else []


def _joined_tags(joined: str | None) -> str:
    return ", ".join(_tag_list(joined))


def property_names(responses: QuerySet[Response]) -> dict[str, list[str]]:
    """The keys of the contact and the event properties among the responses, each sorted: one
    grouped query, on PostgreSQL one pass over the rows (reading the keys is most of its time)."""
    columns = ("contact_properties", "event_properties")
    sql, params = responses.order_by().values(*columns).query.sql_with_params()
    if connection.vendor == "postgresql":
        keys = " UNION ALL ".join(
            f"SELECT '{column}', jsonb_object_keys(CASE jsonb_typeof(rows.{column}) WHEN 'object' "
            f"THEN rows.{column} ELSE '{{}}' END)"
            for column in columns
        )
        keys = f"SELECT DISTINCT names.* FROM ({sql}) rows, LATERAL ({keys}) names"  # noqa: S608
    else:
        keys = " UNION ".join(
            f"SELECT '{column}', item.key FROM ({sql}) rows, json_each(rows.{column}) item "  # noqa: S608
            f"WHERE json_type(rows.{column}) = 'object'"
            for column in columns
        )
        params = params * len(columns)
    names: dict[str, list[str]] = {column: [] for column in columns}
    with connections[responses.db].cursor() as cursor:
        cursor.execute(keys, params)
        for column, key in cursor.fetchall():
            names[column].append(key)
    return {column: sorted(keys) for column, keys in names.items()}


def neutralised(value: object) -> object:
    """A text with an apostrophe wherever a spreadsheet reading it from CSV might start a
    cell that runs as a formula (see the module's docstring); anything else as it is."""
    if isinstance(value, str):
        return FORMULA_CELL.sub("\\g<0>'", value)
    return value


def _cell_text(value: object) -> object:
    """Nested values (a property holding a list or object) as JSON text in a cell."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _csv_field(value: object) -> str:
    """One cell as csv.writer writes it (RFC 4180): None empty, numbers as text, a text with a
    comma, quote or line break in quotes with its quotes doubled. Unlike csv.writer, also a
    text with a semicolon or tab, which a spreadsheet may take for a separator."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    if "," in value or '"' in value or ";" in value or "\n" in value or "\t" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(cells: list) -> str:
    return ",".join(map(_csv_field, cells))


def csv_chunks(table: Table) -> Iterator[bytes]:
    """RFC 4180 CSV in UTF-8 with a byte-order mark; the mark leaves before the first query."""
    yield BOM.encode()
    # Property names come from customers' systems: they are neutralised like any text.
    yield (csv_line([neutralised(column) for column in table.columns]) + "\r\n").encode()
    for lines in table.csv_lines():
        yield lines.encode()


def jsonl_chunks(table: Table) -> Iterator[bytes]:
    """One JSON object a line, values as stored: comments and properties exactly as typed."""
    for records in table.records():
        yield "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


def write_xlsx(table: Table, file) -> None:
    """The workbook, written row by row (openpyxl's write-only mode) into ``file``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("verbatims")
    sheet.append(table.columns)
    for rows in table.rows():
        for row in rows:
            cells = []
            for value in row:
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


# Exports prepared in the background


def prepared_file(record: ExportRecord) -> FileResponse:
    """The download of a prepared export's file, which must be there; the audit log notes it."""
    audit_log.record(
        audit_log.Action.EXPORT_DOWNLOADED,
        target=record,
        details={"format": record.format, "personal": record.personal},
    )
    content_type, _extension = FORMATS[record.format]
    return FileResponse(
        record.file.open("rb"), as_attachment=True, filename=record.filename, content_type=content_type
    )


def progress_text(record: ExportRecord) -> str:
    """One sentence on where a prepared export stands, for its page and the API alike."""
    rows = formats.number_format(record.rows or 0, force_grouping=True)
    if record.status == ExportRecord.Status.QUEUED:
        return gettext("Waiting for a worker to start.")
    if record.status == ExportRecord.Status.RUNNING:
        if record.total is None:
            return gettext("Counting the answers.")
        total = formats.number_format(record.total, force_grouping=True)
        return gettext("%(rows)s of %(total)s answers written.") % {"rows": rows, "total": total}
    if record.status == ExportRecord.Status.FAILED:
        return gettext("The export failed: %(error)s") % {"error": record.error}
    expires = formats.date_format(timezone.localtime(record.expires_at), "DATETIME_FORMAT")
    if not record.file:
        return gettext("The file was deleted on %(expires)s. Export the answers again.") % {
            "expires": expires
        }
    return gettext("%(rows)s answers, ready to download until %(expires)s.") % {
        "rows": rows,
        "expires": expires,
    }


def too_many_unfinished(user: User) -> str | None:
    """Why the user may not start another export in the background now, or None."""
    unfinished = ExportRecord.objects.prepared().filter(
        user=user, status__in=[ExportRecord.Status.QUEUED, ExportRecord.Status.RUNNING]
    )
    if unfinished.count() < MAX_UNFINISHED_PER_USER:
        return None
    return gettext(
        "%(count)d of your exports are still being prepared. Start another when one of them is done."
    ) % {"count": MAX_UNFINISHED_PER_USER}


def prepared_record(
    user: User, export: Export, file_format: str, parameters: dict[str, list[str]]
) -> ExportRecord:
    """The record of an export to prepare in the background, queued for a worker.

    ``parameters`` are the explorer's URL parameters that selected the export. The record
    keeps them with the survey and the period spelled out: "last 30 days" must not move
    when a worker starts after midnight, nor the record's meaning later.
    """
    filters = export.query.filters
    pinned = {
        "survey": [str(filters.survey.pk)],
        "since": [filters.since.isoformat()],
        "until": [filters.until.isoformat()],
    }
    left_out = {*pinned, *IGNORED_PARAMETERS}
    now = timezone.now()
    return ExportRecord.objects.create(
        user=user,
        username=user.get_username(),
        format=file_format,
        filters=pinned | {key: values for key, values in parameters.items() if key not in left_out},
        personal=export.personal,
        background=True,
        filename=export.filename(file_format),
        created_at=now,
        expires_at=now + EXPORT_LIFETIME,
    )


def prepare_export(*, record_id: int) -> None:
    """Write a queued export's file into the default storage, with its progress on the record.

    Does nothing unless the export is still queued, so a task delivered twice writes one
    file. A failure is recorded with its reason, and a half-written file never reaches the
    storage. If the clean-up gave up on the export meanwhile, its file is deleted again.
    """
    records = ExportRecord.objects.filter(pk=record_id)
    if not records.filter(status=ExportRecord.Status.QUEUED).update(
        status=ExportRecord.Status.RUNNING, progressed_at=timezone.now()
    ):
        return
    record = records.get()
    running = records.filter(status=ExportRecord.Status.RUNNING)
    try:
        name, rows = _write_file(record, running)
    except ExportFailed as refusal:
        running.update(status=ExportRecord.Status.FAILED, error=str(refusal), finished_at=timezone.now())
        return
    except Exception as error:
        logger.exception("export %s failed", record.public_id)
        message = gettext("Writing the file failed: %(error)s") % {
            "error": str(error) or type(error).__name__
        }
        running.update(status=ExportRecord.Status.FAILED, error=message, finished_at=timezone.now())
        return
    now = timezone.now()
    if not running.update(
        status=ExportRecord.Status.DONE, file=name, rows=rows, finished_at=now, progressed_at=now
    ):
        default_storage.delete(name)


def _write_file(record: ExportRecord, running: QuerySet[ExportRecord]) -> tuple[str, int]:
    """The file's name in the storage and the rows it holds."""
    export = Export.from_filters(record.filters, user=record.user, personal=record.personal)
    # The survey and the user's access to it come from the primary, the answers from the replica.
    with replica_reads(record.user):
        return _write_rows(record, export, running)


def _write_rows(record: ExportRecord, export: Export, running: QuerySet[ExportRecord]) -> tuple[str, int]:
    total = export.count()
    running.update(total=total, rows=0)
    if record.format == ExportRecord.Format.XLSX and total > XLSX_MAX_ROWS:
        raise ExportFailed(_too_many_rows(total))
    table = Table(export, progress=lambda rows: running.update(rows=rows, progressed_at=timezone.now()))
    with tempfile.TemporaryFile() as file:
        if record.format == ExportRecord.Format.XLSX:
            write_xlsx(table, file)
        else:
            chunks = csv_chunks(table) if record.format == ExportRecord.Format.CSV else jsonl_chunks(table)
            file.writelines(chunks)
        file.seek(0)
        extension = FORMATS[record.format][1]
        # Unguessable, so that a storage served by a web server by mistake does not give it away.
        name = default_storage.save(f"{STORAGE_FOLDER}/{secrets.token_urlsafe(32)}.{extension}", File(file))
    return name, table.count


def tidy_exports(*, now: datetime) -> int:
    """Delete the files of expired exports, and fail exports that will not finish: those still
    unfinished at their expiry, those no worker started and those whose worker stopped.
    Returns the files deleted.

    The records stay: they say who took which answers out.
    """
    deleted = 0
    for record in ExportRecord.objects.expired(now).exclude(file="").only("pk", "file"):
        default_storage.delete(record.file.name)
        deleted += ExportRecord.objects.filter(pk=record.pk, file=record.file.name).update(file="")
    unfinished = ExportRecord.objects.filter(
        status__in=[ExportRecord.Status.QUEUED, ExportRecord.Status.RUNNING]
    )
    unfinished.expired(now).update(
        status=ExportRecord.Status.FAILED,
        error=gettext("No worker finished the export before it expired."),
        finished_at=now,
    )
    ExportRecord.objects.unstarted(now, UNSTARTED_AFTER).update(
        status=ExportRecord.Status.FAILED,
        error=gettext("No worker started the export within an hour. Start it again."),
        finished_at=now,
    )
    ExportRecord.objects.stalled(now, STALLED_AFTER).update(
        status=ExportRecord.Status.FAILED,
        error=gettext("The export stopped when its worker did. Start it again."),
        finished_at=now,
    )
    return deleted
