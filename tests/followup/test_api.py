"""The follow-up's API: cases, their notes, tags and a response's tags, per role, token scope and
team; bad input is refused with a message and changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from followup.cases import open_case
from followup.models import Case, CaseEntry, ResponseTag, Tag
from surveys import roles
from tests.factories import make_api_token, make_response, make_staff, make_survey, make_team, take_away

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"
TAGS = "/api/v1/tags/"


def call(client, method, url, token, body=None, **params):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    if method == "get":
        return client.get(url, params, headers=headers)
    return getattr(client, method)(url, body, content_type="application/json", headers=headers)


@pytest.fixture
def world():
    """Team A (a CX manager, an agent, an analyst) with survey A and two cases, one overdue;
    team B's survey with a case of its own."""
    manager = make_staff("manager-a", roles.CX_MANAGER)
    agent = make_staff("agent-a", roles.AGENT)
    analyst = make_staff("analyst-a", roles.ANALYST)
    stranger = make_staff("agent-b", roles.AGENT)
    ours, theirs = make_survey(name="A"), make_survey(name="B")
    team = make_team("A", surveys=[ours], members=[manager, agent, analyst])
    make_team("B", surveys=[theirs], members=[stranger])
    now = timezone.now()
    late, _ = open_case(
        response=make_response(survey=ours, score=2), now=now - timedelta(days=3), sla_hours=24
    )
    fresh, _ = open_case(response=make_response(survey=ours, score=5), now=now, sla_hours=48, assignee=agent)
    foreign, _ = open_case(response=make_response(survey=theirs, score=1), now=now, sla_hours=48)
    return {
        "manager": manager,
        "agent": agent,
        "analyst": analyst,
        "stranger": stranger,
        "team": team,
        "ours": ours,
        "late": late,
        "fresh": fresh,
        "foreign": foreign,
    }


def token(user, write=False):
    return make_api_token(user=user, write=write)


# Reading cases


def test_the_list_holds_the_cases_of_the_users_surveys(client, world, django_assert_max_num_queries):
    reader = token(world["agent"])
    for score in range(6):
        open_case(response=make_response(survey=world["ours"], score=score), now=timezone.now())
    with django_assert_max_num_queries(8):
        page = call(client, "get", CASES, reader)
    assert page.status_code == 200
    ids = {case["id"] for case in page.json()["results"]}
    assert len(ids) == 8
    assert str(world["late"].public_id) in ids
    assert str(world["foreign"].public_id) not in ids
    first = next(case for case in page.json()["results"] if case["id"] == str(world["late"].public_id))
    assert first["response"] == str(world["late"].response.public_id)
    assert (first["status"], first["sla"]) == ("new", "overdue")
    assert "contact" not in first


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"overdue": "true"}, {"late"}),
        ({"overdue": "false"}, {"fresh"}),
        ({"status": "new"}, {"late", "fresh"}),
        ({"status": "resolved"}, set()),
        ({"assignee": "{agent}"}, {"fresh"}),
        ({"survey": "{ours}"}, {"late", "fresh"}),
        ({"touchpoint": "0"}, {"late", "fresh"}),
    ],
)
def test_the_list_filters(client, world, params, expected):
    values = {"agent": world["agent"].pk, "ours": world["ours"].pk}
    params = {key: value.format(**values) for key, value in params.items()}
    page = call(client, "get", CASES, token(world["agent"]), **params)
    assert page.status_code == 200
    names = {name for name in ("late", "fresh") if str(world[name].public_id) in page.content.decode()}
    assert names == expected


def test_changes_since_a_moment_are_listed(client, world):
    Case.objects.filter(pk=world["late"].pk).update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    page = call(client, "get", CASES, token(world["agent"]), updated_since=since)
    assert [case["id"] for case in page.json()["results"]] == [str(world["fresh"].public_id)]


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"overdue": "maybe"}, {"assignee": "me"}, {"updated_since": "yesterday"}]
)
def test_bad_filters_are_refused_with_a_message(client, world, params):
    page = call(client, "get", CASES, token(world["agent"]), **params)
    assert page.status_code == 400
    assert page.json()["error"]["code"] == "invalid"
    assert next(iter(params)) in page.json()["error"]["fields"]


