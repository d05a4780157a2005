"""Exports prepared in the background, in a real browser: the button under the comments, the
progress bar following the worker, then the file."""

from datetime import date
from urllib.parse import quote

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from feedback import exports
from feedback.models import ExportRecord
from tests.factories import make_survey
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db(transaction=True)

NOVEMBER = "since=2026-11-01&until=2026-11-30"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    for score, day in ((3, 10), (10, 12), (9, 13), (7, 14)):
        answer(survey, score, date(2026, 11, day), comment=f"Kommentar {score}")
    return survey


def log_in(page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}/login/?next={quote(path)}")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "manager-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


def test_the_button_under_the_comments_prepares_the_file(page, live_server, cx_manager, survey):
    log_in(page, live_server, f"/verbatims/?survey={survey.pk}&{NOVEMBER}")
    page.select_option("#f-format", "jsonl")
    page.click("#prepare-export button")
    # Without a broker the file is written before the page appears.
    expect(page.locator("#export-status")).to_have_text("Done")
    with page.expect_download() as download:
        page.click("#export-download")
    assert download.value.suggested_filename == "weiterempfehlung-2026-11-01-2026-11-30.jsonl"
    assert len(open(download.value.path()).read().splitlines()) == 4  # noqa: SIM115
    assert page.errors == []


def test_the_progress_bar_follows_the_worker(page, live_server, cx_manager, survey):
    record = ExportRecord.objects.create(
        user=cx_manager,
        username="manager",
        format="csv",
        filters={"survey": [str(survey.pk)], "since": ["2026-11-01"], "until": ["2026-11-30"]},
        personal=True,
        background=True,
        filename="weiterempfehlung.csv",
        expires_at=timezone.now() + exports.EXPORT_LIFETIME,
    )
    log_in(page, live_server, f"/exports/{record.public_id}/")
    expect(page.locator("#export-text")).to_have_text("Waiting for a worker to start.")
    ExportRecord.objects.filter(pk=record.pk).update(status="running", rows=1, total=4)
    expect(page.locator("#export-text")).to_have_text("1 of 4 answers written.")
    expect(page.locator("#export-status")).to_have_text("Running")
    assert page.eval_on_selector("#export-progress", "bar => bar.value") == 25
    ExportRecord.objects.filter(pk=record.pk).update(status="queued")
    exports.prepare_export(record_id=record.pk)
    # Finished: the page reloads and offers the file.
    expect(page.locator("#export-download")).to_have_text("Download the CSV file")
    assert page.errors == []
