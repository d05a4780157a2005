"""The digest: due at the subscriber's local hour across daylight saving, sent once per period,
what it says to whom, and its page and unsubscribe link."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from followup.cases import open_case
from followup.digests import claim, scheduled_at, send_due_digests, unsubscribe_token
from followup.models import Alert, AlertRule, Digest
from surveys import roles
from tests.factories import make_contact, make_response, make_staff, make_survey, make_team, make_touchpoint

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
PAGE = "/digest/"


def berlin(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def subscribe(user, *, created, **fields) -> Digest:
    fields.setdefault("frequency", Digest.Frequency.DAILY)
    fields.setdefault("language", "en")
    return Digest.objects.create(user=user, created_at=created, **fields)


def run_every(minutes: int, start: datetime, end: datetime) -> list[datetime]:
    """The periodic task every few minutes from ``start`` to ``end``: the moments it sent a digest."""
    sent, now = [], start
    while now < end:
        if send_due_digests(now=now):
            sent.append(now)
        now += timedelta(minutes=minutes)
    return sent


# When


@pytest.mark.parametrize(
    ("days", "label"),
    [((26, 27, 28, 29), "spring: the clocks go forward on Sunday 28 March"), ((30, 31, 1, 2), "autumn")],
)
def test_a_daily_digest_arrives_at_eight_local_on_both_sides_of_the_clock_change(cx_manager, days, label):
    month = 3 if days[0] == 26 else 10
    subscribe(cx_manager, created=berlin(2027, month, days[0] - 1, 12))
    start = datetime(2027, month, days[0], 0, tzinfo=UTC) - timedelta(hours=2)
    sent = run_every(10, start, start + timedelta(days=4))
    local = [moment.astimezone(BERLIN) for moment in sent]
    assert [(moment.day, moment.hour, moment.minute) for moment in local] == [(day, 8, 0) for day in days], (
        label
    )
    assert len(mail.outbox) == 4


def test_the_autumn_change_keeps_the_offsets_apart(cx_manager):
    """08:00 in Berlin is 06:00 UTC in summer time and 07:00 UTC in winter time."""
    subscribe(cx_manager, created=berlin(2027, 10, 29, 12))
    sent = run_every(30, datetime(2027, 10, 30, tzinfo=UTC), datetime(2027, 11, 1, tzinfo=UTC))
    assert [moment.astimezone(UTC).hour for moment in sent] == [6, 7]


def test_a_weekly_digest_arrives_on_mondays_at_its_local_hour(cx_manager):
    subscribe(cx_manager, created=berlin(2027, 3, 17), frequency=Digest.Frequency.WEEKLY, hour=7)
    sent = run_every(60, datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 4, 6, tzinfo=UTC))
    assert sent == [berlin(2027, 3, 22, 7), berlin(2027, 3, 29, 7), berlin(2027, 4, 5, 7)]
    assert {moment.astimezone(BERLIN).weekday() for moment in sent} == {0}


def test_an_hour_the_clock_skips_falls_an_hour_later(cx_manager):
    digest = subscribe(cx_manager, created=berlin(2027, 3, 20), hour=2)
    assert scheduled_at(digest, berlin(2027, 3, 28, 4)) == datetime(2027, 3, 28, 1, tzinfo=UTC)


def test_a_digest_subscribed_after_its_hour_waits_for_the_next_day(cx_manager):
    subscribe(cx_manager, created=berlin(2027, 5, 3, 9))
    assert send_due_digests(now=berlin(2027, 5, 3, 9, 5)) == 0
    assert send_due_digests(now=berlin(2027, 5, 4, 8, 1)) == 1


def test_a_second_run_at_the_same_time_sends_nothing(cx_manager):
    subscribe(cx_manager, created=berlin(2027, 5, 1))
    now = berlin(2027, 5, 3, 8, 2)
    assert send_due_digests(now=now) == 1
    assert send_due_digests(now=now) == 0
    assert len(mail.outbox) == 1


def test_of_two_runs_that_read_the_digest_at_once_only_one_claims_it(cx_manager):
    digest = subscribe(cx_manager, created=berlin(2027, 5, 1))
    seen_by_both = Digest.objects.get(pk=digest.pk)
    now = berlin(2027, 5, 3, 8, 2)
    scheduled = scheduled_at(digest, now)
    assert claim(digest, scheduled, now) is True
    assert claim(seen_by_both, scheduled, now + timedelta(seconds=1)) is False
    assert Digest.objects.get(pk=digest.pk).last_sent_at == now


def test_a_digest_that_cannot_be_sent_is_tried_again(cx_manager, settings):
    digest = subscribe(cx_manager, created=berlin(2027, 5, 1))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nobody listens
    assert send_due_digests(now=berlin(2027, 5, 3, 8, 2)) == 0
    digest.refresh_from_db()
    assert digest.last_sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_due_digests(now=berlin(2027, 5, 3, 8, 12)) == 1


def test_users_who_may_no_longer_read_feedback_get_none(outsider):
    subscribe(outsider, created=berlin(2027, 5, 1))
    assert send_due_digests(now=berlin(2027, 5, 3, 8, 2)) == 0


def test_the_task_runs_in_the_schedule_without_a_broker():
    from cxsurvey.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["send-digests"]
    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 3600


# What


@pytest.fixture
def two_teams():
    """Team A's NPS survey and team B's; the CX manager is in team A."""
    manager = make_staff("manager-a", roles.CX_MANAGER)
    colleague = make_staff("colleague-a", roles.AGENT)
    mine, foreign = make_survey(kind="nps", name="Ours"), make_survey(kind="csat", name="Theirs")
    team = make_team("A", surveys=[mine], members=[manager, colleague])
    make_team("B", surveys=[foreign])
    return manager, colleague, team, mine, foreign


def test_the_digest_says_what_the_user_may_see(smtp, two_teams):
    manager, _colleague, team, mine, foreign = two_teams
    monday = berlin(2027, 5, 3, 8, 5)
    yesterday = berlin(2027, 5, 2, 15)
    desk = make_touchpoint(survey=mine)
    low = make_response(
        survey=mine, score=2, comment="Niemand rief zurück", created_at=yesterday, updated_at=yesterday
    )
    make_response(survey=mine, score=10, comment="Super", created_at=yesterday, updated_at=yesterday)
    make_response(
        survey=foreign, score=1, comment="Fremde Umfrage", created_at=yesterday, updated_at=yesterday
    )
    overdue = make_response(survey=mine, score=3, contact=make_contact(), touchpoint=desk, channel="email")
    late, _ = open_case(response=overdue, now=berlin(2027, 4, 28), team=team, sla_hours=24)
    others, _ = open_case(response=make_response(survey=mine, score=4), now=berlin(2027, 4, 28), sla_hours=24)
    rule = AlertRule.objects.create(survey=mine, name="Detractors", delivery=AlertRule.Delivery.DIGEST)
    rule.notify.add(manager)
    instant = AlertRule.objects.create(survey=mine, name="At once", delivery=AlertRule.Delivery.INSTANT)
    instant.notify.add(manager)
    waiting = Alert.objects.create(rule=rule, response=low, fired_at=yesterday)
    told_at_once = Alert.objects.create(rule=instant, response=low, fired_at=yesterday)
    subscribe(manager, created=berlin(2027, 4, 1), language="de")

    assert send_due_digests(now=monday) == 1

    [message] = smtp.messages
    assert message["To"] == manager.email
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith(settings.SITE_URL + "/digest/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert f'data-survey="{mine.pk}" data-n="2"' in html
    assert f'data-survey="{foreign.pk}"' not in html
    assert f"{settings.SITE_URL}/responses/{low.public_id}/" in html
    assert f"{settings.SITE_URL}/responses/{low.public_id}/" in text
    assert "Fremde Umfrage" not in html and "Super" not in html
    assert f'data-case="{late.public_id}"' in html
    assert f'data-case="{others.public_id}"' not in html  # nobody's: not the manager's nor the team's
    assert f'data-alert="{waiting.pk}"' in html
    assert f'data-alert="{told_at_once.pk}"' not in html
    assert '<html lang="de">' in html  # in the digest's language
    waiting.refresh_from_db(), told_at_once.refresh_from_db()
    assert waiting.notified_at == monday
    assert told_at_once.notified_at is None


def test_an_alert_told_in_one_digest_is_not_repeated_in_the_next(two_teams):
    manager, colleague, _team, mine, _foreign = two_teams
    rule = AlertRule.objects.create(survey=mine, name="Detractors", delivery=AlertRule.Delivery.DIGEST)
    rule.notify.add(manager, colleague)
    alert = Alert.objects.create(
        rule=rule, response=make_response(survey=mine, score=1), fired_at=berlin(2027, 5, 2)
    )
    subscribe(manager, created=berlin(2027, 4, 1))
    subscribe(colleague, created=berlin(2027, 4, 1))
    send_due_digests(now=berlin(2027, 5, 3, 8, 5))
    assert [f'data-alert="{alert.pk}"' in message.alternatives[0][0] for message in mail.outbox] == [
        True,
        True,
    ]
    send_due_digests(now=berlin(2027, 5, 4, 8, 5))
    assert [f'data-alert="{alert.pk}"' in message.alternatives[0][0] for message in mail.outbox[2:]] == [
        False,
        False,
    ]


# The page


def test_staff_subscribe_change_and_stop_their_digest(client, cx_manager):
    client.force_login(cx_manager)
    page = client.get(PAGE, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'data-subscribed="no"' in page.content.decode()
    body = {"frequency": "weekly", "hour": "7", "time_zone": "Europe/Berlin", "language": "de"}
    assert client.post(PAGE, body).url == PAGE
    digest = Digest.objects.get(user=cx_manager)
    assert (digest.frequency, digest.hour, digest.language) == ("weekly", 7, "de")
    page = client.get(PAGE)
    assert '<html lang="de">' in page.content.decode()  # the page speaks the digest's language
    client.post(PAGE, {**body, "frequency": "daily", "hour": "9"})
    assert Digest.objects.get(user=cx_manager).hour == 9
    assert client.post(PAGE, {"stop": ""}).status_code == 302
    assert not Digest.objects.filter(user=cx_manager).exists()


@pytest.mark.parametrize(
    "changed", [{"hour": "24"}, {"time_zone": "Mars/Olympus"}, {"frequency": "hourly"}, {"language": "fr"}]
)
def test_bad_settings_are_refused_and_nothing_is_stored(client, cx_manager, changed):
    client.force_login(cx_manager)
    body = {"frequency": "daily", "hour": "8", "time_zone": "Europe/Berlin", "language": "en", **changed}
    page = client.post(PAGE, body)
    assert page.status_code == 400
    assert f'id="error-{next(iter(changed))}"' in page.content.decode()
    assert not Digest.objects.exists()


def test_the_page_is_for_staff_who_may_read_feedback(client, outsider):
    assert client.get(PAGE).status_code == 302
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 403
    assert (
        client.post(
            PAGE, {"frequency": "daily", "hour": "8", "time_zone": "UTC", "language": "en"}
        ).status_code
        == 403
    )
    assert not Digest.objects.exists()


def test_the_page_takes_a_few_queries(client, cx_manager, django_assert_max_num_queries):
    client.force_login(cx_manager)
    subscribe(cx_manager, created=berlin(2027, 1, 1))
    with django_assert_max_num_queries(6):
        assert client.get(PAGE).status_code == 200


# Unsubscribing


def test_the_unsubscribe_link_asks_first_and_stops_on_post_without_signing_in(cx_manager):
    digest = subscribe(cx_manager, created=berlin(2027, 1, 1), language="de")
    url = reverse("followup:digest_unsubscribe", args=[unsubscribe_token(digest)])
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url)
    assert page.status_code == 200
    assert 'id="digest-unsubscribe"' in page.content.decode()
    assert '<html lang="de"' in page.content.decode()
    assert Digest.objects.filter(pk=digest.pk).exists()  # a mail scanner's GET stops nothing
    page = browser.post(url, {"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200
    assert 'id="digest-stopped"' in page.content.decode()
    assert not Digest.objects.filter(pk=digest.pk).exists()
    assert browser.post(url).status_code == 200  # twice: still stopped


def test_a_forged_or_altered_unsubscribe_link_is_not_found(cx_manager):
    digest = subscribe(cx_manager, created=berlin(2027, 1, 1))
    token = unsubscribe_token(digest)
    for bad in (token[:-2] + "xx", "not-a-token"):
        assert Client().post(reverse("followup:digest_unsubscribe", args=[bad])).status_code == 404
    assert Digest.objects.filter(pk=digest.pk).exists()
