"""``/api/v1/exports/``: starting an export with the explorer's filters, its progress, its file;
who may see which; bad requests refused with nothing recorded; a real worker writing the file."""

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from feedback import exports
from feedback.models import ExportRecord
from insights import themes
from insights.models import ResponseTone, Theme
from surveys.access import pseudonym
from surveys.models import Response
from tests.factories import make_api_token, make_survey, make_touchpoint, take_away
from tests.feedback.pages import answer
from tests.workers import database_url, flushed_broker, use_broker

pytestmark = pytest.mark.django_db

URL = "/api/v1/exports/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
# Not another worker test's database: suites running side by side must not take each other's tasks.
BROKER = "redis://127.0.0.1:6379/11"


@pytest.fixture
def survey():
    """Four November answers of an NPS survey (two detractors, one on a touchpoint) and one of October."""
    survey = make_survey(kind="nps", name="Kundenzufriedenheit nach Lieferung")
    late = answer(
        survey,
        2,
        date(2026, 11, 10),
        touchpoint=make_touchpoint(survey=survey, name="Lieferung"),
        comment="=HYPERLINK(zu spät)",
        properties={"plan": "pro"},
    )
    late.contact.email, late.contact.name = "anna.schmidt@example.com", "Anna Schmidt"
    late.contact.save()
    answer(survey, 5, date(2026, 11, 11), comment="Verpackung kaputt", properties={"plan": "basic"})
    answer(survey, 9, date(2026, 11, 12), comment="Gut", properties={"plan": "pro"})
    answer(survey, 10, date(2026, 11, 13), comment="")
    answer(survey, 1, date(2026, 10, 20), comment="Oktober")
    return survey


def headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def start(client, token, body: dict):
    return client.post(URL, body, content_type="application/json", headers=headers(token))


def get(client, token, url: str, **extra):
    return client.get(url, headers=headers(token), **extra)


def download_url(client, token, started) -> str:
    """The file's URL, from the export's status once the worker finished."""
    return get(client, token, started["Location"]).json()["download"]


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# Starting one


