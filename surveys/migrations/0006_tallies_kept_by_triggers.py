"""The database keeps the daily tallies: triggers on surveys_response count every response in
when it is written and out when it is changed or deleted, whatever writes it.

A response counts on its local day in the zone that surveys_tallyzone names; the application
sets it to its TIME_ZONE and recounts the tallies after migrate (surveys.models.tallies). The
value of a property is counted as surveys.properties.PropertyValue reads it: the event's if the
event has the property, else the contact's, when it is text of 1 to 500 characters.
"""

from django.conf import settings
from django.db import migrations, models

VALUE_MAX_LENGTH = 500
TALLIED_COLUMNS = ("survey_id", "touchpoint_id", "score", "created_at", "event_properties", "contact_properties")


def _postgresql_value(row: str, name: str) -> str:
    def text_of(column: str) -> str:
        return (
            f"CASE WHEN jsonb_typeof({row}.{column} -> {name}) = 'string' "
            f"AND length({row}.{column} ->> {name}) BETWEEN 1 AND {VALUE_MAX_LENGTH} "
            f"THEN {row}.{column} ->> {name} END"
        )

    return (
        f"CASE WHEN ({row}.event_properties -> {name}) IS NOT NULL "
        f"THEN {text_of('event_properties')} ELSE {text_of('contact_properties')} END"
    )


