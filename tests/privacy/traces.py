"""Where texts are found in the whole database and under MEDIA_ROOT: every table of every installed
model (and their many-to-many tables), every text and JSON column, read with raw SQL; and every
file's bytes. Not a list of the places the erasure knows, so that a place it forgot is found."""

import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, models

# Every kind of column that can hold text, by Django's internal type (EmailField, URLField and
# the like are CharFields).
TEXT_TYPES = {"CharField", "TextField", "JSONField", "FileField", "SlugField", "GenericIPAddressField"}


def columns() -> list[tuple[str, str, bool]]:
    """(table, column, is JSON) of every text and JSON column of every installed model."""
    return sorted(
        {
            (model._meta.db_table, str(column.column), isinstance(column, models.JSONField))
            for model in apps.get_models(include_auto_created=True)
            for column in model._meta.concrete_fields
            if column.get_internal_type() in TEXT_TYPES
        }
    )


def _text(value: object, is_json: bool) -> str:
    """A stored value as searchable text: JSON parsed and written without escapes (SQLite keeps
    non-ASCII characters escaped in its JSON text)."""
    if value is None:
        return ""
    if isinstance(value, str) and is_json:
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def in_database(traces: list[str]) -> list[str]:
    """Where each trace is found (case-insensitive): "table.column: trace", one per find."""
    wanted = [trace.casefold() for trace in traces]
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, column, is_json in columns():
            cursor.execute(f"SELECT {quote(column)} FROM {quote(table)}")  # noqa: S608 - the models' own names
            for (value,) in cursor.fetchall():
                text = _text(value, is_json).casefold()
                found += [f"{table}.{column}: {trace}" for trace in wanted if trace in text]
    return found


def in_files(traces: list[str], root: Path | None = None) -> list[str]:
    """Which files under MEDIA_ROOT hold a trace (as UTF-8, case-insensitive)."""
    root = Path(root or settings.MEDIA_ROOT)
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace").casefold()
            found += [f"{path}: {trace}" for trace in traces if trace.casefold() in text]
    return found
