"""Every door of the project, asked by every kind of person with every method.

The URL patterns come from the resolver, so a new URL without an entry here fails the suite. Each
entry says how to reach the URL in the world of ``tests/matrix.py`` (team A's survey and what hangs
on it) and what each role must get for each method: ``ok`` for those who may, 403 for the other
staff (401 on the API), the login (302) for nobody, and for the CX manager of team B the answer to
an unknown id: 404, or in the back office its redirect for objects that do not exist. Whatever a
request changes is rolled back before the next one.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from tests.matrix import METHODS, ROLES, World, build_world, url_patterns

pytestmark = pytest.mark.django_db

SIGNED_OUT = {"inactive", "anonymous"}
STAFF = set(ROLES) - SIGNED_OUT
ADMIN = {"admin"}
MANAGERS = {"admin", "cx_manager", "foreign"}  # "foreign" is a CX manager too, of team B
READERS = MANAGERS | {"analyst", "agent"}  # dashboards and answers
EXPORTERS = MANAGERS | {"analyst"}  # and webhooks, API tokens
CASE_WORKERS = {"admin", "cx_manager", "agent"}  # change cases and note on them
CASE_STAFF = CASE_WORKERS | {"foreign"}  # and team B's CX manager, on team B's cases
NOT_FOUND = 404


@dataclass(frozen=True)
class Entry:
    """How to reach a URL, and per method the status each role gets."""

    path: Callable[[World], str]
    expected: dict[str, dict[str, int]]
    api: bool = False
    bodies: dict[str, object] = field(default_factory=dict)


def statuses(ok: int, allowed: set[str], *, api: bool, foreign: int | None = None) -> dict[str, int]:
    """``ok`` for ``allowed``, 403 for the other staff, 401 (API) or the login (302) for nobody;
    ``foreign`` for team B's CX manager where the object is team A's."""
    answer = {role: ok if role in allowed else 403 for role in STAFF}
    if foreign is not None:
        answer["foreign"] = foreign
    return answer | dict.fromkeys(SIGNED_OUT, 401 if api else 302)


def api(ok: int, allowed: set[str], foreign: int | None = None) -> dict[str, int]:
    return statuses(ok, allowed, api=True, foreign=foreign)


def page(ok: int, allowed: set[str], foreign: int | None = None) -> dict[str, int]:
    return statuses(ok, allowed, api=False, foreign=foreign)


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def row(statuses: str) -> dict[str, int]:
    """Statuses in the order of ROLES: admin, CX manager, analyst, agent, outsider, inactive,
    anonymous, foreign."""
    return dict(zip(ROLES, map(int, statuses.split()), strict=True))


def methods(otherwise: dict[str, int], **given: dict[str, int]) -> dict[str, dict[str, int]]:
    """The statuses of the methods given, and ``otherwise`` for all others."""
    return {method: given.get(method, otherwise) for method in METHODS}


def url(name: str, *args: Callable[[World], object], query: Callable[[World], str] | None = None):
    def build(world: World) -> str:
        path = reverse(name, args=[arg(world) for arg in args])
        return f"{path}?{query(world)}" if query else path

    return build


def fixed(path: str) -> Callable[[World], str]:
    return lambda world: path


def pk(key: str) -> Callable[[World], object]:
    return lambda world: world.objects[key].pk


def public_id(key: str) -> Callable[[World], object]:
    return lambda world: world.objects[key].public_id


def survey_query(extra: str = "") -> Callable[[World], str]:
    return lambda world: f"survey={world.objects['survey'].pk}{extra}"


SURVEY_BODY = {"name": "New", "kind": "nps", "brand": "Beta"}
EVENT_BODY = {"touchpoint": "a-delivery", "email": "new@example.com"}  # team A's touchpoint
SIGNED_OUT_API = {"inactive": 401, "anonymous": 401}
# The set-up page's form for team A's touchpoint: two days after the event, weekdays 9–18.
TOUCHPOINT_FORM = {
    "name": "Delivery",
    "slug": "a-delivery",
    "survey": "{survey}",
    "recontact_days": "30",
    "sample_percent": "100",
    "delay_amount": "2",
    "delay_unit": "days",
    "send_days": ["0", "1", "2", "3", "4"],
    "send_start": "09:00",
    "send_end": "18:00",
}

API: dict[str, Entry] = {
    # Reporting events needs the permission to send; team B knows no team A touchpoint.
    "surveys:api_events": Entry(
        url("surveys:api_events"),
        methods(api(405, MANAGERS), POST=api(202, MANAGERS, foreign=400)),
        api=True,
        bodies={"POST": EVENT_BODY},
    ),
    "surveys:api_events_bulk": Entry(
        url("surveys:api_events_bulk"),
        methods(api(405, MANAGERS), POST=api(200, MANAGERS)),  # each event's own status is inside
        api=True,
        bodies={"POST": {"events": [EVENT_BODY]}},
    ),
    "surveys:api-survey-list": Entry(
        url("surveys:api-survey-list"),
        methods(api(405, STAFF), GET=api(200, READERS), POST=api(201, MANAGERS)),
        api=True,
        bodies={"POST": SURVEY_BODY},
    ),
    "surveys:api-survey-detail": Entry(
        url("surveys:api-survey-detail", pk("survey")),
        methods(
            api(405, STAFF),
            GET=api(200, READERS, foreign=NOT_FOUND),
            PUT=api(200, MANAGERS, foreign=NOT_FOUND),
            PATCH=api(200, MANAGERS, foreign=NOT_FOUND),
        ),
        api=True,
        bodies={"PUT": SURVEY_BODY},
    ),
    "surveys:api-touchpoint-list": Entry(
        url("surveys:api-touchpoint-list"),
        # Team B may not make a touchpoint for team A's survey: that survey is unknown to them.
        methods(api(405, STAFF), GET=api(200, READERS), POST=api(201, MANAGERS, foreign=400)),
        api=True,
        bodies={"POST": {"slug": "new", "name": "New", "survey": "{survey}"}},
    ),
    "surveys:api-touchpoint-detail": Entry(
        url("surveys:api-touchpoint-detail", pk("touchpoint")),
        methods(
            api(405, STAFF),
            GET=api(200, READERS, foreign=NOT_FOUND),
            PUT=api(400, MANAGERS, foreign=NOT_FOUND),  # a PUT names every field
            PATCH=api(200, MANAGERS, foreign=NOT_FOUND),
        ),
        api=True,
    ),
    # Contacts are the company's, not a team's: whoever may view contacts sees them all; only who
    # may delete them (Admins) erases one, by its id or by its address.
    "privacy:api-contact-list": Entry(
        url("privacy:api-contact-list", query=lambda world: "email=anna@example.com"),
        methods(api(405, STAFF), GET=api(200, MANAGERS), POST=api(201, MANAGERS), DELETE=api(204, ADMIN)),
        api=True,
        bodies={"POST": {"email": "new@example.com"}},
    ),
    "privacy:api-contact-detail": Entry(
        url("privacy:api-contact-detail", pk("contact")),
        methods(
            api(405, STAFF),
            GET=api(200, MANAGERS),
            PUT=api(200, MANAGERS),
            PATCH=api(200, MANAGERS),
            DELETE=api(204, ADMIN),
        ),
        api=True,
    ),
    # Everything held about a contact (right of access), for whoever may view contacts.
    "privacy:api-contact-export": Entry(
        url("privacy:api-contact-export", pk("contact")),
        methods(api(405, STAFF), GET=api(200, MANAGERS)),
        api=True,
    ),
    "surveys:api-invitation-list": Entry(
        url("surveys:api-invitation-list", query=survey_query()),
        methods(api(405, STAFF), GET=api(200, MANAGERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "surveys:api-invitation-detail": Entry(
        url("surveys:api-invitation-detail", pk("invitation")),
        methods(api(405, STAFF), GET=api(200, MANAGERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "feedback:api_metrics": Entry(
        url("feedback:api_metrics", query=survey_query()),
        methods(api(405, READERS), GET=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "insights:api_terms": Entry(
        url("insights:api_terms", query=survey_query("&compare=categories")),
        methods(api(405, READERS), GET=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "insights:api_themes": Entry(
        url("insights:api_themes", query=survey_query()),
        methods(api(405, READERS), GET=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "insights:api_tone": Entry(
        url("insights:api_tone", query=survey_query()),
        methods(api(405, READERS), GET=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "feedback:api-response-list": Entry(
        url("feedback:api-response-list", query=survey_query()),
        methods(api(405, STAFF), GET=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "feedback:api-response-detail": Entry(
        url("feedback:api-response-detail", public_id("response")),
        methods(api(405, STAFF), GET=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    # A token sees its own user's exports only: the CX manager's export is unknown to the others.
    # Cases: whoever may view them, of their teams' surveys; changing and noting for who works on them.
    "followup:api-case-list": Entry(
        url("followup:api-case-list"), methods(api(405, STAFF), GET=api(200, READERS)), api=True
    ),
    "followup:api-case-detail": Entry(
        url("followup:api-case-detail", public_id("case")),
        methods(
            api(405, STAFF),
            GET=api(200, READERS, foreign=NOT_FOUND),
            PATCH=api(200, CASE_WORKERS, foreign=NOT_FOUND),
        ),
        api=True,
        bodies={"PATCH": {"status": "in_progress"}},
    ),
    "followup:api-case-notes": Entry(
        url("followup:api-case-notes", public_id("case")),
        methods(
            api(405, STAFF),
            GET=api(200, READERS, foreign=NOT_FOUND),
            POST=api(201, CASE_WORKERS, foreign=NOT_FOUND),
        ),
        api=True,
        bodies={"POST": {"text": "Rückruf vereinbart"}},
    ),
    "followup:api-tag-list": Entry(
        url("followup:api-tag-list"),
        methods(api(405, STAFF), GET=api(200, READERS), POST=api(201, READERS)),
        api=True,
        bodies={"POST": {"name": "Rückruf"}},
    ),
    "followup:api-response-tags": Entry(
        url("followup:api-response-tags", public_id("response")),
        methods(api(405, STAFF), POST=api(200, READERS, foreign=NOT_FOUND)),
        api=True,
        bodies={"POST": {"tags": ["Lieferung", "Rückruf"]}},
    ),
    "followup:api-response-tag": Entry(
        url("followup:api-response-tag", public_id("response"), lambda world: "Lieferung"),
        methods(api(405, STAFF), DELETE=api(204, READERS, foreign=NOT_FOUND)),
        api=True,
    ),
    "feedback:api-export-list": Entry(
        url("feedback:api-export-list"),
        methods(api(405, EXPORTERS), GET=api(200, EXPORTERS), POST=api(202, EXPORTERS, foreign=NOT_FOUND)),
        api=True,
        bodies={"POST": {"format": "csv", "filters": {"survey": "{survey}"}}},
    ),
    "feedback:api-export-detail": Entry(
        url("feedback:api-export-detail", public_id("record")),
        methods(api(405, EXPORTERS), GET=row("404 200 404 403 403 401 401 404")),
        api=True,
    ),
    "feedback:api-export-download": Entry(
        url("feedback:api-export-download", public_id("record")),
        methods(api(405, EXPORTERS), GET=row("404 200 404 403 403 401 401 404")),
        api=True,
    ),
    # A token sees and changes its own user's subscriptions only.
    "webhooks:api-webhook-list": Entry(
        url("webhooks:api-webhook-list"),
        methods(api(405, STAFF), GET=api(200, EXPORTERS), POST=api(201, EXPORTERS)),
        api=True,
        bodies={"POST": {"url": "https://203.0.113.10/hooks", "events": ["response.created"]}},
    ),
    "webhooks:api-webhook-detail": Entry(
        url("webhooks:api-webhook-detail", pk("subscription")),
        methods(
            api(405, STAFF),
            GET=row("404 200 404 403 403 401 401 404"),
            PUT=row("404 400 404 403 403 401 401 404"),
            PATCH=row("404 200 404 403 403 401 401 404"),
            DELETE=row("404 204 404 403 403 401 401 404"),
        ),
        api=True,
    ),
    "webhooks:api-webhook-deliveries": Entry(
        url("webhooks:api-webhook-deliveries", pk("subscription")),
        methods(api(405, STAFF), GET=row("404 200 404 403 403 401 401 404")),
        api=True,
    ),
    "webhooks:api-webhook-resend": Entry(
        url("webhooks:api-webhook-resend", pk("subscription")),
        methods(api(405, STAFF), POST=row("404 202 404 403 403 401 401 404")),
        api=True,
        bodies={"POST": {"failed_since": "2020-01-01T00:00:00+00:00"}},
    ),
    "webhooks:api-webhook-rotate-secret": Entry(
        url("webhooks:api-webhook-rotate-secret", pk("subscription")),
        methods(api(405, STAFF), POST=row("404 200 404 403 403 401 401 404")),
        api=True,
    ),
    "webhooks:api-webhook-test": Entry(
        url("webhooks:api-webhook-test", pk("subscription")),
        methods(api(405, STAFF), POST=row("404 202 404 403 403 401 401 404")),
        api=True,
    ),
}

SETUP_SURVEY_BODY = {
    "name": "New",
    "kind": "nps",
    "brand": "Beta",
    "active": "on",
    "expires_after_days": "30",
    "accent_color": "#2456a6",
}
PREVIEW_CHOICE = {"preview_view": "email", "preview_language": "de"}
# The schema is an API view, seen with the back office's session: no token to ask for (403).
SCHEMA_SIGNED_OUT = dict.fromkeys(SIGNED_OUT, 403)
# The app's own pages: behind the back office's login, GET only (or POST only).
GET_ONLY = page(405, STAFF)
# Delighted's API: the key (each role's token, bound to a project of team A's touchpoint) acts as its
# user may on the project's survey: team B's CX manager and staff without a team see nothing of it.
# A method the endpoint does not have is answered 405 once the key may see the survey.
PROJECT_READERS = {"admin", "cx_manager", "analyst", "agent"}
PEOPLE_KEEPERS = {"admin", "cx_manager"}  # view, add and change contacts; send surveys


def delighted(route: str, key: str | None = None) -> Callable[[World], str]:
    return lambda world: "/delighted/v1/" + route.format(key=world.objects[key].pk if key else "")


API |= {
    "delighted_compat:people": Entry(
        delighted("people.json"),
        methods(api(405, PROJECT_READERS), GET=api(200, PEOPLE_KEEPERS), POST=api(200, PEOPLE_KEEPERS)),
        api=True,
        bodies={"POST": {"email": "new@example.com"}},
    ),
    "delighted_compat:person": Entry(
        delighted("people/{key}", "contact"),
        methods(api(405, PROJECT_READERS), DELETE=api(202, ADMIN)),  # erasing a contact is the Admin's
        api=True,
    ),
    "delighted_compat:pending": Entry(
        delighted("people/anna@example.com/survey_requests/pending.json"),
        methods(api(405, PROJECT_READERS), DELETE=api(200, PEOPLE_KEEPERS)),
        api=True,
    ),
    "delighted_compat:survey_responses": Entry(
        delighted("survey_responses.json"),
        # Adding answers by hand is the Admin's: they count in every figure.
        methods(api(405, PROJECT_READERS), GET=api(200, PROJECT_READERS), POST=api(201, ADMIN)),
        api=True,
        bodies={"POST": {"person": "{contact}", "score": 9}},
    ),
    "delighted_compat:survey_response": Entry(
        delighted("survey_responses/{key}.json", "response"),
        methods(api(405, PROJECT_READERS), GET=api(200, PROJECT_READERS), PUT=api(200, ADMIN)),
        api=True,
        bodies={"PUT": {"score": 5}},
    ),
    "delighted_compat:metrics": Entry(
        delighted("metrics.json"), methods(api(405, PROJECT_READERS), GET=api(200, PROJECT_READERS)), api=True
    ),
    "delighted_compat:unsubscribes": Entry(
        delighted("unsubscribes.json"),
        methods(api(405, PROJECT_READERS), GET=api(200, PEOPLE_KEEPERS), POST=api(200, PEOPLE_KEEPERS)),
        api=True,
        bodies={"POST": {"person_email": "anna@example.com"}},
    ),
    "delighted_compat:bounces": Entry(
        delighted("bounces.json"), methods(api(405, PROJECT_READERS), GET=api(200, PEOPLE_KEEPERS)), api=True
    ),
    "delighted_compat:autopilot": Entry(
        delighted("autopilot/email.json"),
        methods(api(405, PROJECT_READERS), GET=api(200, PROJECT_READERS)),
        api=True,
    ),
    # The project has no Autopilot touchpoint: adding is refused as invalid, and removing names nobody.
    "delighted_compat:autopilot_memberships": Entry(
        delighted("autopilot/email/memberships.json"),
        methods(
            api(405, PROJECT_READERS),
            GET=api(200, PEOPLE_KEEPERS),
            POST=api(422, PEOPLE_KEEPERS),
            DELETE=api(422, PEOPLE_KEEPERS),
        ),
        api=True,
        bodies={"POST": {"person_email": "anna@example.com"}},
    ),
}

PAGES: dict[str, Entry] = {
    "feedback:home": Entry(url("feedback:home"), methods(GET_ONLY, GET=page(200, READERS))),
    "feedback:dashboard": Entry(
        url("feedback:dashboard", query=survey_query()),
        methods(GET_ONLY, GET=page(200, READERS, foreign=NOT_FOUND)),
    ),
    "feedback:verbatims": Entry(
        url("feedback:verbatims", query=survey_query()),
        methods(GET_ONLY, GET=page(200, READERS, foreign=NOT_FOUND)),
    ),
    "insights:insights": Entry(
        url("insights:insights", query=survey_query()),
        methods(GET_ONLY, GET=page(200, READERS, foreign=NOT_FOUND)),
    ),
    "feedback:export_verbatims": Entry(
        url("feedback:export_verbatims", query=survey_query("&format=csv")),
        methods(GET_ONLY, GET=page(200, EXPORTERS, foreign=NOT_FOUND)),
    ),
    "feedback:prepare_export": Entry(
        url("feedback:prepare_export"),
        methods(GET_ONLY, POST=page(302, EXPORTERS, foreign=NOT_FOUND)),
        bodies={"POST": {"survey": "{survey}", "format": "csv"}},
    ),
    # An answer's page, and its tags: whoever reads the answers of its survey.
    "feedback:response": Entry(
        url("feedback:response", public_id("response")),
        methods(GET_ONLY, GET=page(200, READERS, foreign=NOT_FOUND)),
    ),
    "feedback:add_tag": Entry(
        url("feedback:add_tag", public_id("response")),
        methods(GET_ONLY, POST=page(302, READERS, foreign=NOT_FOUND)),
        bodies={"POST": {"name": "Lieferung"}},
    ),
    "feedback:remove_tag": Entry(
        url("feedback:remove_tag", public_id("response")),
        methods(GET_ONLY, POST=page(302, READERS, foreign=NOT_FOUND)),
        bodies={"POST": {"tag": "1"}},
    ),
    "feedback:exports": Entry(url("feedback:exports"), methods(GET_ONLY, GET=page(200, EXPORTERS))),
    # The CX manager's export: theirs and an Admin's to see; unknown to the others.
    "feedback:export": Entry(
        url("feedback:export", public_id("record")),
        methods(GET_ONLY, GET=row("200 200 404 403 403 302 302 404")),
    ),
    "feedback:export_status": Entry(
        url("feedback:export_status", public_id("record")),
        methods(GET_ONLY, GET=row("200 200 404 403 403 302 302 404")),
    ),
    "feedback:download_export": Entry(
        url("feedback:download_export", public_id("record")),
        methods(GET_ONLY, GET=row("200 200 404 403 403 302 302 404")),
    ),
    # Follow-up cases: read by whoever reads answers, worked on by CX managers and agents; another
    # team's case is unknown. The permission is asked before the method.
    "followup:inbox": Entry(url("followup:inbox"), methods(page(405, READERS), GET=page(200, READERS))),
    "followup:bulk_change": Entry(
        url("followup:bulk_change"),
        methods(page(405, CASE_STAFF), POST=page(303, CASE_STAFF, foreign=NOT_FOUND)),
        bodies={"POST": {"case": "{case}", "bulk-status": "in_progress"}},
    ),
    "followup:case": Entry(
        url("followup:case", public_id("case")),
        methods(page(405, READERS), GET=page(200, READERS, foreign=NOT_FOUND)),
    ),
    "followup:change_case": Entry(
        url("followup:change_case", public_id("case")),
        methods(page(405, CASE_STAFF), POST=page(302, CASE_STAFF, foreign=NOT_FOUND)),
        bodies={"POST": {"status": "in_progress"}},
    ),
    "followup:add_note": Entry(
        url("followup:add_note", public_id("case")),
        methods(page(405, CASE_STAFF), POST=page(302, CASE_STAFF, foreign=NOT_FOUND)),
        bodies={"POST": {"text": "Called her back"}},
    ),
    # The world's contact has no legal basis for being written to: the reply is refused (409).
    "followup:reply": Entry(
        url("followup:reply", public_id("case")),
        methods(page(405, CASE_STAFF), POST=page(409, CASE_STAFF, foreign=NOT_FOUND)),
        bodies={"POST": {"subject": "Sorry", "body": "We are sorry."}},
    ),
    "followup:open_case": Entry(
        url("followup:open_case", public_id("response")),
        methods(page(405, CASE_STAFF), POST=page(302, CASE_STAFF, foreign=NOT_FOUND)),
    ),
    # The digest: each user's own, for those who may read feedback.
    "followup:digest": Entry(
        url("followup:digest"),
        methods(GET_ONLY, GET=page(200, READERS), POST=page(302, READERS)),
        bodies={"POST": {"frequency": "daily", "hour": "8", "time_zone": "Europe/Berlin", "language": "en"}},
    ),
    # Set-up pages: touchpoints for whoever may add or change them, read by whoever may view them;
    # another team's touchpoint is unknown, and so is its survey in a new touchpoint's form (400).
    "setup:new_touchpoint": Entry(
        url("setup:new_touchpoint"),
        methods(GET_ONLY, GET=page(200, MANAGERS), POST=page(302, MANAGERS, foreign=400)),
        bodies={"POST": TOUCHPOINT_FORM | {"slug": "new"}},
    ),
    "setup:touchpoint": Entry(
        url("setup:touchpoint", pk("touchpoint")),
        methods(
            GET_ONLY,
            GET=page(200, READERS, foreign=NOT_FOUND),
            POST=page(302, MANAGERS, foreign=NOT_FOUND),
        ),
        bodies={"POST": TOUCHPOINT_FORM},
    ),
    # Set-up pages: whoever may add or change surveys, on their own teams' surveys.
    "setup:index": Entry(url("setup:index"), methods(page(405, MANAGERS), GET=page(200, MANAGERS))),
    "setup:new_survey": Entry(
        url("setup:new_survey"),
        methods(page(405, MANAGERS), GET=page(200, MANAGERS), POST=page(302, MANAGERS)),
        bodies={"POST": SETUP_SURVEY_BODY},
    ),
    "setup:new_survey_preview": Entry(
        url("setup:new_survey_preview"),
        methods(page(405, MANAGERS), POST=page(200, MANAGERS)),
        bodies={"POST": {**SETUP_SURVEY_BODY, **PREVIEW_CHOICE}},
    ),
    "setup:survey": Entry(
        url("setup:survey", pk("survey")),
        methods(
            page(405, MANAGERS),
            GET=page(200, MANAGERS, foreign=NOT_FOUND),
            POST=page(302, MANAGERS, foreign=NOT_FOUND),
        ),
        bodies={"POST": SETUP_SURVEY_BODY},
    ),
    "setup:survey_preview": Entry(
        url("setup:survey_preview", pk("survey")),
        methods(page(405, MANAGERS), POST=page(200, MANAGERS, foreign=NOT_FOUND)),
        bodies={"POST": {**SETUP_SURVEY_BODY, **PREVIEW_CHOICE}},
    ),
    # A test email goes to the user's own address (every user of the world has one).
    "setup:test_email": Entry(
        url("setup:test_email", pk("survey")),
        methods(page(405, MANAGERS), POST=page(302, MANAGERS, foreign=NOT_FOUND)),
        bodies={"POST": {"language": "en"}},
    ),
    # The API's description, for the back office's people unless API_DOCS_PUBLIC says otherwise.
    "api_schema": Entry(
        url("api_schema"),
        methods(api(405, STAFF) | SCHEMA_SIGNED_OUT, GET=api(200, STAFF) | SCHEMA_SIGNED_OUT),
    ),
    "api_docs": Entry(url("api_docs"), methods(GET_ONLY, GET=page(200, STAFF))),
    # The one login page: who may use the back office goes on to the home page; PUT is taken as POST.
    "login": Entry(
        url("login"),
        methods(
            everyone(405),
            GET=everyone(302) | dict.fromkeys(SIGNED_OUT, 200),
            POST=everyone(200),
            PUT=everyone(200),
        ),
    ),
    # Resetting a forgotten password: for whoever is signed out, as for whoever is signed in.
    "admin_password_reset": Entry(
        url("admin_password_reset"),
        methods(everyone(405), GET=everyone(200), POST=everyone(200), PUT=everyone(200)),  # no address
    ),
    "password_reset_done": Entry(url("password_reset_done"), methods(everyone(405), GET=everyone(200))),
    "password_reset_confirm": Entry(
        url("password_reset_confirm", lambda world: "MQ", lambda world: "set-password"),
        methods(everyone(200)),  # a link that is not valid, said on a page whatever the method
    ),
    "password_reset_complete": Entry(
        url("password_reset_complete"), methods(everyone(405), GET=everyone(200))
    ),
}

# What respondents use answers alike whoever asks: nothing there depends on a signed-in user.
PUBLIC: dict[str, Entry] = {
    "surveys:answer": Entry(
        url("surveys:answer", lambda world: world.objects["invitation"].token),
        methods(everyone(405), GET=everyone(200), POST=everyone(400)),  # an empty answer
    ),
    "surveys:answer_thanks": Entry(
        url("surveys:answer_thanks", lambda world: world.objects["invitation"].token),
        methods(everyone(405), GET=everyone(200)),
    ),
    "surveys:link": Entry(
        url("surveys:link", lambda world: world.objects["survey"].public_key),
        methods(everyone(405), GET=everyone(200), POST=everyone(400)),
    ),
    "surveys:link_thanks": Entry(
        url("surveys:link_thanks", lambda world: world.objects["survey"].public_key),
        methods(everyone(405), GET=everyone(200)),
    ),
    "surveys:unsubscribe": Entry(
        url("surveys:unsubscribe", lambda world: world.objects["unsubscribe"]),
        methods(everyone(405), GET=everyone(200), POST=everyone(400)),  # without One-Click
    ),
    "surveys:resubscribe": Entry(
        url("surveys:resubscribe", lambda world: world.objects["unsubscribe"]),
        methods(everyone(405), POST=everyone(200)),
    ),
    # The digest's link stops it without signing in: a page that asks, then a POST.
    "followup:digest_unsubscribe": Entry(
        url("followup:digest_unsubscribe", lambda world: world.objects["digest_unsubscribe"]),
        methods(everyone(405), GET=everyone(200), POST=everyone(200)),
    ),
    "surveys:preview": Entry(
        url("surveys:preview", lambda world: world.objects["survey"].public_key),
        methods(everyone(405), GET=everyone(200)),
    ),
    "surveys:widget_survey": Entry(
        url("surveys:widget_survey", lambda world: world.objects["survey"].public_key),
        methods(everyone(405), GET=everyone(200)),
        api=True,
    ),
    "surveys:widget_answer": Entry(
        url("surveys:widget_answer"),
        methods(everyone(405), POST=everyone(403)),  # from no website on the survey's list
        api=True,
        bodies={"POST": {"key": "{key}", "score": 9}},
    ),
    "followup:recheck": Entry(
        url("followup:recheck", lambda world: world.objects["recheck"].token),
        methods(everyone(405), GET=everyone(200), POST=everyone(400)),  # no choice made
    ),
    "surveys:widget_revise": Entry(
        url("surveys:widget_revise", public_id("response")),
        methods(everyone(405), PATCH=everyone(404)),  # no survey key
        api=True,
    ),
}
# Probes of load balancers and orchestrators answer everyone alike; Prometheus' figures exist only
# with a METRICS_TOKEN, which this world does not set.
PUBLIC |= {
    "healthz": Entry(url("healthz"), methods(everyone(405), GET=everyone(200))),
    "readyz": Entry(url("readyz"), methods(everyone(405), GET=everyone(200))),
    "metrics": Entry(url("metrics"), methods(everyone(404))),
}
# Email providers' tracking webhooks do not exist until a shared secret is configured.
PUBLIC |= {
    name: Entry(fixed("/" + route), methods(everyone(404)))
    for name, route in url_patterns()
    if name.startswith("anymail:")
}

# The back office. Each model's pages follow Django's admin: the list and an object's page for
# whoever may view (or change), adding, changing and deleting for whoever may; an object of
# another team's survey, or another user's token or subscription, "does not exist" (302 to the
# index). Who may what is the roles' permissions.
VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
ALL_MANAGERS = MANAGERS | {"analyst"}
EVERYTHING = {VIEW: ADMIN, ADD: ADMIN, CHANGE: ADMIN, DELETE: ADMIN}
ADMIN_MODELS = {
    # model: (world object, {action: roles}, who finds the object)
    "surveys_survey": ("survey", {VIEW: READERS, ADD: MANAGERS, CHANGE: MANAGERS, DELETE: ADMIN}, "team"),
    "surveys_touchpoint": (
        "touchpoint",
        {VIEW: READERS, ADD: MANAGERS, CHANGE: MANAGERS, DELETE: ADMIN},
        "team",
    ),
    "surveys_contact": ("contact", {VIEW: MANAGERS, ADD: MANAGERS, CHANGE: MANAGERS, DELETE: ADMIN}, "all"),
    "surveys_event": ("event", {VIEW: MANAGERS, DELETE: ADMIN}, "team"),
    "surveys_invitation": (
        "invitation",
        {VIEW: MANAGERS, ADD: ADMIN, CHANGE: MANAGERS, DELETE: ADMIN},
        "team",
    ),
    "surveys_response": ("response", {VIEW: READERS, DELETE: ADMIN}, "team"),
    "surveys_apitoken": (
        "apitoken",
        {VIEW: ALL_MANAGERS, ADD: ALL_MANAGERS, CHANGE: ADMIN, DELETE: ALL_MANAGERS},
        "own",
    ),
    "surveys_team": ("team", EVERYTHING, "all"),
    # What properties are called: set up by the CX managers, for every survey alike.
    "surveys_propertylabel": ("propertylabel", dict.fromkeys((VIEW, ADD, CHANGE, DELETE), MANAGERS), "all"),
    # Themes of comments: set up by the CX managers, for every survey alike; seen by all who read answers.
    "insights_theme": ("theme", {VIEW: READERS, ADD: MANAGERS, CHANGE: MANAGERS, DELETE: MANAGERS}, "all"),
    "feedback_exportrecord": ("record", {VIEW: ADMIN}, "all"),
    "webhooks_subscription": (
        "subscription",
        dict.fromkeys((VIEW, ADD, CHANGE, DELETE), ALL_MANAGERS),
        "own",
    ),
    "webhooks_message": ("message", {VIEW: ALL_MANAGERS, CHANGE: ALL_MANAGERS, DELETE: ADMIN}, "own"),
    "webhooks_delivery": ("delivery", {VIEW: ALL_MANAGERS, DELETE: ADMIN}, "own"),
    # Signing in: the attempts and failures of sign-in and the second factors, the Admin's alone;
    # nobody adds attempts by hand.
    "axes_accessattempt": ("accessattempt", {VIEW: ADMIN, CHANGE: ADMIN, DELETE: ADMIN}, "all"),
    "axes_accessfailurelog": ("accessfailurelog", {VIEW: ADMIN, CHANGE: ADMIN, DELETE: ADMIN}, "all"),
    "axes_accesslog": ("accesslog", {VIEW: ADMIN, CHANGE: ADMIN, DELETE: ADMIN}, "all"),
    "otp_totp_totpdevice": ("totpdevice", EVERYTHING, "all"),
    "auth_group": ("group", EVERYTHING, "all"),
    "auth_user": ("user", EVERYTHING, "all"),
    # The audit log: the Admin's to read; nobody adds, changes or deletes an event.
    "audit_auditevent": ("auditevent", {VIEW: ADMIN}, "all"),
    "privacy_retentionrun": ("retentionrun", {VIEW: ADMIN}, "all"),
    # Reply templates: the CX managers write them, agents use them; one for every survey is found by all.
    "followup_replytemplate": (
        "replytemplate",
        {VIEW: CASE_WORKERS, ADD: MANAGERS, CHANGE: MANAGERS, DELETE: MANAGERS},
        "all",
    ),
    # Alert rules: set up by the CX managers of the rule's survey.
    "followup_alertrule": ("alertrule", dict.fromkeys((VIEW, ADD, CHANGE, DELETE), MANAGERS), "team"),
    # Which token answers as a Delighted project's key: the Admin's, as the key acts as its user.
    "delighted_compat_project": ("project", EVERYTHING, "all"),
}
READ_ONLY = {"axes_accessattempt", "axes_accessfailurelog", "axes_accesslog"}
FINDERS = {"team": STAFF - {"foreign", "outsider"}, "own": {"admin", "cx_manager"}, "all": STAFF}


def _on_object(
    allowed: set[str], found: set[str], *, existence_first: bool = False, ok: int = 200
) -> dict[str, int]:
    """An object's admin page: Django checks the permission first, then whether the object exists
    (302 to the index if not); the history page the other way round."""
    answer = {}
    for role in STAFF:
        if existence_first:
            answer[role] = 302 if role not in found else (ok if role in allowed else 403)
        else:
            answer[role] = 403 if role not in allowed else (ok if role in found else 302)
    return answer | dict.fromkeys(SIGNED_OUT, 302)


def _old_address(app: str, model: str, key: str) -> Callable[[World], str]:
    return lambda world: f"/admin/{app}/{model}/{world.objects[key].pk}/"


def _admin_model_entries() -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for model, (key, may, finders) in ADMIN_MODELS.items():
        found = FINDERS[finders]
        viewers = may.get(VIEW, set()) | may.get(CHANGE, set())
        app, name = model.rsplit("_", 1)
        obj = pk(key)
        entries |= {
            f"admin:{model}_changelist": Entry(url(f"admin:{model}_changelist"), methods(page(200, viewers))),
            f"admin:{model}_add": Entry(url(f"admin:{model}_add"), methods(page(200, may.get(ADD, set())))),
            # Only a POST changes; the admin answers every other method as it answers GET.
            f"admin:{model}_change": Entry(
                url(f"admin:{model}_change", obj),
                methods(
                    _on_object(viewers, found),
                    # an empty form is shown again with its errors; one of read-only fields is saved
                    POST=_on_object(may.get(CHANGE, set()), found, ok=302 if model in READ_ONLY else 200),
                ),
            ),
            f"admin:{model}_delete": Entry(
                url(f"admin:{model}_delete", obj), methods(_on_object(may.get(DELETE, set()), found))
            ),
            f"admin:{model}_history": Entry(
                url(f"admin:{model}_history", obj), methods(_on_object(viewers, found, existence_first=True))
            ),
            # The old address of an object's page redirects to the new one, for everyone.
            f"admin:admin/{app}/{name}/<path:object_id>/": Entry(
                _old_address(app, name, key),
                methods(everyone(302)),
            ),
        }
    return entries


def _content_type_of_survey(world: World) -> int:
    return ContentType.objects.get_for_model(world.objects["survey"]).pk


ADMIN_PAGES: dict[str, Entry] = _admin_model_entries() | {
    "admin:index": Entry(url("admin:index"), methods(page(200, STAFF))),
    "admin:app_list": Entry(
        lambda world: reverse("admin:app_list", kwargs={"app_label": "surveys"}),
        methods(page(200, READERS, foreign=200) | {"outsider": 404}),  # an app with nothing to show
    ),
    # Django's own views: PUT is taken as POST by its forms, and logging out wants a POST.
    # The admin's login address sends to the one login page, with whatever it was asked.
    "admin:login": Entry(url("admin:login"), methods(everyone(302))),
    "admin:logout": Entry(
        url("admin:logout"), methods(page(302, STAFF), GET=page(405, STAFF), POST=page(302, STAFF))
    ),
    "admin:password_change": Entry(
        url("admin:password_change"),
        methods(page(405, STAFF), GET=page(200, STAFF), POST=page(200, STAFF), PUT=page(200, STAFF)),
    ),
    "admin:password_change_done": Entry(
        url("admin:password_change_done"), methods(page(405, STAFF), GET=page(200, STAFF))
    ),
    "admin:jsi18n": Entry(url("admin:jsi18n"), methods(page(405, STAFF), GET=page(200, STAFF))),
    "admin:autocomplete": Entry(url("admin:autocomplete"), methods(page(405, STAFF), GET=page(403, set()))),
    "admin:view_on_site": Entry(
        url("admin:view_on_site", _content_type_of_survey, pk("survey")), methods(page(404, STAFF))
    ),
    "admin:admin/(?P<url>.*)$": Entry(fixed("/admin/nowhere/"), methods(page(404, STAFF))),
    # Uploading contacts asks them: the permission to send; another team's touchpoint is unknown.
    "admin:surveys_touchpoint_upload": Entry(
        url("admin:surveys_touchpoint_upload", pk("touchpoint")),
        methods(
            page(200, MANAGERS, foreign=NOT_FOUND) | {"outsider": NOT_FOUND},
            # an empty form is refused as the bad input it is
            POST=page(400, MANAGERS, foreign=NOT_FOUND) | {"outsider": NOT_FOUND},
        ),
    ),
    # Importing Delighted's exports: for staff who may add responses and contacts, which no role but
    # the Admin holds; an empty form is refused as the bad input it is.
    "admin:delighted_compat_project_import": Entry(
        url("admin:delighted_compat_project_import"), methods(page(200, ADMIN), POST=page(400, ADMIN))
    ),
    "admin:audit_auditevent_download": Entry(
        url("admin:audit_auditevent_download"), methods(page(405, STAFF), GET=page(200, ADMIN))
    ),
    "privacy_processing": Entry(url("privacy_processing"), methods(page(405, STAFF), GET=page(200, ADMIN))),
    # A contact's personal data (right of access), as a page or a JSON file: for who may view contacts.
    "admin:surveys_contact_personal_data": Entry(
        url("admin:surveys_contact_personal_data", pk("contact")),
        methods(page(405, STAFF), GET=_on_object(MANAGERS, FINDERS["all"])),
    ),
    "admin:privacy_retentionrun_preview": Entry(
        url("admin:privacy_retentionrun_preview"), methods(page(405, STAFF), GET=page(200, ADMIN))
    ),
    "admin:surveys_touchpoint_statistics": Entry(
        url("admin:surveys_touchpoint_statistics"), methods(page(200, READERS))
    ),
    # The email preview for whoever may view the survey; a test send (POST) for whoever may change
    # it (an empty form is shown again with its errors).
    "admin:surveys_survey_email": Entry(
        url("admin:surveys_survey_email", pk("survey")),
        methods(
            page(200, READERS, foreign=NOT_FOUND) | {"outsider": NOT_FOUND},
            POST=page(200, MANAGERS, foreign=NOT_FOUND) | {"outsider": NOT_FOUND},
        ),
    ),
    # A rule's dry run, for whoever may view the rule; another team's rule is unknown.
    "admin:followup_alertrule_dry_run": Entry(
        url("admin:followup_alertrule_dry_run", pk("alertrule")),
        methods(
            page(405, STAFF),
            GET=page(200, MANAGERS, foreign=NOT_FOUND),
            HEAD=page(200, MANAGERS, foreign=NOT_FOUND),
        ),
    ),
    # A device's secret is shown once, to its owner, while setting it up: never in these views.
    "admin:otp_totp_totpdevice_config": Entry(
        url("admin:otp_totp_totpdevice_config", pk("totpdevice")), methods(page(403, set()))
    ),
    "admin:otp_totp_totpdevice_qrcode": Entry(
        url("admin:otp_totp_totpdevice_qrcode", pk("totpdevice")), methods(page(403, set()))
    ),
    "admin:two_factor": Entry(url("admin:two_factor"), methods(page(200, STAFF))),
    # Drawn only while an authenticator app is being set up.
    "admin:two_factor_qr_code": Entry(
        url("admin:two_factor_qr_code"), methods(everyone(405), GET=page(404, STAFF))
    ),
    "admin:auth_user_password_change": Entry(
        url("admin:auth_user_password_change", pk("user")), methods(page(200, ADMIN))
    ),
    # The installation's legal information: one row, the Admin's alone. Its list leads to its page;
    # nobody adds or deletes it. Its fields may all be empty, so an empty form is saved.
    "admin:surveys_legalinformation_changelist": Entry(
        url("admin:surveys_legalinformation_changelist"), methods(page(302, ADMIN))
    ),
    "admin:surveys_legalinformation_add": Entry(
        url("admin:surveys_legalinformation_add"), methods(page(403, set()))
    ),
    "admin:surveys_legalinformation_change": Entry(
        url("admin:surveys_legalinformation_change", pk("legalinformation")),
        methods(_on_object(ADMIN, STAFF), POST=_on_object(ADMIN, STAFF, ok=302)),
    ),
    "admin:surveys_legalinformation_delete": Entry(
        url("admin:surveys_legalinformation_delete", pk("legalinformation")),
        methods(_on_object(set(), STAFF)),
    ),
    "admin:surveys_legalinformation_history": Entry(
        url("admin:surveys_legalinformation_history", pk("legalinformation")),
        methods(_on_object(ADMIN, STAFF, existence_first=True)),
    ),
    "admin:admin/surveys/legalinformation/<path:object_id>/": Entry(
        _old_address("surveys", "legalinformation", "legalinformation"), methods(everyone(302))
    ),
}

ENTRIES: dict[str, Entry] = API | PAGES | PUBLIC | ADMIN_PAGES


def _body(body: object, world: World) -> object:
    """A request body with the world's survey id and key, and its case's public id, where it says
    {survey}, {key} and {case}."""
    if isinstance(body, dict):
        return {name: _body(value, world) for name, value in body.items()}
    if isinstance(body, list):
        return [_body(value, world) for value in body]
    survey, case = world.objects["survey"], world.objects["case"]
    known = {
        "{survey}": survey.pk,
        "{key}": survey.public_key,
        "{case}": str(case.public_id),
        "{contact}": world.objects["contact"].pk,
    }
    return known.get(body, body) if isinstance(body, str) else body


@pytest.mark.parametrize(("name", "route"), url_patterns(), ids=[name for name, _ in url_patterns()])
def test_every_door_answers_each_role_as_it_must(name, route, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    assert name in ENTRIES, f"{name} ({route}) has no entry in the permission matrix"
    entry = ENTRIES[name]
    world = build_world()
    target = entry.path(world)
    seen = {
        method: {
            role: world.ask(role, method, target, _body(entry.bodies.get(method), world), api=entry.api)
            for role in ROLES
        }
        for method in METHODS
    }
    differences = [
        f"{method} {role}: {seen[method][role]}, expected {entry.expected[method][role]}"
        for method in METHODS
        for role in ROLES
        if seen[method][role] != entry.expected[method][role]
    ]
    assert not differences, f"{name} at {target}:\n" + "\n".join(differences)


def test_the_matrix_names_no_url_that_does_not_exist():
    assert set(ENTRIES) <= {name for name, _ in url_patterns()}
