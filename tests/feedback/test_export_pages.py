"""Exports prepared in the background, as their users meet them: the button under the comments,
the export's page and its status, the download, "My exports"; who may see which."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from feedback import exports
from feedback.models import ExportRecord
from surveys import roles
from tests.factories import make_staff, make_survey, make_touchpoint, take_away
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

PREPARE = "/verbatims/export/prepare/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}


@pytest.fixture
def survey():
    """Three November answers with comments, the first by a contact with a known email."""
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    email = answer(
        survey, 3, date(2026, 11, 10), touchpoint=make_touchpoint(survey=survey), comment="Zu spät"
    )
    email.contact.email = "kunde@example.com"
    email.contact.save()
    answer(survey, 10, date(2026, 11, 12), comment="Alles bestens")
    answer(survey, 9, date(2026, 11, 13), comment="Gut")
    return survey


@pytest.fixture
def colleague(db):
    """Another CX manager, with the same rights as the one who exports."""
    return make_staff("colleague", roles.CX_MANAGER)


def prepare(client, survey, django_capture_on_commit_callbacks, **params):
    """POST the explorer's form; without a broker the task runs once the record is committed."""
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(PREPARE, {"survey": survey.pk, **NOVEMBER, "format": "csv", **params})


def record_of(response) -> ExportRecord:
    match = re.fullmatch(r"/exports/([0-9a-f-]{36})/", response.url)
    assert match, response.url
    return ExportRecord.objects.get(public_id=match.group(1))


def by_id_html(html: str, element_id: str) -> str:
    """The markup inside the element with this id."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return match.group(2)


def exported(user, survey, status: str = "done", **fields) -> ExportRecord:
    """A prepared export's record in the given state, its file in the storage when done."""
    record = ExportRecord.objects.create(
        user=user,
        username=user.get_username(),
        format="csv",
        filters={"survey": [str(survey.pk)], **{key: [value] for key, value in NOVEMBER.items()}},
        personal=True,
        background=True,
        filename="weiterempfehlung-2026-11-01-2026-11-30.csv",
        expires_at=timezone.now() + exports.EXPORT_LIFETIME,
    )
    if status == "done":
        exports.prepare_export(record_id=record.pk)
    ExportRecord.objects.filter(pk=record.pk).update(
        **fields, **({} if status == "done" else {"status": status})
    )
    record.refresh_from_db()
    return record


# Preparing


def test_the_comments_offer_to_prepare_the_file_with_their_filters(manager_client, survey):
    html = manager_client.get(
        "/verbatims/", {"survey": survey.pk, **NOVEMBER, "q": "spät", "page": "1"}
    ).content
    form = re.search(r'<form class="downloads" id="prepare-export".*?</form>', html.decode(), re.S).group()
    assert 'method="post"' in form and f'action="{PREPARE}"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert hidden == {
        "csrfmiddlewaretoken": hidden["csrfmiddlewaretoken"],
        "survey": str(survey.pk),
        **NOVEMBER,
        "q": "spät",
    }
    assert re.findall(r'<option value="(\w+)">', form) == ["csv", "xlsx", "jsonl"]


def test_preparing_queues_the_export_and_shows_its_page(
    manager_client, cx_manager, survey, django_capture_on_commit_callbacks
):
    response = prepare(manager_client, survey, django_capture_on_commit_callbacks, range="30d", q="spät")
    record = record_of(response)
    assert response.status_code == 302
    assert (record.user, record.username, record.format, record.personal, record.background) == (
        cx_manager,
        "manager",
        "csv",
        True,
        True,
    )
    today = timezone.localdate()
    # The preset period is pinned to dates: a worker starting after midnight exports the same answers.
    assert record.filters == {
        "survey": [str(survey.pk)],
        "since": [(today - timedelta(days=29)).isoformat()],
        "until": [today.isoformat()],
        "q": ["spät"],
    }
    assert record.expires_at - record.created_at == timedelta(days=7)
    assert record.status == "done"  # without a broker the task ran before the redirect
    page = manager_client.get(response.url)
    assert by_id(page.content.decode(), "export-status") == "Done"


