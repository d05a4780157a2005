"""The import of Delighted's exports in the back office: for staff who may add responses and
contacts, a dry run by default, the summary and errors of each file, an entry in the audit log."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from delighted_compat import admin as delighted_admin
from surveys.models import Contact, Response, Survey
from tests.delighted_compat.exports import csv_bytes, make_rows, write_export
from tests.factories import make_staff, make_survey

pytestmark = pytest.mark.django_db

URL = reverse("admin:delighted_compat_project_import")


def upload(data: bytes, name: str = "responses.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.fixture
def importer(db):
    """Staff with exactly the permissions an import needs, creating surveys included."""
    user = make_staff("importer")
    codenames = ["add_response", "add_contact", "add_survey", "view_survey"]
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="surveys", codename__in=codenames)
    )
    return user


def test_the_projects_list_links_to_the_import_for_those_who_may(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:delighted_compat_project_changelist"))

    assert URL in page.content.decode()


def test_the_form_is_shown_with_the_dry_run_ticked(client, importer):
    client.force_login(importer)
    page = client.get(URL)

    assert page.status_code == 200
    assert page.context["form"].fields["dry_run"].initial is True
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()


def test_a_dry_run_shows_what_would_be_done_and_changes_nothing(client, importer):
    client.force_login(importer)
    page = client.post(
        URL, {"csv_files": upload(write_export(make_rows(12))), "survey_name": "Neu", "dry_run": "on"}
    )

    assert page.status_code == 200
    [(name, report, refused)] = page.context["reports"]
    assert (name, refused, report.dry_run, report.responses_created) == ("responses.csv", "", True, 12)
    assert not Survey.objects.exists() and not Response.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_IMPORTED).exists()


def test_an_import_brings_every_file_in_and_is_logged_with_counts_only(client, importer):
    client.force_login(importer)
    unsubscribes = csv_bytes("Email,Unsubscribed at", "weg@example.com,2025-01-01T00:00:00Z")
    page = client.post(
        URL,
        {
            "csv_files": [upload(write_export(make_rows(12))), upload(unsubscribes, "unsubscribes.csv")],
            "survey_name": "Aus Delighted",
            "kind": "nps",
        },
    )

    assert page.status_code == 200
    assert Survey.objects.get().responses.count() == 12
    assert Contact.objects.get(email="weg@example.com").unsubscribed_at is not None
    events = AuditEvent.objects.filter(action=AuditEvent.Action.DATA_IMPORTED).order_by("pk")
    assert [event.details["kind"] for event in events] == ["responses", "unsubscribes"]
    assert events[0].details["responses_created"] == 12 and events[0].actor == "importer"
    assert "@" not in str([event.details for event in events])


def test_errors_are_shown_with_their_lines(client, importer):
    client.force_login(importer)
    page = client.post(
        URL,
        {
            "csv_files": upload(csv_bytes("Date,Score", "2025-01-01,9", "2025-01-01,11")),
            "survey": make_survey().pk,
        },
    )

    [(_name, report, _refused)] = page.context["reports"]
    assert [line for line, _message in report.errors] == [3]
    assert Response.objects.count() == 1


def test_a_file_that_is_no_export_is_named_as_refused(client, importer):
    client.force_login(importer)
    page = client.post(
        URL, {"csv_files": upload(b"Datum,Wert\r\n1,2\r\n", "other.csv"), "survey": make_survey().pk}
    )

    [(name, report, refused)] = page.context["reports"]
    assert (name, report) == ("other.csv", None) and refused


def test_files_over_the_limit_are_sent_to_the_command(client, importer, monkeypatch):
    monkeypatch.setattr(delighted_admin, "MAX_UPLOAD_BYTES", 100)
    client.force_login(importer)
    page = client.post(URL, {"csv_files": upload(write_export(make_rows(5))), "survey_name": "Neu"})

    assert page.status_code == 400 and "import_delighted" in page.content.decode()
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no file
        {"survey_name": "Neu", "survey": "SURVEY"},  # both
        {"survey": "999999"},
        {"time_zone": "Mars/Olympus"},
    ],
)
def test_bad_input_is_refused_and_nothing_stored(client, importer, fields):
    client.force_login(importer)
    survey = make_survey()
    data = {key: (survey.pk if value == "SURVEY" else value) for key, value in fields.items()}
    if fields:
        data["csv_files"] = upload(write_export(make_rows(3)))
    page = client.post(URL, data)

    assert page.status_code == 400
    assert not Response.objects.exists()


def test_creating_a_survey_needs_the_permission_to(client, importer):
    importer.user_permissions.remove(Permission.objects.get(codename="add_survey"))
    client.force_login(importer)
    page = client.post(URL, {"csv_files": upload(write_export(make_rows(3))), "survey_name": "Neu"})

    assert page.status_code == 400
    assert not Survey.objects.exists()


@pytest.mark.parametrize("missing", ["add_response", "add_contact"])
def test_staff_without_both_permissions_are_refused(client, importer, missing):
    importer.user_permissions.remove(Permission.objects.get(codename=missing))
    client.force_login(importer)

    assert client.get(URL).status_code == 403
    assert (
        client.post(URL, {"csv_files": upload(write_export(make_rows(3))), "survey_name": "Neu"}).status_code
        == 403
    )
    assert not Response.objects.exists()


def test_a_cx_manager_may_not_import(client, cx_manager):
    client.force_login(cx_manager)

    assert client.get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    page = client.post(URL, {"csv_files": upload(write_export(make_rows(3))), "survey_name": "Neu"})

    assert page.status_code == 302
    assert not Response.objects.exists()


def test_the_upload_needs_the_csrf_token(importer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(importer)
    page = client.post(URL, {"csv_files": upload(write_export(make_rows(3))), "survey_name": "Neu"})

    assert page.status_code == 403
    assert not Response.objects.exists()


def test_another_teams_survey_cannot_be_chosen(client, importer):
    from tests.factories import make_team

    mine, theirs = make_survey(), make_survey()
    make_team("A", surveys=[mine], members=[importer])
    make_team("B", surveys=[theirs], members=[make_staff("other")])
    client.force_login(importer)
    page = client.post(URL, {"csv_files": upload(write_export(make_rows(3))), "survey": theirs.pk})

    assert page.status_code == 400
    assert not Response.objects.exists()
