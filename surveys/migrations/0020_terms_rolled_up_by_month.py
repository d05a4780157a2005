"""The term tally's months summed (``TermMonth``), so that the insights over a year read a month's
row of a term where it was used on many days, not a row a day.

The months are filled by ``TermMonth.objects.roll_up`` once they have ended (PostgreSQL only);
from then on the answers of their days that change or go must count out of them, and in again
when changed. The term triggers' function of migration 0018 is replaced by one that does so for
the days up to ``TallyZone.terms_rolled_until``, under the roll-up lock (shared; the roll-up
holds it exclusively) for any day before yesterday. The answers of today and yesterday, all that
arrive, never take it nor touch a month row: their months cannot be rolled up yet.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

tallied = import_module("surveys.migrations.0018_terms_of_comments_tallied")

TERMS_LOCK = tallied.TERMS_LOCK
ROLLUP_LOCK = 7_202_612_181  # surveys.models.tallies.ROLLUP_LOCK
MONTH_KEY = "survey_id, month, category, language, term_id"
TERMS = "SELECT jsonb_array_elements_text(answer.comment_ngrams) UNION ALL SELECT ''"


def _function(months: bool) -> str:
    rolled_up = f"""
    -- A day before yesterday may be in a month that is rolled up, or being rolled up: wait for
    -- the roll-up, then count in (or out of) the month's row too.
    IF local_day < (clock_timestamp() AT TIME ZONE zone)::date - 1 THEN
        PERFORM pg_advisory_xact_lock_shared({ROLLUP_LOCK});
        IF local_day <= (SELECT terms_rolled_until FROM surveys_tallyzone WHERE id = 1) THEN
            IF change > 0 THEN
                INSERT INTO surveys_termmonth ({MONTH_KEY}, responses)
                SELECT answer.survey_id, date_trunc('month', local_day)::date, {tallied._category("answer")},
                       answer.language, term.id, 1
                FROM surveys_term AS term WHERE term.text IN ({TERMS})
                ORDER BY term.id
                ON CONFLICT ({MONTH_KEY}) DO UPDATE SET responses = surveys_termmonth.responses + 1;
            ELSE
                UPDATE surveys_termmonth SET responses = responses - 1
                WHERE survey_id = answer.survey_id AND month = date_trunc('month', local_day)::date
                AND category = {tallied._category("answer")} AND language = answer.language
                AND term_id IN (SELECT term.id FROM surveys_term AS term WHERE term.text IN ({TERMS}));
            END IF;
        END IF;
    END IF;"""
    return f"""
CREATE OR REPLACE FUNCTION surveys_tally_terms(answer surveys_response, change integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    zone text;
    local_day date;
BEGIN
    IF jsonb_array_length(answer.comment_ngrams) = 0 THEN
        RETURN;
    END IF;
    -- Held until the commit: pruning terms takes it exclusively (TermTally.objects.prune).
    PERFORM pg_advisory_xact_lock_shared({TERMS_LOCK});
    -- As the score tallies do: a recount of the survey locks its row for update and waits.
    PERFORM 1 FROM surveys_survey WHERE id = answer.survey_id FOR SHARE;
    zone := (SELECT name FROM surveys_tallyzone WHERE id = 1);
    local_day := (answer.created_at AT TIME ZONE zone)::date;
    IF change > 0 THEN
        INSERT INTO surveys_term (text)
        SELECT ngram FROM ({TERMS}) AS terms (ngram)
        ORDER BY ngram ON CONFLICT (text) DO NOTHING;
        INSERT INTO surveys_termtally ({tallied.TALLY_KEY}, responses)
        SELECT answer.survey_id, local_day, {tallied._category("answer")}, answer.language, term.id, 1
        FROM surveys_term AS term
        WHERE term.text IN ({TERMS})
        ORDER BY term.id
        ON CONFLICT ({tallied.TALLY_KEY}) DO UPDATE SET responses = surveys_termtally.responses + 1;
    ELSE
        UPDATE surveys_termtally SET responses = responses - 1
        WHERE survey_id = answer.survey_id AND day = local_day AND category = {tallied._category("answer")}
        AND language = answer.language AND term_id IN (
            SELECT term.id FROM surveys_term AS term WHERE term.text IN ({TERMS})
        );
    END IF;{rolled_up if months else ""}
END
$$
"""


def count_months(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_function(months=True))


def uncount_months(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_function(months=False))


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0019_term_tally_category_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="tallyzone",
            name="terms_rolled_until",
            field=models.DateField(null=True),
        ),
        migrations.CreateModel(
            name="TermMonth",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
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
                "indexes": [
                    models.Index(
                        condition=models.Q(("responses", 0)), fields=["term"], name="term_month_empty_idx"
                    ),
                    models.Index(
                        fields=["survey", "category", "month"],
                        include=("language", "term", "responses"),
                        name="term_month_category_idx",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("survey", "month", "category", "language", "term"), name="term_month_unique_key"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("responses__gte", 0)), name="term_month_not_negative"
                    ),
                ],
            },
        ),
        migrations.RunPython(count_months, uncount_months),
    ]
