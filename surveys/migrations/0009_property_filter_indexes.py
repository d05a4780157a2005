"""Property filters served by an index on PostgreSQL.

One GIN index (``jsonb_path_ops``: containment only, smaller than the default) on each
snapshot of properties, for ``ResponseQuerySet.with_property``'s ``@>``: a filter by a value
that few answers have (a store, an agent, an order) reads those answers' rows instead of every
answer of the period. A value that a large share has is read by scanning the period either way.
Built without CONCURRENTLY, as the other indexes: the build holds back writes to the responses
for its length (about 15 s per index at ten million answers). SQLite has no GIN indexes.
"""

from django.db import migrations

COLUMNS = {"event": "event_properties", "contact": "contact_properties"}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in COLUMNS.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS response_{name}_properties_idx ON surveys_response "
            f"USING gin ({column} jsonb_path_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS response_{name}_properties_idx")


class Migration(migrations.Migration):
    dependencies = [("surveys", "0008_signed_identities")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
