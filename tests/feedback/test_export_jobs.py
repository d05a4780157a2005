"""Exports prepared in the background: the file in the storage, its progress, failures, the clean-up."""

import csv
import io
import json
from datetime import date, datetime, timedelta

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from feedback import exports
from feedback.models import ExportRecord
from surveys.models import Response
from tests.factories import make_survey, make_touchpoint
from tests.feedback.pages import BERLIN, answer

pytestmark = pytest.mark.django_db

NOVEMBER = {"since": ["2026-11-01"], "until": ["2026-11-30"]}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)


@pytest.fixture
def survey():
    return make_survey(kind="nps", name="Weiterempfehlung Küchen")


@pytest.fixture
def answers(survey):
    """Four November answers with comments, oldest first: by email with a known contact, by link
    with event properties, one whose comment a spreadsheet would run, one in English."""
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    email = answer(
        survey, 3, date(2026, 11, 10), hour=8, touchpoint=delivery, comment='Zu spät, "leider"\nzwei Zeilen',
        properties={"plan": "pro", "seats": 12, "flags": ["a", "b"]},
    )  # fmt: skip
    email.contact.email, email.contact.name, email.contact.external_id = (
        "kunde@example.com",
        "Eva Kunde",
        "K-1",
    )
    email.contact.save()
    answer(survey, 10, date(2026, 11, 12), comment="Alles bestens", properties={"campaign": "winter"})
    answer(survey, 1, date(2026, 11, 13), comment="=HYPERLINK(1)", properties={"note": "@SUM(A1)"})
    answer(survey, 8, date(2026, 11, 14), comment="Fine", language="en")
    answer(survey, 9, date(2026, 10, 1), comment="Before the period")
    return list(Response.objects.filter(created_at__month=11).order_by("created_at", "pk"))


def queued(user, survey, file_format: str = "csv", *, personal: bool = True, **filters) -> ExportRecord:
    return ExportRecord.objects.create(
        user=user,
        username=user.get_username(),
        format=file_format,
        filters={"survey": [str(survey.pk)], **NOVEMBER, **filters},
        personal=personal,
        background=True,
        filename=f"answers.{file_format}",
        expires_at=NOW + exports.EXPORT_LIFETIME,
    )


def prepared(record: ExportRecord) -> ExportRecord:
    exports.prepare_export(record_id=record.pk)
    record.refresh_from_db()
    return record


def downloaded(client, survey, file_format: str, **params) -> bytes:
    """The same export as a download, for comparison."""
    query = {
        "survey": survey.pk,
        "since": "2026-11-01",
        "until": "2026-11-30",
        "format": file_format,
        **params,
    }
    response = client.get("/verbatims/export/", query)
    assert response.status_code == 200
    return response.getvalue()  # streamed or not


def stored_files(tmp_path) -> list[str]:
    folder = tmp_path / exports.STORAGE_FOLDER
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# The files