def test_the_file_is_the_filtered_answers(manager_client, survey, django_capture_on_commit_callbacks):
    record = record_of(
        prepare(manager_client, survey, django_capture_on_commit_callbacks, category="promoter")
    )
    assert (record.rows, record.filename) == (2, "weiterempfehlung-2026-11-01-2026-11-30.csv")
    download = manager_client.get(f"/exports/{record.public_id}/download/")
    assert download.status_code == 200
    assert (
        download["Content-Disposition"] == 'attachment; filename="weiterempfehlung-2026-11-01-2026-11-30.csv"'
    )
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(download).decode("utf-8-sig"), newline="")))
    assert [(row["score"], row["comment"]) for row in rows] == [("10", "Alles bestens"), ("9", "Gut")]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "pdf"}, "Choose the file format: CSV, XLSX or JSON Lines."),
        ({"format": ""}, "Choose the file format: CSV, XLSX or JSON Lines."),
        ({"score": "11"}, "Scores of this survey run from 0 to 10."),
    ],
)
def test_bad_requests_explain_themselves_and_queue_nothing(
    manager_client, survey, django_capture_on_commit_callbacks, params, message
):
    response = prepare(manager_client, survey, django_capture_on_commit_callbacks, **params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ExportRecord.objects.count() == 0


def test_too_many_answers_for_a_spreadsheet_are_refused_at_once(
    manager_client, survey, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)
    response = prepare(manager_client, survey, django_capture_on_commit_callbacks, format="xlsx")
    assert response.status_code == 400
    assert "3 answers are more than a spreadsheet holds; export them as CSV." in response.content.decode()
    assert ExportRecord.objects.count() == 0


def test_three_exports_at_a_time(manager_client, cx_manager, survey):
    for _ in range(exports.MAX_UNFINISHED_PER_USER):
        manager_client.post(PREPARE, {"survey": survey.pk, "format": "csv"})  # queued: no commit in a test
    response = manager_client.post(PREPARE, {"survey": survey.pk, "format": "csv"})
    assert response.status_code == 400
    assert "3 of your exports are still being prepared." in response.content.decode()
    assert ExportRecord.objects.filter(user=cx_manager, status="queued").count() == 3


def test_preparing_takes_only_a_post_with_its_csrf_token(client, cx_manager, survey):
    client.force_login(cx_manager)
    assert client.get(PREPARE, {"survey": survey.pk, "format": "csv"}).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cx_manager)
    assert strict.post(PREPARE, {"survey": survey.pk, "format": "csv"}).status_code == 403
    assert ExportRecord.objects.count() == 0


def test_anonymous_visitors_are_sent_to_the_login(client, survey, django_capture_on_commit_callbacks):
    response = prepare(client, survey, django_capture_on_commit_callbacks)
    assert (response.status_code, response.url) == (302, f"/login/?next={PREPARE}")
    assert ExportRecord.objects.count() == 0


def test_staff_who_may_not_view_responses_are_refused(
    client, cx_manager, survey, django_capture_on_commit_callbacks
):
    take_away(cx_manager, "view_response")
    client.force_login(cx_manager)
    assert prepare(client, survey, django_capture_on_commit_callbacks).status_code == 403
    assert ExportRecord.objects.count() == 0


def test_readers_who_may_not_see_contacts_get_a_file_without_them(
    client, cx_manager, survey, django_capture_on_commit_callbacks
):
    take_away(cx_manager, "view_contact")
    client.force_login(cx_manager)
    record = record_of(prepare(client, survey, django_capture_on_commit_callbacks))
    assert not record.personal
    assert b"kunde@example.com" not in b"".join(client.get(f"/exports/{record.public_id}/download/"))


# The export's page and its status


