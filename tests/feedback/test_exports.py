"""Exports of verbatims: parsed back and compared with the database, injection, personal data, records."""

import csv
import io
import json
import re
from datetime import date

import openpyxl
import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from feedback import exports
from feedback.models import ExportRecord
from insights import themes
from insights.models import ResponseTone, Theme
from surveys.answering.collect import Identity
from surveys.models import Response
from tests.factories import make_survey, make_touchpoint, take_away
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db

URL = "/verbatims/export/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
NOVEMBER_LISTS = {key: [value] for key, value in NOVEMBER.items()}
FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1", "-2 Sterne", "@SUM(A1)", "\tTab", "\rReturn"]
# Written out here rather than taken from the code: what a spreadsheet runs as a formula.
STARTS_A_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# What a spreadsheet may split a CSV at: Excel at its locale's list separator (a semicolon in
# German), LibreOffice at what its import dialog has ticked.
SEPARATORS = (",", ";", "\t")
# Formulas after a place where a spreadsheet splitting at another separator than ours starts a cell.
SPLIT_FORMULAS = [
    "ok;=1+1",
    "a,=1+1",  # quoted, so only a reader splitting at commas would split it, and it respects quotes
    "x;@SUM(1)",
    "x\t=1",
    "Gut:\n- schnell\n+ freundlich",  # each line a row to a reader splitting at semicolons
    "ok\r\n=1",
    'x;"=1+1"',  # behind a quote
    "=1;=2",
    "Weiter so ;-)",
]
BASE_COLUMNS = [
    "response_id",
    "created_at",
    "updated_at",
    "survey",
    "kind",
    "touchpoint",
    "score",
    "category",
    "comment",
    "language",
    "channel",
    "tags",
    "themes",
    "tone",
    "tone_value",
    "contact_id",
]
PERSONAL = [
    "contact_external_id",
    "contact_email",
    "contact_name",
    "claimed_external_id",
    "claimed_email",
    "claimed_name",
]
# Who the link answer says it is, without the company's signature.
CLAIMED = Identity(email="eva.kunde@example.com", external_id="K-7", name="Eva Mallory")


@pytest.fixture
def survey():
    return make_survey(kind="nps", name="Weiterempfehlung Küchen")


@pytest.fixture
def answers(survey):
    """Three answers with comments: by email (contact properties), by link (event properties, an
    unsigned identity)."""
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    email = answer(
        survey,
        3,
        date(2026, 11, 10),
        hour=8,
        touchpoint=delivery,
        comment='Zu spät, "leider"\nzweite Zeile; mit Komma, und Ümläuten',
        properties={"plan": "pro", "region": "DE"},
    )
    link = answer(
        survey,
        10,
        date(2026, 11, 12),
        comment="Alles bestens",
        properties={"campaign": "winter"},
        identity=CLAIMED,
    )
    answer(survey, 8, date(2026, 11, 13))  # no comment: not exported by default
    answer(survey, 9, date(2026, 10, 1), comment="Vor dem Zeitraum")
    email.contact.email, email.contact.name, email.contact.external_id = (
        "kunde@example.com",
        "Eva Kunde",
        "K-1",
    )
    email.contact.save()
    return [email, link]


@pytest.fixture
def analyst_client(client, analyst):
    """A reader of feedback who may not see contacts."""
    client.force_login(analyst)
    return client


def download(client, survey, file_format, **params) -> bytes:
    response = client.get(URL, {"survey": survey.pk, **NOVEMBER, "format": file_format, **params})
    assert response.status_code == 200, response.content[:500]
    return response.getvalue()  # streamed or not


def csv_rows(content: bytes) -> list[dict]:
    assert content.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs for UTF-8
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def cells_read_at(text: str, separator: str) -> list[str]:
    """Every cell of a CSV text as a spreadsheet splitting at ``separator`` reads it: a quote
    opens a quoted cell only at a cell's start, as in Excel."""
    return [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator) for cell in row]


