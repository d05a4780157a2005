"""A subscription delivers only what its owner may see, when a message is queued and again when
it is sent: losing a permission or a team stops comments, personal data or whole messages at once."""

import json

import pytest
from django.utils import timezone

from surveys import roles
from surveys.answering.collect import Identity
from tests.factories import answer_by_link, make_staff, make_subscription, make_survey, make_team, take_away
from webhooks.delivery import WITHHELD, deliver_due
from webhooks.models import Delivery, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(cx_manager):
    return cx_manager


@pytest.fixture
def subscription(owner, receiver, allow_localhost):
    subscription = make_subscription(
        owner=owner, url=receiver.url(), include_comments=True, include_personal_data=True
    )
    receiver.secret = subscription.secret
    return subscription


def answer(survey=None) -> None:
    """An unsigned link answer that claims to be Anna's."""
    survey = survey or make_survey()
    claimed = Identity(email="anna@example.com", name="Anna Schmidt")
    answer_by_link(
        survey, 3, timezone.now(), comment="Zu spät", properties={"order": "A-1"}, identity=claimed
    )


def sent(receiver) -> list[dict]:
    return [json.loads(request.body)["data"] for request in receiver.requests]


def test_what_the_owner_may_see_goes_out_whole(subscription, receiver):
    answer()
    assert deliver_due() == {"delivered": 1}
    (data,) = sent(receiver)
    assert (data["comment"], data["properties"]) == ("Zu spät", {"order": "A-1"})
    assert data["claimed_identity"] == {
        "email": "anna@example.com",
        "name": "Anna Schmidt",
        "external_id": "",
    }


def test_personal_data_stops_when_the_owner_loses_the_permission_after_queueing(
    subscription, owner, receiver
):
    answer()
    take_away(owner, "view_contact")
    assert deliver_due() == {"delivered": 1}
    (data,) = sent(receiver)
    assert data["comment"] == "Zu spät"
    assert "contact" not in data and "properties" not in data and "claimed_identity" not in data
    assert "anna@example.com" not in receiver.requests[0].body.decode()
    assert "properties" in Message.objects.get().payload["data"], "the stored message is unchanged"


def test_answers_stop_when_the_owner_may_no_longer_read_them(subscription, owner, receiver):
    answer()
    take_away(owner, "view_response")
    assert deliver_due() == {"withheld": 1}
    assert receiver.requests == []
    message = Message.objects.get()
    assert message.status == "failed"
    assert Delivery.objects.get().error == WITHHELD
    answer()
    assert Message.objects.count() == 1, "nothing is queued for an owner who may not read answers"


def test_another_teams_survey_is_neither_queued_nor_sent(subscription, owner, receiver):
    ours, theirs = make_survey(), make_survey()
    team = make_team(surveys=[ours], members=[owner])
    make_team(surveys=[theirs], members=[make_staff("colleague", roles.CX_MANAGER)])
    answer(theirs)
    assert not Message.objects.exists()
    answer(ours)
    team.members.remove(owner)  # moved to another team before the message left
    assert deliver_due() == {"withheld": 1}
    assert receiver.requests == []


def test_an_analyst_never_receives_a_claimed_identity(analyst, receiver, allow_localhost):
    # Stored without the form's check, as if the analyst had lost the permission long ago.
    subscription = make_subscription(owner=analyst, url=receiver.url(), include_personal_data=True)
    receiver.secret = subscription.secret
    answer()
    assert "claimed_identity" not in Message.objects.get().payload["data"]
    assert deliver_due() == {"delivered": 1}
    assert "anna@example.com" not in receiver.requests[0].body.decode()
