"""The terms of each comment (``surveys.terms``), which the verbatim search matches on any database.

The column comes empty; the answers that have a comment get their terms a batch at a time, each
batch in a transaction of its own (the migration is not atomic): a backfill of millions holds
no row for long, and one that was interrupted goes on with the answers still without terms.
Then, on PostgreSQL, a GIN index on the terms as words, the expression that Django's
``SearchVector("comment_terms", config="simple")`` compiles to (``feedback.verbatims``).

SQLite rebuilds the responses table to add the column, which drops the triggers that keep the
dashboards' tallies: they are dropped before and created again after, as in migration 0008.
"""

from importlib import import_module

from django.db import migrations, models, transaction

from surveys.terms import comment_terms

signed_identities = import_module("surveys.migrations.0008_signed_identities")

BATCH_SIZE = 2000


def fill_terms(apps, schema_editor):
    response_model = apps.get_model("surveys", "Response")
    responses = response_model.objects.using(schema_editor.connection.alias)
    missing = responses.exclude(comment="").filter(comment_terms="").order_by("pk")
    last = 0
    while batch := list(missing.filter(pk__gt=last).only("pk", "comment", "language")[:BATCH_SIZE]):
        for response in batch:
            response.comment_terms = comment_terms(response.comment, response.language)
        with transaction.atomic(using=schema_editor.connection.alias):
            responses.bulk_update(batch, ["comment_terms"])
        last = batch[-1].pk


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS response_comment_terms_idx ON surveys_response "
            "USING gin (to_tsvector('simple'::regconfig, COALESCE(comment_terms, '')))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS response_comment_terms_idx")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("surveys", "0014_touchpoint_recheck")]

    operations = [
        migrations.RunPython(
            signed_identities.drop_sqlite_triggers, signed_identities.create_sqlite_triggers
        ),
        migrations.AddField(
            model_name="response",
            name="comment_terms",
            field=models.TextField(
                blank=True, db_default="", default="", editable=False, verbose_name="terms of the comment"
            ),
        ),
        migrations.RunPython(
            signed_identities.create_sqlite_triggers, signed_identities.drop_sqlite_triggers
        ),
        migrations.RunPython(fill_terms, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
