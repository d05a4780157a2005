"""The terms of comments for text insights (``Response.comment_ngrams``) and their daily tally
(``TermTally``, with the terms' texts in ``Term``), kept by triggers as the score tallies are.

A response counts each of its terms once, on its local day (the zone that surveys_tallyzone
names), under its score's category on its survey's scale and its language; and once under the
term of no words (""), so that the tally also says how many comments there were. On PostgreSQL the
triggers count at the commit (as migration 0010 made the score tallies do), taking the terms in
order so that two answers never wait for each other; on SQLite when the row is written.

The column comes empty; the answers that have a comment get their terms a batch at a time (the
migration is not atomic, as in migration 0015). Then the triggers are created and the terms
already there are counted, in one transaction that holds off new answers meanwhile (on
PostgreSQL by a share lock on the responses table), so that none is counted twice or missed.

SQLite rebuilds the responses table to add the column, which drops the score tallies' triggers:
they are dropped before and created again after, as in migration 0008. A later migration that
rebuilds the table does the same with this migration's ``drop_sqlite_triggers`` and
``create_sqlite_triggers``.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models, transaction

from surveys.terms import comment_ngrams

signed_identities = import_module("surveys.migrations.0008_signed_identities")

BATCH_SIZE = 2000
# (kind, category, lowest score, highest score): the categories of surveys.scales.
CATEGORIES = (
    ("nps", "detractor", 0, 6),
    ("nps", "passive", 7, 8),
    ("nps", "promoter", 9, 10),
    ("csat", "dissatisfied", 1, 2),
    ("csat", "neutral", 3, 3),
    ("csat", "satisfied", 4, 5),
    ("ces", "difficult", 1, 3),
    ("ces", "neutral", 4, 4),
    ("ces", "easy", 5, 7),
)
MOVING_COLUMNS = ("survey_id", "score", "kind", "created_at", "language", "comment_ngrams")
TALLY_KEY = "survey_id, day, category, language, term_id"
TERMS_LOCK = 7_202_612_180  # surveys.models.tallies.TERMS_LOCK


def _category(row: str) -> str:
    cases = " ".join(
        f"WHEN {row}.kind = '{kind}' AND {row}.score BETWEEN {low} AND {high} THEN '{code}'"
        for kind, code, low, high in CATEGORIES
    )
    return f"CASE {cases} END"


POSTGRESQL = [
    f"""
