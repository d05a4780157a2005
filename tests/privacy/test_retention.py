"""Retention: what is past its period is anonymised where it lies, and the numbers do not move."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from privacy.retention import apply_retention
from surveys.models import Contact, DailyScore, Event, Invitation, PropertyScore, Response, Term, TermTally
from surveys.terms import comment_ngrams
from tests.factories import answer_by_link, make_contact, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


def days_ago(days: int):
    return NOW - timedelta(days=days)


def tallies() -> list:
    return sorted(
        DailyScore.objects.values_list("survey", "day", "touchpoint_key", "score", "responses")
    ) + sorted(PropertyScore.objects.values_list())


@pytest.fixture
def _settings(settings):
    settings.RETENTION_COMMENT_DAYS = 90
    settings.RETENTION_INVITATION_DAYS = 365
    settings.RETENTION_EVENT_DAYS = 30


@pytest.mark.usefixtures("_settings")
def test_comments_older_than_the_period_are_emptied_and_scores_and_tallies_stay():
    survey = make_survey(dashboard_properties=["plan"])
    old = answer_by_link(survey, 3, days_ago(91), comment="Zu spät", properties={"plan": "pro"})
    recent = answer_by_link(survey, 9, days_ago(89), comment="Prima")
    before = tallies()

    report = apply_retention(now=NOW)

    old.refresh_from_db()
    recent.refresh_from_db()
    assert report["comments"] == 1
    assert (old.comment, old.score, old.created_at) == ("", 3, days_ago(91))
    assert old.updated_at == NOW  # clients that sync by updated_since learn of it
    assert recent.comment == "Prima"
    assert tallies() == before


@pytest.mark.usefixtures("_settings")
def test_the_words_of_emptied_comments_leave_the_term_tally():
    survey = make_survey()
    answer_by_link(survey, 3, days_ago(91), comment="Quietschgrüne Verpackung")
    answer_by_link(survey, 9, days_ago(1), comment="Schöne Verpackung")
    gone = set(comment_ngrams("Quietschgrüne Verpackung", "de")) - set(
        comment_ngrams("Schöne Verpackung", "de")
    )
    assert gone
    assert Term.objects.filter(text__in=gone).count() == len(gone)

    apply_retention(now=NOW)

    assert not Term.objects.filter(text__in=gone).exists()
    assert Term.objects.filter(text="verpackung").exists()  # still counted for the recent comment
    assert not TermTally.objects.filter(responses=0).exists()


@pytest.mark.usefixtures("_settings")
def test_a_survey_keeps_its_own_periods_and_zero_keeps_for_ever():
    forever = make_survey(comment_retention_days=0)
    short = make_survey(comment_retention_days=7)
    kept = answer_by_link(forever, 5, days_ago(400), comment="alt")
    cleared = answer_by_link(short, 5, days_ago(8), comment="neu")

    apply_retention(now=NOW)

    assert Response.objects.get(pk=kept.pk).comment == "alt"
    assert Response.objects.get(pk=cleared.pk).comment == ""


@pytest.mark.usefixtures("_settings")
def test_invitation_details_go_after_their_period_but_not_from_invitations_still_to_be_sent():
    survey = make_survey()
    details = {"properties": {"order": "A-1"}, "message_id": "<m@x>", "provider_message_id": "p1"}
    old = make_invitation(survey=survey, now=days_ago(366), last_error="550 kunde@example.com", **details)
    waiting = make_invitation(
        survey=survey,
        now=days_ago(366),
        status=Invitation.Status.SCHEDULED,
        scheduled_for=NOW,
        sent_at=None,
        **details,
    )
    recent = make_invitation(survey=survey, now=days_ago(364), **details)

    assert apply_retention(now=NOW)["invitation_details"] == 1

    old.refresh_from_db()
    assert (old.properties, old.message_id, old.provider_message_id, old.last_error) == ({}, "", "", "")
    assert (old.status, old.sent_at) == (Invitation.Status.SENT, days_ago(366))  # the funnel's counts stay
    for kept in (waiting, recent):
        kept.refresh_from_db()
        assert kept.properties == {"order": "A-1"}


@pytest.mark.usefixtures("_settings")
def test_event_properties_go_after_their_period():
    touchpoint = make_touchpoint()
    contact = make_contact()
    old = Event.objects.create(
        touchpoint=touchpoint,
        contact=contact,
        properties={"order": "A-1"},
        occurred_at=NOW,
        received_at=days_ago(31),
    )
    recent = Event.objects.create(
        touchpoint=touchpoint,
        contact=contact,
        properties={"order": "A-2"},
        occurred_at=NOW,
        received_at=days_ago(29),
    )

    assert apply_retention(now=NOW)["event_properties"] == 1

    assert Event.objects.get(pk=old.pk).properties == {}
    assert Event.objects.get(pk=recent.pk).properties == {"order": "A-2"}
    assert Event.objects.count() == 2  # "Events" of the touchpoint statistics stay


@pytest.mark.usefixtures("_settings")
def test_a_dry_run_counts_what_a_run_clears_and_changes_nothing_and_a_second_run_finds_nothing():
    survey = make_survey()
    for _ in range(3):
        answer_by_link(survey, 6, days_ago(100), comment="alt")
    make_invitation(survey=survey, now=days_ago(400), properties={"order": "A-1"})

    dry = apply_retention(now=NOW, dry_run=True)
    assert Response.objects.exclude(comment="").count() == 3
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_RUN).exists()

    assert (
        apply_retention(now=NOW, batch_size=2)
        == dry
        == {"comments": 3, "invitation_details": 1, "event_properties": 0, "inactive_contacts": 0}
    )
    nothing = dict.fromkeys(dry, 0)
    assert apply_retention(now=NOW) == nothing
    runs = AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_RUN).order_by("pk")
    assert [run.details for run in runs] == [{"cleared": dict(dry)}, {"cleared": nothing}]


@pytest.mark.usefixtures("_settings")
def test_the_command_says_what_it_would_clear_and_then_what_it_cleared(capsys):
    answer_by_link(make_survey(), 6, timezone.now() - timedelta(days=100), comment="alt")

    call_command("apply_retention", "--dry-run")
    call_command("apply_retention")

    out = capsys.readouterr().out
    assert "Would clear 1 comments" in out and "Cleared 1 comments" in out
    assert AuditEvent.objects.get(action=AuditEvent.Action.RETENTION_RUN).via == "command"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_settings")
def test_a_row_that_another_transaction_holds_is_left_to_the_next_run():
    survey = make_survey()
    held, free = (answer_by_link(survey, 6, days_ago(100), comment="alt") for _ in range(2))
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Response.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        first = apply_retention(now=NOW)
    finally:
        release.set()
        holder.join()

    assert first["comments"] == 1
    assert Response.objects.get(pk=free.pk).comment == ""
    assert Response.objects.get(pk=held.pk).comment == "alt"
    assert apply_retention(now=NOW)["comments"] == 1


@pytest.mark.usefixtures("_settings")
def test_admins_see_the_runs_and_what_the_next_would_clear_and_nobody_else(client, admin_user, cx_manager):
    survey = make_survey(name="Lieferung", comment_retention_days=10)
    answer_by_link(survey, 6, timezone.now() - timedelta(days=11), comment="alt")
    apply_retention(now=timezone.now() - timedelta(days=30))  # a run that found nothing
    runs, preview = (
        reverse("admin:privacy_retentionrun_changelist"),
        reverse("admin:privacy_retentionrun_preview"),
    )

    client.force_login(cx_manager)
    assert client.get(runs).status_code == client.get(preview).status_code == 403
    client.force_login(admin_user)
    listed = client.get(runs)
    page = client.get(preview)

    assert listed.status_code == 200
    assert [run.details for run in listed.context["cl"].result_list] == [
        {"cleared": {"comments": 0, "invitation_details": 0, "event_properties": 0, "inactive_contacts": 0}}
    ]
    assert page.status_code == 200
    assert [(kind.name, count) for kind, count in page.context["kinds"]] == [
        ("comments", 1),
        ("invitation_details", 0),
        ("event_properties", 0),
    ]
    assert [(s.name, days) for s, days in page.context["surveys"]] == [("Lieferung", [10, 365, 30])]
    assert Response.objects.get(survey=survey).comment == "alt"  # looking changes nothing


@pytest.mark.usefixtures("_settings")
def test_contacts_without_activity_for_longer_than_the_period_are_erased_and_the_numbers_stay(settings):
    settings.RETENTION_CONTACT_DAYS = 730
    survey = make_survey()
    touchpoint = make_touchpoint(survey=survey)
    quiet = make_contact(email="quiet@example.com", name="Quiet")
    Contact.objects.filter(pk=quiet.pk).update(created_at=days_ago(800), updated_at=days_ago(800))
    old_invitation = make_invitation(survey=survey, touchpoint=touchpoint, contact=quiet, now=days_ago(790))
    old_invitation.record_answer(score=4, comment="", language="de", now=days_ago(790))
    active = make_contact(email="active@example.com")
    Contact.objects.filter(pk=active.pk).update(created_at=days_ago(800), updated_at=days_ago(800))
    make_invitation(survey=survey, touchpoint=touchpoint, contact=active, now=days_ago(100))
    before = tallies()

    assert apply_retention(now=NOW, dry_run=True)["inactive_contacts"] == 1
    assert apply_retention(now=NOW)["inactive_contacts"] == 1

    assert list(Contact.objects.values_list("email", flat=True)) == ["active@example.com"]
    assert Response.objects.get(survey=survey).score == 4  # the answer stays, without the person
    assert Response.objects.get(survey=survey).contact_id is None
    assert tallies() == before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CONTACT_ERASED).count() == 1
