"""``manage.py erase_contacts FILE``: the people a file names, erased, or with --dry-run counted."""

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from privacy.management.commands.erase_contacts import read_identities
from surveys.models import Contact
from tests.factories import make_contact
from tests.privacy.conftest import EMAIL, EXTERNAL_ID

pytestmark = pytest.mark.django_db


def run(path, *options) -> str:
    import io

    out = io.StringIO()
    call_command("erase_contacts", str(path), *options, stdout=out, stderr=out)
    return out.getvalue()


def test_each_line_names_an_email_or_an_external_id(world, tmp_path):
    listed = tmp_path / "erase.txt"
    listed.write_text(f"{EMAIL.upper()}\n\nB-77\nnobody@example.com\n", encoding="utf-8")
    make_contact(email="", external_id="B-77")

    output = run(listed)

    assert not Contact.objects.filter(pk=world.anna.pk).exists()
    assert not Contact.objects.filter(external_id="B-77").exists()
    lines = output.splitlines()
    assert lines[0] == (
        f"1: {EMAIL.upper()}: invitations: 6, case replies: 0, questions after cases: 0, responses: 4, "
        "events: 2, webhook messages: 5, idempotency records: 2, export files: 1, export records: 1, "
        "admin history: 2, consents: 0, autopilot: 0, contact: 1, "
        "suppressed: 1"
    )
    assert lines[2] == "3: nobody@example.com: not found"
    assert lines[-1].startswith(
        "Erased 2 people (invitations: 6, case replies: 0, questions after cases: 0, responses: 4,"
    )
    assert lines[-1].endswith("; 1 not found.")
    entries = AuditEvent.objects.filter(action="contact_erased")
    assert entries.count() == 2 and {entry.via for entry in entries} == {"command"}


def test_a_dry_run_says_what_would_go_and_changes_nothing(world, tmp_path):
    listed = tmp_path / "erase.csv"
    listed.write_text(f"name;external_id\nAnna;{EXTERNAL_ID}\n", encoding="utf-8")

    output = run(listed, "--dry-run")

    assert Contact.objects.filter(pk=world.anna.pk).exists()
    assert output.splitlines()[-1].startswith(
        "Would erase 1 people (invitations: 6, case replies: 0, questions after cases: 0, responses: 4,"
    )
    assert not AuditEvent.objects.filter(action="contact_erased").exists()


def test_a_column_of_a_csv_file_can_be_named(tmp_path):
    make_contact(email="eva@example.com")
    listed = tmp_path / "export.csv"
    listed.write_text("kunde,mail\nEva,eva@example.com\n", encoding="utf-8")

    run(listed, "--column", "mail")

    assert not Contact.objects.filter(email="eva@example.com").exists()
    with pytest.raises(CommandError, match="no column 'email_address'"):
        run(listed, "--column", "email_address")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a@example.com\nK-1\n", [("a@example.com", ""), ("", "K-1")]),
        ("email,external_id\na@example.com,K-1\n,K-2\n", [("a@example.com", "K-1"), ("", "K-2")]),
        ("Email\tName\na@example.com\tAnna\n", [("a@example.com", "")]),
        ("", []),
    ],
)
def test_the_file_is_read_as_a_list_or_as_csv(text, found):
    assert read_identities(text) == found


def test_a_file_that_cannot_be_read_is_refused(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "missing.txt")