def test_a_read_token_starts_an_export_and_gets_its_file(
    client, token, cx_manager, survey, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        started = start(client, token, {"format": "csv", "filters": {"survey": survey.pk, **NOVEMBER}})
    assert started.status_code == 202
    record = ExportRecord.objects.get()
    assert started["Location"] == f"http://testserver{URL}{record.public_id}/"
    assert started.json()["id"] == str(record.public_id)
    body = get(client, token, started["Location"]).json()
    assert body["status"] == "done"  # without a broker the task ran once the record was committed
    assert (body["rows"], body["total"], body["percent"], body["personal"]) == (3, 3, 100, True)
    assert body["file_name"] == "kundenzufriedenheit-nach-lieferung-2026-11-01-2026-11-30.csv"
    assert body["download"] == f"http://testserver{URL}{record.public_id}/download/"
    # Recorded: who, which filters (the survey and the period spelled out), how many rows.
    assert (record.user, record.username, record.background) == (cx_manager, cx_manager.username, True)
    assert record.filters == {"survey": [str(survey.pk)], **{key: [value] for key, value in NOVEMBER.items()}}

    download = get(client, token, body["download"])
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="{body["file_name"]}"'
    rows = csv_rows(download)
    expected = Response.objects.filter(
        survey=survey, created_at__date__gte=date(2026, 11, 1), created_at__date__lte=date(2026, 11, 30)
    ).exclude(comment="")
    assert [row["response_id"] for row in rows] == [
        str(public_id) for public_id in expected.order_by("created_at").values_list("public_id", flat=True)
    ]
    first = rows[0]
    assert first["comment"] == "'=HYPERLINK(zu spät)"  # shown as text, never run as a formula
    assert (first["score"], first["category"], first["touchpoint"]) == ("2", "detractor", "Lieferung")
    assert (first["contact_email"], first["contact_name"]) == ("anna.schmidt@example.com", "Anna Schmidt")
    assert first["contact.plan"] == "pro"


def test_the_explorers_filters_select_the_rows(client, token, survey, django_capture_on_commit_callbacks):
    filters = {"survey": survey.pk, **NOVEMBER, "category": "detractor", "property.plan": "basic"}
    with django_capture_on_commit_callbacks(execute=True):
        started = start(client, token, {"format": "jsonl", "filters": filters})
    assert started.status_code == 202
    download = get(client, token, download_url(client, token, started))
    lines = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert [(line["score"], line["comment"]) for line in lines] == [(5, "Verpackung kaputt")]
    touchpoint = survey.touchpoints.get()
    with django_capture_on_commit_callbacks(execute=True):
        started = start(
            client,
            token,
            {
                "format": "jsonl",
                "filters": {"survey": survey.pk, **NOVEMBER, "touchpoint": [0], "comment": "any"},
            },
        )
    download = get(client, token, download_url(client, token, started))
    lines = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert [line["score"] for line in lines] == [5, 9, 10]  # without a touchpoint, with and without comment
    assert all(line["touchpoint"] != touchpoint.name for line in lines)


def test_the_theme_filter_selects_the_rows_and_the_file_has_themes_and_tone(
    client, token, survey, django_capture_on_commit_callbacks
):
    for name, include in (("Verpackung", "verpackung"), ("Preis", "preis*")):
        themes.start_matching(Theme.objects.create(name=name, include=include), now=survey.created_at)
    while themes.match_again(now=survey.created_at):
        pass
    packed = Response.objects.get(comment="Verpackung kaputt")
    ResponseTone.objects.create(response=packed, value=-1.5)
    filters = {"survey": survey.pk, **NOVEMBER, "theme": ["Verpackung", "Preis"]}
    with django_capture_on_commit_callbacks(execute=True):
        started = start(client, token, {"format": "jsonl", "filters": filters})
    assert started.status_code == 202
    assert ExportRecord.objects.get().filters["theme"] == ["Verpackung", "Preis"]
    download = get(client, token, download_url(client, token, started))
    lines = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert [(line["comment"], line["themes"], line["tone"], line["tone_value"]) for line in lines] == [
        ("Verpackung kaputt", ["Verpackung"], "negative", -1.5)
    ]


def test_an_xlsx_file_has_the_same_rows(client, token, survey, django_capture_on_commit_callbacks):
    from openpyxl import load_workbook

    with django_capture_on_commit_callbacks(execute=True):
        started = start(client, token, {"format": "xlsx", "filters": {"survey": survey.pk, **NOVEMBER}})
    download = get(client, token, download_url(client, token, started))
    assert download["Content-Type"] == exports.FORMATS["xlsx"][0]
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    comments = [row[header.index("comment")] for row in rows[1:]]
    assert comments == ["=HYPERLINK(zu spät)", "Verpackung kaputt", "Gut"]  # text with Excel's quote prefix


def test_a_reader_who_may_not_see_contacts_gets_pseudonyms(
    client, analyst_token, survey, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        started = start(
            client, analyst_token, {"format": "csv", "filters": {"survey": survey.pk, **NOVEMBER}}
        )
    assert started.json()["personal"] is False
    rows = csv_rows(get(client, analyst_token, download_url(client, analyst_token, started)))
    assert "contact_email" not in rows[0]
    late = Response.objects.get(score=2)
    assert rows[0]["contact_id"] == pseudonym(late.contact_id)
    assert "anna.schmidt" not in json.dumps(rows)


# Its progress and its file


def queued_export(client, token, survey) -> dict:
    """An export started while no worker took it yet: its task waits for the commit."""
    started = start(client, token, {"format": "csv", "filters": {"survey": survey.pk, **NOVEMBER}})
    assert started.status_code == 202
    return started.json()


def test_until_a_worker_wrote_it_the_status_says_so_and_there_is_no_file(client, token, survey):
    body = queued_export(client, token, survey)
    assert (body["status"], body["rows"], body["percent"], body["download"]) == ("queued", None, None, None)
    ExportRecord.objects.update(status="running", total=40_000, rows=10_000)
    status = get(client, token, f"{URL}{body['id']}/").json()
    assert (status["status"], status["rows"], status["total"], status["percent"]) == (
        "running",
        10_000,
        40_000,
        25,
    )
    refused = get(client, token, f"{URL}{body['id']}/download/")
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "conflict",
        "message": "The export is not done yet; ask for it again when its status is done.",
        "fields": {},
    }


def test_a_failed_export_says_why(client, token, survey):
    body = queued_export(client, token, survey)
    ExportRecord.objects.update(status="failed", error="Writing the file failed: disk full")
    assert get(client, token, f"{URL}{body['id']}/").json()["error"] == "Writing the file failed: disk full"
    refused = get(client, token, f"{URL}{body['id']}/download/", HTTP_ACCEPT="text/csv")
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["error"]["message"] == "The export failed: Writing the file failed: disk full"


def test_an_expired_file_is_gone(client, token, survey, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        started = start(client, token, {"format": "csv", "filters": {"survey": survey.pk, **NOVEMBER}})
    body = started.json()
    exports.tidy_exports(now=timezone.now() + exports.EXPORT_LIFETIME + timedelta(minutes=1))
    assert get(client, token, f"{URL}{body['id']}/").json()["download"] is None
    gone = get(client, token, f"{URL}{body['id']}/download/")
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "gone"
    assert gone.json()["error"]["message"].startswith("The file was deleted on ")


def test_the_list_has_the_users_own_exports_newest_first(
    client, token, cx_manager, survey, django_user_model
):
    first, second = queued_export(client, token, survey), queued_export(client, token, survey)
    other = django_user_model.objects.create_superuser("other", "other@example.com", "other-password")
    other_token = make_api_token(user=other)
    theirs = queued_export(client, other_token, survey)
    listed = get(client, token, URL).json()
    assert [item["id"] for item in listed["results"]] == [second["id"], first["id"]]
    # Another user's export is not found, however mighty its reader: a token is its user's.
    assert get(client, other_token, f"{URL}{first['id']}/").status_code == 404
    assert get(client, token, f"{URL}{theirs['id']}/download/").status_code == 404
    # Streamed downloads from the explorer are recorded, but have no file to ask for.
    ExportRecord.objects.create(user=cx_manager, username="m", format="csv", filters={}, personal=True)
    assert len(get(client, token, URL).json()["results"]) == 2


def test_an_export_with_personal_data_is_hidden_from_who_may_no_longer_see_it(
    client, token, cx_manager, survey
):
    body = queued_export(client, token, survey)
    take_away(cx_manager, "view_contact")
    assert get(client, token, f"{URL}{body['id']}/").status_code == 404
    assert get(client, token, URL).json()["results"] == []


# Who may, and bad requests


def test_it_needs_a_token_whose_user_may_export_responses(client, cx_manager, agent, survey):
    assert client.post(URL, {}, content_type="application/json").status_code == 401
    take_away(cx_manager, "export_response")
    for reader in (cx_manager, agent):  # agents read dashboards, they take no answers out
        refused = start(
            client, make_api_token(user=reader), {"format": "csv", "filters": {"survey": survey.pk}}
        )
        assert refused.status_code == 403
        assert (
            refused.json()["error"]["message"]
            == "The user of this API token lacks the permission to export responses."
        )
    assert not ExportRecord.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"filters": {"survey": 0}}, {"format": ["This field is required."]}),
        ({"format": "pdf", "filters": {}}, {"format": ["Choose one of: csv, xlsx, jsonl."]}),
        ({"format": "csv"}, {"filters": ["This field is required."]}),
        ({"format": "csv", "filters": {}}, {"filters": {"survey": ["Choose the survey to export."]}}),
        (
            {"format": "csv", "filters": []},
            {"filters": ['Expected a dictionary of items but got type "list".']},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "catgory": "detractor"}},
            {
                "filters": [
                    "Unknown filter “catgory”. Filters: survey, touchpoint, range, since, until, category, "
                    "score, comment, q, tag, theme and property.<name>."
                ]
            },
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "category": ["detractor"]}},
            {"filters": ["Give “category” a text or a number."]},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "touchpoint": [{"id": 1}]}},
            {"filters": ["Give “touchpoint” an id or a list of at most 50 ids."]},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "touchpoint": list(range(51))}},
            {"filters": ["Give “touchpoint” an id or a list of at most 50 ids."]},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "tag": [["Preis"]]}},
            {"filters": ["Give “tag” a name or a list of at most 50 names."]},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "tag": ["Unbekannt"]}},
            {"filters": {"tag": ["There is no tag named “Unbekannt”."]}},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "theme": [["Lieferung"]]}},
            {"filters": ["Give “theme” a name or a list of at most 50 names."]},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "theme": "Unbekannt"}},
            {"filters": {"theme": ["There is no theme “Unbekannt”."]}},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "score": True}},
            {"filters": ["Give “score” a text or a number."]},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "category": "satisfied"}},
            {"filters": {"category": ["This survey has no such category."]}},
        ),
        (
            {
                "format": "csv",
                "filters": {"survey": "{survey}", "since": "2026-12-01", "until": "2026-11-01"},
            },
            {"filters": {"non_field_errors": ["The period must end after it starts."]}},
        ),
        (
            {"format": "csv", "filters": {"survey": "{survey}", "property.a__b": "x"}},
            {"filters": {"non_field_errors": ["“a__b” is not a property name."]}},
        ),
    ],
)
def test_bad_requests_say_what_is_wrong_and_record_nothing(client, token, survey, body, fields):
    text = json.dumps(body).replace('"{survey}"', str(survey.pk))
    refused = client.post(URL, text, content_type="application/json", headers=headers(token))
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == fields
    assert not ExportRecord.objects.exists()


