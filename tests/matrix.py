"""The world of the permission matrix: two teams' surveys with everything that hangs on them,
one person of each role, and a way to ask any URL of the project as any of them."""

import json
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit import log as audit_log
from delighted_compat.models import Project
from feedback import exports
from feedback.models import ExportRecord
from followup.cases import open_case
from followup.digests import unsubscribe_token as digest_unsubscribe_token
from followup.models import AlertRule, Digest, Recheck, ReplyTemplate, ResponseTag, Tag
from insights.models import Theme
from surveys import roles
from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import Event, LegalInformation, PropertyLabel, Response
from tests.factories import (
    make_api_token,
    make_contact,
    make_invitation,
    make_message,
    make_staff,
    make_subscription,
    make_survey,
    make_team,
    make_touchpoint,
)
from webhooks.models import Delivery

# Who asks: one person of each role, staff without permissions, a deactivated account, nobody,
# and a CX manager of another team, for whom the first team's surveys do not exist.
ROLES = ("admin", "cx_manager", "analyst", "agent", "outsider", "inactive", "anonymous", "foreign")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORM = "application/x-www-form-urlencoded"


def url_patterns() -> list[tuple[str, str]]:
    """(name, route) of every URL pattern of the project, from the resolver; unnamed ones by route."""

    def walk(patterns, prefix: str, namespace: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else None
                yield from walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    inner or pattern.namespace or namespace,
                )
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                yield name or f"{namespace}:{route}", route

    return sorted(set(walk(get_resolver().url_patterns, "", "")))


@dataclass
class World:
    objects: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)

    def ask(self, role: str, method: str, path: str, body: object | None = None, *, api: bool) -> int:
        """The status ``path`` answers ``role``; whatever the request changes is rolled back, and
        it counts towards no rate limit."""
        client = self.clients[role]
        headers = {"Accept-Language": "en"}
        if api and self.tokens.get(role) and path.startswith("/delighted/"):
            # Delighted's clients send the key as the user name of HTTP Basic.
            headers["Authorization"] = "Basic " + b64encode(f"{self.tokens[role]}:".encode()).decode()
        elif api and self.tokens.get(role):
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if api:
            data, content_type = json.dumps(body if body is not None else {}), "application/json"
        else:
            data, content_type = urlencode(body if isinstance(body, dict) else {}, doseq=True), FORM
        with transaction.atomic():
            if method == "GET":
                response = client.get(path, headers=headers)
            else:
                response = client.generic(method, path, data, content_type=content_type, headers=headers)
            transaction.set_rollback(True)
        cache.clear()
        return response.status_code


