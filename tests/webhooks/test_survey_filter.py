"""A subscription may be for some surveys only: a Delighted project's receiver gets that project's
answers, not every survey's."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from surveys import roles
from surveys.email.unsubscribe import unsubscribe_token
from tests.factories import (
    answer_by_link,
    make_api_token,
    make_contact,
    make_staff,
    make_subscription,
    make_survey,
    make_team,
)
from webhooks.models import Message, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings):
    """Team A's CX manager, who may manage webhooks, with surveys A1 and A2; team B's survey."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    manager = make_staff("manager", roles.CX_MANAGER)
    manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    first, second, foreign = make_survey(name="A1"), make_survey(name="A2"), make_survey(name="B")
    make_team("A", surveys=[first, second], members=[manager])
    make_team("B", surveys=[foreign])
    return manager, first, second, foreign


def test_only_the_chosen_surveys_events_are_sent_and_unsubscribes_all_the_same(world, client):
    manager, first, second, _foreign = world
    chosen = make_subscription(
        owner=manager, surveys=[first.pk], events=["response.created", "contact.unsubscribed"]
    )
    every = make_subscription(owner=manager, events=["response.created"])
    answer_by_link(first, 9, timezone.now())
    answer_by_link(second, 3, timezone.now())
    told = {
        subscription: sorted(
            m.payload["data"]["survey_id"] for m in Message.objects.filter(subscription=subscription)
        )
        for subscription in (chosen, every)
    }
    assert told == {chosen: [first.pk], every: sorted([first.pk, second.pk])}

    contact = make_contact(email="jana@example.com")
    client.post(
        reverse("surveys:unsubscribe", args=[unsubscribe_token(contact)]), {"List-Unsubscribe": "One-Click"}
    )
    assert Message.objects.filter(subscription=chosen, type="contact.unsubscribed").count() == 1


def test_the_api_takes_surveys_the_owner_may_see_only(world, client):
    manager, first, second, foreign = world
    token = make_api_token(user=manager, write=True)
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    def create(surveys):
        body = {"url": "https://203.0.113.10/hooks", "events": ["response.created"], "surveys": surveys}
        return client.post(
            "/api/v1/webhooks/", json.dumps(body), content_type="application/json", headers=headers
        )

    made = create([second.pk, first.pk])
    assert made.status_code == 201 and made.json()["surveys"] == [second.pk, first.pk]
    for refused in ([foreign.pk], [first.pk, first.pk], ["A1"], [0]):
        answer = create(refused)
        assert answer.status_code == 400, refused
        assert "surveys" in answer.json()["error"]["fields"]
    assert Subscription.objects.count() == 1


def test_the_back_office_offers_the_surveys_the_user_may_see(world, client):
    manager, first, second, foreign = world
    client.force_login(manager)
    add = reverse("admin:webhooks_subscription_add")
    offered = client.get(add).context["adminform"].form.fields["surveys"].queryset
    assert set(offered) == {first, second}
    form = {
        "owner": manager.pk,
        "url": "https://203.0.113.10/hooks",
        "payload_format": "cxsurvey",
        "events": ["response.created"],
        "surveys": [second.pk],
    }
    assert client.post(add, form).status_code == 200  # the page with the new secret
    assert Subscription.objects.get().surveys == [second.pk]
    refused = client.post(add, {**form, "surveys": [foreign.pk]})
    assert "surveys" in refused.context["adminform"].form.errors
    assert Subscription.objects.count() == 1