def test_another_teams_survey_or_case_is_not_found(client, world):
    reader = token(world["agent"])
    assert call(client, "get", CASES, reader, survey=str(world["foreign"].survey_id)).status_code == 404
    assert call(client, "get", f"{CASES}{world['foreign'].public_id}/", reader).status_code == 404
    assert call(client, "get", f"{CASES}{world['late'].public_id}/", reader).status_code == 200


def test_cases_need_a_token_whose_user_may_view_them(client, world):
    assert client.get(CASES).status_code == 401
    outsider = make_staff("nobody")
    assert call(client, "get", CASES, token(outsider)).status_code == 403


# Changing a case


def test_an_agent_resolves_a_case_with_its_resolution(client, world):
    url = f"{CASES}{world['late'].public_id}/"
    answer = call(
        client,
        "patch",
        url,
        token(world["agent"], write=True),
        {"status": "resolved", "resolution": "solved"},
    )
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["resolution"]) == ("resolved", "solved")
    case = Case.objects.get(pk=world["late"].pk)
    assert case.resolved_at is not None and case.first_response_at is not None
    assert case.entries.filter(kind=CaseEntry.Kind.STATUS, author=world["agent"]).exists()


def test_a_case_is_handed_over_to_a_colleague_and_a_team_with_a_new_due_time(client, world):
    due = (timezone.now() + timedelta(days=5)).isoformat()
    body = {"assignee": world["manager"].pk, "team": world["team"].pk, "due_at": due}
    answer = call(
        client, "patch", f"{CASES}{world['late'].public_id}/", token(world["agent"], write=True), body
    )
    assert answer.status_code == 200
    case = Case.objects.get(pk=world["late"].pk)
    assert (case.assignee, case.team) == (world["manager"], world["team"])
    answer = call(
        client,
        "patch",
        f"{CASES}{world['late'].public_id}/",
        token(world["agent"], write=True),
        {"assignee": None},
    )
    assert answer.json()["assignee"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "resolved"}, "resolution"),
        ({"resolution": "solved"}, "resolution"),
        ({"status": "closed"}, "status"),
        ({"assignee": "{stranger}"}, "assignee"),
        ({"assignee": 10**9}, "assignee"),
        ({"team": 10**9}, "team"),
        ({"due_at": "2030-01-01T10:00:00"}, "due_at"),
        ({"colour": "red"}, "colour"),
        ({}, "non_field_errors"),
    ],
)
def test_a_change_that_cannot_be_made_is_refused_and_nothing_changes(client, world, body, field):
    body = {key: world["stranger"].pk if value == "{stranger}" else value for key, value in body.items()}
    before = Case.objects.values().get(pk=world["late"].pk)
    answer = call(
        client, "patch", f"{CASES}{world['late'].public_id}/", token(world["agent"], write=True), body
    )
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert answer.json()["error"]["message"]
    assert Case.objects.values().get(pk=world["late"].pk) == before
    assert not world["late"].entries.exclude(kind=CaseEntry.Kind.OPENED).exists()


def test_changing_needs_a_write_token_and_the_permission(client, world):
    url = f"{CASES}{world['late'].public_id}/"
    body = {"status": "in_progress"}
    assert call(client, "patch", url, token(world["agent"]), body).status_code == 403  # read-only
    assert (
        call(client, "patch", url, token(world["analyst"], write=True), body).status_code == 403
    )  # may only view
    foreign = f"{CASES}{world['foreign'].public_id}/"
    assert call(client, "patch", foreign, token(world["agent"], write=True), body).status_code == 404
    assert call(client, "put", url, token(world["agent"], write=True), body).status_code == 405
    assert Case.objects.get(pk=world["late"].pk).status == "new"


# Notes


def test_notes_are_added_and_listed(client, world):
    url = f"{CASES}{world['late'].public_id}/notes/"
    writer = token(world["agent"], write=True)
    body = {"text": "Rückruf vereinbart", "mentions": [world["manager"].pk]}
    added = call(client, "post", url, writer, body)
    assert added.status_code == 201
    assert added.json()["mentions"] == [world["manager"].pk]
    listed = call(client, "get", url, token(world["analyst"]))
    assert [note["text"] for note in listed.json()["results"]] == ["Rückruf vereinbart"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"text": "  "}, "text"), ({}, "text"), ({"text": "x", "mentions": ["{stranger}"]}, "mentions")],
)
def test_a_bad_note_is_refused_and_nothing_stored(client, world, body, field):
    body = {key: [world["stranger"].pk] if key == "mentions" else value for key, value in body.items()}
    answer = call(
        client, "post", f"{CASES}{world['late'].public_id}/notes/", token(world["agent"], write=True), body
    )
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert not CaseEntry.objects.filter(kind=CaseEntry.Kind.NOTE).exists()


