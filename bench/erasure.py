"""Erasure speed on PostgreSQL, beside the same changes written by hand in the same run.

    DEBUG=true .venv/bin/python bench/erasure.py [--answers 10000] [--others 200000]

1. Loads a contact with ``--answers`` events, invitations and answers (with comments and
   properties), a webhook message about each answer, and ``--others`` answers and messages of
   other people, with ``INSERT … SELECT generate_series`` (the tally triggers off during the
   load, then the tallies rebuilt), and vacuums.
2. Times ``erase_contact``: batches of 1,000 rows, each in a transaction of its own, then the
   sweep under the contact's lock; and the longest transaction among them.
3. Loads the same contact again and times the hand-written limit: the same end state in one
   transaction of five statements (which holds every row's lock until it ends: what the
   batches avoid).
4. Checks that nothing of either contact is left and that the tallies equal a fresh count.

It creates (and drops first) the database ``cxsurvey_bench_erasure`` on the local server.
"""

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

from common import bench_environment, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_erasure"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=200_000)
    options = parser.parse_args()

    os.environ.update(bench_environment(DATABASE))
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from surveys.models import Contact, Survey, Touchpoint, rebuild_tallies
    from webhooks.models import Subscription

    call_command("migrate", verbosity=0)
    survey = Survey.objects.create(
        name="Bench NPS", kind="nps", brand="Nordwind", dashboard_properties=["plan"]
    )
    touchpoint = Touchpoint.objects.create(survey=survey, slug="delivery", name="Lieferung")
    owner = User.objects.create_user("bench", is_staff=True, is_superuser=True)
    subscription = Subscription.objects.create(
        owner=owner, url="https://203.0.113.10/hooks", events=["response.created"]
    )
    started = time.perf_counter()
    load_others(connection, survey.pk, subscription.pk, options.others)
    ours_id = load_contact(connection, survey.pk, touchpoint.pk, subscription.pk, "ours", options.answers)
    raw_id = load_contact(connection, survey.pk, touchpoint.pk, subscription.pk, "raw", options.answers)
    rebuild_tallies()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    loaded = time.perf_counter() - started
    print(
        f"CXSurvey erasure bench on PostgreSQL: a contact with {options.answers:,} answers, invitations "
        f"and events beside {options.others:,} answers of others (loaded in {loaded:.1f} s)"
    )

    ours, longest = erase_ours(connection, ours_id)
    raw = erase_by_hand(connection, raw_id, survey.pk)
    check(connection, [ours_id, raw_id])
    if Contact.objects.filter(pk__in=[ours_id, raw_id]).exists():
        raise SystemExit("a contact is still there")

    rate, raw_rate = options.answers / ours, options.answers / raw
    print(
        f"erase_contact: {ours:.2f} s ({rate:,.0f} answers/s), longest transaction {longest * 1000:.0f} ms; "
        f"by hand in one transaction: {raw:.2f} s ({raw_rate:,.0f} answers/s); ratio {rate / raw_rate:.2f}"
    )
    record(
        f"erasure of a contact with {options.answers:,} answers",
        rate,
        "answers/s",
        target=None,
        limit=raw_rate,
        limit_name="hand-written SQL",
    )


