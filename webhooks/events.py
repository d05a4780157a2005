"""What subscribers are told, queued as a transactional outbox.

The receivers of ``surveys.signals`` run inside the transaction of the change they
report and write one message per active subscription that wants the event: the
change and its messages commit or roll back together, and a broker that is down
loses nothing. With no subscription it costs one query.

A payload is ``{"type", "timestamp", "data"}`` as the Standard Webhooks specification
recommends. Data carries ids, scores and back-office links; comments and personal
data (the contact, the identity an unsigned answer claimed, the event's properties) only
where the subscription opts in.
"""

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from followup.links import case_link, response_link
from followup.models import CLOSED_STATUSES, Alert, Case
from surveys.models import Contact, Invitation, Response
from webhooks import tasks
from webhooks.models import TEST_MESSAGE, EventType, Message, Subscription

Data = Callable[[Subscription], dict]


def queue_response(sender, *, response: Response, created: bool, **kwargs) -> None:
    event = EventType.RESPONSE_CREATED if created else EventType.RESPONSE_UPDATED
    at = response.created_at if created else response.updated_at
    _queue(event, at, lambda wants: _response(response, wants))


def queue_bounce(sender, *, invitation: Invitation, **kwargs) -> None:
    _queue(EventType.INVITATION_BOUNCED, timezone.now(), lambda wants: _invitation(invitation, wants))


def queue_unsubscribe(sender, *, contact: Contact, **kwargs) -> None:
    at = contact.unsubscribed_at or timezone.now()  # set before the signal is sent
    _queue(EventType.CONTACT_UNSUBSCRIBED, at, lambda wants: _contact(contact, wants))


def queue_alert(sender, *, alert: Alert, **kwargs) -> None:
    _queue(EventType.ALERT_FIRED, alert.fired_at, lambda wants: _alert(alert, wants))


def queue_case(sender, *, case: Case, created: bool, changes: dict, **kwargs) -> None:
    """case.created for a new case; case.resolved when a change closes it (resolved or no action
    needed); case.updated for any other change."""
    if created:
        event = EventType.CASE_CREATED
    elif (
        "status" in changes and case.status in CLOSED_STATUSES and changes["status"][0] not in CLOSED_STATUSES
    ):
        event = EventType.CASE_RESOLVED
    else:
        event = EventType.CASE_UPDATED
    _queue(event, case.updated_at, lambda wants: _case(case, wants, changed=sorted(changes)))


def queue_test(subscription: Subscription) -> Message:
    """A test message for the subscription, sent at once, so that its receiver can check that it
    verifies signatures and answers in time. It reports no event, and is logged like the others."""
    now = timezone.now()
    data = {
        "subscription_id": subscription.pk,
        "links": {"subscription": _admin_link("webhooks_subscription_change", subscription.pk)},
    }
    message = _message(subscription, TEST_MESSAGE, at=now, data=data, now=now)
    message.save()
    tasks.enqueue([message.pk])
    return message


def _queue(event: str, at: datetime, data: Data) -> None:
    """A message for each active subscription that wants the event, with what its owner may see."""
    subscribers = [
        subscription
        for subscription in Subscription.objects.filter(active=True, owner__is_active=True).select_related(
            "owner"
        )
        if event in subscription.events
    ]
    if not subscribers:
        return
    # Subscriptions of one owner share the owner, whose permissions Django then reads once.
    owners: dict[int, User] = {}
    for subscription in subscribers:
        subscription.owner = owners.setdefault(subscription.owner_id, subscription.owner)
    now = timezone.now()
    messages = []
    for subscription in subscribers:
        message = _message(subscription, event, at=at, data=data(subscription), now=now)
        if (payload := subscription.visible_payload(message.payload)) is not None:
            message.payload = payload
            messages.append(message)
    Message.objects.bulk_create(messages)
    tasks.enqueue([message.pk for message in messages])


def _message(subscription: Subscription, event: str, *, at: datetime, data: dict, now: datetime) -> Message:
    """A message due at once, its payload in the Standard Webhooks envelope."""
    return Message(
        subscription=subscription,
        type=event,
        payload={"type": event, "timestamp": _time(at), "data": data},
        created_at=now,
        next_attempt_at=now,
    )


