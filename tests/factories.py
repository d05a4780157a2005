"""Small factories: each test builds what it needs, with readable defaults."""

import hashlib
import hmac
import itertools
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.utils import timezone

from surveys.answering.collect import Identity, record_public_answer
from surveys.models import ApiToken, Contact, Invitation, Response, Survey, Team, Touchpoint
from surveys.terms import comment_fields
from webhooks.models import EventType, Message, Subscription

_sequence = itertools.count(1)


def make_staff(username: str, role: str | None = None, *, team: Team | None = None):
    """A member of staff in one of the back office's roles (``surveys.roles``), or in none, who signs
    in with ``<username>-password``; in ``team`` if given."""
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", f"{username}-password", is_staff=True
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    if team:
        team.members.add(user)
    return user


def take_away(user, *codenames: str) -> None:
    """The user keeps every permission of their roles but these, from now on held one by one."""
    kept = Permission.objects.filter(Q(group__user=user) | Q(user=user)).exclude(codename__in=codenames)
    user.user_permissions.set(list(kept.distinct()))
    user.groups.clear()
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)


def make_team(name: str = "", *, surveys=(), members=()) -> Team:
    team = Team.objects.create(name=name or f"Team {next(_sequence)}")
    team.surveys.add(*surveys)
    team.members.add(*members)
    return team


def make_survey(*, kind: str = Survey.Kind.NPS, **fields) -> Survey:
    fields.setdefault("name", f"{kind.upper()} survey {next(_sequence)}")
    fields.setdefault("brand", "Acme")
    return Survey.objects.create(kind=kind, **fields)


def make_touchpoint(*, survey: Survey | None = None, **fields) -> Touchpoint:
    number = next(_sequence)
    fields.setdefault("slug", f"touchpoint-{number}")
    fields.setdefault("name", f"Touchpoint {number}")
    return Touchpoint.objects.create(survey=survey or make_survey(), **fields)


def make_contact(**fields) -> Contact:
    fields.setdefault("email", f"customer{next(_sequence)}@example.com")
    return Contact.objects.create(**fields)


def sign_identity(survey: Survey, *, email: str = "", external_id: str = "") -> str:
    """The signature of an identity as the README tells companies to compute it."""
    message = f"{email}\n{external_id}".encode()
    return hmac.new(survey.identity_secret.encode(), message, hashlib.sha256).hexdigest()


def make_invitation(
    *,
    survey: Survey | None = None,
    contact: Contact | None = None,
    now: datetime | None = None,
    **fields,
) -> Invitation:
    now = now or timezone.now()
    survey = survey or make_survey()
    if "touchpoint" not in fields:
        fields["touchpoint"] = make_touchpoint(survey=survey)
    fields.setdefault("expires_at", Invitation.expiry(survey, now))
    fields.setdefault("status", Invitation.Status.SENT)
    fields.setdefault("sent_at", now)
    return Invitation.objects.create(
        survey=survey, contact=contact or make_contact(), created_at=now, **fields
    )


def make_due_invitation(touchpoint=None, *, minutes_ago=1, **fields):
    """A scheduled invitation in English, due ``minutes_ago``, waiting for the dispatcher."""
    now = timezone.now()
    touchpoint = touchpoint or make_touchpoint()
    fields.setdefault("contact", make_contact(language="en"))
    return make_invitation(
        survey=touchpoint.survey,
        touchpoint=touchpoint,
        status=Invitation.Status.SCHEDULED,
        scheduled_for=now - timedelta(minutes=minutes_ago),
        now=now,
        sent_at=None,
        **fields,
    )


def make_response(*, survey: Survey | None = None, score: int = 9, **fields) -> Response:
    survey = survey or make_survey()
    fields.setdefault("channel", Response.Channel.LINK)
    fields.setdefault("language", "en")
    for name, value in comment_fields(fields.get("comment", ""), fields["language"]).items():
        fields.setdefault(name, value)
    return Response.objects.create(survey=survey, kind=survey.kind, score=score, **fields)


def make_api_token(*, user, write: bool = False, name: str = "shop backend") -> str:
    """A new API token for ``user``; returns the plain token for the Authorization header."""
    return ApiToken.issue(user=user, name=name, write=write)[1]


def answer_by_link(survey: Survey, score: int, at: datetime, **fields) -> Response:
    """A link answer stored the way the link page stores it, so the daily tally counts it: anonymous
    unless it has an ``identity``."""
    return record_public_answer(
        survey=survey,
        channel=Response.Channel.LINK,
        score=score,
        comment=fields.get("comment", ""),
        language=fields.get("language", "de"),
        identity=fields.get("identity") or Identity(),
        properties=fields.get("properties") or {},
        now=at,
    )


def make_subscription(*, owner, url: str = "https://203.0.113.10/hooks", **fields) -> Subscription:
    """A webhook subscription to every event, stored without checking its URL (tests deliver to loopback)."""
    fields.setdefault("events", list(EventType.values))
    return Subscription.objects.create(owner=owner, url=url, **fields)


def make_message(subscription, *, status="failed", created_at=None, attempts=13) -> Message:
    """A message as delivery leaves it: failed ones after a day of attempts."""
    created_at = created_at or timezone.now()
    return Message.objects.create(
        subscription=subscription,
        type="response.created",
        payload={"type": "response.created"},
        created_at=created_at,
        status=status,
        next_attempt_at=created_at if status == "pending" else None,
        attempts=attempts,
        first_attempt_at=created_at,
        claimed_at=created_at if status == "sending" else None,
    )
