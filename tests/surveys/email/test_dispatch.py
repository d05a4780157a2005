import io
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from surveys.email import dispatch
from surveys.email.dispatch import claim_due_invitations, dispatch_due, send_due_reminders
from surveys.models import Invitation
from tests.factories import make_contact, make_due_invitation, make_invitation, make_touchpoint
from tests.legal import ENGLISH, set_legal_information
from tests.threads import at_once

pytestmark = pytest.mark.django_db


def test_due_invitations_are_sent_once_and_recorded():
    touchpoint = make_touchpoint(expires_after_days=10)
    first, second = make_due_invitation(touchpoint), make_due_invitation(touchpoint)
    later = make_due_invitation(touchpoint, minutes_ago=-60)

    assert dispatch_due() == {"sent": 2}
    assert dispatch_due() == {}
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [first.contact.email, second.contact.email]
    )
    first.refresh_from_db()
    assert first.status == "sent"
    assert first.attempts == 1
    assert first.send_started_at <= first.sent_at
    assert first.expires_at == first.sent_at + timedelta(days=10)
    assert first.message_id and first.message_id in [m.extra_headers.get("Message-ID") for m in mail.outbox]
    assert first.claimed_at is None
    later.refresh_from_db()
    assert later.status == "scheduled"


def test_a_contact_who_unsubscribed_after_scheduling_is_not_emailed():
    invitation = make_due_invitation(contact=make_contact(unsubscribed_at=timezone.now()))
    assert dispatch_due() == {"skipped": 1}
    invitation.refresh_from_db()
    assert (invitation.status, invitation.skip_reason) == ("skipped", "unsubscribed")
    assert mail.outbox == []


def test_a_paused_touchpoint_sends_nothing_more():
    invitation = make_due_invitation(make_touchpoint(active=False))
    dispatch_due()
    invitation.refresh_from_db()
    assert (invitation.status, invitation.skip_reason) == ("skipped", "paused")
    assert mail.outbox == []


def test_a_claim_of_a_stopped_sender_that_sent_nothing_goes_back_to_the_queue():
    invitation = make_due_invitation()
    Invitation.objects.filter(pk=invitation.pk).update(
        status="sending", claimed_at=timezone.now() - timedelta(minutes=11)
    )
    assert dispatch_due() == {"sent": 1}
    assert len(mail.outbox) == 1


def test_a_send_that_may_have_reached_the_mail_server_is_never_repeated_blindly():
    invitation = make_due_invitation()
    Invitation.objects.filter(pk=invitation.pk).update(
        status="sending",
        claimed_at=timezone.now() - timedelta(minutes=11),
        send_started_at=timezone.now() - timedelta(minutes=11),
        message_id="<abc@cx.example.com>",
    )
    assert dispatch_due() == {}
    invitation.refresh_from_db()
    assert invitation.status == "review"
    assert "Message-ID" in invitation.last_error
    assert mail.outbox == []


def test_a_fresh_claim_of_a_working_sender_is_left_alone():
    invitation = make_due_invitation()
    Invitation.objects.filter(pk=invitation.pk).update(status="sending", claimed_at=timezone.now())
    assert dispatch_due() == {}
    invitation.refresh_from_db()
    assert invitation.status == "sending"


def test_an_invitation_that_cannot_be_rendered_fails_alone(monkeypatch):
    broken, fine = make_due_invitation(), make_due_invitation()
    render = dispatch.invitation_message

    def render_or_break(invitation, **options):
        if invitation.pk == broken.pk:
            raise ValueError("template exploded")
        return render(invitation, **options)

    monkeypatch.setattr(dispatch, "invitation_message", render_or_break)
    assert dispatch_due() == {"failed": 1, "sent": 1}
    broken.refresh_from_db()
    assert (broken.status, broken.last_error) == ("failed", "Rendering: template exploded")
    assert [message.to for message in mail.outbox] == [[fine.contact.email]]


def test_senders_claim_disjoint_batches():
    invitations = [make_due_invitation(minutes_ago=minutes) for minutes in range(1, 8)]
    now = timezone.now()
    first = claim_due_invitations(now=now, limit=4)
    second = claim_due_invitations(now=now, limit=4)
    assert first == [invitation.pk for invitation in invitations[::-1][:4]]  # oldest first
    assert set(first).isdisjoint(second)
    assert len(first) + len(second) == 7
    assert claim_due_invitations(now=now, limit=4) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_on_postgresql_never_take_the_same_invitation():
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    touchpoint = make_touchpoint()
    for _ in range(60):
        make_due_invitation(touchpoint)

    def claim(_) -> list[int]:
        return [pk for _ in range(10) for pk in claim_due_invitations(now=timezone.now(), limit=7)]

    claims = [pk for claimed in at_once(claim, range(3)) for pk in claimed]
    assert sorted(claims) == sorted(Invitation.objects.values_list("pk", flat=True))


