"""Tags filter every count and list: the dashboard, its breakdown by tag, the explorer, exports and
both APIs give for a tag the numbers a hand count of its answers gives."""

import io
import json
import re
from collections import Counter
from datetime import date

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback import counts
from feedback.counts import Filters
from followup.models import ResponseTag, Tag
from tests.factories import make_api_token, make_survey
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
# Scores and tags of November's answers: "Lieferung" and "Preis" share the 0.
ANSWERS = [
    (10, ["Lieferung"]),
    (9, ["Lieferung"]),
    (3, ["Lieferung"]),
    (0, ["Lieferung", "Preis"]),
    (2, ["Lieferung"]),
    (8, ["Preis"]),
    (10, ["Preis"]),
    (10, []),
    (10, []),
    (7, []),
    (1, []),
]


def nps(scores: list[int]) -> float:
    """The NPS counted by hand."""
    promoters = sum(score >= 9 for score in scores)
    detractors = sum(score <= 6 for score in scores)
    return 100 * (promoters - detractors) / len(scores)


def scores_tagged(*names: str) -> list[int]:
    return [score for score, tags in ANSWERS if set(tags) & set(names)]


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung", dashboard_properties=["plan"])
    tags = {name: Tag.objects.create(name=name) for name in ("Lieferung", "Preis", "Leer")}
    for number, (score, names) in enumerate(ANSWERS):
        response = answer(
            survey,
            score,
            date(2026, 11, 2 + number),
            comment=f"Kommentar {number}",
            properties={"plan": "pro" if number % 2 else "basic"},
        )
        for name in names:
            ResponseTag.objects.create(response=response, tag=tags[name])
    answer(survey, 0, date(2026, 10, 20))  # October: the previous period
    return survey


def tag_ids(*names: str) -> tuple[int, ...]:
    return tuple(sorted(Tag.objects.filter(name__in=names).values_list("pk", flat=True)))


def filters(survey, *names: str, **more) -> Filters:
    return Filters(
        survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30), tags=tag_ids(*names), **more
    )


# Counting


def test_a_tag_counts_the_answers_carrying_it(survey):
    panels = counts.panels(filters(survey, "Lieferung"), "week")
    assert panels.histogram == Counter(scores_tagged("Lieferung"))
    assert sum(sum(bucket.values()) for bucket in panels.over_time.values()) == 5
    assert panels.previous == Counter()  # October's answer carries no tag


def test_several_tags_count_each_answer_once(survey):
    assert counts.panels(filters(survey, "Lieferung", "Preis"), "day").histogram == Counter(
        scores_tagged("Lieferung", "Preis")
    )
    assert sum(counts.panels(filters(survey, "Leer"), "day").histogram.values()) == 0


def test_tags_and_a_tallied_property_filter_together(survey):
    chosen = filters(survey, "Lieferung", properties=(("plan", "pro"),))
    expected = Counter(
        score for number, (score, tags) in enumerate(ANSWERS) if "Lieferung" in tags and number % 2
    )
    assert counts.panels(chosen, "day").histogram == expected
    assert counts.histograms_by_property(filters(survey, "Preis"), "plan") == {
        "basic": Counter([10]),
        "pro": Counter([0, 8]),
    }


def test_the_previous_period_keeps_the_tags(survey):
    assert filters(survey, "Preis").previous().tags == tag_ids("Preis")


def test_histograms_by_tag(survey):
    assert counts.histograms_by_tag(filters(survey)) == {
        (Tag.objects.get(name="Lieferung").pk, "Lieferung"): Counter(scores_tagged("Lieferung")),
        (Tag.objects.get(name="Preis").pk, "Preis"): Counter(scores_tagged("Preis")),
    }


# The dashboard and the explorer


def table_rows(html: str, table_id: str) -> list[list[str]]:
    match = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert match, f"no table {table_id}"
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)
    ]


def test_the_dashboard_filters_by_tag_in_any_case(manager_client, survey):
    page = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER, "tag": ["lieferung", "PREIS"]})
    assert page.status_code == 200
    html = page.content.decode()
    chosen = scores_tagged("Lieferung", "Preis")
    assert by_id(html, "headline-n") == str(len(chosen))
    assert by_id(html, "headline-value") == f"{nps(chosen):.1f}"
    # Invitations carry no tags: the response rate says that it ignores them.
    assert "ignores the tag filter" in by_id(html, "headline-rate-ignores")
    ticked = re.findall(r'<input type="checkbox" name="tag" value="([^"]+)" checked>', html)
    assert ticked == ["Lieferung", "Preis"]
    # The explorer's link keeps the tags.
    assert "tag=Lieferung&amp;tag=Preis" in html


def test_the_dashboard_breaks_the_metric_down_by_tag(manager_client, survey):
    html = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER}).content.decode()
    rows = table_rows(html, "tag-table")
    # "Lieferung" pulls the total down most: it comes first.
    assert [row[0].split()[0] for row in rows] == ["Lieferung", "Preis"]  # then "small sample"
    lieferung = rows[0]
    assert lieferung[1] == f"{nps(scores_tagged('Lieferung')):.1f}"
    assert lieferung[3] == "5"
    assert lieferung[4] == f"{100 * 5 / len(ANSWERS):.0f} %"
    assert "–" in lieferung[2] or "to" in lieferung[2]  # an interval


def test_a_dashboard_without_tagged_answers_says_so(manager_client, survey):
    ResponseTag.objects.all().delete()
    html = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER}).content.decode()
    assert 'id="tag-table"' not in html and "No tagged answers for these filters." in html


