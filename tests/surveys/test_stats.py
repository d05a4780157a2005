from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.ingest import EventIn, ingest_events
from surveys.models import Touchpoint
from surveys.stats import Funnel, response_rate, touchpoint_funnels
from tests.factories import make_contact, make_invitation, make_touchpoint

pytestmark = pytest.mark.django_db


def test_each_touchpoint_shows_what_became_of_its_events(django_assert_num_queries):
    now = timezone.now()
    delivery = make_touchpoint(name="Delivery", send_window=None)
    support = make_touchpoint(name="Support")
    make_contact(email="gone@example.com", unsubscribed_at=now)
    ingest_events(
        [
            EventIn(touchpoint=delivery, occurred_at=now, email=email)
            for email in ("a@example.com", "b@example.com", "gone@example.com", "a@example.com")
        ],
        now=now,
    )
    sent = {"status": "sent"}
    make_invitation(touchpoint=delivery, survey=delivery.survey, answered_at=now, delivered_at=now, **sent)
    make_invitation(touchpoint=delivery, survey=delivery.survey, delivered_at=now, **sent)
    make_invitation(touchpoint=delivery, survey=delivery.survey, status="bounced")
    make_invitation(touchpoint=delivery, survey=delivery.survey, now=now - timedelta(days=40), **sent)

    with django_assert_num_queries(3):
        funnels = touchpoint_funnels(
            Touchpoint.objects.all(), since=now - timedelta(days=30), until=now + timedelta(seconds=1)
        )

    delivery_funnel, support_funnel = funnels
    assert delivery_funnel.touchpoint == delivery
    assert (delivery_funnel.events, delivery_funnel.scheduled) == (4, 2)
    assert delivery_funnel.skipped == {"unsubscribed": 1, "recently_invited": 1}
    assert (delivery_funnel.sent, delivery_funnel.delivered, delivery_funnel.bounced) == (3, 2, 1)
    assert delivery_funnel.answered == 1
    assert delivery_funnel.response_rate == 0.5  # one answer among the two reached
    assert support_funnel == Funnel(touchpoint=support)
    assert support_funnel.response_rate is None


@pytest.mark.parametrize(
    ("answered", "sent", "bounced", "rate"),
    [(5, 12, 2, 0.5), (0, 10, 0, 0.0), (3, 3, 0, 1.0), (0, 3, 3, None), (0, 0, 0, None)],
)
def test_response_rate_is_answered_among_the_delivered(answered, sent, bounced, rate):
    assert response_rate(answered, sent, bounced) == rate
