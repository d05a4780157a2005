import io
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from delighted_compat.importer import ImportOptions, ImportRefused, import_file, parse_time
from delighted_compat.models import ImportedResponse
from delighted_compat.properties import property_name
from feedback.counts import Filters
from feedback.dashboard import build_dashboard
from followup.models import Case, CaseEntry, Evaluation, ResponseTag, Tag
from insights.models import ResponseTheme, Theme
from surveys.ingest import EventIn, ingest_events
from surveys.models import Contact, Response, Survey, Touchpoint
from tests.delighted_compat.exports import BERLIN, csv_bytes, make_rows, write_export
from tests.factories import make_contact, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English; the installation's default is German."""
    with translation.override("en"):
        yield


def run(data: bytes, **options):
    return import_file(io.BytesIO(data), options=ImportOptions(**options), now=NOW)


def test_an_export_imported_twice_gives_each_of_its_rows_once_as_it_was():
    rows = make_rows(60)
    data = write_export(rows)

    first = run(data, survey_name="Aus Delighted")
    second = run(data, survey=first.survey)

    assert (first.responses_created, first.responses_skipped, first.error_count) == (60, 0, 0)
    assert (second.responses_created, second.responses_skipped, second.error_count) == (0, 60, 0)
    assert (second.contacts_created, second.contacts_updated, second.tags, second.notes) == (0, 0, 0, 0)
    assert Response.objects.count() == 60
    assert Contact.objects.count() == len({row.email.lower() for row in rows})
    imported = {
        link.delighted_id: link.response for link in ImportedResponse.objects.select_related("response")
    }
    for row in rows:
        response = imported[row.response_id]
        assert (response.score, response.comment) == (row.score, row.comment)
        assert (response.created_at, response.updated_at) == (row.created_at, row.updated_at)
        assert response.event_properties == row.properties
        assert response.contact.email.lower() == row.email.lower()
        if "locale" in row.properties:
            assert response.language == row.properties["locale"][:2]
        assert sorted(response.tags.values_list("name", flat=True)) == sorted(row.tags)
        notes = list(CaseEntry.objects.filter(case__response=response).values_list("text", flat=True))
        assert notes == row.notes
    assert Tag.objects.count() == len({tag for row in rows for tag in row.tags})


def test_the_dashboard_shows_the_nps_of_each_month_as_the_export_gives_it():
    rows = make_rows(80, seed=11)
    report = run(write_export(rows), survey_name="NPS", kind="nps")
    run(write_export(rows), survey=report.survey)

    scores: dict[date, list[int]] = defaultdict(list)
    for row in rows:
        scores[row.created_at.astimezone(BERLIN).date().replace(day=1)].append(row.score)
    expected = {
        month: 100
        * (sum(s >= 9 for s in month_scores) - sum(s <= 6 for s in month_scores))
        / len(month_scores)
        for month, month_scores in scores.items()
    }
    filters = Filters(survey=report.survey, since=date(2025, 1, 1), until=date(2025, 5, 31))
    dashboard = build_dashboard(filters, interval="month", today=date(2026, 11, 23))

    shown = {bucket.start: bucket.summary.value for bucket in dashboard.series if bucket.summary.n}
    assert shown == pytest.approx(expected)
    assert dashboard.summary.n == len(rows)


def test_imported_answers_alert_nobody_and_open_no_case_to_work_on():
    survey = make_survey()
    survey.alert_rules.create(name="Every answer", active=True)
    run(write_export(make_rows(10)), survey=survey)

    assert not Evaluation.objects.exists()
    assert not Case.objects.exclude(status=Case.Status.NO_ACTION).exists()
    assert Case.objects.exists() and not Case.objects.filter(resolved_at__isnull=True).exists()


def test_a_dry_run_changes_nothing_and_reports_what_the_import_does():
    data = write_export(make_rows(30))
    survey = make_survey()
    tables = (Response, Contact, Survey, Touchpoint, Tag, ResponseTag, Case, CaseEntry, ImportedResponse)
    before = [model.objects.count() for model in tables]

    dry = run(data, survey=survey, dry_run=True)
    assert [model.objects.count() for model in tables] == before
    dry_new_survey = run(data, survey_name="Neu", dry_run=True)
    assert [model.objects.count() for model in tables] == before

    real = run(data, survey=survey)
    assert dry.dry_run and not real.dry_run
    assert dry.counts() == real.counts() == dry_new_survey.counts()
    assert real.responses_created == 30 and real.tags and real.notes


def test_bad_rows_are_reported_by_their_first_line_and_the_others_imported():
    data = csv_bytes(
        "Response ID,Date,Score,Comment,Email",
        '1,2025-03-01 10:00:00 +0100,9,"Drei\nZeilen\nlang",a@example.com',
        "2,2025-03-01 11:00:00 +0100,12,zu hoch,b@example.com",
        "3,gestern,5,,c@example.com",
        "4,2025-03-02T09:00:00+01:00,acht,,d@example.com",
        f"5,2025-03-02T09:00:00+01:00,7,,{'x' * 250}@example.com",
        "6,,7,,e@example.com",
        "",
        "7,1740900000,10,,f@example.com",
    )
    report = run(data, survey=make_survey())

    assert [line for line, _message in report.errors] == [5, 6, 7, 8, 9]
    assert "12" in report.errors[0][1] and "gestern" in report.errors[1][1] and "acht" in report.errors[2][1]
    assert report.rows == 7 and report.error_count == 5
    assert sorted(Response.objects.values_list("score", flat=True)) == [9, 10]