def starts_a_formula(cell: str) -> bool:
    """Whether a spreadsheet would run the cell as a formula.

    Not a cell opened by the quote that closes a text ending in a semicolon, tab or line
    break: it swallows the row's end and the next row's id, or nothing after the last row.
    """
    return cell.startswith(STARTS_A_FORMULA) and not re.match(r"\r\n(?:[0-9a-f]{8}-|\Z)", cell)


def assert_no_cell_starts_a_formula(text: str) -> None:
    for separator in SEPARATORS:
        formulas = [cell for cell in cells_read_at(text, separator) if starts_a_formula(cell)]
        assert formulas == [], f"split at {separator!r}"


def assert_kept_but_for_apostrophes(original: str, cell: str) -> None:
    """``cell`` is ``original`` with apostrophes added, and only where a spreadsheet may start a
    cell (at the start, after a semicolon, tab or line break) before a formula start, perhaps
    behind quotes."""
    added, kept = [], 0
    for character in cell:
        if kept < len(original) and character == original[kept]:
            kept += 1
        else:
            assert character == "'", (original, cell)
            added.append(kept)
    assert kept == len(original), (original, cell)
    for place in added:
        assert place == 0 or original[place - 1] in ";\t\r\n", (original, cell)
        assert original[place:].lstrip('"').startswith(STARTS_A_FORMULA), (original, cell)