def test_an_unknown_survey_is_not_found_and_nothing_is_recorded(client, token, survey):
    refused = start(client, token, {"format": "csv", "filters": {"survey": 999_999}})
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "not_found"
    assert not ExportRecord.objects.exists()


def test_too_many_answers_for_a_spreadsheet_are_refused_at_once(client, token, survey, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    refused = start(client, token, {"format": "xlsx", "filters": {"survey": survey.pk, **NOVEMBER}})
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {
        "format": ["3 answers are more than a spreadsheet holds; export them as CSV."]
    }
    assert not ExportRecord.objects.exists()


def test_a_user_prepares_three_exports_at_a_time(client, token, survey):
    for _ in range(exports.MAX_UNFINISHED_PER_USER):
        queued_export(client, token, survey)
    refused = start(client, token, {"format": "csv", "filters": {"survey": survey.pk}})
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    assert refused.json()["error"]["message"] == (
        "3 of your exports are still being prepared. Start another when one of them is done. "
        "Expected available in 30 seconds."
    )
    assert ExportRecord.objects.count() == 3
    ExportRecord.objects.filter(pk=ExportRecord.objects.first().pk).update(status="done")
    assert start(client, token, {"format": "csv", "filters": {"survey": survey.pk}}).status_code == 202


def test_unknown_exports_are_not_found(client, token):
    missing = get(client, token, f"{URL}00000000-0000-4000-8000-000000000000/download/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


# A real worker


@pytest.fixture
def broker():
    yield from flushed_broker(BROKER)


@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_the_file_while_the_client_asks_how_far_it_is(
    broker, client, cx_manager, survey, tmp_path
):
    token = make_api_token(user=cx_manager)
    log = tmp_path / "worker.log"
    environment = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "MEDIA_ROOT": str(tmp_path),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "cxsurvey",
        "worker",
        "--pool=solo",
        "-n",
        "exports@test",
    ]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    worker = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    from cxsurvey.celery import app

    try:
        use_broker(app, broker_url=broker, task_always_eager=False)
        started = start(client, token, {"format": "csv", "filters": {"survey": survey.pk, **NOVEMBER}})
        assert started.json()["status"] == "queued"  # the request does not wait for the worker
        deadline, status = time.monotonic() + 60, started.json()
        while status["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            status = get(client, token, started["Location"]).json()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        use_broker(app, broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)
    assert status["status"] == "done", log.read_text()[-2000:]
    rows = csv_rows(get(client, token, status["download"]))
    assert [row["comment"] for row in rows] == ["'=HYPERLINK(zu spät)", "Verpackung kaputt", "Gut"]
    assert "feedback.tasks.prepare_export" in log.read_text()


def test_the_clean_up_hands_over_again_an_export_the_broker_did_not_take(broker, cx_manager, survey):
    """The request's hand-off is dropped while the broker is down; the export is still queued
    a minute later, and the periodic clean-up queues its task again."""
    import redis

    from cxsurvey.celery import app
    from feedback.tasks import tidy_exports

    def queued(minutes_ago: int) -> ExportRecord:
        record = ExportRecord.objects.create(
            user=cx_manager,
            username=cx_manager.username,
            filters={"survey": [str(survey.pk)], **{key: [value] for key, value in NOVEMBER.items()}},
            format="csv",
            personal=False,
            background=True,
            filename="answers.csv",
            expires_at=timezone.now() + exports.EXPORT_LIFETIME,
        )
        ExportRecord.objects.filter(pk=record.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
        return record

    missed, just_queued = queued(minutes_ago=2), queued(minutes_ago=0)
    try:
        use_broker(app, broker_url=broker, task_always_eager=False)
        tidy_exports()
    finally:
        use_broker(app, broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)
    tasks = [json.loads(body) for body in redis.Redis.from_url(broker).lrange("celery", 0, -1)]
    assert [(task["headers"]["task"], task["headers"]["argsrepr"]) for task in tasks] == [
        ("feedback.tasks.prepare_export", f"({missed.pk},)")
    ]
    assert just_queued.status == ExportRecord.Status.QUEUED
