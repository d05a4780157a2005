from datetime import timedelta

import pytest
from django.utils import timezone, translation

from surveys.ingest import EventIn, ingest_events
from surveys.models import Event, Invitation, LegalBasis, Touchpoint
from surveys.stats import Funnel, response_rate, touchpoint_funnels
from tests.factories import make_contact, make_invitation, make_touchpoint

pytestmark = pytest.mark.django_db

Status = Invitation.Status


def funnels_of_the_last_30_days(now) -> list[Funnel]:
    return touchpoint_funnels(
        Touchpoint.objects.all(), since=now - timedelta(days=30), until=now + timedelta(seconds=1)
    )


def a_busy_touchpoint(now) -> Touchpoint:
    """Events through the API and an upload, each rule that skips one, invitations in every state,
    some created without an event, one event whose invitation was deleted, and last month's."""
    delivery = make_touchpoint(name="Delivery", send_window=None, require_consent=True)
    make_contact(email="gone@example.com", unsubscribed_at=now)
    make_contact(email="nobasis@example.com", legal_basis=LegalBasis.NONE)
    make_contact(email="recent@example.com", legal_basis=LegalBasis.CUSTOMER)
    customer: dict = {"legal_basis": LegalBasis.CUSTOMER}
    ingest_events(
        [
            EventIn(touchpoint=delivery, occurred_at=now, email=email, **customer)
            for email in ("a@example.com", "b@example.com", "gone@example.com", "a@example.com")
        ]
        + [EventIn(touchpoint=delivery, occurred_at=now, email="nobasis@example.com")]
        + [
            EventIn(
                touchpoint=delivery, occurred_at=now - timedelta(days=90), email="old@example.com", **customer
            )
        ],
        now=now,
    )
    ingest_events(
        [EventIn(touchpoint=delivery, occurred_at=now, email="c@example.com", **customer)],
        now=now,
        source=Event.Source.UPLOAD,
    )
    ingest_events([EventIn(touchpoint=delivery, occurred_at=now, email="d@example.com", **customer)], now=now)
    Invitation.objects.filter(contact__email="d@example.com").delete()  # its event stays
    invitation: dict = {"survey": delivery.survey, "touchpoint": delivery}
    make_invitation(**invitation, answered_at=now, delivered_at=now, opened_at=now, status=Status.OPENED)
    make_invitation(**invitation, delivered_at=now, status=Status.DELIVERED)
    make_invitation(**invitation, opened_at=now, status=Status.OPENED)  # no delivery report came
    make_invitation(**invitation, status=Status.BOUNCED, delivered_at=now)  # delivered, then bounced
    make_invitation(**invitation, status=Status.FAILED, sent_at=None)
    make_invitation(**invitation, status=Status.REVIEW, sent_at=None)
    make_invitation(**invitation, status=Status.FAILED)  # refused by the provider after sending
    make_invitation(**invitation, status=Status.DELIVERED, sent_at=None)  # to review, then reported
    make_invitation(**invitation, status=Status.SKIPPED, skip_reason="paused", sent_at=None)
    make_invitation(**invitation, now=now - timedelta(days=40))
    return delivery


def fresh_count(touchpoint: Touchpoint, now) -> dict:
    """The funnel's figures counted one row at a time, from the rows themselves."""
    since = now - timedelta(days=30)
    events = [event for event in Event.objects.filter(touchpoint=touchpoint) if event.received_at >= since]
    invitations = [
        invitation
        for invitation in Invitation.objects.filter(touchpoint=touchpoint)
        if invitation.created_at >= since
    ]
    created = [invitation for invitation in invitations if invitation.status != Status.SKIPPED]
    sent = [
        invitation
        for invitation in created
        if invitation.sent_at or invitation.status in {"delivered", "opened", "bounced", "complained"}
    ]
    skipped: dict[str, int] = {}
    for invitation in invitations:
        if invitation.status == Status.SKIPPED:
            skipped[invitation.skip_reason] = skipped.get(invitation.skip_reason, 0) + 1
    return {
        "events": len(events),
        "unlinked": sum(1 for event in events if not Invitation.objects.filter(event=event).exists()),
        "without_event": sum(1 for invitation in invitations if invitation.event_id is None),
        "skipped": skipped,
        "invited": len(created),
        "waiting": sum(1 for invitation in created if invitation.status in {"scheduled", "sending"}),
        "sent": len(sent),
        "delivered": sum(
            1
            for invitation in sent
            if (invitation.delivered_at or invitation.opened_at)
            and invitation.status not in {"bounced", "failed"}
        ),
        "opened": sum(1 for invitation in sent if invitation.opened_at),
        "bounced": sum(1 for invitation in sent if invitation.status == Status.BOUNCED),
        "answered": sum(1 for invitation in sent if invitation.answered_at),
    }