def test_scores_are_checked_against_the_scale_of_the_surveys_kind():
    data = csv_bytes("Date,Score,Email", "2025-03-01,5,a@example.com", "2025-03-01,6,b@example.com")
    report = run(data, survey_name="CSAT", kind="csat")

    assert report.survey.kind == "csat"
    assert report.responses_created == 1 and report.errors[0][0] == 3


def test_a_new_surveys_kind_comes_from_the_survey_type_column():
    data = csv_bytes("Date,Score,Survey type", "2025-03-01,2,CES", "2025-03-02,3,nps")
    report = run(data, survey_name="Aufwand")

    assert report.survey.kind == "ces"
    assert report.responses_created == 1 and report.errors[0][0] == 3  # an NPS row in a CES survey


def test_responses_without_an_email_are_kept_without_a_contact_and_once():
    data = csv_bytes("Date,Score,Comment", "2025-03-01 08:00:00 UTC,9,Toll", "2025-03-01 08:00:00 UTC,9,Toll")
    survey = make_survey()
    report = run(data, survey=survey)
    again = run(data, survey=survey)

    assert (report.responses_created, report.responses_skipped) == (1, 1)
    assert (again.responses_created, again.responses_skipped) == (0, 2)
    assert Response.objects.get().contact is None


def test_times_without_an_offset_are_read_in_the_time_zone_chosen():
    data = csv_bytes("Date,Score", "2025-07-01 12:00:00,9")
    run(data, survey=make_survey(), time_zone="America/New_York")

    assert Response.objects.get().created_at == datetime(2025, 7, 1, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2025-07-01 14:00:00 +0200",
        "2025-07-01T14:00:00+02:00",
        "2025-07-01T12:00:00Z",
        "2025-07-01 12:00:00 UTC",
        "1751371200",
        "2025-07-01 14:00:00",
    ],
)
def test_each_way_of_writing_a_time_gives_the_same_moment(text):
    assert parse_time(text, ZoneInfo("Europe/Berlin")) == datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def test_column_headers_become_valid_property_names():
    assert property_name("plan") == "plan"
    assert property_name(" Purchase Experience ") == "Purchase_Experience"
    assert property_name("Größe") == "Groesse"


def test_contacts_take_the_properties_of_their_latest_answer_whatever_the_order_of_the_rows():
    header = "Date,Score,Name,Email,plan,locale"
    later, earlier = (
        "2025-05-01,9,Anna Neu,anna@example.com,pro,en",
        "2025-01-01,3,Anna Alt,ANNA@example.com,basic,de",
    )
    run(csv_bytes(header, later, earlier), survey=make_survey())
    contact = Contact.objects.get()
    assert (contact.name, contact.properties, contact.language) == (
        "Anna Neu",
        {"plan": "pro", "locale": "en"},
        "en",
    )

    Contact.objects.all().delete()
    report = run(csv_bytes(header, earlier, later), survey=make_survey(), batch_size=1)
    contact = Contact.objects.get()
    assert (contact.name, contact.properties, contact.language) == (
        "Anna Neu",
        {"plan": "pro", "locale": "en"},
        "en",
    )
    assert (report.contacts_created, report.contacts_updated) == (1, 1)
    assert contact.created_at == datetime(2025, 1, 1, tzinfo=BERLIN)


def test_a_contact_changed_since_keeps_its_newer_data_and_gets_what_it_lacked():
    contact = make_contact(email="anna@example.com", name="Anna", properties={"plan": "enterprise"})
    report = run(
        csv_bytes("Date,Score,Name,Email,plan,Region", "2025-01-01,9,A.,anna@example.com,pro,Süd"),
        survey=make_survey(),
    )

    contact.refresh_from_db()
    assert (contact.name, contact.properties) == ("Anna", {"plan": "enterprise", "Region": "Süd"})
    assert report.contacts_updated == 1


def test_touchpoints_are_made_paused_from_the_values_of_a_property():
    make_touchpoint(slug="nord")  # another survey's, whose slug is taken
    data = csv_bytes(
        "Date,Score,Purchase Channel",
        "2025-01-01,9,Nord",
        "2025-01-02,7,Süd",
        "2025-01-03,3,Nord",
        "2025-01-04,10,",
    )
    survey = make_survey()
    report = run(data, survey=survey, touchpoint_property="Purchase Channel")
    again = run(data, survey=survey, touchpoint_property="Purchase Channel")

    touchpoints = {tp.name: tp for tp in survey.touchpoints.all()}
    assert set(touchpoints) == {"Nord", "Süd", "Delighted import"}
    assert not any(tp.active for tp in touchpoints.values())
    assert touchpoints["Nord"].slug != "nord" and touchpoints["Süd"].slug.startswith("sud")
    assert Counter(Response.objects.values_list("touchpoint__name", flat=True)) == {
        "Nord": 2,
        "Süd": 1,
        "Delighted import": 1,
    }
    assert (report.touchpoints_created, again.touchpoints_created) == (3, 0)


