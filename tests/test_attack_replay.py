"""The attack that opened the work on roles, replayed end to end: a member of staff without any
permission, holding an API token that may write, tries to send the company's survey email with a
phishing text to an outside address, and to learn about and change real contacts on the way.
Every step is refused, the first already, and nothing is stored or sent. A CX manager of another
team meets the same wall, as if the survey did not exist."""

import json

import pytest
from django.core import mail
from django.db.models import Model
from django.forms.models import model_to_dict

from surveys import roles
from surveys.models import Contact, Event, Invitation, Survey, Touchpoint
from surveys.tasks import dispatch
from tests.factories import make_api_token, make_contact, make_staff, make_survey, make_team, make_touchpoint

pytestmark = pytest.mark.django_db

PHISHING = "Ihr Konto wird gesperrt. Bestätigen Sie Ihre Daten: https://evil.example/login"


def steps(survey: Survey, touchpoint: Touchpoint) -> list[tuple[str, str, dict | None]]:
    """The attack's requests, in order: (method, path, JSON body)."""
    return [
        (
            "PATCH",
            f"/api/v1/surveys/{survey.pk}/",
            {"reply_to": "support@evil.example", "email_intro_de": PHISHING, "email_intro_en": PHISHING},
        ),
        (
            "POST",
            "/api/v1/touchpoints/",
            {"survey": survey.pk, "slug": "now", "name": "Now", "delay_seconds": 0, "send_window": None},
        ),
        ("POST", "/api/v1/events/", {"touchpoint": "now", "email": "victim@example.org"}),
        # Overwrite a real contact through an event, and learn from the skip reason who they are.
        (
            "POST",
            "/api/v1/events/",
            {
                "touchpoint": touchpoint.slug,
                "email": "anna@example.com",
                "name": "Mallory",
                "legal_basis": "consent",
                "contact_properties": {"plan": "free"},
            },
        ),
        (
            "POST",
            "/api/v1/events/bulk/",
            {"events": [{"touchpoint": touchpoint.slug, "email": "x@example.org"}]},
        ),
        ("PATCH", f"/api/v1/touchpoints/{touchpoint.pk}/", {"sample_percent": 0}),
        ("GET", f"/api/v1/metrics/?survey={survey.pk}", None),
    ]


@pytest.fixture
def company():
    """Team A's live survey, a touchpoint that mails at once, and a real customer."""
    survey = make_survey(kind="nps", brand="Nordwind", reply_to="service@nordwind.example")
    touchpoint = make_touchpoint(survey=survey, slug="order-delivered", delay_seconds=0, send_window=None)
    make_team("A", surveys=[survey])
    contact = make_contact(email="anna@example.com", name="Anna Schmidt", properties={"plan": "pro"})
    return survey, touchpoint, contact


def snapshot(*objects: Model) -> list[dict]:
    for obj in objects:
        obj.refresh_from_db()
    return [model_to_dict(obj) for obj in objects]


def replay(client, token: str, survey: Survey, touchpoint: Touchpoint) -> list[int]:
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    statuses = []
    for method, path, body in steps(survey, touchpoint):
        data = json.dumps(body) if body is not None else None
        response = client.generic(method, path, data or "", content_type="application/json", headers=headers)
        statuses.append(response.status_code)
    return statuses


# Staff without any permission is refused everything (403). An Agent of another team may read
# answers, but not team A's: its metrics are unknown (404). Team B's CX manager may send and
# create, but team A's survey and touchpoint are unknown to them: 404 under their address, "does
# not exist" (400) in a body, and for each event of a bulk request (200 with a 400 per event).
ATTACKERS = {
    "no-permissions": (lambda: make_staff("intruder"), [403, 403, 403, 403, 403, 403, 403]),
    "agent": (
        lambda: make_staff("agent", roles.AGENT, team=make_team("A2")),
        [403, 403, 403, 403, 403, 403, 404],
    ),
    "foreign-team": (
        lambda: make_staff("foreigner", roles.CX_MANAGER, team=make_team("B", surveys=[make_survey()])),
        [404, 400, 400, 400, 200, 404, 404],
    ),
}


@pytest.mark.parametrize("attacker", ATTACKERS)
def test_the_attack_is_refused_at_every_step_and_nothing_is_stored_or_sent(client, company, attacker):
    survey, touchpoint, contact = company
    make_user, expected = ATTACKERS[attacker]
    token = make_api_token(user=make_user(), write=True)
    before = snapshot(survey, touchpoint, contact)
    counts = (Touchpoint.objects.count(), Event.objects.count(), Contact.objects.count())

    statuses = replay(client, token, survey, touchpoint)
    dispatch()  # whatever had been queued would go out now

    assert statuses == expected
    assert snapshot(survey, touchpoint, contact) == before
    assert (Touchpoint.objects.count(), Event.objects.count(), Contact.objects.count()) == counts
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_the_same_steps_succeed_for_the_surveys_cx_manager(client, company):
    """The wall is the permission, not a broken endpoint: team A's CX manager passes every step."""
    survey, touchpoint, _contact = company
    manager = make_staff("manager", roles.CX_MANAGER)
    survey.teams.get().members.add(manager)
    statuses = replay(client, make_api_token(user=manager, write=True), survey, touchpoint)
    assert statuses == [200, 201, 202, 202, 200, 200, 200]
    survey.refresh_from_db()
    assert survey.reply_to == "support@evil.example"  # what a CX manager may do, a CX manager did
