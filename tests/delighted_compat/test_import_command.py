import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from surveys.models import Response, Survey
from tests.delighted_compat.exports import csv_bytes, make_rows, write_export
from tests.factories import make_survey

pytestmark = pytest.mark.django_db


def command(*args: str) -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command("import_delighted", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_bytes(write_export(make_rows(30)))
    return path


def test_it_imports_into_a_new_survey_with_progress_and_a_summary(export, tmp_path):
    bounces = tmp_path / "bounces.csv"
    bounces.write_bytes(csv_bytes("Email,Bounced at", "b@example.com,2025-01-01T00:00:00Z"))

    out, err = command(str(export), str(bounces), "--create-survey", "Aus Delighted", "--kind", "nps")

    survey = Survey.objects.get(name="Aus Delighted")
    assert survey.responses.count() == 30
    assert "responses.csv: 30 rows…" in err and "bounces.csv: 1 rows…" in err
    assert "responses created: 30" in out and "bounces: 1" in out and "errors: 0" in out
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DATA_IMPORTED).count() == 2


def test_a_second_run_adds_nothing(export):
    survey = make_survey()
    command(str(export), "--survey", str(survey.pk))
    out, _err = command(str(export), "--survey", str(survey.pk))

    assert "responses created: 0" in out and "responses skipped: 30" in out
    assert Response.objects.count() == 30


def test_a_dry_run_changes_nothing(export):
    out, _err = command(str(export), "--create-survey", "Probe", "--dry-run")

    assert "dry run" in out and "responses created: 30" in out
    assert not Survey.objects.exists() and not Response.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_IMPORTED).exists()


def test_errors_are_listed_with_their_lines_the_first_fifty_then_counted(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes("Date,Score", "2025-01-01,9", *["2025-01-01,99"] * 60))

    out, _err = command(str(path), "--survey", str(make_survey().pk))

    assert "line 3:" in out and "line 52:" in out and "line 53:" not in out
    assert "errors: 60" in out and "10 more" in out


def test_it_fails_when_nothing_could_be_imported(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes("Date,Score", "2025-01-01,99"))

    with pytest.raises(CommandError) as failure:
        command(str(path), "--survey", str(make_survey().pk))
    assert failure.value.returncode == 1


def test_a_refused_file_is_named_and_fails_the_run(tmp_path):
    path = tmp_path / "other.csv"
    path.write_bytes(csv_bytes("Datum,Wert", "2025-01-01,9"))

    with pytest.raises(CommandError):
        command(str(path))


@pytest.mark.parametrize(
    "args",
    [
        ["--survey", "999999"],
        ["--time-zone", "Mars/Olympus"],
        ["--survey", "1", "--create-survey", "X"],
        ["--kind", "stars"],
    ],
)
def test_bad_options_fail_before_anything_is_imported(export, args):
    with pytest.raises(CommandError):
        command(str(export), *args)
    assert not Response.objects.exists()


def test_a_missing_file_fails(tmp_path):
    with pytest.raises(CommandError):
        command(str(tmp_path / "nowhere.csv"))