def _response(response: Response, wants: Subscription) -> dict:
    data = {
        "id": str(response.public_id),
        "survey_id": response.survey_id,
        "touchpoint_id": response.touchpoint_id,
        "invitation_id": response.invitation_id,
        "kind": response.kind,
        "score": response.score,
        "category": response.category,
        "channel": response.channel,
        "language": response.language,
        "created_at": _time(response.created_at),
        "updated_at": _time(response.updated_at),
        "links": {"response": _admin_link("surveys_response_change", response.pk)},
    }
    if wants.include_comments:
        data["comment"] = response.comment
    if wants.include_personal_data:
        data["contact"] = _person(response.contact)
        data["claimed_identity"] = _claimed(response)
        data["properties"] = response.event_properties
    return data


def _alert(alert: Alert, wants: Subscription) -> dict:
    response, rule = alert.response, alert.rule
    case = Case.objects.filter(response_id=response.pk).values_list("public_id", flat=True).first()
    data = {
        "id": alert.pk,
        "rule": {"id": rule.pk, "name": rule.name},
        "survey_id": response.survey_id,
        "touchpoint_id": response.touchpoint_id,
        "response_id": str(response.public_id),
        "score": response.score,
        "category": response.category,
        "case_id": str(case) if case else None,
        "fired_at": _time(alert.fired_at),
        "links": {"response": response_link(response)},
    }
    return data | _answer_details(response, wants)


def _case(case: Case, wants: Subscription, *, changed: list[str]) -> dict:
    response = case.response
    data = {
        "id": str(case.public_id),
        "survey_id": case.survey_id,
        "touchpoint_id": case.touchpoint_id,
        "response_id": str(response.public_id),
        "rule_id": case.rule_id,
        "status": case.status,
        "resolution": case.resolution,
        "assignee": {"id": case.assignee_id, "username": case.assignee.get_username()}
        if case.assignee
        else None,
        "team_id": case.team_id,
        "opening_score": case.opening_score,
        "score": response.score,
        "due_at": _time(case.due_at),
        "first_response_at": _time(case.first_response_at),
        "resolved_at": _time(case.resolved_at),
        "created_at": _time(case.created_at),
        "updated_at": _time(case.updated_at),
        "changed": [field.removesuffix("_id") for field in changed],
        "links": {"response": response_link(response), "case": case_link(case)},
    }
    return data | _answer_details(response, wants)


def _answer_details(response: Response, wants: Subscription) -> dict:
    """The comment and who answered, where the subscription opts in (as for responses)."""
    data: dict[str, object] = {}
    if wants.include_comments:
        data["comment"] = response.comment
    if wants.include_personal_data:
        data["contact"] = _person(response.contact)
        data["claimed_identity"] = _claimed(response)
    return data


def _invitation(invitation: Invitation, wants: Subscription) -> dict:
    data = {
        "id": invitation.pk,
        "survey_id": invitation.survey_id,
        "touchpoint_id": invitation.touchpoint_id,
        "event_id": invitation.event_id,
        "sent_at": _time(invitation.sent_at),
        "links": {"invitation": _admin_link("surveys_invitation_change", invitation.pk)},
    }
    if wants.include_personal_data:
        data["contact"] = _person(invitation.contact)
        data["properties"] = invitation.properties
    return data


def _contact(contact: Contact, wants: Subscription) -> dict:
    data = {
        "id": contact.pk,
        "unsubscribed_at": _time(contact.unsubscribed_at),
        "links": {"contact": _admin_link("surveys_contact_change", contact.pk)},
    }
    if wants.include_personal_data:
        data["contact"] = _person(contact)
    return data


def _person(contact: Contact | None) -> dict | None:
    """Who answered or was asked; None for an anonymous answer."""
    if contact is None:
        return None
    return {
        "id": contact.pk,
        "email": contact.email,
        "name": contact.name,
        "external_id": contact.external_id,
    }


def _claimed(response: Response) -> dict | None:
    """Who an unsigned link or widget answer said it came from, unverified; None for the others."""
    if not (response.claimed_email or response.claimed_external_id or response.claimed_name):
        return None
    return {
        "email": response.claimed_email,
        "name": response.claimed_name,
        "external_id": response.claimed_external_id,
    }


def _admin_link(view: str, pk: int) -> str:
    return settings.SITE_URL + reverse(f"admin:{view}", args=[pk])


def _time(moment: datetime | None) -> str | None:
    """As the REST API writes times: ISO 8601 in the installation's time zone."""
    return timezone.localtime(moment).isoformat() if moment else None
