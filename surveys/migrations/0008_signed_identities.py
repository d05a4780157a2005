"""Signed identities: each survey's secret, and the identity an unsigned public answer claims.

A public answer is attached to a contact only when the company signed its email and external
id with the survey's secret; otherwise what it claimed is kept on the response.

SQLite cannot add these columns or the check constraint in place: Django rebuilds the
surveys and responses tables, which drops (or, for the surveys table, breaks) the triggers that
keep the dashboards' tallies (migration 0006). They are dropped before and created again after,
both ways; PostgreSQL keeps them.
"""

from importlib import import_module

import django.db.models.functions.text
from django.db import migrations, models

import surveys.models.tokens

tallies = import_module("surveys.migrations.0006_tallies_kept_by_triggers")


def drop_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in tallies.SQLITE_REVERSE:
            schema_editor.execute(statement.replace("DROP TRIGGER", "DROP TRIGGER IF EXISTS"))


def create_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        drop_sqlite_triggers(apps, schema_editor)
        for statement in tallies.SQLITE:
            schema_editor.execute(statement)


def give_each_survey_its_secret(apps, schema_editor) -> None:
    """AddField fills every existing row with one value of the default; each survey needs its own."""
    Survey = apps.get_model("surveys", "Survey")
    for survey in Survey.objects.using(schema_editor.connection.alias).only("pk"):
        survey.identity_secret = surveys.models.tokens.new_identity_secret()
        survey.save(update_fields=["identity_secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0007_teams_and_permissions"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AddField(
            model_name="survey",
            name="identity_secret",
            field=models.CharField(
                default=surveys.models.tokens.new_identity_secret,
                editable=False,
                max_length=64,
                verbose_name="identity secret",
            ),
        ),
        migrations.RunPython(give_each_survey_its_secret, migrations.RunPython.noop),
        migrations.AddField(
            model_name="response",
            name="claimed_email",
            field=models.EmailField(
                blank=True, db_default="", default="", max_length=254, verbose_name="claimed email (unverified)"
            ),
        ),
        migrations.AddField(
            model_name="response",
            name="claimed_external_id",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                max_length=200,
                verbose_name="claimed external id (unverified)",
            ),
        ),
        migrations.AddField(
            model_name="response",
            name="claimed_name",
            field=models.CharField(
                blank=True, db_default="", default="", max_length=200, verbose_name="claimed name (unverified)"
            ),
        ),
        migrations.AddIndex(
            model_name="response",
            index=models.Index(
                django.db.models.functions.text.Lower("claimed_email"),
                condition=models.Q(("claimed_email", ""), _negated=True),
                name="response_claimed_email_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="response",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("contact__isnull", True),
                    models.Q(("claimed_email", ""), ("claimed_external_id", ""), ("claimed_name", "")),
                    _connector="OR",
                ),
                name="response_claims_only_without_contact",
            ),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