POSTGRESQL = [
    f"""
CREATE FUNCTION surveys_tally_response(answer surveys_response, change integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    names jsonb;
    local_day date;
    touchpoint bigint := COALESCE(answer.touchpoint_id, 0);
    property record;
BEGIN
    -- The survey's row first, share-locked: a recount of the survey and a change of its
    -- dashboard properties lock it for update, so they wait for this answer and it for them.
    SELECT dashboard_properties INTO names FROM surveys_survey WHERE id = answer.survey_id FOR SHARE;
    local_day := (answer.created_at AT TIME ZONE (SELECT name FROM surveys_tallyzone WHERE id = 1))::date;
    IF change > 0 THEN
        INSERT INTO surveys_dailyscore (survey_id, day, touchpoint_key, score, responses)
        VALUES (answer.survey_id, local_day, touchpoint, answer.score, 1)
        ON CONFLICT (survey_id, day, touchpoint_key, score)
        DO UPDATE SET responses = surveys_dailyscore.responses + 1;
    ELSE
        UPDATE surveys_dailyscore SET responses = responses - 1
        WHERE survey_id = answer.survey_id AND day = local_day AND touchpoint_key = touchpoint
        AND score = answer.score;
    END IF;
    -- In the order of the names, as every writer goes: two answers never wait for each other.
    FOR property IN
        SELECT property_name, {_postgresql_value("answer", "property_name")} AS value
        FROM jsonb_array_elements_text(names) AS property_name ORDER BY property_name
    LOOP
        CONTINUE WHEN property.value IS NULL;
        IF change > 0 THEN
            INSERT INTO surveys_propertyscore (survey_id, name, day, touchpoint_key, value, score, responses)
            VALUES (answer.survey_id, property.property_name, local_day, touchpoint, property.value,
                    answer.score, 1)
            ON CONFLICT (survey_id, name, day, touchpoint_key, value, score)
            DO UPDATE SET responses = surveys_propertyscore.responses + 1;
        ELSE
            UPDATE surveys_propertyscore SET responses = responses - 1
            WHERE survey_id = answer.survey_id AND name = property.property_name AND day = local_day
            AND touchpoint_key = touchpoint AND value = property.value AND score = answer.score;
        END IF;
    END LOOP;
END
$$
""",
    """
CREATE FUNCTION surveys_response_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM surveys_tally_response(NEW, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM surveys_tally_response(OLD, -1);
    -- A change moves the response out of one count and into another: the lower one first,
    -- so that two changes in opposite directions cannot wait for each other.
    ELSIF (OLD.survey_id, OLD.created_at, COALESCE(OLD.touchpoint_id, 0), OLD.score)
        <= (NEW.survey_id, NEW.created_at, COALESCE(NEW.touchpoint_id, 0), NEW.score) THEN
        PERFORM surveys_tally_response(OLD, -1);
        PERFORM surveys_tally_response(NEW, 1);
    ELSE
        PERFORM surveys_tally_response(NEW, 1);
        PERFORM surveys_tally_response(OLD, -1);
    END IF;
    RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER surveys_response_tally AFTER INSERT OR DELETE ON surveys_response
FOR EACH ROW EXECUTE FUNCTION surveys_response_tally()
""",
    f"""
CREATE TRIGGER surveys_response_retally AFTER UPDATE ON surveys_response FOR EACH ROW
WHEN ({" OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in TALLIED_COLUMNS)})
EXECUTE FUNCTION surveys_response_tally()
""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER surveys_response_retally ON surveys_response",
    "DROP TRIGGER surveys_response_tally ON surveys_response",
    "DROP FUNCTION surveys_response_tally()",
    "DROP FUNCTION surveys_tally_response(surveys_response, integer)",
]


def _sqlite_day(row: str) -> str:
    # Django registers this function on each of its SQLite connections; SQLite knows no time zones.
    return f"django_datetime_cast_date({row}.created_at, (SELECT name FROM surveys_tallyzone WHERE id = 1), 'UTC')"


def _sqlite_value(row: str) -> str:
    path = """'$."' || names.value || '"'"""  # quoted, so that a name with a dot stays one key

    def text_of(column: str) -> str:
        return (
            f"CASE WHEN json_type({row}.{column}, {path}) = 'text' "
            f"AND length(json_extract({row}.{column}, {path})) BETWEEN 1 AND {VALUE_MAX_LENGTH} "
            f"THEN json_extract({row}.{column}, {path}) END"
        )

    return (
        f"CASE WHEN json_type({row}.event_properties, {path}) IS NOT NULL "
        f"THEN {text_of('event_properties')} ELSE {text_of('contact_properties')} END"
    )


def _sqlite_names(row: str) -> str:
    return (
        "surveys_survey AS survey, json_each(survey.dashboard_properties) AS names "
        f"WHERE survey.id = {row}.survey_id"
    )


def _sqlite_count_in(row: str) -> str:
    return f"""
    INSERT INTO surveys_dailyscore (survey_id, day, touchpoint_key, score, responses)
    VALUES ({row}.survey_id, {_sqlite_day(row)}, COALESCE({row}.touchpoint_id, 0), {row}.score, 1)
    ON CONFLICT (survey_id, day, touchpoint_key, score) DO UPDATE SET responses = responses + 1;
    INSERT INTO surveys_propertyscore (survey_id, name, day, touchpoint_key, value, score, responses)
    SELECT {row}.survey_id, names.value, {_sqlite_day(row)}, COALESCE({row}.touchpoint_id, 0),
           {_sqlite_value(row)}, {row}.score, 1
    FROM {_sqlite_names(row)} AND {_sqlite_value(row)} IS NOT NULL
    ON CONFLICT (survey_id, name, day, touchpoint_key, value, score) DO UPDATE SET responses = responses + 1;
"""


def _sqlite_count_out(row: str) -> str:
    key = (
        f"survey_id = {row}.survey_id AND day = {_sqlite_day(row)} "
        f"AND touchpoint_key = COALESCE({row}.touchpoint_id, 0) AND score = {row}.score"
    )
    return f"""
    UPDATE surveys_dailyscore SET responses = responses - 1 WHERE {key};
    UPDATE surveys_propertyscore SET responses = responses - 1 WHERE {key}
    AND (name, value) IN (SELECT names.value, {_sqlite_value(row)} FROM {_sqlite_names(row)});
"""


SQLITE = [
    f"CREATE TRIGGER surveys_response_tally_in AFTER INSERT ON surveys_response BEGIN {_sqlite_count_in('NEW')} END",
    f"CREATE TRIGGER surveys_response_tally_out AFTER DELETE ON surveys_response BEGIN {_sqlite_count_out('OLD')} END",
    f"""
CREATE TRIGGER surveys_response_retally AFTER UPDATE OF {", ".join(TALLIED_COLUMNS)} ON surveys_response
WHEN {" OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in TALLIED_COLUMNS)}
BEGIN {_sqlite_count_out("OLD")} {_sqlite_count_in("NEW")} END
""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER surveys_response_retally",
    "DROP TRIGGER surveys_response_tally_out",
    "DROP TRIGGER surveys_response_tally_in",
]


def install_triggers(apps, schema_editor) -> None:
    statements = {"postgresql": POSTGRESQL, "sqlite": SQLITE}[schema_editor.connection.vendor]
    for statement in statements:
        schema_editor.execute(statement)
    # Counted afresh after migrate (counted_at is None); until then the triggers count in this zone.
    TallyZone = apps.get_model("surveys", "TallyZone")
    TallyZone.objects.using(schema_editor.connection.alias).create(pk=1, name=settings.TIME_ZONE)


def remove_triggers(apps, schema_editor) -> None:
    statements = {"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}[schema_editor.connection.vendor]
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0005_property_scores"),
    ]

    operations = [
        migrations.CreateModel(
            name="TallyZone",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=64)),
                ("counted_at", models.DateTimeField(null=True)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="tally_zone_one_row")],
            },
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
