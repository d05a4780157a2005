from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from surveys.models import Invitation
from tests.factories import (
    answer_by_link,
    make_due_invitation,
    make_invitation,
    make_message,
    make_staff,
    make_subscription,
    make_survey,
    make_touchpoint,
)

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def scrape(client, settings):
    """The figures of /metrics as Prometheus reads them: {(name, labels): value}."""
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        assert "no-store" in response["Cache-Control"]
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def test_without_a_token_configured_the_url_does_not_exist(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get(reverse("metrics")).status_code == 404
    assert client.get(reverse("metrics"), headers={"Authorization": "Bearer "}).status_code == 404
    assert client.post(reverse("metrics")).status_code == 404


def test_a_missing_or_wrong_token_is_refused(client, settings):
    settings.METRICS_TOKEN = TOKEN

    for header in ({}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.get(reverse("metrics"), headers=header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"cxsurvey_" not in response.content
    # The method is judged only for whoever has the token.
    assert client.post(reverse("metrics")).status_code == 401
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post(reverse("metrics"), headers=authorized).status_code == 405


def test_it_answers_a_pods_address_over_plain_http(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.ALLOWED_HOSTS = ["cx.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(
        reverse("metrics"), headers={"Host": "10.1.2.3:8000", "Authorization": f"Bearer {TOKEN}"}
    )

    assert response.status_code == 200


def test_the_queues_show_what_waits_and_for_how_long(scrape):
    empty = scrape()
    assert empty[("cxsurvey_invitations_due", ())] == 0
    assert empty[("cxsurvey_invitations_oldest_due_seconds", ())] == 0
    assert empty[("cxsurvey_webhook_messages_due", ())] == 0

    touchpoint = make_touchpoint()
    make_due_invitation(touchpoint, minutes_ago=10)
    make_due_invitation(touchpoint, minutes_ago=1)
    make_due_invitation(touchpoint, minutes_ago=-60)  # not due yet
    make_invitation(survey=touchpoint.survey, status=Invitation.Status.SENDING, sent_at=None)
    subscription = make_subscription(owner=make_staff("owner"))
    make_message(subscription, status="pending", created_at=timezone.now() - timedelta(minutes=3))
    make_message(subscription, status="sending")
    paused = make_subscription(owner=make_staff("paused-owner"), active=False)
    make_message(paused, status="pending")  # not due while its subscription is paused

    figures = scrape()

    assert figures[("cxsurvey_invitations_due", ())] == 2
    assert 600 <= figures[("cxsurvey_invitations_oldest_due_seconds", ())] < 660
    assert figures[("cxsurvey_invitations_sending", ())] == 1
    assert figures[("cxsurvey_webhook_messages_due", ())] == 1
    assert 180 <= figures[("cxsurvey_webhook_messages_oldest_due_seconds", ())] < 240
    assert figures[("cxsurvey_webhook_messages_sending", ())] == 1
    assert figures[("cxsurvey_metrics_collect_seconds", ())] > 0


def test_answers_are_counted_by_kind_from_the_tallies(scrape):
    before = scrape()
    assert before[("cxsurvey_answers", (("kind", "nps"),))] == 0
    assert before[("cxsurvey_answers", (("kind", "csat"),))] == 0

    nps, csat = make_survey(kind="nps"), make_survey(kind="csat")
    for score in (9, 3, 10):
        answer_by_link(nps, score, timezone.now())
    answer_by_link(csat, 5, timezone.now() - timedelta(days=40))

    after = scrape()

    assert after[("cxsurvey_answers", (("kind", "nps"),))] == 3
    assert after[("cxsurvey_answers", (("kind", "csat"),))] == 1
    assert after[("cxsurvey_answers", (("kind", "ces"),))] == 0


def test_invitations_by_status_are_counted_afresh_once_the_shared_count_expires(scrape):
    survey = make_survey()
    make_invitation(survey=survey)
    make_invitation(survey=survey, status=Invitation.Status.FAILED, sent_at=None)

    first = scrape()
    assert first[("cxsurvey_invitations", (("status", "sent"),))] == 1
    assert first[("cxsurvey_invitations", (("status", "failed"),))] == 1
    assert first[("cxsurvey_invitations", (("status", "review"),))] == 0
    assert {labels for name, labels in first if name == "cxsurvey_invitations"} == {
        (("status", status),) for status in Invitation.Status.values
    }

    make_invitation(survey=survey)
    make_invitation(survey=survey, status=Invitation.Status.FAILED, sent_at=None)
    assert scrape()[("cxsurvey_invitations", (("status", "sent"),))] == 1  # the shared count

    cache.clear()  # as when it expires
    later = scrape()
    assert later[("cxsurvey_invitations", (("status", "sent"),))] == 2
    assert later[("cxsurvey_invitations", (("status", "failed"),))] == 2


def test_a_scrape_asks_the_database_a_fixed_number_of_queries(scrape, django_assert_num_queries):
    touchpoint = make_touchpoint()
    for minutes in range(5):
        make_due_invitation(touchpoint, minutes_ago=minutes)
        answer_by_link(touchpoint.survey, 9, timezone.now())

    with django_assert_num_queries(6):  # the invitations by status among them
        scrape()
    with django_assert_num_queries(5):  # those from the cache
        scrape()
