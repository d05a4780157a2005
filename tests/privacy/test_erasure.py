"""Erasure: nothing of the person is left anywhere, their objection outlives them, and the
dashboards' numbers do not move."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone, translation

from audit.models import AuditEvent
from feedback.counts import Filters, histograms_by_property, panels
from feedback.dashboard import build_dashboard
from feedback.models import ExportRecord
from privacy.erasure import erase_contact
from surveys.models import (
    Contact,
    Event,
    IdempotentRequest,
    Invitation,
    Response,
    Suppression,
    tally_drift,
)
from surveys.stats import touchpoint_funnels
from tests.privacy.conftest import EMAIL, EXTERNAL_ID, NAME, PHONE, TRACES, event, post_event
from tests.privacy.traces import in_database, in_files
from webhooks.models import Delivery, Message

pytestmark = pytest.mark.django_db


def dashboard_numbers(world) -> dict:
    """Everything a dashboard shows but the comments, over the last 30 days, with a breakdown by
    the plan; and the touchpoint's funnel, but what is still waiting to be sent."""
    today = timezone.localdate()
    filters = Filters(survey=world.survey, since=today - timedelta(days=29), until=today)
    shown = replace(build_dashboard(filters, interval="day", breakdown_property="plan"), latest_verbatims=[])
    pro = Filters(survey=world.survey, since=filters.since, until=today, properties=(("plan", "pro"),))
    [funnel] = touchpoint_funnels(
        world.touchpoint.survey.touchpoints.all(),
        since=timezone.now() - timedelta(days=30),
        until=timezone.now(),
    )
    return {
        "dashboard": shown,
        "pro": panels(pro, "week").histogram,
        "shops": histograms_by_property(filters, "shop"),
        "funnel": {
            name: getattr(funnel, name) for name in ("events", "sent", "delivered", "bounced", "answered")
        },
    }


def fresh_count(world) -> dict:
    """The scores of the survey's answers, counted from the answers themselves."""
    scores: dict = {}
    for score in Response.objects.filter(survey=world.survey).values_list("score", flat=True):
        scores[score] = scores.get(score, 0) + 1
    return scores


def test_nothing_of_the_person_is_left_in_the_database_or_the_files(world, tmp_path):
    before = in_database(TRACES) + in_files(TRACES, tmp_path)
    assert before, "the world holds the traces it looks for"

    erased = erase_contact(contact_id=world.anna.pk)

    assert in_database(TRACES) == []
    assert in_files(TRACES, tmp_path) == []
    assert erased is not None
    assert erased.counts["responses"] == 4  # three answers of hers, one that claimed her address
    assert erased.counts["contact"] == 1
    assert erased.counts["suppressed"] == 1
    assert not Contact.objects.filter(pk=world.anna.pk).exists()


def test_the_dashboards_show_the_same_numbers_and_the_tallies_a_fresh_count(world):
    before = dashboard_numbers(world)

    erase_contact(contact_id=world.anna.pk)

    assert dashboard_numbers(world) == before
    assert tally_drift() == []
    histogram = dashboard_numbers(world)["dashboard"].histogram
    assert dict(histogram) == fresh_count(world)
    assert sum(histogram.values()) == 6  # her four answers stay, with Bernd's and Clara's


def test_deleting_the_answers_counts_them_out_exactly(world):
    before = dashboard_numbers(world)["dashboard"].histogram

    erased = erase_contact(contact_id=world.anna.pk, delete_answers=True)

    after = dashboard_numbers(world)["dashboard"].histogram
    assert erased.counts["responses"] == 4
    assert sum(after.values()) == sum(before.values()) - 4 == 2
    assert dict(after) == fresh_count(world) == {10: 1, 6: 1}
    assert tally_drift() == []
    assert Invitation.objects.filter(survey=world.survey, answered_at__isnull=False).count() == 5


def test_answers_keep_scores_and_segments_and_lose_what_names_the_person(world):
    first, claimed = world.answers[0], world.claimed

    erase_contact(contact_id=world.anna.pk)

    first.refresh_from_db()
    claimed.refresh_from_db()
    assert (first.score, first.created_at, first.survey_id, first.touchpoint_id) == (
        3,
        world.answers[0].created_at,
        world.survey.pk,
        world.touchpoint.pk,
    )
    assert (first.contact_id, first.comment) == (None, "")
    assert first.contact_properties == {"plan": "pro"}  # the segment the dashboards count
    assert first.event_properties == {"order_id": "A-1"}  # "recipient" named her
    assert first.updated_at > first.created_at  # clients that sync by updated_since hear of it
    assert (claimed.claimed_email, claimed.claimed_external_id, claimed.claimed_name) == ("", "", "")
    assert claimed.event_properties == {"plan": "pro", "shop": "Nord"}


def test_with_the_setting_comments_stay_with_what_names_anyone_masked(world, settings):
    settings.ERASURE_KEEP_COMMENTS = True

    erase_contact(contact_id=world.anna.pk)

    comments = [Response.objects.get(pk=answer.pk).comment for answer in world.answers]
    assert comments == [
        "Ich bin [name], erreichbar unter [email] oder [phone]. Kundennummer [id].",
        "Der Fahrer war freundlich.",
        "",
    ]
    assert Response.objects.get(pk=world.claimed.pk).comment == "Grüße, [name]"


