"""Full-text search of comments in their own language, on PostgreSQL.

Two partial GIN indexes, one per language, on the expression Django's
``SearchVector("comment", config=...)`` compiles to (``feedback.verbatims``). SQLite has
no full-text configurations; it searches by substring and needs no index.
"""

from django.db import migrations

CONFIGS = {"de": "german", "en": "english"}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for language, config in CONFIGS.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS response_comment_fts_{language} ON surveys_response "
            f"USING gin (to_tsvector('{config}'::regconfig, COALESCE(comment, ''))) "
            f"WHERE language = '{language}'"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for language in CONFIGS:
        schema_editor.execute(f"DROP INDEX IF EXISTS response_comment_fts_{language}")


class Migration(migrations.Migration):
    dependencies = [("surveys", "0003_daily_scores")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
