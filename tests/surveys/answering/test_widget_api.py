import json

import pytest

from surveys.models import Contact, Response
from tests.factories import make_contact, make_survey, sign_identity
from tests.legal import ENGLISH, GERMAN, label, set_legal_information

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"
ANSWERS = "/api/v1/widget/responses/"


@pytest.fixture
def survey():
    return make_survey(
        kind="ces",
        brand="Nordwind",
        accent_color="#ffd400",
        widget_origins=f"{SHOP}\nhttps://app.example.com",
    )


def post(client, body, *, origin=SHOP, content_type="application/json", raw=None):
    headers = {"Origin": origin, "Accept-Language": "en"} if origin else {"Accept-Language": "en"}
    data = raw if raw is not None else json.dumps(body)
    return client.post(ANSWERS, data, content_type=content_type, headers=headers)


def patch(client, public_id, body, *, origin=SHOP):
    return client.patch(
        f"{ANSWERS}{public_id}/",
        json.dumps(body),
        content_type="application/json",
        headers={"Origin": origin},
    )


def test_the_widget_gets_the_survey_texts_in_the_page_language(client, survey):
    answer = client.get(f"/api/v1/widget/surveys/{survey.public_key}/?lang=de", headers={"Origin": SHOP})
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == SHOP
    config = answer.json()
    assert config["question"] == "Nordwind hat es mir leicht gemacht, mein Anliegen zu erledigen."
    assert config["follow_up"] == "Was ist der wichtigste Grund für Ihre Bewertung?"
    assert config["scale"]["low"] == 1
    assert config["scale"]["high"] == 7
    assert config["scale"]["labels"]["7"] == "Stimme voll und ganz zu"
    assert config["ui"]["send"] == "Senden"
    assert (config["accent_color"], config["on_accent_color"]) == ("#ffd400", "#000000")
    assert "edit_token" not in config


