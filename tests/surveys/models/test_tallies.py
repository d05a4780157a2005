"""Every path that writes, changes or deletes responses keeps the dashboards' tallies exact.

The suite checks the tallies against a fresh count after every test (tests/conftest.py); these
tests walk the paths one by one and say what each count must be.
"""

import io
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse

from surveys.models import (
    Contact,
    DailyScore,
    Event,
    Invitation,
    PropertyScore,
    Response,
    TallyZone,
    TermTally,
    sync_tally_zone,
    tally_drift,
)
from tests.factories import (
    answer_by_link,
    make_contact,
    make_invitation,
    make_response,
    make_survey,
    make_touchpoint,
)

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def daily() -> dict[tuple, int]:
    return {
        (row.day.isoformat(), row.touchpoint_key, row.score): row.responses
        for row in DailyScore.objects.filter(responses__gt=0)
    }


def by_property() -> dict[tuple, int]:
    return {
        (row.name, row.value, row.day.isoformat(), row.score): row.responses
        for row in PropertyScore.objects.filter(responses__gt=0)
    }


@pytest.fixture
def survey():
    return make_survey(kind="nps", dashboard_properties=["plan"])


def answered(survey, score, *, email="", at=NOW, plan="pro"):
    """An answer by email of a contact on a plan, recorded as the answering page records it."""
    contact = make_contact(properties={"plan": plan}, **({"email": email} if email else {}))
    invitation = make_invitation(survey=survey, contact=contact, now=at)
    return invitation.record_answer(score=score, comment=None, language="de", now=at)


def test_an_answer_stored_any_way_at_all_is_counted(survey):
    make_response(survey=survey, score=3, created_at=NOW, contact_properties={"plan": "pro"})
    Response.objects.bulk_create(
        Response(survey=survey, kind="nps", score=9, channel="link", language="de", created_at=NOW)
        for _ in range(2)
    )
    assert daily() == {("2026-11-23", 0, 3): 1, ("2026-11-23", 0, 9): 2}
    assert by_property() == {("plan", "pro", "2026-11-23", 3): 1}


def test_deleting_a_response_counts_it_out(survey):
    kept, gone = answered(survey, 9), answered(survey, 3)
    gone.delete()
    assert daily() == {("2026-11-23", kept.touchpoint_id, 9): 1}
    assert by_property() == {("plan", "pro", "2026-11-23", 9): 1}


def test_deleting_a_contact_counts_out_its_answers(survey):
    kept = answered(survey, 9, email="kept@example.com")
    answered(survey, 3, email="gone@example.com")
    Contact.objects.get(email="gone@example.com").delete()
    assert Response.objects.get() == kept
    assert daily() == {("2026-11-23", kept.touchpoint_id, 9): 1}
    assert by_property() == {("plan", "pro", "2026-11-23", 9): 1}


def test_deleting_an_event_or_an_invitation_counts_out_its_answer(survey):
    touchpoint = make_touchpoint(survey=survey)
    event = Event.objects.create(touchpoint=touchpoint, contact=make_contact(), occurred_at=NOW)
    invitation = make_invitation(survey=survey, touchpoint=touchpoint, event=event, now=NOW)
    invitation.record_answer(score=2, comment=None, language="de", now=NOW)
    other = answered(survey, 10)
    event.delete()
    assert daily() == {("2026-11-23", other.touchpoint_id, 10): 1}
    Invitation.objects.filter(pk=other.invitation_id).delete()
    assert daily() == {}
    assert by_property() == {}


def test_a_change_of_time_touchpoint_or_properties_moves_the_answer(survey):
    response = answered(survey, 9)
    later, elsewhere = NOW + timedelta(days=2), make_touchpoint(survey=survey)
    Response.objects.filter(pk=response.pk).update(created_at=later, updated_at=later, touchpoint=elsewhere)
    assert daily() == {("2026-11-25", elsewhere.pk, 9): 1}
    Response.objects.filter(pk=response.pk).update(contact_properties={"plan": "basic"})
    assert by_property() == {("plan", "basic", "2026-11-25", 9): 1}
    Response.objects.filter(pk=response.pk).update(event_properties={"plan": ""})  # the event's wins
    assert by_property() == {}


def test_rows_written_by_hand_in_sql_are_counted_too(survey):
    answered(survey, 9)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM surveys_response")
    assert daily() == {}
    assert by_property() == {}


def test_deleting_responses_and_contacts_in_the_back_office_counts_them_out(client, admin_user, survey):
    client.force_login(admin_user)
    one, two, three = answered(survey, 9), answered(survey, 3), answered(survey, 7, email="eva@example.com")
    page = client.post(reverse("admin:surveys_response_delete", args=[one.pk]), {"post": "yes"})
    assert page.status_code == 302
    page = client.post(
        reverse("admin:surveys_response_changelist"),
        {"action": "delete_selected", "_selected_action": [two.pk], "post": "yes"},
    )
    assert page.status_code == 302
    assert daily() == {("2026-11-23", three.touchpoint_id, 7): 1}
    # Deleting a contact erases it; with its answers, they are counted out.
    page = client.post(
        reverse("admin:surveys_contact_delete", args=[three.contact_id]),
        {"post": "yes", "delete_answers": "on"},
    )
    assert page.status_code == 302
    assert not Response.objects.exists()
    assert daily() == {}
    assert by_property() == {}