def test_the_funnel_adds_up_to_a_fresh_count(settings, django_assert_num_queries):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "provider:secret"}
    now = timezone.now()
    delivery = a_busy_touchpoint(now)
    quiet = make_touchpoint(name="Support")

    with django_assert_num_queries(3):
        funnel, support = funnels_of_the_last_30_days(now)

    fresh = fresh_count(delivery, now)
    assert funnel.touchpoint == delivery
    assert {name: getattr(funnel, name) for name in fresh} == fresh
    assert funnel.events_by_source == {"api": 7, "upload": 1}
    assert fresh["skipped"] == {
        "unsubscribed": 1,
        "recently_invited": 1,
        "no_legal_basis": 1,
        "too_late": 1,
        "paused": 1,
    }
    assert (funnel.without_event, funnel.unlinked) == (9, 1)
    # Events and invitations made without one, against what became of them.
    assert funnel.received == funnel.skipped_total + funnel.invited + funnel.unlinked
    assert funnel.adds_up
    assert funnel.invited == funnel.waiting + funnel.sent + funnel.not_sent == 11
    assert (funnel.waiting, funnel.sent, funnel.not_sent) == (3, 6, 2)  # a, b and c wait
    assert funnel.response_rate == 1 / 5  # one answer among the six sent, one of them bounced
    assert support == Funnel(touchpoint=quiet, webhook=True, delivered=0, opened=0, bounced=0)
    assert support.response_rate is None


def test_without_a_provider_webhook_deliveries_opens_and_bounces_are_unknown(settings):
    settings.ANYMAIL = {}
    now = timezone.now()
    touchpoint = make_touchpoint(name="Delivery")
    make_invitation(survey=touchpoint.survey, touchpoint=touchpoint, answered_at=now)
    make_invitation(survey=touchpoint.survey, touchpoint=touchpoint)

    [funnel] = funnels_of_the_last_30_days(now)

    assert (funnel.sent, funnel.answered) == (2, 1)
    assert (funnel.delivered, funnel.opened, funnel.bounced) == (None, None, None)
    with translation.override("en"):
        assert str(funnel.unknown) == "unknown without a provider webhook"
    assert funnel.response_rate == 0.5  # bounces unknown: counted as delivered


def test_with_a_webhook_a_kind_the_provider_never_reported_is_unknown(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "provider:secret"}
    now = timezone.now()
    touchpoint = make_touchpoint(name="Delivery")
    make_invitation(
        survey=touchpoint.survey, touchpoint=touchpoint, delivered_at=now, status=Status.DELIVERED
    )
    make_invitation(survey=touchpoint.survey, touchpoint=touchpoint)

    [funnel] = funnels_of_the_last_30_days(now)

    assert (funnel.delivered, funnel.opened, funnel.bounced) == (1, None, 0)
    with translation.override("en"):
        assert str(funnel.unknown) == "unknown: the provider reported none in this period"


def test_reports_from_the_provider_are_counted_even_after_its_webhook_was_turned_off(settings):
    settings.ANYMAIL = {}
    now = timezone.now()
    touchpoint = make_touchpoint(name="Delivery")
    make_invitation(
        survey=touchpoint.survey, touchpoint=touchpoint, delivered_at=now, status=Status.DELIVERED
    )
    make_invitation(survey=touchpoint.survey, touchpoint=touchpoint, status=Status.BOUNCED)

    [funnel] = funnels_of_the_last_30_days(now)

    assert (funnel.delivered, funnel.opened, funnel.bounced) == (1, None, 1)


@pytest.mark.parametrize(
    ("answered", "sent", "bounced", "rate"),
    [(5, 12, 2, 0.5), (0, 10, 0, 0.0), (3, 3, 0, 1.0), (0, 3, 3, None), (0, 0, 0, None)],
)
def test_response_rate_is_answered_among_the_delivered(answered, sent, bounced, rate):
    assert response_rate(answered, sent, bounced) == rate
