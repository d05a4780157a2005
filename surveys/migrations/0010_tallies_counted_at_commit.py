"""On PostgreSQL the tallies count a response when its transaction commits, not when it is
written: the triggers of migration 0006 become constraint triggers, deferred to the commit.

Many answers on one day with one score add to the same tally row, and an answer's transaction
holds that row's lock from the moment it counts until it commits. Counted while the row was
written, the lock was held while the application went on (the invitation, the webhook messages),
and answers with the same score queued behind each other; counted at the commit, it is held for
the commit only. The counts are the same: the triggers still run in the answer's transaction,
in the order of its changes, and a transaction that rolls back counts nothing. SQLite has one
writer at a time, so its triggers stay as they are.
"""

from django.db import migrations

# The WHEN clause of migration 0006's update trigger: a change that moves the response between counts.
TALLIED_COLUMNS = ("survey_id", "touchpoint_id", "score", "created_at", "event_properties", "contact_properties")
MOVES = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in TALLIED_COLUMNS)


def triggers(kind: str) -> list[str]:
    """The two triggers, as ``kind`` ("CONSTRAINT TRIGGER … DEFERRABLE INITIALLY DEFERRED" or
    "TRIGGER") on the same function."""
    deferred = " DEFERRABLE INITIALLY DEFERRED" if kind == "CONSTRAINT TRIGGER" else ""
    return [
        "DROP TRIGGER surveys_response_retally ON surveys_response",
        "DROP TRIGGER surveys_response_tally ON surveys_response",
        f"CREATE {kind} surveys_response_tally AFTER INSERT OR DELETE ON surveys_response{deferred} "
        "FOR EACH ROW EXECUTE FUNCTION surveys_response_tally()",
        f"CREATE {kind} surveys_response_retally AFTER UPDATE ON surveys_response{deferred} "
        f"FOR EACH ROW WHEN ({MOVES}) EXECUTE FUNCTION surveys_response_tally()",
    ]


def count_at_commit(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in triggers("CONSTRAINT TRIGGER"):
            schema_editor.execute(statement)


def count_when_written(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in triggers("TRIGGER"):
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0009_property_filter_indexes")]

    operations = [migrations.RunPython(count_at_commit, count_when_written)]
