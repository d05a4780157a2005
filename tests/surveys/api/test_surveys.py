import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.models import Survey, Touchpoint
from tests.factories import make_api_token, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

SURVEYS = "/api/v1/surveys/"
TOUCHPOINTS = "/api/v1/touchpoints/"


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager, write=True)


@pytest.fixture
def reader(cx_manager):
    return make_api_token(user=cx_manager, write=False, name="dashboard")


def call(client, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    if body is None:
        return getattr(client, method)(path, headers=headers)
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", headers=headers)


# Surveys


def test_a_survey_is_created_with_texts_per_language_and_defaults_shown(client, token):
    answer = call(
        client,
        "post",
        SURVEYS,
        token,
        {
            "name": "Delivery CSAT",
            "kind": "csat",
            "brand": "Nordwind",
            "subject": {"de": "Ihrer Lieferung", "en": "your delivery"},
            "question": {"de": "Wie war die Lieferung?"},
            "widget_origins": ["https://Shop.Example.com:443", "https://shop.example.com"],
            "reply_to": "cx@nordwind.example",
        },
    )
    assert answer.status_code == 201, answer.content
    data = answer.json()
    survey = Survey.objects.get()
    assert data["id"] == survey.pk
    assert data["public_key"] == survey.public_key
    assert (survey.kind, survey.question_de, survey.question_en) == ("csat", "Wie war die Lieferung?", "")
    assert data["question"] == {"de": "Wie war die Lieferung?", "en": ""}
    assert data["effective"]["question"] == {
        "de": "Wie war die Lieferung?",
        "en": "How satisfied were you with your delivery?",
    }
    assert data["effective"]["follow_up"]["en"] == "What is the most important reason for your score?"
    assert data["widget_origins"] == ["https://shop.example.com"]
    assert survey.widget_origins == "https://shop.example.com"
    assert (data["expires_after_days"], data["active"], data["accent_color"]) == (30, True, "#2456a6")


def test_the_api_never_tells_a_surveys_identity_secret(client, token, reader):
    created = call(client, "post", SURVEYS, token, {"name": "Widget", "kind": "nps", "brand": "B"})
    survey = Survey.objects.get()
    changed = call(client, "patch", f"{SURVEYS}{survey.pk}/", token, {"identity_secret": "chosen"})
    answers = [
        created,
        changed,
        call(client, "get", SURVEYS, reader),
        call(client, "get", f"{SURVEYS}{survey.pk}/", reader),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201)
        assert survey.identity_secret not in answer.content.decode()
        assert "identity_secret" not in answer.content.decode()
    survey.refresh_from_db()
    assert survey.identity_secret != "chosen"


def test_surveys_are_listed_in_pages_with_a_fixed_number_of_queries(client, reader):
    for _ in range(3):
        make_survey()
    call(client, "get", SURVEYS, reader)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        first = call(client, "get", f"{SURVEYS}?limit=2", reader)
    for _ in range(5):
        make_survey()
    with CaptureQueriesContext(connection) as many:
        assert call(client, "get", f"{SURVEYS}?limit=20", reader).status_code == 200
    assert len(few) == len(many)
    assert first.status_code == 200
    page = first.json()
    assert [survey["id"] for survey in page["results"]] == sorted(
        Survey.objects.values_list("pk", flat=True)
    )[:2]
    ids = [survey["id"] for survey in page["results"]]
    while page["next"]:
        page = call(client, "get", page["next"], reader).json()
        ids += [survey["id"] for survey in page["results"]]
    assert ids == sorted(Survey.objects.values_list("pk", flat=True))


def test_a_survey_is_changed_but_its_kind_is_not(client, token):
    survey = make_survey(kind="nps", question_de="Alt", question_en="Old")
    changed = call(
        client, "patch", f"{SURVEYS}{survey.pk}/", token, {"name": "Renamed", "question": {"en": "New"}}
    )
    assert changed.status_code == 200
    survey.refresh_from_db()
    assert (survey.name, survey.question_de, survey.question_en) == ("Renamed", "Alt", "New")

    refused = call(client, "patch", f"{SURVEYS}{survey.pk}/", token, {"kind": "ces", "name": "Other"})
    assert refused.status_code == 400
    assert "cannot be changed" in refused.json()["error"]["fields"]["kind"][0]
    survey.refresh_from_db()
    assert (survey.kind, survey.name) == ("nps", "Renamed")

    same = call(client, "put", f"{SURVEYS}{survey.pk}/", token, {"name": "Put", "kind": "nps", "brand": "B"})
    assert same.status_code == 200
    without_kind = call(client, "put", f"{SURVEYS}{survey.pk}/", token, {"name": "Put 2", "brand": "B"})
    assert without_kind.status_code == 200
    survey.refresh_from_db()
    assert (survey.name, survey.kind) == ("Put 2", "nps")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "S", "brand": "B"}, "kind"),
        ({"name": "S", "brand": "B", "kind": "stars"}, "kind"),
        ({"name": 7, "brand": "B", "kind": "nps"}, "name"),
        ({"name": "S", "brand": "B", "kind": "nps", "accent_color": "red"}, "accent_color"),
        ({"name": "S", "brand": "B", "kind": "nps", "question": "Hi"}, "question"),
        ({"name": "S", "brand": "B", "kind": "nps", "question": {"fr": "Salut"}}, "question"),
        ({"name": "S", "brand": "B", "kind": "nps", "question": {"en": "x" * 501}}, "question"),
        ({"name": "S", "brand": "B", "kind": "nps", "question": {"en": "a\u0000b"}}, "question"),
        (
            {"name": "S", "brand": "B", "kind": "nps", "widget_origins": ["https://a.example/path"]},
            "widget_origins",
        ),
        ({"name": "S", "brand": "B", "kind": "nps", "widget_origins": "https://a.example"}, "widget_origins"),
        ({"name": "S", "brand": "B", "kind": "nps", "expires_after_days": 0}, "expires_after_days"),
        ({"name": "S", "brand": "B", "kind": "nps", "reply_to": "nobody"}, "reply_to"),
    ],
)
def test_an_invalid_survey_is_refused_with_a_message(client, token, body, field):
    answer = call(client, "post", SURVEYS, token, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert field in error["fields"]
    assert error["message"].startswith(f"{field}: ")
    assert not Survey.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{{ 0|stringformat:"020000000d" }}',
            "The filter “stringformat” cannot be used in survey texts; use one of: default, default_if_none, "
            "lower, upper, title, capfirst, truncatechars, truncatewords.",
        ),
        (
            '{% for a in "abcdefghij" %}{% for b in "abcdefghij" %}x{% endfor %}{% endfor %}',
            "Loops ({% for %}) cannot be used in survey texts.",
        ),
        ("Order {% if %}", "This text cannot be used: Unexpected end of expression in if tag."),
        ("{brand} fragt", "“{brand}” is not a placeholder: write {{ brand }}."),
    ],
)
def test_an_email_text_that_cannot_be_sent_is_refused_under_its_language_and_nothing_is_stored(
    client, token, text, message
):
    body = {"name": "S", "brand": "B", "kind": "nps", "email_intro": {"en": "Hello", "de": text}}
    answer = call(client, "post", SURVEYS, token, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["fields"] == {"email_intro": {"de": [message]}}
    assert error["message"] == f"email_intro: de: {message}"
    assert not Survey.objects.exists()

    survey = make_survey(name="Old", email_subject_en="Hello {{ contact.name }}")
    answer = call(
        client, "patch", f"{SURVEYS}{survey.pk}/", token, {"name": "New", "email_subject": {"en": text}}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {"email_subject": {"en": [message]}}
    survey.refresh_from_db()
    assert (survey.name, survey.email_subject_en) == ("Old", "Hello {{ contact.name }}")


def test_a_page_text_may_not_name_a_person_as_the_set_up_page_and_the_admin_say(client, token):
    body = {"name": "S", "brand": "B", "kind": "nps", "question": {"de": "Hallo {{ contact.name }}"}}
    answer = call(client, "post", SURVEYS, token, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {
        "question": {
            "de": [
                "“{{ contact.name }}” cannot be used in this text; write one of {{ brand }}, {{ subject }}, "
                "{{ properties.<name> }}."
            ]
        }
    }
    assert not Survey.objects.exists()


def test_an_email_text_that_personalises_is_stored_as_written(client, token):
    intro = (
        "{% if contact.name %}Dear {{ contact.name }}{% else %}Hello{% endif %}, {{ properties.order_id }}"
    )
    body = {
        "name": "S",
        "brand": "B",
        "kind": "nps",
        "email_subject": {"de": '{{ contact.name|default:"Hallo" }}, eine Frage'},
        "email_intro": {"en": intro},
    }
    answer = call(client, "post", SURVEYS, token, body)
    assert answer.status_code == 201, answer.content
    survey = Survey.objects.get()
    assert (survey.email_subject_de, survey.email_intro_en) == (
        '{{ contact.name|default:"Hallo" }}, eine Frage',
        intro,
    )
    assert answer.json()["effective"]["email_intro"]["en"] == intro


def test_surveys_cannot_be_deleted_through_the_api(client, token):
    survey = make_survey()
    answer = call(client, "delete", f"{SURVEYS}{survey.pk}/", token)
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert Survey.objects.filter(pk=survey.pk).exists()


def test_a_read_only_token_cannot_create_or_change_surveys(client, reader):
    survey = make_survey(name="Before")
    assert (
        call(client, "post", SURVEYS, reader, {"name": "S", "brand": "B", "kind": "nps"}).status_code == 403
    )
    assert call(client, "patch", f"{SURVEYS}{survey.pk}/", reader, {"name": "After"}).status_code == 403
    survey.refresh_from_db()
    assert survey.name == "Before"
    assert Survey.objects.count() == 1


@pytest.mark.parametrize("pk", ["999999", "abc", "1%00"])
def test_an_unknown_survey_is_not_found(client, reader, pk):
    answer = call(client, "get", f"{SURVEYS}{pk}/", reader)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


# Touchpoints


def test_a_touchpoint_is_created_with_its_rules(client, token):
    survey = make_survey()
    answer = call(
        client,
        "post",
        TOUCHPOINTS,
        token,
        {
            "slug": "ticket-closed",
            "name": "Support ticket closed",
            "survey": survey.pk,
            "delay_seconds": 7200,
            "sample_percent": 50,
            "recontact_days": 60,
            "send_window": {"days": [4, 0, 2, 0], "start": "10:00", "end": "16:30"},
            "reminder_after_days": 3,
            "recheck_after_days": 14,
            "require_consent": True,
        },
    )
    assert answer.status_code == 201, answer.content
    touchpoint = Touchpoint.objects.get()
    assert answer.json() == {
        "id": touchpoint.pk,
        "slug": "ticket-closed",
        "name": "Support ticket closed",
        "survey": survey.pk,
        "active": True,
        "delay_seconds": 7200,
        "sample_percent": 50,
        "recontact_days": 60,
        "send_window": {"days": [0, 2, 4], "start": "10:00", "end": "16:30"},
        "expires_after_days": None,
        "reminder_after_days": 3,
        "recheck_after_days": 14,
        "require_consent": True,
        "created_at": answer.json()["created_at"],
    }
    assert touchpoint.send_window == {"days": [0, 2, 4], "start": "10:00", "end": "16:30"}
    assert (touchpoint.sample_percent, touchpoint.reminder_after_days, touchpoint.recheck_after_days) == (
        50,
        3,
        14,
    )


def test_a_touchpoint_gets_office_hours_unless_it_says_any_time(client, token):
    survey = make_survey()
    default = call(client, "post", TOUCHPOINTS, token, {"slug": "a", "name": "A", "survey": survey.pk})
    assert default.json()["send_window"] == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}
    any_time = call(
        client,
        "post",
        TOUCHPOINTS,
        token,
        {"slug": "b", "name": "B", "survey": survey.pk, "send_window": None},
    )
    assert any_time.json()["send_window"] is None
    assert Touchpoint.objects.get(slug="b").send_window is None


def test_a_touchpoints_rules_are_changed(client, token):
    touchpoint = make_touchpoint(sample_percent=100)
    answer = call(
        client,
        "patch",
        f"{TOUCHPOINTS}{touchpoint.pk}/",
        token,
        {"sample_percent": 10, "send_window": None, "active": False, "expires_after_days": 7},
    )
    assert answer.status_code == 200
    touchpoint.refresh_from_db()
    assert (touchpoint.sample_percent, touchpoint.send_window, touchpoint.active) == (10, None, False)
    assert touchpoint.expires_after_days == 7


def test_touchpoints_are_listed(client, reader):
    first, second = make_touchpoint(), make_touchpoint()
    answer = call(client, "get", TOUCHPOINTS, reader)
    assert [touchpoint["slug"] for touchpoint in answer.json()["results"]] == [first.slug, second.slug]
    assert answer.json()["results"][0]["survey"] == first.survey_id


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"days": [7], "start": "09:00", "end": "18:00"}, "0 (Monday) to 6 (Sunday)"),
        ({"days": [], "start": "09:00", "end": "18:00"}, "non-empty list"),
        ({"days": ["1"], "start": "09:00", "end": "18:00"}, "0 (Monday) to 6 (Sunday)"),
        ({"days": [0], "start": "18:00", "end": "09:00"}, "end after it starts"),
        ({"days": [0], "start": "9:00", "end": "18:00"}, "is not a time like 09:00"),
        ({"days": [0], "start": "09:00"}, '{"days": [0-6]'),
        # A lone surrogate quoted in the message must not break the JSON answer.
        ({"days": [0], "start": "\ud800\ud800\ud800\ud800\ud800", "end": "18:00"}, "is not a time like"),
        ("weekdays", '{"days": [0-6]'),
    ],
)
def test_an_invalid_send_window_is_refused_with_a_message(client, token, window, message):
    survey = make_survey()
    body = {"slug": "a", "name": "A", "survey": survey.pk, "send_window": window}
    answer = call(client, "post", TOUCHPOINTS, token, body)
    assert answer.status_code == 400
    assert message in answer.json()["error"]["fields"]["send_window"][0]
    assert not Touchpoint.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sample_percent": 101}, "sample_percent"),
        ({"sample_percent": -1}, "sample_percent"),
        ({"delay_seconds": 2**31}, "delay_seconds"),
        ({"expires_after_days": 0}, "expires_after_days"),
        ({"reminder_after_days": 0}, "reminder_after_days"),
        ({"survey": 999999}, "survey"),
        ({"slug": "taken"}, "slug"),
        ({"slug": "not a slug"}, "slug"),
    ],
)
def test_an_invalid_touchpoint_is_refused(client, token, change, field):
    survey = make_survey()
    make_touchpoint(slug="taken", survey=survey)
    body = {"slug": "new", "name": "New", "survey": survey.pk, **change}
    answer = call(client, "post", TOUCHPOINTS, token, body)
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert Touchpoint.objects.count() == 1


def test_touchpoints_cannot_be_deleted_through_the_api(client, token):
    touchpoint = make_touchpoint()
    assert call(client, "delete", f"{TOUCHPOINTS}{touchpoint.pk}/", token).status_code == 405
    assert Touchpoint.objects.filter(pk=touchpoint.pk).exists()