def test_a_csv_file_holds_what_the_download_streams(manager_client, cx_manager, survey, answers):
    record = prepared(queued(cx_manager, survey, "csv"))
    assert (record.status, record.rows, record.total) == ("done", 4, 4)
    assert record.finished_at is not None and record.error == ""
    content = record.file.read()
    assert content == downloaded(manager_client, survey, "csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert [row["response_id"] for row in rows] == [str(response.public_id) for response in answers]
    assert [row["comment"] for row in rows] == [
        'Zu spät, "leider"\nzwei Zeilen',
        "Alles bestens",
        "'=HYPERLINK(1)",
        "Fine",
    ]
    assert [row["score"] for row in rows] == [str(response.score) for response in answers]
    first, _second, third, _fourth = rows
    assert (first["contact_email"], first["contact_name"], first["contact_external_id"]) == (
        "kunde@example.com",
        "Eva Kunde",
        "K-1",
    )
    assert (first["contact.seats"], first["contact.flags"], third["event.note"]) == (
        "12",
        '["a", "b"]',
        "'@SUM(A1)",
    )


def test_an_xlsx_file_holds_the_same_cells_as_the_download(manager_client, cx_manager, survey, answers):
    record = prepared(queued(cx_manager, survey, "xlsx"))
    assert record.file.name.endswith(".xlsx")

    def cells(content: bytes) -> list[tuple]:
        sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
        assert sheet is not None
        return list(sheet.iter_rows(values_only=True))

    header, *rows = cells(record.file.read())
    assert rows and rows == cells(downloaded(manager_client, survey, "xlsx"))[1:]
    assert [row[header.index("response_id")] for row in rows] == [
        str(response.public_id) for response in answers
    ]
    assert rows[2][header.index("comment")] == "=HYPERLINK(1)"  # stored as text, never run


def test_a_json_lines_file_keeps_the_values_as_typed(manager_client, cx_manager, survey, answers):
    record = prepared(queued(cx_manager, survey, "jsonl"))
    content = record.file.read()
    assert content == downloaded(manager_client, survey, "jsonl")
    lines = [json.loads(line) for line in content.decode().splitlines()]
    assert [line["comment"] for line in lines] == [response.comment for response in answers]
    assert lines[0]["contact_properties"] == {"plan": "pro", "seats": 12, "flags": ["a", "b"]}
    assert lines[0]["contact_email"] == "kunde@example.com"


def test_without_personal_data_the_contact_is_a_pseudonym(cx_manager, survey, answers):
    record = prepared(queued(cx_manager, survey, "csv", personal=False))
    content = record.file.read().decode("utf-8-sig")
    first = next(csv.DictReader(io.StringIO(content, newline="")))
    assert "contact_email" not in first and "kunde@example.com" not in content and "Eva Kunde" not in content
    assert len(first["contact_id"]) == 20


def test_the_file_has_an_unguessable_name_and_the_filters_apply(cx_manager, survey, answers, tmp_path):
    record = prepared(queued(cx_manager, survey, "csv", category=["detractor"]))
    assert record.rows == 2
    [name] = stored_files(tmp_path)
    assert record.file.name == f"{exports.STORAGE_FOLDER}/{name}"
    assert len(name.removesuffix(".csv")) >= 43  # 256 random bits
    assert str(record.public_id) not in name


# Progress


def test_progress_is_recorded_after_every_page(cx_manager, survey, answers, monkeypatch):
    monkeypatch.setattr(exports, "ROWS_PER_PAGE", 1)
    record = queued(cx_manager, survey)
    seen = []
    writing = exports.csv_chunks

    def watched(table):
        for chunk in writing(table):
            yield chunk
            seen.append(ExportRecord.objects.values_list("status", "rows", "total").get(pk=record.pk))

    monkeypatch.setattr(exports, "csv_chunks", watched)
    record = prepared(record)
    # Each page's progress is on the record while the next page is written.
    assert {status for status, _rows, _total in seen} == {"running"}
    assert {total for _status, _rows, total in seen} == {4}
    assert sorted({rows for _status, rows, _total in seen}) == [0, 1, 2, 3]
    assert (record.status, record.rows, record.progressed_at >= record.created_at) == ("done", 4, True)


def test_pages_hand_over_every_answer_once_in_order(cx_manager, survey, monkeypatch):
    """Each page is a query of its own: answers of one instant are told apart by id where one
    page ends and the next starts."""
    monkeypatch.setattr(exports, "ROWS_PER_PAGE", 2)
    for score in (4, 5, 6, 7, 8):  # all at noon on the same day
        answer(survey, score, date(2026, 11, 5), comment=f"Antwort {score}")
    answer(survey, 9, date(2026, 11, 4), comment="Früher")
    content = prepared(queued(cx_manager, survey)).file.read().decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(content, newline=""))
    assert [row["score"] for row in rows] == ["9", "4", "5", "6", "7", "8"]


@pytest.mark.parametrize(
    ("status", "rows", "total", "percent"),
    [
        ("queued", None, None, None),
        ("running", 0, None, None),  # counting
        ("running", 250, 1000, 25),
        ("running", 1200, 1000, 100),  # answers arrived while it ran
        ("running", 0, 0, 100),
        ("done", 1000, 1000, 100),
        ("failed", 3, 1000, 0),
    ],
)
def test_the_percentage_done(status, rows, total, percent):
    assert ExportRecord(status=status, rows=rows, total=total).percent == percent


def test_a_prepared_export_is_written_once(cx_manager, survey, answers, tmp_path):
    record = prepared(queued(cx_manager, survey))
    exports.prepare_export(record_id=record.pk)
    assert len(stored_files(tmp_path)) == 1
    ExportRecord.objects.filter(pk=record.pk).update(status="running")
    exports.prepare_export(record_id=record.pk)  # another worker has it
    assert len(stored_files(tmp_path)) == 1


# Failures