def legal_reads(queries) -> int:
    return len([query for query in queries if "surveys_legalinformation" in query["sql"]])


def test_a_batch_reads_the_legal_information_once_for_every_emails_footer():
    set_legal_information(**ENGLISH)
    touchpoint = make_touchpoint()
    for _ in range(4):
        make_due_invitation(touchpoint)
    with CaptureQueriesContext(connection) as queries:
        assert dispatch_due() == {"sent": 4}
    assert legal_reads(queries) == 1
    assert all(f"Impressum: {ENGLISH['impressum_url_en']}" in message.body for message in mail.outbox)


def test_reminders_read_the_legal_information_once_and_only_when_there_are_some():
    now = timezone.now()
    set_legal_information(**ENGLISH)
    with CaptureQueriesContext(connection) as queries:
        assert send_due_reminders(now=now, limit=100) == {}
    assert legal_reads(queries) == 0
    touchpoint = make_touchpoint(reminder_after_days=3)
    for _ in range(3):
        make_invitation(touchpoint=touchpoint, survey=touchpoint.survey, reminder_due_at=now)
    with CaptureQueriesContext(connection) as queries:
        assert send_due_reminders(now=now, limit=100) == {"reminded": 3}
    assert legal_reads(queries) == 1
    assert all(ENGLISH["privacy_url_en"] in message.body for message in mail.outbox)


def test_one_reminder_goes_to_those_who_have_not_answered():
    now = timezone.now()
    touchpoint = make_touchpoint(reminder_after_days=3)
    waiting = make_invitation(touchpoint=touchpoint, survey=touchpoint.survey, reminder_due_at=now)
    answered = make_invitation(
        touchpoint=touchpoint, survey=touchpoint.survey, reminder_due_at=now, answered_at=now
    )
    unsubscribed = make_invitation(
        touchpoint=touchpoint,
        survey=touchpoint.survey,
        reminder_due_at=now,
        contact=make_contact(unsubscribed_at=now),
    )
    not_yet = make_invitation(
        touchpoint=touchpoint, survey=touchpoint.survey, reminder_due_at=now + timedelta(hours=1)
    )

    assert send_due_reminders(now=now, limit=100) == {"reminded": 1}
    assert send_due_reminders(now=now, limit=100) == {}
    assert [message.to for message in mail.outbox] == [[waiting.contact.email]]
    waiting.refresh_from_db()
    assert (waiting.reminder_due_at, waiting.reminder_sent_at) == (None, now)
    for invitation in (answered, unsubscribed, not_yet):
        invitation.refresh_from_db()
        assert invitation.reminder_sent_at is None


def test_the_sent_time_starts_the_reminder_clock():
    invitation = make_due_invitation(make_touchpoint(reminder_after_days=4))
    dispatch_due()
    invitation.refresh_from_db()
    assert invitation.reminder_due_at == invitation.sent_at + timedelta(days=4)


def test_the_dispatch_command_sends_what_is_due_and_says_so():
    make_due_invitation()
    out = io.StringIO()
    call_command("dispatch", stdout=out)
    assert out.getvalue() == "1 sent\n"
    call_command("dispatch", stdout=out)
    assert out.getvalue().endswith("Nothing was due.\n")
    assert len(mail.outbox) == 1


def test_a_mail_server_asking_to_try_later_gets_the_invitation_again_later(smtp):
    busy = make_due_invitation(contact=make_contact(email="busy@example.com"))
    fine = make_due_invitation(contact=make_contact(email="fine@example.com"))
    smtp.replies["busy@example.com"] = "451 4.3.0 Try again later"
    started = timezone.now()

    assert dispatch_due() == {"retry": 1, "sent": 1}
    busy.refresh_from_db()
    assert busy.status == "scheduled"
    assert busy.scheduled_for >= started + timedelta(minutes=1)
    assert "451" in busy.last_error
    assert (busy.attempts, busy.send_started_at) == (1, None)
    assert [message["To"] for message in smtp.messages] == [fine.contact.email]


def test_a_busy_mail_server_gets_four_retries_after_1_5_30_and_120_minutes_as_documented(smtp):
    invitation = make_due_invitation(contact=make_contact(email="busy@example.com"))
    smtp.replies["busy@example.com"] = "451 4.3.0 Try again later"
    waits = []
    for _ in range(dispatch.MAX_ATTEMPTS):
        started = timezone.now()
        dispatch_due()
        invitation.refresh_from_db()
        if invitation.status == "failed":
            break
        waits.append(round((invitation.scheduled_for - started).total_seconds() / 60))
        Invitation.objects.filter(pk=invitation.pk).update(scheduled_for=timezone.now())  # it is due again
    assert waits == [1, 5, 30, 120]
    assert (invitation.status, invitation.attempts) == ("failed", 5)
    assert "451" in invitation.last_error