CREATE FUNCTION surveys_tally_terms(answer surveys_response, change integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    local_day date;
BEGIN
    IF jsonb_array_length(answer.comment_ngrams) = 0 THEN
        RETURN;
    END IF;
    -- Held until the commit: pruning terms takes it exclusively (TermTally.objects.prune).
    PERFORM pg_advisory_xact_lock_shared({TERMS_LOCK});
    -- As the score tallies do: a recount of the survey locks its row for update and waits.
    PERFORM 1 FROM surveys_survey WHERE id = answer.survey_id FOR SHARE;
    local_day := (answer.created_at AT TIME ZONE (SELECT name FROM surveys_tallyzone WHERE id = 1))::date;
    IF change > 0 THEN
        INSERT INTO surveys_term (text)
        SELECT ngram FROM (SELECT jsonb_array_elements_text(answer.comment_ngrams) UNION ALL SELECT '') AS terms (ngram)
        ORDER BY ngram ON CONFLICT (text) DO NOTHING;
        INSERT INTO surveys_termtally ({TALLY_KEY}, responses)
        SELECT answer.survey_id, local_day, {_category("answer")}, answer.language, term.id, 1
        FROM surveys_term AS term
        WHERE term.text IN (SELECT jsonb_array_elements_text(answer.comment_ngrams) UNION ALL SELECT '')
        ORDER BY term.id
        ON CONFLICT ({TALLY_KEY}) DO UPDATE SET responses = surveys_termtally.responses + 1;
    ELSE
        UPDATE surveys_termtally SET responses = responses - 1
        WHERE survey_id = answer.survey_id AND day = local_day AND category = {_category("answer")}
        AND language = answer.language AND term_id IN (
            SELECT term.id FROM surveys_term AS term
            WHERE term.text IN (SELECT jsonb_array_elements_text(answer.comment_ngrams) UNION ALL SELECT '')
        );
    END IF;
END
$$
""",
    """
CREATE FUNCTION surveys_response_term_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM surveys_tally_terms(NEW, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM surveys_tally_terms(OLD, -1);
    ELSE
        PERFORM surveys_tally_terms(OLD, -1);
        PERFORM surveys_tally_terms(NEW, 1);
    END IF;
    RETURN NULL;
END
$$
""",
    """
CREATE CONSTRAINT TRIGGER surveys_response_term_tally AFTER INSERT OR DELETE ON surveys_response
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION surveys_response_term_tally()
""",
    f"""
CREATE CONSTRAINT TRIGGER surveys_response_term_retally AFTER UPDATE ON surveys_response
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN ({" OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in MOVING_COLUMNS)})
EXECUTE FUNCTION surveys_response_term_tally()
""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER surveys_response_term_retally ON surveys_response",
    "DROP TRIGGER surveys_response_term_tally ON surveys_response",
    "DROP FUNCTION surveys_response_term_tally()",
    "DROP FUNCTION surveys_tally_terms(surveys_response, integer)",
]


def _sqlite_day(row: str) -> str:
    return f"django_datetime_cast_date({row}.created_at, (SELECT name FROM surveys_tallyzone WHERE id = 1), 'UTC')"


def _sqlite_any(row: str) -> str:
    return f"json_array_length({row}.comment_ngrams) > 0"


def _sqlite_count_in(row: str) -> str:
    return f"""
    INSERT INTO surveys_term (text)
    SELECT value FROM json_each({row}.comment_ngrams) WHERE true UNION ALL SELECT '' WHERE {_sqlite_any(row)}
    ON CONFLICT (text) DO NOTHING;
    INSERT INTO surveys_termtally ({TALLY_KEY}, responses)
    SELECT {row}.survey_id, answer.day, answer.category, {row}.language, term.id, 1
    -- The day and category once per answer, not once per term (LIMIT keeps SQLite from inlining it).
    FROM (SELECT {_sqlite_day(row)} AS day, {_category(row)} AS category LIMIT 1) AS answer, surveys_term AS term
    WHERE term.text IN (SELECT value FROM json_each({row}.comment_ngrams) UNION ALL SELECT '')
    AND {_sqlite_any(row)}
    ON CONFLICT ({TALLY_KEY}) DO UPDATE SET responses = responses + 1;
"""


def _sqlite_count_out(row: str) -> str:
    return f"""
    UPDATE surveys_termtally SET responses = responses - 1
    WHERE survey_id = {row}.survey_id AND day = {_sqlite_day(row)} AND category = {_category(row)}
    AND language = {row}.language AND term_id IN (
        SELECT term.id FROM surveys_term AS term
        WHERE term.text IN (SELECT value FROM json_each({row}.comment_ngrams) UNION ALL SELECT '')
    AND {_sqlite_any(row)}
    );
"""


SQLITE = [
    f"CREATE TRIGGER surveys_response_terms_in AFTER INSERT ON surveys_response BEGIN {_sqlite_count_in('NEW')} END",
    f"CREATE TRIGGER surveys_response_terms_out AFTER DELETE ON surveys_response BEGIN {_sqlite_count_out('OLD')} END",
    f"""
CREATE TRIGGER surveys_response_terms_moved AFTER UPDATE OF {", ".join(MOVING_COLUMNS)} ON surveys_response
WHEN {" OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in MOVING_COLUMNS)}
BEGIN {_sqlite_count_out("OLD")} {_sqlite_count_in("NEW")} END
""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS surveys_response_terms_moved",
    "DROP TRIGGER IF EXISTS surveys_response_terms_out",
    "DROP TRIGGER IF EXISTS surveys_response_terms_in",
]

COUNT_EXISTING = {
    "postgresql": [
        "LOCK TABLE surveys_response IN SHARE MODE",
        """
INSERT INTO surveys_term (text)
SELECT DISTINCT ngram FROM surveys_response, jsonb_array_elements_text(comment_ngrams) AS ngram
UNION SELECT '' ORDER BY 1 ON CONFLICT (text) DO NOTHING
""",
        f"""
INSERT INTO surveys_termtally ({TALLY_KEY}, responses)
SELECT r.survey_id, (r.created_at AT TIME ZONE (SELECT name FROM surveys_tallyzone WHERE id = 1))::date,
       {_category("r")}, r.language, term.id, count(*)
FROM surveys_response AS r
CROSS JOIN LATERAL (SELECT jsonb_array_elements_text(r.comment_ngrams) UNION ALL SELECT '') AS ngram (value)
JOIN surveys_term AS term ON term.text = ngram.value
WHERE jsonb_array_length(r.comment_ngrams) > 0
GROUP BY 1, 2, 3, 4, 5
""",
    ],
    "sqlite": [
        """
INSERT INTO surveys_term (text)
SELECT DISTINCT ngram.value FROM surveys_response, json_each(comment_ngrams) AS ngram
UNION SELECT '' WHERE true ON CONFLICT (text) DO NOTHING
""",
        f"""
INSERT INTO surveys_termtally ({TALLY_KEY}, responses)
SELECT r.survey_id, {_sqlite_day("r")}, {_category("r")}, r.language, term.id, count(*)
FROM surveys_response AS r
JOIN surveys_term AS term ON term.text IN (SELECT value FROM json_each(r.comment_ngrams) UNION ALL SELECT '')
WHERE {_sqlite_any("r")}
GROUP BY 1, 2, 3, 4, 5
""",
    ],
}


def fill_ngrams(apps, schema_editor) -> None:
    response_model = apps.get_model("surveys", "Response")
    responses = response_model.objects.using(schema_editor.connection.alias)
    with_comment = responses.exclude(comment="").order_by("pk")
    last = 0
    while batch := list(with_comment.filter(pk__gt=last).only("pk", "comment", "language")[:BATCH_SIZE]):
        for response in batch:
            response.comment_ngrams = comment_ngrams(response.comment, response.language)
        with transaction.atomic(using=schema_editor.connection.alias):
            responses.bulk_update(batch, ["comment_ngrams"])
        last = batch[-1].pk


def drop_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


def create_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        drop_sqlite_triggers(apps, schema_editor)
        for statement in SQLITE:
            schema_editor.execute(statement)


def count_terms(apps, schema_editor) -> None:
    """Create the triggers and count the terms already there, with no answer written in between."""
    vendor = schema_editor.connection.vendor
    with transaction.atomic(using=schema_editor.connection.alias):
        for statement in COUNT_EXISTING[vendor]:
            schema_editor.execute(statement)
        for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
            schema_editor.execute(statement)


def uncount_terms(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in POSTGRESQL_REVERSE if vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(statement)
    apps.get_model("surveys", "TermTally").objects.using(schema_editor.connection.alias).all().delete()
    apps.get_model("surveys", "Term").objects.using(schema_editor.connection.alias).all().delete()


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("surveys", "0017_property_labels"),
    ]

    operations = [
        migrations.RunPython(
            signed_identities.drop_sqlite_triggers, signed_identities.create_sqlite_triggers
        ),
        migrations.CreateModel(
            name="Term",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.CharField(max_length=200, unique=True)),
            ],
        ),
        migrations.AddField(
            model_name="response",
            name="comment_ngrams",
            field=models.JSONField(
                blank=True, db_default=[], default=list, editable=False, verbose_name="terms for insights"
            ),
        ),
        migrations.CreateModel(
            name="TermTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("category", models.CharField(max_length=12)),
                ("language", models.CharField(max_length=2)),
                ("responses", models.IntegerField()),
                (
                    "survey",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="surveys.survey"
                    ),
                ),
                (
                    "term",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="surveys.term"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("survey", "day", "category", "language", "term"), name="term_tally_unique_key"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("responses__gte", 0)), name="term_tally_not_negative"
                    ),
                ],
                "indexes": [
                    models.Index(
                        condition=models.Q(("responses", 0)), fields=["term"], name="term_tally_empty_idx"
                    ),
                ],
            },
        ),
        migrations.RunPython(
            signed_identities.create_sqlite_triggers, signed_identities.drop_sqlite_triggers
        ),
        migrations.RunPython(fill_ngrams, migrations.RunPython.noop),
        migrations.RunPython(count_terms, uncount_terms),
    ]