def csv_writer_field(value) -> str:
    """A cell as csv.writer writes it, except that a text holding a semicolon or tab is quoted."""
    written = io.StringIO()
    if isinstance(value, str) and (";" in value or "\t" in value):
        csv.writer(written, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow([value])
        return written.getvalue().removesuffix("\r\n")
    csv.writer(written, lineterminator="\r\n").writerow(["", value])
    return written.getvalue().removeprefix(",").removesuffix("\r\n")


def expected_row(response: Response, *, personal: bool) -> dict:
    response.refresh_from_db()
    row = {
        "response_id": str(response.public_id),
        "created_at": response.created_at.astimezone(response.created_at.tzinfo).isoformat(),
        "survey": "Weiterempfehlung Küchen",
        "kind": "nps",
        "touchpoint": response.touchpoint.name if response.touchpoint else "",
        "score": str(response.score),
        "category": response.category,
        "comment": response.comment,
        "language": response.language,
        "channel": response.channel,
        "tags": ", ".join(response.tags.order_by("name").values_list("name", flat=True)),
    }
    if personal:
        contact = response.contact
        assert contact is not None
        row |= {
            "contact_external_id": contact.external_id,
            "contact_email": contact.email,
            "contact_name": contact.name,
            "claimed_external_id": "",
            "claimed_email": "",
            "claimed_name": "",
        }
    return row


def test_csv_holds_every_answer_with_its_context(manager_client, survey, answers):
    rows = csv_rows(download(manager_client, survey, "csv"))
    email, link = answers
    assert list(rows[0]) == [*BASE_COLUMNS, *PERSONAL, "contact.plan", "contact.region", "event.campaign"]
    assert [row["response_id"] for row in rows] == [str(email.public_id), str(link.public_id)]  # oldest first
    first, second = rows
    assert first["created_at"] == "2026-11-10T08:00:00+01:00"  # ISO 8601 with the offset
    assert first["comment"] == 'Zu spät, "leider"\nzweite Zeile; mit Komma, und Ümläuten'
    assert (first["touchpoint"], first["score"], first["category"], first["channel"]) == (
        "Lieferung",
        "3",
        "detractor",
        "email",
    )
    assert (first["contact_email"], first["contact_name"], first["contact_external_id"]) == (
        "kunde@example.com",
        "Eva Kunde",
        "K-1",
    )
    assert (first["claimed_email"], first["claimed_name"], first["claimed_external_id"]) == ("", "", "")
    assert (first["contact.plan"], first["contact.region"], first["event.campaign"]) == ("pro", "DE", "")
    assert (second["touchpoint"], second["contact.plan"], second["event.campaign"]) == ("", "", "winter")
    # An unsigned link answer has no contact, only the identity it claims, in columns of its own.
    assert (second["contact_id"], second["contact_email"], second["contact_name"]) == ("", "", "")
    assert (second["claimed_email"], second["claimed_name"], second["claimed_external_id"]) == (
        "eva.kunde@example.com",
        "Eva Mallory",
        "K-7",
    )


def test_csv_quotes_as_rfc_4180_says(manager_client, survey, answers):
    content = download(manager_client, survey, "csv").decode("utf-8-sig")
    assert '"Zu spät, ""leider""\nzweite Zeile; mit Komma, und Ümläuten"' in content
    assert content.count("\r\n") == 3  # header and two rows end in CRLF; the comment keeps its LF


def test_xlsx_holds_the_same_rows(manager_client, survey, answers):
    content = download(manager_client, survey, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header, *data = rows
    assert header == [*BASE_COLUMNS, *PERSONAL, "contact.plan", "contact.region", "event.campaign"]
    as_csv = csv_rows(download(manager_client, survey, "csv"))
    for row, csv_row in zip(data, as_csv, strict=True):
        cells = [*row, *[None] * (len(header) - len(row))]  # empty cells at the end are not stored
        assert [("" if value is None else str(value)) for value in cells] == list(csv_row.values())


def test_json_lines_keep_values_as_typed(manager_client, survey, answers):
    lines = download(manager_client, survey, "jsonl").decode().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["score"] == 3 and isinstance(first["score"], int)
    assert first["comment"] == answers[0].comment
    assert first["contact_properties"] == {"plan": "pro", "region": "DE"}
    assert second["event_properties"] == {"campaign": "winter"}
    assert second["contact_id"] == ""
    assert (second["claimed_email"], second["claimed_name"], second["claimed_external_id"]) == (
        "eva.kunde@example.com",
        "Eva Mallory",
        "K-7",
    )
    assert list(first) == [*BASE_COLUMNS, *PERSONAL, "contact_properties", "event_properties"]


def test_filters_and_search_apply_to_the_export(manager_client, survey, answers):
    assert [row["score"] for row in csv_rows(download(manager_client, survey, "csv", q="bestens"))] == ["10"]
    assert [row["score"] for row in csv_rows(download(manager_client, survey, "csv", comment="any"))] == [
        "3",
        "10",
        "8",
    ]
    assert csv_rows(download(manager_client, survey, "csv", category="passive")) == []


# Themes and tone


@pytest.fixture
def themed(survey, answers):
    """The first answer's comment has the themes Verspätung and "=Zitat" (its rule finds "leider"),
    a positive tone; the second none of them and a neutral tone. Theme Hotline is nobody's."""
    rules = (("Verspätung", "spät"), ("=Zitat", "leider"), ("Hotline", "hotline"))
    for name, include in rules:
        themes.start_matching(Theme.objects.create(name=name, include=include), now=survey.created_at)
    while themes.match_again(now=survey.created_at):
        pass
    email, link = answers
    ResponseTone.objects.create(response=email, value=0.75)
    ResponseTone.objects.create(response=link, value=-0.25)
    return answers


def test_each_answer_has_its_themes_and_tone_in_every_format(manager_client, survey, themed):
    first, second = csv_rows(download(manager_client, survey, "csv"))
    # Sorted and separated by semicolons; a name that starts like a formula is neutralised.
    assert (first["themes"], first["tone"], first["tone_value"]) == (
        "'=Zitat; Verspätung",
        "positive",
        "0.75",
    )
    assert (second["themes"], second["tone"], second["tone_value"]) == ("", "neutral", "-0.25")

    sheet = openpyxl.load_workbook(io.BytesIO(download(manager_client, survey, "xlsx"))).active
    column = BASE_COLUMNS.index("themes") + 1
    cells = [[sheet.cell(row=row, column=column + offset).value for offset in range(3)] for row in (2, 3)]
    assert cells == [["=Zitat; Verspätung", "positive", 0.75], [None, "neutral", -0.25]]
    assert sheet.cell(row=2, column=column).data_type == "s"  # text, never a formula

    lines = [json.loads(line) for line in download(manager_client, survey, "jsonl").decode().splitlines()]
    assert [(line["themes"], line["tone"], line["tone_value"]) for line in lines] == [
        (["=Zitat", "Verspätung"], "positive", 0.75),
        ([], "neutral", -0.25),
    ]


def test_an_answer_without_a_tone_has_empty_tone_cells(manager_client, survey, answers):
    first, _second = csv_rows(download(manager_client, survey, "csv"))
    assert (first["themes"], first["tone"], first["tone_value"]) == ("", "", "")
    first_line = json.loads(download(manager_client, survey, "jsonl").decode().splitlines()[0])
    assert (first_line["themes"], first_line["tone"], first_line["tone_value"]) == ([], None, None)


def test_the_theme_filter_applies_to_the_export(manager_client, survey, themed):
    rows = csv_rows(download(manager_client, survey, "csv", theme=["Verspätung", "Hotline"]))
    assert [row["response_id"] for row in rows] == [str(themed[0].public_id)]
    assert csv_rows(download(manager_client, survey, "csv", theme="Hotline")) == []
    refused = manager_client.get(
        URL,
        {"survey": survey.pk, **NOVEMBER, "format": "csv", "theme": "Unbekannt"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert refused.status_code == 400
    assert "There is no theme “Unbekannt”." in refused.content.decode()


def test_themes_cost_one_query_per_export_not_one_per_row(
    manager_client, survey, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(exports, "ROWS_PER_PAGE", 2)
    theme = Theme.objects.create(name="Lieferung", include="liefer*")
    themes.start_matching(theme, now=survey.created_at)
    for day in range(1, 6):
        answer(survey, day, date(2026, 11, day), comment=f"Lieferung Nummer {day}")
    themes.match_again(now=survey.created_at)
    response = manager_client.get(URL, {"survey": survey.pk, **NOVEMBER, "format": "csv"})
    # As test_all_rows_come_through_one_cursor, and the themes' names once.
    with django_assert_num_queries(6):
        rows = csv_rows(b"".join(response.streaming_content))
    assert [row["themes"] for row in rows] == ["Lieferung"] * 5


# Formula injection


@pytest.mark.parametrize("text", FORMULAS)
def test_formulas_are_neutralised_in_csv_and_xlsx_but_kept_in_json(manager_client, survey, text):
    answer(survey, 1, date(2026, 11, 5), comment=text, properties={"note": text})
    [row] = csv_rows(download(manager_client, survey, "csv"))
    assert row["comment"] == "'" + text
    assert row["event.note"] == "'" + text

    sheet = openpyxl.load_workbook(io.BytesIO(download(manager_client, survey, "xlsx"))).active
    comment = sheet.cell(row=2, column=BASE_COLUMNS.index("comment") + 1)
    # The text as typed (XML reads a carriage return as a line feed), as text, never as a formula.
    assert comment.value == text.replace("\r", "\n")
    assert comment.data_type == "s"
    assert comment.quotePrefix

    [line] = download(manager_client, survey, "jsonl").decode().splitlines()
    assert json.loads(line)["comment"] == text


@pytest.mark.parametrize("text", SPLIT_FORMULAS)
def test_no_cell_starts_a_formula_whichever_separator_a_spreadsheet_splits_at(manager_client, survey, text):
    """In comments, properties, their names, touchpoints and contacts; XLSX and JSON keep the text."""
    touchpoint = make_touchpoint(survey=survey, name=text)
    named = {"note": text, text: "key"}  # the text as a property's value and as its name
    response = answer(survey, 1, date(2026, 11, 5), touchpoint=touchpoint, comment=text, properties=named)
    response.contact.name = text
    response.contact.save()
    content = download(manager_client, survey, "csv").decode("utf-8-sig")
    assert_no_cell_starts_a_formula(content)
    [row] = csv_rows(download(manager_client, survey, "csv"))
    [header] = [column for column, value in row.items() if value == "key"]
    assert_kept_but_for_apostrophes("contact." + text, header)
    for column in ("touchpoint", "comment", "contact_name", "contact.note"):
        assert_kept_but_for_apostrophes(text, row[column])

    sheet = openpyxl.load_workbook(io.BytesIO(download(manager_client, survey, "xlsx"))).active
    comment = sheet.cell(row=2, column=BASE_COLUMNS.index("comment") + 1)
    assert comment.value == text.replace("\r\n", "\n")  # typed cells split nowhere: kept as typed
    assert comment.quotePrefix == text.startswith(STARTS_A_FORMULA)

    [line] = download(manager_client, survey, "jsonl").decode().splitlines()
    record = json.loads(line)
    assert (record["comment"], record["contact_properties"]["note"]) == (text, text)


# Texts dense in separators, line breaks, quotes and formula starts, and any text at all.
TRICKY_TEXTS = st.one_of(st.text(st.sampled_from(list(";,\t\r\n\"'=+-@ a")), max_size=12), st.text())


@given(st.lists(TRICKY_TEXTS, max_size=3))
def test_no_text_starts_a_cell_with_a_formula_and_each_is_kept_but_for_apostrophes(texts):
    line = exports.csv_line(["id", *map(exports.neutralised, texts)]) + "\r\n"
    assert_no_cell_starts_a_formula(line)
    [[_id, *cells]] = csv.reader(io.StringIO(line, newline=""))
    for text, cell in zip(texts, cells, strict=True):
        assert_kept_but_for_apostrophes(text, cell)


def test_ordinary_text_and_numbers_are_left_alone(manager_client, survey):
    answer(survey, 0, date(2026, 11, 5), comment="1-2 Tage zu spät; Preis 10,- Euro")
    [row] = csv_rows(download(manager_client, survey, "csv"))
    assert (row["comment"], row["score"]) == ("1-2 Tage zu spät; Preis 10,- Euro", "0")


def test_csv_lines_are_what_csv_writer_writes(manager_client, cx_manager, survey, answers):
    """The CSV is written without csv.writer for speed: it must come out the same, but for
    texts holding a semicolon or tab, which csv.writer leaves bare."""
    answer(survey, 0, date(2026, 11, 20), comment='"Zitat", =1+1\r\nEnde', properties={"n": 1.5, "ok": True})
    for day, comment in enumerate(["ok;=1+1", "x\t@1", '"=1"', "=1", "Gut\n- schnell", "a;b"], start=21):
        answer(survey, 1, date(2026, 11, day), comment=comment, properties={"note": comment})
    content = download(manager_client, survey, "csv").decode("utf-8-sig")
    table = exports.Table(
        exports.Export.from_filters(
            {"survey": [str(survey.pk)], **NOVEMBER_LISTS}, user=cx_manager, personal=True
        )
    )
    expected = [table.columns, *(row for rows in table.rows() for row in rows)]
    assert content == "".join(
        ",".join(csv_writer_field(exports.neutralised(value)) for value in row) + "\r\n" for row in expected
    )


@given(st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.text()))
def test_a_csv_field_is_written_as_csv_writer_writes_it(value):
    assert exports._csv_field(value) == csv_writer_field(value)


def test_answers_come_oldest_first_those_of_one_instant_by_id(manager_client, survey, monkeypatch):
    monkeypatch.setattr(exports, "ROWS_PER_PAGE", 2)
    for score in (4, 5, 6, 7, 8):  # all at noon on the same day
        answer(survey, score, date(2026, 11, 5), comment=f"Antwort {score}")
    answer(survey, 9, date(2026, 11, 4), comment="Früher")
    assert [row["score"] for row in csv_rows(download(manager_client, survey, "csv"))] == [
        "9", "4", "5", "6", "7", "8",
    ]  # fmt: skip


def test_all_rows_come_through_one_cursor(manager_client, survey, monkeypatch, django_assert_num_queries):
    """On PostgreSQL a server-side cursor in a transaction: rows leave as they are read, and memory
    stays flat (without the transaction, PostgreSQL would compute all rows first)."""
    monkeypatch.setattr(exports, "ROWS_PER_PAGE", 2)
    for day in range(1, 6):
        answer(survey, day, date(2026, 11, day), comment="Kommentar", properties={"plan": "pro"})
    response = manager_client.get(URL, {"survey": survey.pk, **NOVEMBER, "format": "csv"})
    # The property names, the rows between a savepoint and its release, the record.
    with django_assert_num_queries(5) as queries:
        assert b"".join(response.streaming_content).count(b"\r\n") == 6
    assert ExportRecord.objects.get().rows == 5
    if connection.vendor == "postgresql":
        assert "CURSOR WITHOUT HOLD FOR SELECT" in queries.captured_queries[2]["sql"]


# Personal data


def test_readers_who_may_not_see_contacts_get_a_stable_pseudonym(analyst_client, survey, answers):
    first = csv_rows(download(analyst_client, survey, "csv"))
    assert list(first[0]) == [*BASE_COLUMNS, "contact.plan", "contact.region", "event.campaign"]
    for file_format in ("csv", "xlsx", "jsonl"):
        content = download(analyst_client, survey, file_format)
        if file_format == "xlsx":  # compressed: read its cells
            sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
            content = repr(list(sheet.iter_rows(values_only=True))).encode()
        for personal in ("kunde@example.com", "Eva Kunde", "K-1", "Eva Mallory", "K-7"):
            assert personal.encode() not in content, (file_format, personal)
    pseudonym = first[0]["contact_id"]
    assert len(pseudonym) == 20 and str(answers[0].contact_id) != pseudonym
    assert csv_rows(download(analyst_client, survey, "csv"))[0]["contact_id"] == pseudonym
    record = json.loads(download(analyst_client, survey, "jsonl").splitlines()[0])
    assert [*BASE_COLUMNS, "contact_properties", "event_properties"] == list(record)


def test_every_export_is_recorded(manager_client, cx_manager, survey, answers):
    download(manager_client, survey, "csv", q="bestens")
    download(manager_client, survey, "xlsx")
    csv_record, xlsx_record = ExportRecord.objects.order_by("created_at", "pk")
    assert (csv_record.user, csv_record.username, csv_record.format) == (cx_manager, "manager", "csv")
    assert csv_record.filters == {
        "survey": [str(survey.pk)],
        **{k: [v] for k, v in NOVEMBER.items()},
        "q": ["bestens"],
    }
    assert (csv_record.rows, xlsx_record.rows) == (1, 2)
    assert csv_record.personal and csv_record.finished_at is not None


def test_the_first_bytes_leave_before_any_query(manager_client, survey, answers, django_assert_num_queries):
    response = manager_client.get(URL, {"survey": survey.pk, **NOVEMBER, "format": "csv"})
    chunks = iter(response.streaming_content)
    with django_assert_num_queries(0):
        assert next(chunks) == b"\xef\xbb\xbf"
    assert b"".join(chunks).count(b"\r\n") == 3
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="weiterempfehlung-kuchen-2026-11-01-2026-11-30.csv"'
    )


# Access and bad input


def test_anonymous_visitors_are_sent_to_the_login(client, survey):
    response = client.get(URL, {"survey": survey.pk, "format": "csv"})
    assert response.status_code == 302
    assert ExportRecord.objects.count() == 0


def test_staff_who_may_not_view_responses_are_refused(client, cx_manager, survey):
    take_away(cx_manager, "view_response")
    client.force_login(cx_manager)
    assert client.get(URL, {"survey": survey.pk, "format": "csv"}).status_code == 403
    assert ExportRecord.objects.count() == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "pdf"}, "Choose the file format: CSV, XLSX or JSON Lines."),
        ({}, "Choose the file format: CSV, XLSX or JSON Lines."),
        ({"format": "csv", "score": "11"}, "Scores of this survey run from 0 to 10."),
    ],
)
def test_bad_requests_explain_themselves_and_export_nothing(manager_client, survey, params, message):
    response = manager_client.get(URL, {"survey": survey.pk, **params})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ExportRecord.objects.count() == 0