def test_the_widget_texts_are_refused_to_a_site_not_on_the_list(client, survey):
    answer = client.get(
        f"/api/v1/widget/surveys/{survey.public_key}/", headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer
    assert answer.json()["error"]["code"] == "permission_denied"


def test_a_preflight_from_an_allowed_site_is_answered_without_credentials(client, survey):
    answer = client.options(
        ANSWERS,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in answer["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in answer


def test_a_preflight_from_another_site_gets_no_cors_permission(client, survey):
    answer = client.options(
        ANSWERS, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in answer


def test_a_signed_widget_answer_is_stored_with_its_contact_and_properties(client, survey):
    signature = sign_identity(survey, email="bob@example.com")
    body = {
        "key": survey.public_key,
        "score": 6,
        "language": "en",
        "contact": {"email": "bob@example.com", "name": "Bob", "signature": signature},
        "properties": {"plan": "pro", "page": "/checkout"},
    }
    answer = post(client, body)
    assert answer.status_code == 201
    assert answer["Access-Control-Allow-Origin"] == SHOP
    assert "Set-Cookie" not in answer
    data = answer.json()
    response = Response.objects.select_related("contact").get()
    assert data["id"] == str(response.public_id)
    assert (response.score, response.channel, response.language, response.kind) == (6, "widget", "en", "ces")
    assert (response.contact.email, response.contact.name) == ("bob@example.com", "Bob")
    assert response.claimed_email == ""
    assert response.event_properties == {"plan": "pro", "page": "/checkout"}


def test_the_comment_is_added_with_the_edit_token(client, survey):
    created = post(client, {"key": survey.public_key, "score": 2}).json()
    comment = "Die Hotline war <b>nie</b> erreichbar \U0001f620"
    answer = patch(
        client,
        created["id"],
        {"key": survey.public_key, "edit_token": created["edit_token"], "comment": comment},
    )
    assert answer.status_code == 200
    assert answer.json()["comment"] == comment
    changed = patch(
        client, created["id"], {"key": survey.public_key, "edit_token": created["edit_token"], "score": 5}
    )
    assert changed.json()["score"] == 5
    response = Response.objects.get()
    assert (response.score, response.comment) == (5, comment)
    assert response.updated_at >= response.created_at


def test_an_answer_cannot_be_changed_without_its_own_edit_token(client, survey):
    first = post(client, {"key": survey.public_key, "score": 2}).json()
    second = post(client, {"key": survey.public_key, "score": 7}).json()
    for token in [second["edit_token"], "forged", first["edit_token"] + "x"]:
        answer = patch(
            client, first["id"], {"key": survey.public_key, "edit_token": token, "comment": "hijack"}
        )
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "permission_denied"
    assert not Response.objects.filter(comment="hijack").exists()


def test_an_edit_token_of_another_survey_does_not_work(client, survey):
    other = make_survey(kind="ces", widget_origins=SHOP)
    created = post(client, {"key": other.public_key, "score": 2}).json()
    answer = patch(
        client, created["id"], {"key": survey.public_key, "edit_token": created["edit_token"], "score": 1}
    )
    assert answer.status_code == 403
    assert Response.objects.get().score == 2


def test_an_unsigned_widget_answer_keeps_who_it_claims_to_be_apart_from_the_contact(client, survey):
    contact = make_contact(email="bob@example.com", name="Bob Builder", properties={"plan": "enterprise"})
    before = Contact.objects.values().get()
    claimed = {"email": "BOB@example.com", "name": "X", "external_id": "crm-9"}
    assert post(client, {"key": survey.public_key, "score": 6, "contact": claimed}).status_code == 201
    assert Contact.objects.values().get() == before
    response = Response.objects.get()
    assert response.contact is None
    assert response.contact_properties == {}
    assert (response.claimed_email, response.claimed_name, response.claimed_external_id) == (
        "BOB@example.com",
        "X",
        "crm-9",
    )
    assert not contact.responses.exists()


def test_an_unsigned_widget_answer_creates_no_contact(client, survey):
    unsigned = {"email": "new@example.com", "signature": ""}
    post(client, {"key": survey.public_key, "score": 6, "contact": unsigned})
    assert not Contact.objects.exists()
    assert Response.objects.get().claimed_email == "new@example.com"


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_a_signed_widget_answer_is_the_contacts_but_never_changes_it(client, survey, case):
    contact = make_contact(email="bob@example.com", external_id="crm-9", name="Bob", properties={"a": "b"})
    before = Contact.objects.values().get()
    signature = case(sign_identity(survey, email="BOB@example.com", external_id="crm-9"))
    identity = {"email": "BOB@example.com", "external_id": "crm-9", "name": "X", "signature": signature}
    assert post(client, {"key": survey.public_key, "score": 6, "contact": identity}).status_code == 201
    assert Contact.objects.values().get() == before
    response = Response.objects.get()
    assert response.contact == contact
    assert response.contact_properties == {"a": "b"}


@pytest.mark.parametrize(
    ("identity", "signer"),
    [
        ({"email": "bob@example.com"}, lambda survey: "0" * 64),
        ({"email": "mallory@example.com"}, lambda survey: sign_identity(survey, email="bob@example.com")),
        (
            {"email": "bob@example.com", "external_id": "crm-9"},
            lambda survey: sign_identity(survey, email="bob@example.com"),
        ),
        ({"external_id": "crm-9"}, lambda survey: sign_identity(survey, external_id="crm-9") + "0"),
        ({"email": "bob@example.com"}, lambda survey: sign_identity(make_survey(), email="bob@example.com")),
    ],
)
def test_a_wrong_signature_in_a_widget_answer_is_refused_and_stores_nothing(client, survey, identity, signer):
    make_contact(email="bob@example.com", external_id="crm-9")
    contact = {**identity, "signature": signer(survey)}
    answer = post(client, {"key": survey.public_key, "score": 6, "contact": contact})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert "signature" in error["fields"]["contact"]
    assert error["message"].startswith("contact: signature: The signature does not match")
    assert not Response.objects.exists()
    assert Contact.objects.count() == 1


def test_a_rotated_identity_secret_refuses_the_widgets_old_signatures(client, survey):
    identity = {"email": "bob@example.com", "signature": sign_identity(survey, email="bob@example.com")}
    survey.rotate_identity_secret()
    assert post(client, {"key": survey.public_key, "score": 6, "contact": identity}).status_code == 400
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "raw_score",
    [
        "8",
        "0",
        "-1",
        "9.5",
        '"6"',
        '"six"',
        "1e309",
        "[]",
        '{"$gt": 0}',
        "true",
        "null",
        "6.0",
        "10000000000000000000000000000000",
    ],
)
def test_a_score_that_is_not_an_integer_on_the_scale_is_refused(client, survey, raw_score):
    raw = f'{{"key": "{survey.public_key}", "score": {raw_score}}}'
    answer = post(client, None, raw=raw)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert "score" in error["fields"]
    assert error["message"].startswith("score: ")
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    ("raw_comment", "field_message"),
    [
        ('"a\\u0000b"', "Null characters are not allowed."),
        ('"a\\ud800b"', "Surrogate characters are not allowed"),
        (json.dumps("x" * 5001), "no more than 5000 characters"),
    ],
)
def test_a_comment_that_cannot_be_stored_is_refused(client, survey, raw_comment, field_message):
    raw = f'{{"key": "{survey.public_key}", "score": 5, "comment": {raw_comment}}}'
    answer = post(client, None, raw=raw)
    assert answer.status_code == 400
    assert field_message in answer.json()["error"]["fields"]["comment"][0]
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"key": "k", "score": 5, "comment": "\xff\xfe"}', "parse_error"),
        (b"{not json", "parse_error"),
        (b"NaN", "parse_error"),
        (b"[1, 2]", "invalid"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, survey, raw, code):
    answer = post(client, None, raw=raw)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_only_json_bodies_are_accepted_so_browsers_always_preflight(client, survey, content_type):
    raw = json.dumps({"key": survey.public_key, "score": 5})
    answer = post(client, None, raw=raw, content_type=content_type)
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    assert not Response.objects.exists()


def test_a_post_from_a_site_not_on_the_list_is_refused(client, survey):
    for origin in ["https://evil.example", "https://shop.example.com.evil.example", "null", None]:
        answer = post(client, {"key": survey.public_key, "score": 5}, origin=origin)
        assert answer.status_code == 403, origin
        assert answer.json()["error"]["message"] == "This website is not allowed to embed this survey."
    assert not Response.objects.exists()


def test_a_wrong_key_is_refused(client, survey):
    for key in ["wrong-key", "", 42, None, "nul\u0000key", ["list"]]:
        answer = post(client, {"key": key, "score": 5})
        assert answer.status_code == 404, key
        assert answer.json()["error"]["code"] == "not_found"
    assert not Response.objects.exists()


def test_an_inactive_survey_refuses_widget_answers(client):
    survey = make_survey(widget_origins=SHOP, active=False)
    answer = post(client, {"key": survey.public_key, "score": 5})
    assert answer.status_code == 410
    assert not Response.objects.exists()


def test_bad_properties_are_refused(client, survey):
    for properties in [
        {"bad key": "x"},
        {"plan": "x" * 501},
        {f"k{n}": "v" for n in range(51)},
        ["x"],
    ]:
        answer = post(client, {"key": survey.public_key, "score": 5, "properties": properties})
        assert answer.status_code == 400, properties
        assert "properties" in answer.json()["error"]["fields"]
    assert not Response.objects.exists()


def test_numbers_are_kept_as_text_and_anything_else_that_is_not_text_is_refused(client, survey):
    for refused in ({"trial": True}, {"plan": None}, {"plan": {"name": "pro"}}):
        answer = post(client, {"key": survey.public_key, "score": 5, "properties": refused})
        assert answer.status_code == 400, refused
        assert "must be text" in answer.json()["error"]["fields"]["properties"][0]
    assert not Response.objects.exists()
    answer = post(client, {"key": survey.public_key, "score": 5, "properties": {"cart": 3, "share": 0.5}})
    assert answer.status_code == 201
    assert Response.objects.get().event_properties == {"cart": "3", "share": "0.5"}


def test_a_body_over_32_kb_is_refused(client, survey):
    raw = json.dumps({"key": survey.public_key, "score": 5, "properties": {"padding": "x" * 40_000}})
    answer = post(client, None, raw=raw)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert not Response.objects.exists()


def test_a_client_sending_too_many_requests_is_slowed_down(client, survey, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "widget": 3}
    statuses = [post(client, {"key": survey.public_key, "score": 5}).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = post(client, {"key": survey.public_key, "score": 5})
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "throttled"
    assert Response.objects.count() == 3


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_on_the_answer_endpoint_are_not_allowed(client, survey, method):
    answer = getattr(client, method)(ANSWERS, headers={"Origin": SHOP})
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_a_malformed_key_in_the_url_is_not_found(client):
    answer = client.get(
        "/api/v1/widget/surveys/nul%00key/", headers={"Origin": SHOP, "Accept-Language": "en"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "No survey has this key."


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_widget_gets_the_legal_information_in_its_language(client, survey, language):
    set_legal_information(**GERMAN, **ENGLISH)
    values = GERMAN if language == "de" else ENGLISH
    config = client.get(
        f"/api/v1/widget/surveys/{survey.public_key}/?lang={language}", headers={"Origin": SHOP}
    ).json()
    assert config["legal"] == {
        "company_name": values[f"company_name_{language}"],
        "privacy_url": values[f"privacy_url_{language}"],
        "impressum_url": values[f"impressum_url_{language}"],
    }
    assert (config["ui"]["privacy"], config["ui"]["impressum"]) == (
        label("Privacy notice", language),
        label("Impressum", language),
    )


def test_the_widget_gets_the_other_languages_legal_texts_or_nothing(client, survey):
    set_legal_information(impressum_url_de=GERMAN["impressum_url_de"])
    config = client.get(f"/api/v1/widget/surveys/{survey.public_key}/?lang=en").json()
    assert config["legal"] == {
        "company_name": "",
        "privacy_url": "",
        "impressum_url": GERMAN["impressum_url_de"],
    }