def test_days_are_counted_in_the_zone_the_tallies_name_and_recounted_when_it_changes(settings, survey):
    answer_by_link(survey, 9, datetime(2026, 11, 23, 23, 30, tzinfo=UTC))  # 00:30 on the 24th in Berlin
    assert daily() == {("2026-11-24", 0, 9): 1}
    settings.TIME_ZONE = "America/New_York"  # 18:30 on the 23rd
    moved = sorted((row.key[0].isoformat(), row.stored, row.counted) for row in tally_drift())
    assert moved == [("2026-11-23", 0, 1), ("2026-11-24", 1, 0)]
    sync_tally_zone()
    assert TallyZone.objects.get().name == "America/New_York"
    assert daily() == {("2026-11-23", 0, 9): 1}
    answer_by_link(survey, 10, datetime(2026, 11, 24, 3, 0, tzinfo=UTC))  # 22:00 on the 23rd in New York
    assert daily() == {("2026-11-23", 0, 9): 1, ("2026-11-23", 0, 10): 1}
    assert tally_drift() == []
    settings.TIME_ZONE = "Europe/Berlin"
    sync_tally_zone()
    assert daily() == {("2026-11-24", 0, 9): 1, ("2026-11-24", 0, 10): 1}


def test_check_tallies_says_the_tallies_agree(survey):
    answered(survey, 9)
    out = io.StringIO()
    call_command("check_tallies", stdout=out)
    assert out.getvalue() == "The tallies equal a fresh count of the 1 responses.\n"


def test_check_tallies_reports_drift_and_repairs_it(survey):
    response = answered(survey, 9)
    other = make_survey(name="Untouched")
    answer_by_link(other, 5, NOW)
    DailyScore.objects.filter(survey=survey).update(responses=4)
    PropertyScore.objects.all().delete()
    out = io.StringIO()
    with pytest.raises(CommandError, match="Run check_tallies --repair") as refused:
        call_command("check_tallies", stdout=out)
    assert refused.value.returncode == 1
    assert out.getvalue().splitlines() == [
        f"Survey {survey.pk} ({survey.name}): 2 tally rows differ.",
        f"  daily 2026-11-23 {response.touchpoint_id} 9: 4 in the tally, 1 counted afresh",
        f"  property plan pro 2026-11-23 {response.touchpoint_id} 9: 0 in the tally, 1 counted afresh",
    ]
    untouched = list(DailyScore.objects.filter(survey=other).values_list("pk", "responses"))
    out = io.StringIO()
    call_command("check_tallies", "--repair", stdout=out)
    assert out.getvalue().endswith("Recounted 1 surveys; their tallies now equal a fresh count.\n")
    assert tally_drift() == []
    assert list(DailyScore.objects.filter(survey=other).values_list("pk", "responses")) == untouched


def test_check_tallies_recounts_everything_in_a_new_time_zone(settings, survey):
    answer_by_link(survey, 9, datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    settings.TIME_ZONE = "UTC"
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_tallies", stdout=out)
    assert "The tallies count days in Europe/Berlin; the installation's TIME_ZONE is UTC." in out.getvalue()
    call_command("check_tallies", "--repair", stdout=out)
    assert daily() == {("2026-11-23", 0, 9): 1}
    settings.TIME_ZONE = "Europe/Berlin"
    call_command("check_tallies", "--repair", stdout=out)
    assert daily() == {("2026-11-24", 0, 9): 1}


@pytest.mark.django_db(transaction=True)
def test_an_open_answer_does_not_hold_up_another_with_the_same_score(survey):
    """Answers of one day with one score (and the terms of one comment) add to one tally row. An
    answer counts when its transaction commits, so one that is still open (its webhook messages
    being written, say) holds no lock on that row, and the next answer of the same score commits
    at once."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    touchpoint = make_touchpoint(survey=survey)
    first, slow, quick = (
        make_invitation(survey=survey, touchpoint=touchpoint, contact=make_contact(), now=NOW)
        for _ in range(3)
    )
    first.record_answer(score=9, comment="Pünktlich", language="de", now=NOW)
    opened, finish = threading.Event(), threading.Event()

    def answer_slowly() -> None:
        try:
            with transaction.atomic():
                slow.record_answer(score=9, comment="Pünktlich", language="de", now=NOW)
                opened.set()
                finish.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=answer_slowly)
    thread.start()
    try:
        assert opened.wait(timeout=10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")  # an error instead of a wait
            quick.record_answer(score=9, comment="Pünktlich", language="de", now=NOW)
        counted_before_the_slow_one_commits = daily()
        terms_before_the_slow_one_commits = list(
            TermTally.objects.exclude(term__text="").values_list("term__text", "responses")
        )
    finally:
        finish.set()
        thread.join()
    day = NOW.date().isoformat()
    assert counted_before_the_slow_one_commits == {(day, touchpoint.pk, 9): 2}
    assert daily() == {(day, touchpoint.pk, 9): 3}
    assert terms_before_the_slow_one_commits == [("pünktlich", 2)]
    assert list(TermTally.objects.exclude(term__text="").values_list("term__text", "responses")) == [
        ("pünktlich", 3)
    ]