def test_notes_follow_the_permission_and_the_team(client, world):
    url = f"{CASES}{world['late'].public_id}/notes/"
    assert call(client, "post", url, token(world["analyst"], write=True), {"text": "x"}).status_code == 403
    assert call(client, "post", url, token(world["agent"]), {"text": "x"}).status_code == 403
    foreign = f"{CASES}{world['foreign'].public_id}/notes/"
    assert call(client, "get", foreign, token(world["agent"])).status_code == 404
    assert call(client, "post", foreign, token(world["agent"], write=True), {"text": "x"}).status_code == 404


# Tags


def test_tags_are_created_once_ignoring_case(client, world):
    writer = token(world["agent"], write=True)
    assert call(client, "post", TAGS, writer, {"name": "Lieferung"}).status_code == 201
    again = call(client, "post", TAGS, writer, {"name": "lieferung"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert call(client, "post", TAGS, writer, {"name": " "}).status_code == 400
    assert call(client, "post", TAGS, token(world["agent"]), {"name": "Neu"}).status_code == 403
    assert [tag["name"] for tag in call(client, "get", TAGS, token(world["analyst"])).json()["results"]] == [
        "Lieferung"
    ]


def test_a_response_is_tagged_and_untagged(client, world):
    response = world["late"].response
    url = f"/api/v1/responses/{response.public_id}/tags/"
    Tag.objects.create(name="Lieferung")
    writer = token(world["agent"], write=True)
    tagged = call(client, "post", url, writer, {"tags": ["lieferung", "Rückruf", "Rückruf"]})
    assert tagged.status_code == 200
    assert tagged.json() == {"tags": ["Lieferung", "Rückruf"]}
    assert Tag.objects.count() == 2
    assert world["late"].entries.filter(kind=CaseEntry.Kind.TAGGED).count() == 1
    assert call(client, "delete", f"{url}R%C3%BCckruf/", writer).status_code == 204
    assert list(ResponseTag.objects.values_list("tag__name", flat=True)) == ["Lieferung"]
    assert call(client, "delete", f"{url}R%C3%BCckruf/", writer).status_code == 404


def test_tagging_refuses_new_names_without_the_permission_to_create_tags(client, world):
    take_away(world["agent"], "add_tag")
    url = f"/api/v1/responses/{world['late'].response.public_id}/tags/"
    answer = call(client, "post", url, token(world["agent"], write=True), {"tags": ["Neu"]})
    assert answer.status_code == 400
    assert "Neu" in answer.json()["error"]["message"]
    assert not Tag.objects.exists() and not ResponseTag.objects.exists()


@pytest.mark.parametrize(
    "body", [{"tags": []}, {"tags": "Lieferung"}, {"tags": ["x" * 51]}, {"labels": ["a"]}]
)
def test_bad_tag_lists_are_refused(client, world, body):
    url = f"/api/v1/responses/{world['late'].response.public_id}/tags/"
    assert call(client, "post", url, token(world["agent"], write=True), body).status_code == 400
    assert not ResponseTag.objects.exists()


def test_a_response_of_another_team_is_not_found(client, world):
    url = f"/api/v1/responses/{world['foreign'].response.public_id}/tags/"
    writer = token(world["agent"], write=True)
    assert call(client, "post", url, writer, {"tags": ["x"]}).status_code == 404
    assert call(client, "delete", f"{url}x/", writer).status_code == 404
    assert (
        call(client, "post", url, token(world["stranger"]), {"tags": ["x"]}).status_code == 403
    )  # read-only


def test_the_schema_documents_the_endpoints(client, world):
    client.force_login(world["manager"])
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"get"} <= set(paths["/api/v1/cases/"])
    assert {"get", "patch"} <= set(paths["/api/v1/cases/{public_id}/"])
    assert {"get", "post"} <= set(paths["/api/v1/cases/{public_id}/notes/"])
    assert {"get", "post"} <= set(paths["/api/v1/tags/"])
    assert {"post"} <= set(paths["/api/v1/responses/{public_id}/tags/"])
    assert {"delete"} <= set(paths["/api/v1/responses/{public_id}/tags/{name}/"])