def build_world() -> World:
    """Team A's survey with a touchpoint, contact, event, invitation, response, export and webhook
    subscription of its CX manager; team B's survey, whose CX manager is "foreign" to team A."""
    world = World()
    survey = make_survey(kind="nps", name="Team A")
    other = make_survey(kind="nps", name="Team B")
    touchpoint = make_touchpoint(survey=survey, slug="a-delivery")
    contact = make_contact(email="anna@example.com")
    event = Event.objects.create(touchpoint=touchpoint, contact=contact, occurred_at=timezone.now())
    invitation = make_invitation(survey=survey, touchpoint=touchpoint, contact=contact, event=event)
    response = invitation.record_answer(score=3, comment="Zu spät", language="de", now=timezone.now())

    users = {
        "admin": make_staff("admin-role", roles.ADMIN),
        "cx_manager": make_staff("manager", roles.CX_MANAGER),
        "analyst": make_staff("analyst", roles.ANALYST),
        "agent": make_staff("agent", roles.AGENT),
        "outsider": make_staff("outsider"),
        "inactive": make_staff("former", roles.CX_MANAGER),
        "foreign": make_staff("foreigner", roles.CX_MANAGER),
    }
    make_team(
        "A",
        surveys=[survey],
        members=[users[role] for role in ("cx_manager", "analyst", "agent", "inactive")],
    )
    make_team("B", surveys=[other], members=[users["foreign"]])
    world.tokens = {role: make_api_token(user=user, write=True) for role, user in users.items()}
    # Each token is also the key of a Delighted project answered by team A's touchpoint.
    for user in users.values():
        Project.objects.create(token=user.api_tokens.get(), touchpoint=touchpoint)
    users["inactive"].is_active = False
    users["inactive"].save(update_fields=["is_active"])

    manager = users["cx_manager"]
    export = exports.Export.from_filters({"survey": [str(survey.pk)]}, user=manager, personal=True)
    record = exports.prepared_record(manager, export, "csv", {"survey": [str(survey.pk)]})
    exports.prepare_export(record_id=record.pk)
    subscription = make_subscription(owner=manager)
    message = make_message(subscription)
    Delivery.objects.create(
        subscription=subscription,
        message=message,
        attempt=1,
        status="failed",
        duration_ms=5,
        attempted_at=timezone.now() - timedelta(minutes=1),
    )

    seen_at = {"user_agent": "Firefox", "ip_address": "198.51.100.7", "http_accept": "*/*"}
    seen_at["path_info"] = "/login/"
    attempt = AccessAttempt.objects.create(
        username="someone", get_data="", post_data="", failures_since_start=1, **seen_at
    )
    failure = AccessFailureLog.objects.create(username="someone", **seen_at)
    access = AccessLog.objects.create(username="someone", session_hash="", **seen_at)
    device = TOTPDevice.objects.create(user=make_staff("phone-owner"), name="Phone", confirmed=True)
    audit_event = audit_log.record(
        audit_log.Action.SETTINGS_CHANGED, user=users["admin"], object_repr="world"
    )
    retention_run = audit_log.record(audit_log.Action.RETENTION_RUN, details={"cleared": {"comments": 1}})

    digest = Digest.objects.create(user=manager)
    case, _opened = open_case(response=response, now=timezone.now(), sla_hours=48)
    ResponseTag.objects.create(response=response, tag=Tag.objects.create(name="Lieferung"))
    recheck = Recheck.objects.create(
        case=case, due_at=timezone.now(), language="de", status=Recheck.Status.SENT, sent_at=timezone.now()
    )
    reply_template = ReplyTemplate.objects.create(
        name="Sorry", language="en", subject="Sorry", body="We are sorry."
    )

    world.users = users
    world.objects = {
        "survey": survey,
        "touchpoint": touchpoint,
        "contact": contact,
        "event": event,
        "invitation": invitation,
        "response": Response.objects.get(pk=response.pk),
        "record": ExportRecord.objects.get(pk=record.pk),
        "subscription": subscription,
        "message": message,
        "delivery": Delivery.objects.get(),
        "team": survey.teams.get(),
        "group": users["agent"].groups.get(),
        "user": users["agent"],
        "apitoken": users["cx_manager"].api_tokens.get(),
        "unsubscribe": unsubscribe_token(contact),
        "digest_unsubscribe": digest_unsubscribe_token(digest),
        "case": case,
        "accessattempt": attempt,
        "accessfailurelog": failure,
        "accesslog": access,
        "totpdevice": device,
        "auditevent": audit_event,
        "retentionrun": retention_run,
        "recheck": recheck,
        "propertylabel": PropertyLabel.objects.create(name="customer_since", label_en="Customer since"),
        "theme": Theme.objects.create(name="Lieferung", include="liefer*"),
        "legalinformation": LegalInformation.objects.get_or_create(pk=LegalInformation.ONLY_ID)[0],
        "replytemplate": reply_template,
        "alertrule": AlertRule.objects.create(survey=survey, name="Detractors", categories=["detractor"]),
        "project": Project.objects.get(token__user=users["admin"]),
    }
    for role in ROLES:
        client = Client()
        if role in users:
            client.force_login(users[role])
        world.clients[role] = client
    return world