def test_invitations_and_events_stay_counted_without_the_person(world):
    sent = world.answers[0].invitation

    erase_contact(contact_id=world.anna.pk)

    sent.refresh_from_db()
    assert (sent.contact_id, sent.properties, sent.message_id, sent.provider_message_id) == (None, {}, "", "")
    assert (sent.status, sent.answered_at) == ("sent", world.answers[0].created_at)
    assert sent.expires_at <= timezone.now()
    pending = Invitation.objects.get(pk=world.pending.pk)
    assert (pending.status, pending.skip_reason) == ("skipped", "erased")
    failed = Invitation.objects.get(status="failed", survey=world.survey)
    assert failed.last_error == ""
    erased_events = Event.objects.filter(contact__isnull=True)
    assert erased_events.count() == 2
    assert all(event.properties == {} for event in erased_events)


def test_her_invitation_link_no_longer_opens_and_nothing_is_sent_to_her(world, client):
    token = world.answers[0].invitation.token

    erase_contact(contact_id=world.anna.pk)

    page = client.get(f"/s/{token}/?score=9", headers={"Accept-Language": "en"})
    assert page.status_code == 410
    assert "no longer collecting answers" in page.content.decode()
    answered = client.post(f"/s/{token}/", {"score": "9"}, headers={"Accept-Language": "en"})
    assert answered.status_code == 410
    assert Response.objects.filter(survey=world.survey).count() == 6


def test_webhook_messages_about_her_go_with_their_log_sent_or_not(world):
    about_her = Message.objects.filter(payload__data__contact__id=world.anna.pk)
    assert about_her.filter(status="delivered").exists() and about_her.filter(status="pending").exists()
    others = set(
        Message.objects.filter(
            payload__data__contact__id__in=[other.pk for other in world.others]
        ).values_list("pk", flat=True)
    )
    assert len(others) == 2

    erased = erase_contact(contact_id=world.anna.pk)

    assert not Message.objects.filter(payload__data__contact__id=world.anna.pk).exists()
    assert not Message.objects.filter(type="contact.unsubscribed").exists()
    assert not Delivery.objects.exists()
    assert set(Message.objects.values_list("pk", flat=True)) == others  # Bernd's and Clara's stay
    assert erased.counts["webhook_messages"] == 5  # three answers, the claimed one, the unsubscription


def test_the_stored_answers_of_the_events_api_forget_her_events(world):
    erase_contact(contact_id=world.anna.pk)

    assert not IdempotentRequest.objects.filter(key="anna-1").exists()
    bulk = IdempotentRequest.objects.get(key="anna-and-bernd")
    first, second = bulk.body["results"]
    assert first == {"index": 0, "status": 202}
    assert second["event_id"] == Event.objects.get(contact__email="bernd@example.com").pk


def test_a_retry_of_the_bulk_request_replays_the_answer_without_her(world):
    erase_contact(contact_id=world.anna.pk)

    retried = post_event(
        Client(),
        world.token,
        {"events": [event(EMAIL, properties={"order_id": "A-2001"}), event("bernd@example.com")]},
        key="anna-and-bernd",
        bulk=True,
    )
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["results"][0] == {"index": 0, "status": 202}
    assert not Contact.objects.filter(email__iexact=EMAIL).exists()


def test_prepared_files_with_her_answers_go_and_their_page_says_so(world, tmp_path):
    record = world.export
    path = tmp_path / record.file.name
    assert path.exists()

    erase_contact(contact_id=world.anna.pk)

    assert not path.exists()
    record.refresh_from_db()
    assert (record.status, record.file.name, record.downloadable) == ("done", "", False)
    assert record.expires_at <= timezone.now()
    searched = ExportRecord.objects.get(filters__category=["detractor"])
    assert searched.filters["category"] == ["detractor"]
    assert searched.filters["q"] != ["Quietschgrün"] and len(searched.filters["q"][0]) == 16


def test_a_running_export_of_her_answers_is_failed_so_that_its_file_is_not_kept(world, cx_manager):
    running = ExportRecord.objects.create(
        user=cx_manager,
        username="manager",
        format="csv",
        filters={
            "survey": [str(world.survey.pk)],
            "since": [str(timezone.localdate() - timedelta(days=7))],
            "until": [str(timezone.localdate())],
        },
        personal=True,
        background=True,
        status="running",
        expires_at=timezone.now() + timedelta(days=7),
    )

    with translation.override("en"):  # the error is written in the language of the erasure
        erase_contact(contact_id=world.anna.pk)

    running.refresh_from_db()
    assert running.status == "failed"
    assert "erased" in running.error