def test_a_failing_storage_fails_the_export_with_the_reason(
    cx_manager, survey, answers, monkeypatch, tmp_path
):
    def full(name, content, max_length=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(default_storage, "save", full)
    record = prepared(queued(cx_manager, survey))
    assert record.status == "failed"
    assert record.error == "Writing the file failed: [Errno 28] No space left on device"
    assert record.finished_at is not None and not record.file
    assert stored_files(tmp_path) == []


def test_filters_that_no_longer_apply_fail_the_export(cx_manager, survey, answers):
    gone = make_touchpoint(survey=survey, name="Abgeschafft")
    record = queued(cx_manager, survey, touchpoint=[str(gone.pk)])
    gone.delete()
    record = prepared(record)
    assert record.status == "failed"
    assert "is not one of the available choices" in record.error


def test_too_many_answers_for_a_spreadsheet_fail_the_export(
    cx_manager, survey, answers, monkeypatch, tmp_path
):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    record = prepared(queued(cx_manager, survey, "xlsx"))
    assert (record.status, record.total) == ("failed", 4)
    assert record.error == "4 answers are more than a spreadsheet holds; export them as CSV."
    assert stored_files(tmp_path) == []


def test_a_file_finished_after_the_clean_up_gave_up_is_deleted(
    cx_manager, survey, answers, monkeypatch, tmp_path
):
    record = queued(cx_manager, survey)
    writing = exports.csv_chunks

    def given_up(table):
        yield from writing(table)
        ExportRecord.objects.filter(pk=record.pk).update(status="failed", error="stalled")

    monkeypatch.setattr(exports, "csv_chunks", given_up)
    record = prepared(record)
    assert (record.status, record.error, record.file.name) == ("failed", "stalled", "")
    assert stored_files(tmp_path) == []


# The clean-up


def test_the_clean_up_deletes_expired_files_and_keeps_the_records(cx_manager, survey, answers, tmp_path):
    old, recent = prepared(queued(cx_manager, survey)), prepared(queued(cx_manager, survey))
    ExportRecord.objects.filter(pk=old.pk).update(expires_at=NOW - timedelta(seconds=1))
    assert exports.tidy_exports(now=NOW) == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, old.rows, old.file.name, old.downloadable) == ("done", 4, "", False)
    assert recent.downloadable
    assert stored_files(tmp_path) == [recent.file.name.removeprefix(f"{exports.STORAGE_FOLDER}/")]
    assert exports.tidy_exports(now=NOW) == 0


def test_the_clean_up_fails_exports_that_will_not_finish(cx_manager, survey):
    never_started = queued(cx_manager, survey)
    lost, stalled, working, waiting = (queued(cx_manager, survey) for _ in range(4))
    ExportRecord.objects.filter(pk=never_started.pk).update(expires_at=NOW)
    ExportRecord.objects.filter(pk=lost.pk).update(created_at=NOW - timedelta(minutes=61))
    ExportRecord.objects.filter(pk=waiting.pk).update(created_at=NOW - timedelta(minutes=59))
    ExportRecord.objects.filter(pk=stalled.pk).update(
        status="running", progressed_at=NOW - timedelta(minutes=11)
    )
    ExportRecord.objects.filter(pk=working.pk).update(
        status="running", progressed_at=NOW - timedelta(minutes=1)
    )
    exports.tidy_exports(now=NOW)
    states = dict(ExportRecord.objects.values_list("pk", "status"))
    assert states == {
        never_started.pk: "failed",
        lost.pk: "failed",
        stalled.pk: "failed",
        working.pk: "running",
        waiting.pk: "queued",
    }
    assert (
        ExportRecord.objects.get(pk=stalled.pk).error
        == "The export stopped when its worker did. Start it again."
    )
    assert (
        ExportRecord.objects.get(pk=lost.pk).error
        == "No worker started the export within an hour. Start it again."
    )
    assert ExportRecord.objects.get(pk=never_started.pk).finished_at == NOW


def test_the_tasks_call_the_flows(cx_manager, survey, answers, monkeypatch):
    from feedback import tasks

    record = queued(cx_manager, survey)
    tasks.prepare_export.delay(record.pk)  # eager without a broker
    assert ExportRecord.objects.get(pk=record.pk).status == "done"
    ExportRecord.objects.filter(pk=record.pk).update(expires_at=timezone.now())
    tasks.tidy_exports.delay()
    assert ExportRecord.objects.get(pk=record.pk).file.name == ""
