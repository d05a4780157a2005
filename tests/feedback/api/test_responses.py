"""``/api/v1/responses/``: filters, cursor pages, personal data, bad parameters, the one error shape."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from surveys.access import pseudonym
from surveys.answering.collect import Identity
from tests.factories import make_api_token, make_survey, make_touchpoint, take_away
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
URL = "/api/v1/responses/"
CLAIMED = Identity(email="eva@example.com", external_id="K-1", name="Eva")


def get(client, token, url=URL, **params):
    return client.get(url, params, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


def ids(page) -> list[str]:
    return [item["comment"] for item in page.json()["results"]]


@pytest.fixture
def answers():
    """Four NPS answers on 10–13 November and one CSAT answer, each with a telling comment; the one
    on 11 November by an unsigned link that claims to be Eva."""
    nps = make_survey(kind="nps")
    delivery = make_touchpoint(survey=nps, name="Lieferung")
    email = answer(
        nps, 2, date(2026, 11, 10), touchpoint=delivery, comment="late", properties={"plan": "pro"}
    )
    email.contact.email, email.contact.name = "eva@example.com", "Eva"
    email.contact.save()
    answer(
        nps,
        9,
        date(2026, 11, 11),
        comment="Lieferung pünktlich",
        properties={"plan": "basic"},
        identity=CLAIMED,
    )
    answer(nps, 7, date(2026, 11, 12), comment="")
    answer(nps, 10, date(2026, 11, 13), comment="great", properties={"plan": "pro"})
    csat = make_survey(kind="csat")
    answer(csat, 3, date(2026, 11, 12), comment="so-so")
    return nps, delivery, email


def test_it_needs_a_token_whose_user_may_view_responses(client, cx_manager):
    assert client.get(URL).status_code == 401
    take_away(cx_manager, "view_response")
    refused = get(client, make_api_token(user=cx_manager))
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "permission_denied",
        "message": "The user of this API token lacks the permission for this.",
        "fields": {},
    }


def test_answers_in_time_order_with_their_context(client, token, answers):
    nps, delivery, email = answers
    page = get(client, token, survey=nps.pk)
    assert page.status_code == 200
    assert ids(page) == ["late", "Lieferung pünktlich", "", "great"]
    first = page.json()["results"][0]
    assert first == {
        "id": str(email.public_id),
        "survey": nps.pk,
        "kind": "nps",
        "touchpoint": delivery.pk,
        "channel": "email",
        "score": 2,
        "category": "detractor",
        "comment": "late",
        "language": "de",
        "contact_id": pseudonym(email.contact_id),
        "contact": {"id": email.contact_id, "external_id": "", "email": "eva@example.com", "name": "Eva"},
        "claimed_identity": None,
        "contact_properties": {"plan": "pro"},
        "event_properties": {},
        "tags": [],
        "themes": [],
        "tone": None,
        "tone_value": None,
        "created_at": "2026-11-10T12:00:00+01:00",
        "updated_at": "2026-11-10T12:00:00+01:00",
    }
    assert (
        get(client, token, ordering="-created_at", survey=nps.pk).json()["results"][0]["comment"] == "great"
    )


def test_an_unsigned_answer_shows_who_it_claims_to_be_apart_from_the_contact(client, token, answers):
    second = get(client, token).json()["results"][1]
    assert (second["contact"], second["contact_id"]) == (None, "")
    assert second["claimed_identity"] == {"external_id": "K-1", "email": "eva@example.com", "name": "Eva"}


def test_readers_who_may_not_view_contacts_get_the_pseudonym_only(client, analyst_token, answers):
    _nps, _delivery, email = answers
    first, second = get(client, analyst_token).json()["results"][:2]
    assert (first["contact"], first["claimed_identity"]) == (None, None)
    assert first["contact_id"] == pseudonym(email.contact_id)
    assert (second["contact"], second["claimed_identity"], second["contact_id"]) == (None, None, "")
    content = get(client, analyst_token).content.decode()
    assert "eva@example.com" not in content and "K-1" not in content


@pytest.mark.parametrize(
    ("params", "comments"),
    [
        ({"touchpoint": "0"}, ["Lieferung pünktlich", "", "so-so", "great"]),
        ({"since": "2026-11-11", "until": "2026-11-12"}, ["Lieferung pünktlich", "", "so-so"]),
        ({"since": "2026-11-12T12:00:00+01:00"}, ["", "so-so", "great"]),
        ({"category": "detractor"}, ["late"]),
        ({"category": "neutral"}, ["so-so"]),  # CSAT's 3 is neutral
        ({"score": "9"}, ["Lieferung pünktlich"]),
        ({"has_comment": "false"}, [""]),
        ({"has_comment": "true", "category": "promoter"}, ["Lieferung pünktlich", "great"]),
        ({"property.plan": "pro"}, ["late", "great"]),
        ({"q": "Lieferung"}, ["Lieferung pünktlich"]),
    ],
)
def test_filters(client, token, answers, params, comments):
    assert ids(get(client, token, **params)) == comments


def test_changes_since_a_moment(client, token, answers):
    _nps, _delivery, email = answers
    email.revise(score=6, comment="late, but friendly", now=datetime(2026, 11, 20, 9, 0, tzinfo=BERLIN))
    changed = get(client, token, updated_since="2026-11-20", ordering="updated_at")
    assert ids(changed) == ["late, but friendly"]
    assert changed.json()["results"][0]["updated_at"] == "2026-11-20T09:00:00+01:00"


def test_cursor_pages_stay_stable_while_answers_arrive(client, token, answers):
    nps, _delivery, _email = answers
    first = get(client, token, survey=nps.pk, limit=2).json()
    assert [item["comment"] for item in first["results"]] == ["late", "Lieferung pünktlich"]
    assert first["previous"] is None
    # An answer arrives between two pages: it comes at the end, nothing is repeated or skipped.
    answer(nps, 0, date(2026, 11, 14), comment="newest")
    second = client.get(first["next"], headers={"Authorization": f"Bearer {token}"}).json()
    assert [item["comment"] for item in second["results"]] == ["", "great"]
    third = client.get(second["next"], headers={"Authorization": f"Bearer {token}"}).json()
    assert [item["comment"] for item in third["results"]] == ["newest"]
    assert third["next"] is None


def test_one_answer_by_its_id(client, token, answers):
    _nps, _delivery, email = answers
    assert get(client, token, f"{URL}{email.public_id}/").json()["comment"] == "late"
    missing = get(client, token, f"{URL}00000000-0000-4000-8000-000000000000/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"score": "11"}, "score", "Ensure this value is less than or equal to 10."),
        (
            {"since": "yesterday"},
            "since",
            "Give a date like 2026-11-30 or a moment like 2026-11-30T14:00:00+01:00.",
        ),
        (
            {"since": "2026-02-30"},
            "since",
            "Give a date like 2026-11-30 or a moment like 2026-11-30T14:00:00+01:00.",
        ),
        ({"since": "2026-11-12", "until": "2026-11-01"}, "until", "The period must end after it starts."),
        (
            {"category": "happy"},
            "category",
            "Choose one of: detractor, difficult, dissatisfied, easy, neutral,",
        ),
        ({"touchpoint": "x"}, "touchpoint", "A valid integer is required."),
        ({"property.isnull": "1"}, "property.isnull", "“isnull” is not a property name."),
        ({"ordering": "score"}, "ordering", "Choose one of: created_at, -created_at, updated_at."),
        ({"q": "a\x00b"}, "q", "Null characters are not allowed."),
    ],
)
def test_bad_parameters_get_the_one_error_shape(client, token, answers, params, field, message):
    refused = get(client, token, **params)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert message in str(error["fields"][field])


@pytest.mark.parametrize("survey", ["999999", "x"])
def test_an_unknown_survey_is_not_found(client, token, answers, survey):
    refused = get(client, token, survey=survey)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_found"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="stemming is PostgreSQL's")
def test_search_uses_the_comments_language(client, token, answers):
    assert ids(get(client, token, q="Lieferungen")) == ["Lieferung pünktlich"]


def test_a_day_boundary_follows_the_installations_time_zone(client, token):
    survey = make_survey(kind="nps")
    answer(survey, 5, date(2026, 11, 10), hour=0, comment="just after midnight in Berlin")
    since_day = get(client, token, since="2026-11-10").json()["results"]
    assert [item["comment"] for item in since_day] == ["just after midnight in Berlin"]
    assert get(client, token, until="2026-11-09").json()["results"] == []
    assert datetime.fromisoformat(since_day[0]["created_at"]) == datetime(
        2026, 11, 9, 23, 0, tzinfo=ZoneInfo("UTC")
    )


def test_ids_beyond_the_databases_range_are_a_400_not_a_server_error(client, token, answers):
    refused = get(client, token, touchpoint=str(2**80))
    assert refused.status_code == 400
    assert "touchpoint" in refused.json()["error"]["fields"]
    assert get(client, token, touchpoint=str(2**63 - 1)).json()["results"] == []