def test_a_mail_server_refusing_for_good_fails_the_invitation_with_the_reason(smtp):
    invitation = make_due_invitation(contact=make_contact(email="nobody@example.com"))
    smtp.replies["nobody@example.com"] = "550 5.1.1 No such user"
    assert dispatch_due() == {"failed": 1}
    invitation.refresh_from_db()
    assert invitation.status == "failed"
    assert "550" in invitation.last_error and "No such user" in invitation.last_error
    assert dispatch_due() == {}
    assert smtp.messages == []


def test_temporary_failures_give_up_after_the_last_attempt(smtp):
    invitation = make_due_invitation(contact=make_contact(email="busy@example.com"))
    Invitation.objects.filter(pk=invitation.pk).update(attempts=dispatch.MAX_ATTEMPTS - 1)
    smtp.replies["busy@example.com"] = "421 4.7.0 Too many connections"
    assert dispatch_due() == {"failed": 1}
    invitation.refresh_from_db()
    assert (invitation.status, invitation.attempts) == ("failed", dispatch.MAX_ATTEMPTS)


def test_the_beat_schedule_names_tasks_that_exist(settings):
    from cxsurvey.celery import app

    app.loader.import_default_modules()
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)


def test_the_dispatch_task_sends_a_batch():
    from surveys.tasks import dispatch as dispatch_task

    make_due_invitation()
    dispatch_task(batch_size=10)
    assert Invitation.objects.get().status == "sent"
    assert len(mail.outbox) == 1


@pytest.fixture
def smtp_down(settings):
    """The installation's mail server is a port on loopback where nothing listens: refused at once."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with socket.socket() as probe:  # a free port, closed again
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST, settings.EMAIL_PORT = probe.getsockname()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def test_an_unreachable_mail_server_sends_the_batch_back_to_the_queue_at_once_and_all_go_out_later(
    smtp_down, settings, smtp_server
):
    touchpoint = make_touchpoint()
    invitations = [make_due_invitation(touchpoint, minutes_ago=minutes) for minutes in (3, 2, 1)]

    assert dispatch_due(batch_size=2) == {"server down": 2}  # no second batch against a dead server
    for invitation in invitations:
        before = invitation.scheduled_for
        invitation.refresh_from_db()
        assert (invitation.status, invitation.attempts, invitation.claimed_at) == ("scheduled", 0, None)
        assert invitation.scheduled_for == before  # in its place in the queue
    assert "could not be reached" in invitations[0].last_error

    settings.EMAIL_PORT = smtp_server.port  # the mail server is back
    assert dispatch_due(batch_size=2) == {"sent": 3}
    assert sorted(message["To"] for message in smtp_server.messages) == sorted(
        invitation.contact.email for invitation in invitations
    )
    assert set(Invitation.objects.values_list("status", "attempts", "last_error")) == {("sent", 1, "")}


def test_the_dispatch_task_waits_for_its_next_turn_while_the_mail_server_is_down(smtp_down):
    from surveys.tasks import dispatch as dispatch_task

    for _ in range(3):
        make_due_invitation()
    assert dispatch_task(batch_size=3) is False
    assert set(Invitation.objects.values_list("status", flat=True)) == {"scheduled"}


def test_reminders_wait_for_an_unreachable_mail_server(smtp_down):
    now = timezone.now()
    touchpoint = make_touchpoint(reminder_after_days=3)
    waiting = make_invitation(touchpoint=touchpoint, survey=touchpoint.survey, reminder_due_at=now)
    assert send_due_reminders(now=now, limit=100) == {}
    waiting.refresh_from_db()
    assert (waiting.reminder_due_at, waiting.reminder_sent_at) == (now, None)


def test_each_send_is_recorded_as_it_happens(smtp, monkeypatch):
    """What the database says after each hand-over, as a sender killed there would leave it."""
    touchpoint = make_touchpoint(reminder_after_days=2)
    invitations = [make_due_invitation(touchpoint, minutes_ago=minutes) for minutes in (3, 2, 1)]
    seen = []
    send = dispatch.send_message

    def send_and_look(message, mail):
        seen.append(dict(Invitation.objects.values_list("pk", "status")))
        send(message, mail)

    monkeypatch.setattr(dispatch, "send_message", send_and_look)
    assert dispatch_due() == {"sent": 3}
    first, second, third = (invitation.pk for invitation in invitations)
    # Before each send, every earlier one is recorded as sent and only this one is in doubt.
    assert seen == [
        {first: "sending", second: "sending", third: "sending"},
        {first: "sent", second: "sending", third: "sending"},
        {first: "sent", second: "sent", third: "sending"},
    ]
    sent = Invitation.objects.get(pk=first)
    assert sent.reminder_due_at == sent.sent_at + timedelta(days=2)
    assert sent.sent_at == sent.send_started_at