def test_while_it_is_written_the_page_shows_the_progress_and_asks_again(manager_client, cx_manager, survey):
    record = exported(cx_manager, survey, "running", rows=1500, total=6000)
    page = manager_client.get(f"/exports/{record.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert by_id(html, "export-status") == "Running"
    assert by_id(html, "export-text") == "1,500 of 6,000 answers written."
    assert '<progress id="export-progress" max="100" value="25">' in html
    assert f'data-status-url="/exports/{record.public_id}/status/"' in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html  # without JavaScript
    assert "feedback/export.js" in html
    assert "export-download" not in html


def test_the_status_as_json(manager_client, cx_manager, survey):
    record = exported(cx_manager, survey, "running", rows=1500, total=6000)
    assert manager_client.get(f"/exports/{record.public_id}/status/").json() == {
        "status": "running",
        "label": "Running",
        "finished": False,
        "rows": 1500,
        "total": 6000,
        "percent": 25,
        "text": "1,500 of 6,000 answers written.",
        "download": None,
    }
    ExportRecord.objects.filter(pk=record.pk).update(status="queued", rows=None, total=None)
    status = manager_client.get(f"/exports/{record.public_id}/status/").json()
    assert (status["percent"], status["text"]) == (None, "Waiting for a worker to start.")


def test_once_done_the_page_offers_the_file(manager_client, cx_manager, survey):
    record = exported(cx_manager, survey)
    html = manager_client.get(f"/exports/{record.public_id}/").content.decode()
    assert by_id(html, "export-download") == "Download the CSV file"
    assert f'href="/exports/{record.public_id}/download/"' in html
    assert by_id(html, "export-text").startswith("3 answers, ready to download until ")
    assert "refresh" not in html and "export.js" not in html
    status = manager_client.get(f"/exports/{record.public_id}/status/").json()
    assert (status["finished"], status["percent"], status["download"]) == (
        True,
        100,
        f"/exports/{record.public_id}/download/",
    )


def test_a_failed_export_says_why(manager_client, cx_manager, survey):
    record = exported(cx_manager, survey, "failed", error="Writing the file failed: disk full")
    html = manager_client.get(f"/exports/{record.public_id}/").content.decode()
    assert by_id(html, "export-text") == "The export failed: Writing the file failed: disk full"
    assert manager_client.get(f"/exports/{record.public_id}/download/").status_code == 404


def test_an_expired_file_is_gone(manager_client, cx_manager, survey):
    record = exported(cx_manager, survey, expires_at=timezone.now())
    exports.tidy_exports(now=timezone.now())
    html = manager_client.get(f"/exports/{record.public_id}/").content.decode()
    assert "The file was deleted on" in by_id(html, "export-text")
    assert manager_client.get(f"/exports/{record.public_id}/download/").status_code == 404


# Who may see it


@pytest.mark.parametrize("path", ["", "status/", "download/"])
def test_only_who_started_it_may_see_it(client, cx_manager, colleague, admin_user, survey, path):
    url = f"/exports/{exported(cx_manager, survey).public_id}/{path}"
    client.force_login(colleague)
    assert client.get(url).status_code == 404  # exactly like an unknown export
    assert client.get(f"/exports/{'0' * 8}-0000-4000-8000-{'0' * 12}/{path}").status_code == 404
    client.force_login(admin_user)
    assert client.get(url).status_code == 200
    client.force_login(cx_manager)
    assert client.get(url).status_code == 200
    client.logout()
    assert client.get(url).url == f"/login/?next={url}"


def test_personal_data_only_while_its_reader_may_see_it(manager_client, cx_manager, survey):
    record = exported(cx_manager, survey)
    take_away(cx_manager, "view_contact")
    assert manager_client.get(f"/exports/{record.public_id}/download/").status_code == 404


def test_streamed_downloads_have_no_page(manager_client, survey):
    download = manager_client.get("/verbatims/export/", {"survey": survey.pk, **NOVEMBER, "format": "jsonl"})
    assert len(b"".join(download.streaming_content).splitlines()) == 3
    record = ExportRecord.objects.get()
    assert (record.status, record.background) == ("done", False)
    assert manager_client.get(f"/exports/{record.public_id}/").status_code == 404


# My exports


def test_my_exports_lists_mine_newest_first(
    manager_client, cx_manager, colleague, survey, django_assert_num_queries
):
    older = exported(cx_manager, survey, created_at=timezone.now() - timedelta(hours=1))
    running = exported(cx_manager, survey, "running", rows=10, total=40)
    exported(colleague, survey)
    manager_client.get("/verbatims/export/", {"survey": survey.pk, **NOVEMBER, "format": "csv"})
    with django_assert_num_queries(5):  # session, user, two for the permissions, the exports
        page = manager_client.get("/exports/")
    html = page.content.decode()
    rows = re.findall(r"<tr>(.*?)</tr>", by_id_html(html, "exports"), re.S)[1:]
    assert [re.search(r'href="/exports/([^/]+)/"', row).group(1) for row in rows] == [
        str(running.public_id),
        str(older.public_id),
    ]
    assert "Running (25 %)" in " ".join(re.sub(r"<[^>]+>", " ", rows[0]).split())
    assert f'href="/exports/{older.public_id}/download/"' in rows[1]


def test_no_exports_yet(manager_client):
    html = manager_client.get("/exports/").content.decode()
    assert "No exports yet." in html
    assert 'aria-current="page">My exports' in html
