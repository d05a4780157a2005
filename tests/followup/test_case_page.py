"""The case page: what it shows, the changes and notes made there, mentions, and opening a case."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from followup.cases import change_case, record_revised_answer, write_note
from followup.models import Case, CaseEntry, Tag
from tests.factories import make_response, make_staff
from tests.followup.conftest import answer, case_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(loop):
    return case_for(answer(loop.survey, 3, "Fahrer war unfreundlich"), assignee=loop.agent)


def page(client, case):
    return client.get(case.get_absolute_url())


def test_the_page_shows_the_answer_its_tags_the_state_and_a_link_to_the_whole_answer(client, loop, case):
    tag = Tag.objects.create(name="Fahrer")
    case.response.tags.add(tag)
    client.force_login(loop.agent)

    response = page(client, case)
    html = response.content.decode()

    assert response.status_code == 200
    assert "Fahrer war unfreundlich" in html
    assert 'id="answer-score">3<' in html
    assert f'href="/responses/{case.response.public_id}/"' in html
    assert "<li>Fahrer</li>" in html
    assert 'data-status="new"' in html
    assert 'data-sla="on_track"' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_revised_answer_shows_in_the_timeline_with_both_scores(client, loop, case):
    response = case.response
    response.score = 8
    response.save(update_fields=["score"])
    record_revised_answer(response, old_score=3, now=timezone.now())
    client.force_login(loop.agent)

    with translation.override("en"):
        html = page(client, case).content.decode()

    assert "revised the score from 3 to 8" in html
    assert 'id="opening-score"' in html


def test_a_foreign_unknown_or_malformed_case_is_not_found(client, loop, case):
    client.force_login(loop.foreigner)
    assert page(client, case).status_code == 404
    client.force_login(loop.agent)
    assert client.get("/cases/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/cases/not-a-case/").status_code == 404


def test_changing_the_status_and_assignee_writes_the_timeline(client, loop, case):
    client.force_login(loop.agent)

    response = client.post(
        reverse("followup:change_case", args=[case.public_id]),
        {"status": "in_progress", "assignee": loop.colleague.pk, "team": loop.team.pk},
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.assignee, case.team) == ("in_progress", loop.colleague, loop.team)
    assert case.first_response_at is not None
    kinds = list(CaseEntry.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == ["opened", "status", "assigned", "assigned"]
    assert "agnes → bert" in page(client, case).content.decode()


def test_resolving_needs_a_resolution_and_nothing_changes_without_one(client, loop, case):
    client.force_login(loop.agent)
    url = reverse("followup:change_case", args=[case.public_id])

    refused = client.post(url, {"status": "resolved", "assignee": loop.agent.pk})
    case.refresh_from_db()
    assert refused.status_code == 400
    assert 'id="id_resolution-error"' in refused.content.decode()
    assert case.status == "new"

    client.post(url, {"status": "resolved", "resolution": "compensated", "assignee": loop.agent.pk})
    case.refresh_from_db()
    assert (case.status, case.resolution) == ("resolved", "compensated")
    assert case.resolved_at is not None


def test_an_analyst_may_read_but_not_change_or_note(loop, case, analyst):
    loop.team.members.add(analyst)
    reader = Client()
    reader.force_login(analyst)

    assert page(reader, case).status_code == 200
    assert 'id="change-form"' not in page(reader, case).content.decode()
    change = reader.post(reverse("followup:change_case", args=[case.public_id]), {"status": "in_progress"})
    note = reader.post(reverse("followup:add_note", args=[case.public_id]), {"text": "Hm"})
    assert (change.status_code, note.status_code) == (403, 403)
    assert Case.objects.get(pk=case.pk).status == "new"


def test_a_note_mentions_colleagues_who_get_an_email_with_the_link(
    client, loop, case, smtp, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://cx.example.com"
    make_staff("nobody-special")  # no role: may not see cases, gets nothing
    client.force_login(loop.agent)

    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("followup:add_note", args=[case.public_id]),
            {"text": "@bert please call her back; @frank and @nobody-special and @ghost too."},
        )

    assert response.status_code == 302
    note = CaseEntry.objects.get(case=case, kind="note")
    assert list(note.mentions.values_list("username", flat=True)) == ["bert"]
    assert [message["To"] for message in smtp.messages] == ["bert@example.com"]
    body = smtp.messages[0].get_body(("plain",)).get_content()
    assert f"https://cx.example.com/cases/{case.public_id}/" in body
    assert "please call her back" in body


def test_an_empty_or_too_long_note_is_refused_with_a_message(client, loop, case):
    client.force_login(loop.agent)
    url = reverse("followup:add_note", args=[case.public_id])

    assert client.post(url, {"text": ""}).status_code == 400
    assert client.post(url, {"text": "x" * 20001}).status_code == 400
    assert not CaseEntry.objects.filter(case=case, kind="note").exists()


def test_the_actions_answer_only_post(client, loop, case):
    client.force_login(loop.agent)
    for name in ("change_case", "add_note", "reply"):
        assert client.get(reverse(f"followup:{name}", args=[case.public_id])).status_code == 405


# Opening a case by hand


def test_a_case_is_opened_for_an_answer_without_one(client, loop):
    response = answer(loop.survey, 5)
    client.force_login(loop.agent)

    opened = client.post(reverse("followup:open_case", args=[response.public_id]))

    case = Case.objects.get(response=response)
    assert opened.status_code == 302
    assert opened["Location"] == case.get_absolute_url()
    assert CaseEntry.objects.get(case=case).author == loop.agent
    again = client.post(reverse("followup:open_case", args=[response.public_id]))
    assert again["Location"] == case.get_absolute_url()
    assert Case.objects.count() == 1


def test_no_case_is_opened_for_a_foreign_answer_or_without_the_permission(client, loop, analyst):
    foreign = make_response(survey=loop.other)
    client.force_login(loop.agent)
    assert client.post(reverse("followup:open_case", args=[foreign.public_id])).status_code == 404
    client.force_login(analyst)
    assert client.post(reverse("followup:open_case", args=[foreign.public_id])).status_code == 403
    assert not Case.objects.exists()


def test_the_timeline_costs_the_same_queries_however_long_it_is(
    client, loop, case, django_assert_max_num_queries
):
    for number in range(10):
        write_note(case, by=loop.agent, text=f"@bert note {number}", now=timezone.now())
        change_case(
            case, by=loop.agent, now=timezone.now(), assignee=[loop.colleague, loop.agent][number % 2]
        )
    client.force_login(loop.agent)
    page(client, case)

    with django_assert_max_num_queries(17):
        page(client, case)
