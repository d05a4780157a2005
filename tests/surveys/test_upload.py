from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from surveys.models import Contact, Event, Invitation
from surveys.properties import MAX_PROPERTIES
from surveys.upload import import_contacts, parse_contacts
from tests.factories import make_contact, make_touchpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English; the installation's default is German."""
    with translation.override("en"):
        yield


NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def touchpoint():
    return make_touchpoint(send_window=None)


def test_an_excel_file_from_germany_is_read_with_its_umlauts(touchpoint):
    data = "email;name;language;plan;region\r\njuergen@example.de;Jürgen Müller;de;pro;Süd\r\n".encode(
        "cp1252"
    )
    upload = parse_contacts(data, touchpoint=touchpoint, now=NOW)
    assert upload.errors == []
    [event] = upload.events
    assert (event.email, event.name, event.language) == ("juergen@example.de", "Jürgen Müller", "de")
    assert event.contact_properties == {"plan": "pro", "region": "Süd"}
    assert upload.properties == ["plan", "region"]


def test_a_utf8_file_with_a_byte_order_mark_and_commas_is_read(touchpoint):
    data = "\ufeffEmail,External_ID,legal_basis\nanna@example.com,C-1,customer\n,C-2,\n".encode()
    upload = parse_contacts(data, touchpoint=touchpoint, now=NOW)
    assert [(e.email, e.external_id, e.legal_basis) for e in upload.events] == [
        ("anna@example.com", "C-1", "customer"),
        ("", "C-2", ""),
    ]
    assert upload.lines == [2, 3]


def test_bad_rows_are_reported_with_their_line_and_the_rest_is_kept(touchpoint):
    data = (
        b"email,language,occurred_at\n"
        b"anna@example.com,de,\n"
        b"not-an-address,de,\n"
        b",,\n"
        b"ben@example.com,fr,\n"
        b"carl@example.com,en,2026-11-01T10:00\n"
        b"dora@example.com,en,2026-11-01T10:00+01:00\n"
    )
    upload = parse_contacts(data, touchpoint=touchpoint, now=NOW)
    assert [event.email for event in upload.events] == ["anna@example.com", "dora@example.com"]
    assert upload.errors == [
        (3, "“not-an-address” is not an email address."),
        (5, "The language must be de or en, not “fr”."),
        (6, "occurred_at must be a time with its offset, like 2026-03-01T10:00+01:00."),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name,plan\nAnna,pro\n", "with “email” or “external_id”"),
        (b"email,plan,plan\na@example.com,1,2\n", "Columns appear twice: plan."),
        (b"email,Kunden Nr\na@example.com,1\n", "“kunden nr” cannot be a property name"),
        (b"email\x00\n", "NUL characters"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_as_a_whole(touchpoint, data, message):
    with pytest.raises(ValidationError) as error:
        parse_contacts(data, touchpoint=touchpoint, now=NOW)
    assert message in error.value.messages[0]


def test_at_most_max_properties_columns_become_properties(touchpoint):
    columns = [f"p{number}" for number in range(MAX_PROPERTIES)]
    data = ",".join(["email", "name", *columns]) + "\nanna@example.com,Anna," + ",".join(columns) + "\n"
    [event] = parse_contacts(data.encode(), touchpoint=touchpoint, now=NOW).events
    assert len(event.contact_properties) == MAX_PROPERTIES

    wide = ",".join(["email", *(f"p{number}" for number in range(3_000))]) + "\nanna@example.com\n"
    with pytest.raises(ValidationError) as error:
        parse_contacts(wide.encode(), touchpoint=touchpoint, now=NOW)
    assert error.value.messages == ["At most 50 columns can become contact properties; this file has 3000."]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"email,name\nanna@example.com," + b"x" * 140_000 + b"\n", 2),
        (b'email,name\nanna@example.com,Anna\nben@example.com,"Ben\n' + b"x" * 140_000, 3),
        (b"email," + b"x" * 140_000 + b"\nanna@example.com\n", 1),
    ],
    ids=["a long value", "a quotation mark without its partner", "a long column name"],
)
def test_a_value_over_the_csv_readers_limit_refuses_the_file_with_its_line(touchpoint, data, line):
    with pytest.raises(ValidationError) as error:
        parse_contacts(data, touchpoint=touchpoint, now=NOW)
    assert error.value.messages == [
        f'Line {line} holds a value longer than 128 kB. Is a quotation mark (") missing its partner?'
    ]


def test_lines_ended_by_a_carriage_return_alone_are_read(touchpoint):
    upload = parse_contacts(
        b"email;plan\ranna@example.com;pro\rben@example.com;basic\r", touchpoint=touchpoint, now=NOW
    )
    assert [(event.email, event.contact_properties) for event in upload.events] == [
        ("anna@example.com", {"plan": "pro"}),
        ("ben@example.com", {"plan": "basic"}),
    ]
    assert upload.lines == [2, 3]


def test_the_preview_decides_like_the_import_and_stores_nothing(touchpoint):
    make_contact(email="gone@example.com", unsubscribed_at=NOW)
    data = b"email\nanna@example.com\ngone@example.com\nanna@example.com\n"
    upload = parse_contacts(data, touchpoint=touchpoint, now=NOW)

    preview = import_contacts(upload, now=NOW, dry_run=True)
    assert preview == ({"scheduled": 1, "unsubscribed": 1, "recently_invited": 1}, [])
    assert (Event.objects.count(), Invitation.objects.count(), Contact.objects.count()) == (0, 0, 1)

    assert import_contacts(upload, now=NOW) == preview
    assert Event.objects.filter(source="upload").count() == 3
    assert Invitation.objects.get(status="scheduled").contact.email == "anna@example.com"