def test_an_unknown_tag_cannot_be_applied(manager_client, survey):
    for url in ("/dashboard/", "/verbatims/"):
        page = manager_client.get(url, {"survey": survey.pk, "tag": "Unbekannt"})
        assert page.status_code == 400
        assert "There is no tag named “Unbekannt”." in page.content.decode()


def test_the_explorer_lists_the_tagged_comments_with_their_tags(manager_client, survey):
    params = {"survey": survey.pk, **NOVEMBER, "tag": "Preis"}
    html = manager_client.get("/verbatims/", params).content.decode()
    assert re.findall(r'<span class="score[^"]*">(\d+)</span>', html) == ["10", "8", "0"]  # newest first
    rows = html.split('<ol class="verbatims explorer"')[1].split("</ol>")[0].split('<p class="meta">')[1:]
    tags = [re.findall(r'<span class="tag">([^<]+)</span>', row) for row in rows]
    assert tags == [["Preis"], ["Preis"], ["Lieferung", "Preis"]]


def test_the_explorer_reads_the_tags_of_a_page_in_one_query(
    manager_client, survey, django_assert_num_queries
):
    url, params = "/verbatims/", {"survey": survey.pk, **NOVEMBER}
    manager_client.get(url, params)
    with CaptureQueriesContext(connection) as before:
        manager_client.get(url, params)
    extra = Tag.objects.create(name="Extra")
    for day in range(5):  # more answers, each with tags
        response = answer(survey, day, date(2026, 11, 20 + day), comment="Noch einer")
        ResponseTag.objects.create(response=response, tag=extra)
    with django_assert_num_queries(len(before.captured_queries)):
        manager_client.get(url, params)


# Exports


def test_exports_filter_by_tag_and_carry_the_tags(manager_client, survey):
    params = {"survey": survey.pk, **NOVEMBER, "tag": "Preis"}
    content = manager_client.get("/verbatims/export/", {**params, "format": "csv"}).getvalue()
    lines = content.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[header.index("channel") + 1] == "tags"
    assert len(lines) == 4
    assert '"Lieferung, Preis"' in lines[1]  # the 0, oldest first
    records = [
        json.loads(line)
        for line in manager_client.get("/verbatims/export/", {**params, "format": "jsonl"})
        .getvalue()
        .splitlines()
    ]
    assert [record["tags"] for record in records] == [["Lieferung", "Preis"], ["Preis"], ["Preis"]]
    book = manager_client.get("/verbatims/export/", {**params, "format": "xlsx"}).getvalue()
    sheet = list(openpyxl.load_workbook(io.BytesIO(book), read_only=True).active.iter_rows(values_only=True))
    column = sheet[0].index("tags")
    assert [row[column] for row in sheet[1:]] == ["Lieferung, Preis", "Preis", "Preis"]


def test_an_export_prepared_through_the_api_filters_by_tag(
    client, cx_manager, survey, django_capture_on_commit_callbacks
):
    token = make_api_token(user=cx_manager)
    body = {"format": "jsonl", "filters": {"survey": survey.pk, **NOVEMBER, "tag": ["preis"]}}
    with django_capture_on_commit_callbacks(execute=True):  # the worker's task
        started = client.post(
            "/api/v1/exports/",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert started.status_code == 202
    download = api(client, api(client, started["Location"], token).json()["download"], token)
    lines = b"".join(download.streaming_content).splitlines()
    assert [json.loads(line)["score"] for line in lines] == [0, 8, 10]


def test_untagged_answers_export_an_empty_tags_cell(manager_client, survey):
    content = manager_client.get("/verbatims/export/", {"survey": survey.pk, **NOVEMBER, "format": "jsonl"})
    records = [json.loads(line) for line in content.getvalue().splitlines()]
    assert [record["tags"] for record in records][-4:] == [[], [], [], []]


# The APIs


def api(client, url, token, **params):
    return client.get(url, params, headers={"Authorization": f"Bearer {token}"})


def test_the_metrics_api_filters_by_tag(client, cx_manager, survey):
    token = make_api_token(user=cx_manager)
    params = {"survey": survey.pk, **NOVEMBER}
    figures = api(client, "/api/v1/metrics/", token, **params, tag="Lieferung").json()
    assert (figures["responses"], figures["nps"]) == (5, nps(scores_tagged("Lieferung")))
    both = api(client, "/api/v1/metrics/", token, **params, tag=["Lieferung", "preis"]).json()
    assert both["nps"] == nps(scores_tagged("Lieferung", "Preis"))
    refused = api(client, "/api/v1/metrics/", token, **params, tag="Unbekannt")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"tag": ["There is no tag named “Unbekannt”."]}


def test_the_responses_api_filters_by_tag_and_lists_the_tags(
    client, cx_manager, survey, django_assert_max_num_queries
):
    token = make_api_token(user=cx_manager)
    url = "/api/v1/responses/"
    page = api(client, url, token, survey=survey.pk, tag=["Preis", "LIEFERUNG"])
    assert page.status_code == 200
    results = page.json()["results"]
    assert sorted(result["score"] for result in results) == sorted(scores_tagged("Lieferung", "Preis"))
    assert [result["tags"] for result in results if result["score"] == 0] == [["Lieferung", "Preis"]]
    all_answers = api(client, url, token, survey=survey.pk).json()["results"]
    assert sum(result["tags"] == [] for result in all_answers) == 5  # four in November, October's
    # One query for the tags of a page, however many answers carry them.
    with django_assert_max_num_queries(9) as few:
        api(client, url, token, survey=survey.pk, tag="Preis")
    with django_assert_max_num_queries(len(few.captured_queries)):
        api(client, url, token, survey=survey.pk)
    refused = api(client, url, token, tag="Unbekannt")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"tag": ["There is no tag named “Unbekannt”."]}