def test_a_touchpoint_property_that_the_file_lacks_refuses_the_file():
    with pytest.raises(ImportRefused):
        run(
            csv_bytes("Date,Score,plan", "2025-01-01,9,pro"),
            survey=make_survey(),
            touchpoint_property="region",
        )
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "data",
    [b"", csv_bytes("Datum,Wert", "2025-01-01,9"), csv_bytes("Date,Score,Score", "2025-01-01,9,9")],
)
def test_a_file_that_is_no_export_is_refused(data):
    with pytest.raises(ImportRefused):
        run(data, survey=make_survey())


def test_responses_need_a_survey():
    with pytest.raises(ImportRefused):
        run(csv_bytes("Date,Score", "2025-01-01,9"))


def test_unsubscribes_and_bounces_are_honoured_from_the_first_minute():
    known = make_contact(email="known@example.com", unsubscribed_at=datetime(2024, 1, 1, tzinfo=UTC))
    unsubscribes = csv_bytes(
        "Email,Name,Unsubscribed at",
        "KNOWN@example.com,Known,2025-02-01T10:00:00Z",
        "new@example.com,Neu,2025-02-01T10:00:00Z",
        "not an address,X,2025-02-01T10:00:00Z",
    )
    bounces = csv_bytes("Email,Name,Bounced at", "bounced@example.com,B,1738404000")

    first = run(unsubscribes)
    again = run(unsubscribes)
    run(bounces)

    assert (first.kind, first.unsubscribes, first.contacts_created, first.errors[0][0]) == (
        "unsubscribes",
        1,
        1,
        4,
    )
    assert (again.unsubscribes, again.contacts_created) == (0, 0)
    known.refresh_from_db()
    assert known.unsubscribed_at == datetime(2024, 1, 1, tzinfo=UTC)  # the earlier time is kept
    touchpoint = make_touchpoint(send_window=None)
    events = [
        EventIn(touchpoint=touchpoint, occurred_at=NOW, email=email)
        for email in ("new@example.com", "bounced@example.com", "someone@example.com")
    ]
    outcomes = ingest_events(events, now=NOW)
    assert [outcome.invitation.skip_reason for outcome in outcomes] == ["unsubscribed", "bounced", ""]


def test_people_become_contacts_with_their_properties_once():
    data = csv_bytes(
        "Email,Name,Created at,Phone,plan,locale",
        "anna@example.com,Anna,2024-05-01T10:00:00Z,+49,pro,de",
        ",Ohne Adresse,2024-05-01T10:00:00Z,,basic,",
    )
    report = run(data)
    again = run(data)

    contact = Contact.objects.get()
    assert (report.kind, report.contacts_created, report.errors[0][0]) == ("people", 1, 3)
    assert (contact.name, contact.properties, contact.language) == (
        "Anna",
        {"plan": "pro", "locale": "de"},
        "de",
    )
    assert contact.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert (again.contacts_created, again.contacts_updated) == (0, 0)


def test_a_windows_file_with_semicolons_is_read_with_its_umlauts():
    data = "Date;Score;Comment;Email\r\n2025-01-01;9;Größe passt;a@example.com\r\n".encode("cp1252")
    run(data, survey=make_survey())

    assert Response.objects.get().comment == "Größe passt"


def test_progress_is_told_after_every_batch():
    seen = []
    import_file(
        io.BytesIO(write_export(make_rows(25))),
        options=ImportOptions(survey=make_survey(), batch_size=10),
        now=NOW,
        progress=lambda report: seen.append(report.rows),
    )

    assert seen == [10, 20, 25]


def test_the_tally_of_scores_counts_the_imported_answers_on_their_days():
    survey = make_survey()
    run(csv_bytes("Date,Score", "2025-01-01T23:30:00Z,9", "2025-01-01T12:00:00Z,0"), survey=survey)

    filters = Filters(survey=survey, since=date(2025, 1, 1), until=date(2025, 1, 2))
    dashboard = build_dashboard(filters, interval="day", today=date(2026, 1, 1))
    assert {bucket.start: bucket.summary.n for bucket in dashboard.series} == {
        date(2025, 1, 1): 1,
        date(2025, 1, 2): 1,  # 00:30 in Berlin
    }
    assert timedelta(0) == timedelta(0)


def test_imported_comments_get_their_themes_and_nobody_is_alerted():
    theme = Theme.objects.create(name="Lieferung", include="liefer*")
    rows = make_rows(40, seed=5)
    run(write_export(rows), survey_name="NPS")
    themed = set(ResponseTheme.objects.filter(theme=theme).values_list("response__comment", flat=True))
    expected = {row.comment for row in rows if "Lieferung" in row.comment}
    assert expected and themed == expected
    assert not Evaluation.objects.exists()