def test_her_objection_outlives_her_as_keyed_hashes(world, client):
    erase_contact(contact_id=world.anna.pk)

    hashes = list(Suppression.objects.values_list("kind", "reason", "digest"))
    assert sorted((kind, reason) for kind, reason, _digest in hashes) == [
        ("email", "unsubscribed"),
        ("external_id", "unsubscribed"),
    ]
    assert all(len(digest) == 64 and EMAIL.lower() not in digest for *_rest, digest in hashes)
    again = post_event(client, world.token, event(EMAIL.upper()), key="after-the-erasure")
    assert again.json()["invitation"]["reason"] == "suppressed"
    newcomer = Contact.objects.get(email=EMAIL.upper())
    assert newcomer.pk != world.anna.pk and newcomer.unsubscribed_at is None
    by_id = post_event(client, world.token, event("neu@example.com", external_id=EXTERNAL_ID), key="by-id")
    assert by_id.json()["invitation"]["reason"] == "suppressed"


def test_a_contact_who_never_objected_is_not_put_on_the_suppression_list(world, client):
    bernd = world.others[0]

    erased = erase_contact(contact_id=bernd.pk)

    assert erased.counts["suppressed"] == 0
    assert not Suppression.objects.exists()
    again = post_event(client, world.token, event("bernd@example.com"), key="bernd-again")
    assert again.json()["invitation"]["status"] == "scheduled"


def test_the_dispatcher_does_not_send_to_an_address_put_on_the_list_meanwhile(world):
    from surveys.email.dispatch import claim_due_invitations, send_invitations

    erase_contact(contact_id=world.anna.pk)
    newcomer = Contact.objects.create(email=EMAIL.lower())
    waiting = Invitation.objects.create(
        survey=world.survey,
        touchpoint=world.touchpoint,
        contact=newcomer,
        status="scheduled",
        scheduled_for=timezone.now() - timedelta(minutes=1),
        expires_at=timezone.now() + timedelta(days=7),
    )

    report = send_invitations(claim_due_invitations(now=timezone.now(), limit=10))

    waiting.refresh_from_db()
    assert (waiting.status, waiting.skip_reason) == ("skipped", "suppressed")
    assert report["skipped"] == 1


def test_erasing_twice_or_an_unknown_contact_changes_nothing(world):
    assert erase_contact(contact_id=world.anna.pk) is not None
    logged = AuditEvent.objects.count()

    assert erase_contact(contact_id=world.anna.pk) is None
    assert erase_contact(email=EMAIL) is None
    assert erase_contact(contact_id=999_999) is None
    assert AuditEvent.objects.count() == logged


def test_the_audit_log_says_who_erased_whom_and_how_much_never_what(world, admin_user):
    from audit.log import acting_as

    with acting_as("command", admin_user):
        erase_contact(contact_id=world.anna.pk)

    entry = AuditEvent.objects.get(action="contact_erased")
    assert (entry.actor, entry.via, entry.object_type, entry.object_id) == (
        "admin",
        "command",
        "surveys.contact",
        str(world.anna.pk),
    )
    assert entry.details["counts"]["responses"] == 4
    assert (
        NAME not in json.dumps(entry.details, ensure_ascii=False) and EMAIL.lower() not in entry.object_repr
    )


@pytest.mark.django_db(transaction=True)
def test_a_contact_with_many_answers_is_erased_in_short_transactions(world, monkeypatch):
    for number in range(30):
        invitation = Invitation.objects.create(
            survey=world.survey,
            touchpoint=world.touchpoint,
            contact=world.anna,
            status="sent",
            sent_at=timezone.now(),
            expires_at=timezone.now() + timedelta(days=7),
        )
        invitation.record_answer(
            score=number % 11, comment=f"{NAME} #{number}", language="de", now=timezone.now()
        )
    commits, changes = [], []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: commits.append(1) or commit())

    def watch(execute, sql, params, many, context):
        if sql.startswith('UPDATE "surveys_response" SET "contact_id" = NULL'):
            changes.append((len(commits), len(params) - 7))  # the ids, after the seven values set
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        erased = erase_contact(contact_id=world.anna.pk, batch_size=7)

    assert erased.counts["responses"] == 34  # 30, her three, and the one that claimed her address
    assert [size for _commit, size in changes] == [7, 7, 7, 7, 6]
    assert (
        len({commit_number for commit_number, _size in changes}) == 5
    )  # each batch in a transaction of its own
    assert in_database(TRACES) == []
    assert tally_drift() == []


def test_an_email_or_external_id_finds_her_and_answers_that_only_claimed_an_address(world):
    claimed_only = world.claimed.__class__.objects.create(
        survey=world.survey,
        kind="nps",
        channel="link",
        score=5,
        language="de",
        claimed_email="nobody-else@example.com",
        comment="Ich bin niemand",
    )

    assert erase_contact(email="ANNA.quietschgruen@example.com").contact_id == world.anna.pk
    only = erase_contact(email="nobody-else@example.com")

    assert only is not None and only.contact_id is None
    claimed_only.refresh_from_db()
    assert (claimed_only.claimed_email, claimed_only.comment, claimed_only.score) == ("", "", 5)
    assert PHONE not in json.dumps(list(Response.objects.values_list("event_properties", flat=True)))