def load_others(connection, survey_id: int, subscription_id: int, count: int) -> None:
    """Answers by link of other people, a minute apart, each with a webhook message."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE surveys_response DISABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO surveys_response (public_id, survey_id, kind, channel, score, comment, language, "
            "claimed_email, claimed_external_id, claimed_name, contact_properties, event_properties, "
            "created_at, updated_at) "
            "SELECT gen_random_uuid(), %s, 'nps', 'link', n %% 11, 'Gut.', 'de', '', '', '', '{}', "
            "jsonb_build_object('plan', 'pro'), t, t "
            "FROM generate_series(1, %s) AS n, LATERAL (SELECT now() - n * interval '1 minute' AS t) AS at",
            [survey_id, count],
        )
        cursor.execute("ALTER TABLE surveys_response ENABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO webhooks_message (subscription_id, webhook_id, type, payload, created_at, status, "
            "attempts) SELECT %s, 'msg_' || gen_random_uuid(), 'response.created', "
            "jsonb_build_object('type', 'response.created', "
            "'data', jsonb_build_object('id', gen_random_uuid())), "
            "now(), 'delivered', 1 FROM generate_series(1, %s)",
            [subscription_id, count],
        )


def load_contact(
    connection, survey_id: int, touchpoint_id: int, subscription_id: int, name: str, count: int
) -> int:
    """A contact with ``count`` events, each with its invitation (sent, answered) and answer, and a
    webhook message about each answer naming the contact; its id."""
    email = f"{name}.kundin@example.com"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO surveys_contact (email, external_id, name, language, properties, legal_basis, "
            "created_at, updated_at) VALUES (%s, %s, %s, 'de', %s, 'customer', now(), now()) RETURNING id",
            [email, f"K-{name}", f"Kundin {name.title()}", '{"plan": "pro", "phone": "+49 170 5550123"}'],
        )
        (contact_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO surveys_event "
            "(touchpoint_id, contact_id, properties, occurred_at, received_at, source) "
            "SELECT %s, %s, jsonb_build_object('order_id', 'A-' || n), now() - n * interval '1 minute', "
            "now() - n * interval '1 minute', 'api' FROM generate_series(1, %s) AS n",
            [touchpoint_id, contact_id, count],
        )
        cursor.execute(
            "INSERT INTO surveys_invitation (token, survey_id, touchpoint_id, contact_id, event_id, "
            "properties, status, skip_reason, created_at, attempts, sent_at, message_id, "
            "provider_message_id, last_error, expires_at, answered_at) "
            "SELECT replace(gen_random_uuid()::text, '-', ''), %s, touchpoint_id, contact_id, id, "
            "properties, "
            "'sent', '', received_at, 1, received_at, '<' || id || '@cx.example.com>', 'p-' || id, '', "
            "received_at + interval '14 days', received_at FROM surveys_event WHERE contact_id = %s",
            [survey_id, contact_id],
        )
        cursor.execute("ALTER TABLE surveys_response DISABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO surveys_response (public_id, survey_id, kind, touchpoint_id, invitation_id, "
            "contact_id, channel, score, comment, language, claimed_email, claimed_external_id, "
            "claimed_name, contact_properties, event_properties, created_at, updated_at) "
            "SELECT gen_random_uuid(), survey_id, 'nps', touchpoint_id, id, contact_id, 'email', id %% 11, "
            "'Danke, ' || %s, 'de', '', '', '', %s, properties, answered_at, answered_at "
            "FROM surveys_invitation WHERE contact_id = %s",
            [f"Kundin {name.title()}", '{"plan": "pro", "phone": "+49 170 5550123"}', contact_id],
        )
        cursor.execute("ALTER TABLE surveys_response ENABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO webhooks_message (subscription_id, webhook_id, type, payload, created_at, status, "
            "attempts) SELECT %s, 'msg_' || gen_random_uuid(), 'response.created', "
            "jsonb_build_object('type', 'response.created', 'data', jsonb_build_object("
            "'id', public_id::text, 'contact', jsonb_build_object('id', contact_id, 'email', %s))), "
            "now(), 'delivered', 1 "
            "FROM surveys_response WHERE contact_id = %s",
            [subscription_id, email, contact_id],
        )
    return contact_id


def erase_ours(connection, contact_id: int) -> tuple[float, float]:
    """Seconds ``erase_contact`` takes, and the longest time between two commits."""
    from privacy.erasure import erase_contact

    commits = [time.perf_counter()]
    commit = connection.commit

    def counted() -> None:
        commit()
        commits.append(time.perf_counter())

    connection.commit = counted
    try:
        started = time.perf_counter()
        erase_contact(contact_id=contact_id)
        took = time.perf_counter() - started
    finally:
        del connection.commit
    return took, max(later - earlier for earlier, later in itertools.pairwise(commits))


def erase_by_hand(connection, contact_id: int, survey_id: int) -> float:
    """The same end state in one transaction: the messages, the invitations closed and stripped,
    the answers without contact, comment and properties but the dashboards' segment, the events
    without contact and properties, the contact deleted."""
    statements = [
        "DELETE FROM webhooks_message WHERE type = 'response.created' AND payload -> 'data' ->> 'id' IN "
        "(SELECT public_id::text FROM surveys_response WHERE contact_id = %(contact)s)",
        "UPDATE surveys_invitation SET contact_id = NULL, properties = '{}', message_id = '', "
        "provider_message_id = '', last_error = '', reminder_due_at = NULL, "
        "expires_at = least(expires_at, now()) WHERE contact_id = %(contact)s",
        "UPDATE surveys_response SET contact_id = NULL, comment = '', "
        "updated_at = greatest(created_at, now()), "
        "contact_properties = jsonb_strip_nulls(jsonb_build_object('plan', contact_properties -> 'plan')) "
        "WHERE contact_id = %(contact)s",
        "UPDATE surveys_event SET contact_id = NULL, properties = '{}' WHERE contact_id = %(contact)s",
        "DELETE FROM surveys_contact WHERE id = %(contact)s",
    ]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        for statement in statements:
            cursor.execute(statement, {"contact": contact_id, "survey": survey_id})
        cursor.execute("COMMIT")
    return time.perf_counter() - started


def check(connection, contact_ids: list[int]) -> None:
    from surveys.models import tally_drift

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM surveys_response WHERE comment LIKE 'Danke, Kundin%%' "
            "OR contact_properties ? 'phone' OR contact_id = ANY(%s)",
            [contact_ids],
        )
        (left,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM webhooks_message WHERE payload::text LIKE '%%kundin@example.com%%'"
        )
        (messages,) = cursor.fetchone()
    if left or messages:
        raise SystemExit(f"left behind: {left} answers, {messages} webhook messages")
    if drift := tally_drift():
        raise SystemExit(f"the tallies drifted: {drift[:3]}")


if __name__ == "__main__":
    main()
