"""One answer's page: who may see it, what it shows each of them, and tagging the answer there."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.timezone import localtime

from followup.cases import open_case
from followup.models import ResponseTag, Tag
from surveys import roles
from surveys.access import pseudonym
from surveys.answering.collect import Identity
from surveys.models import Event, Invitation, Response
from tests.factories import (
    answer_by_link,
    make_contact,
    make_invitation,
    make_response,
    make_staff,
    make_survey,
    make_team,
    make_touchpoint,
    take_away,
)
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 11, 20, 9, 30, tzinfo=BERLIN)


@pytest.fixture
def world(cx_manager, analyst, agent):
    """Team A's survey with an emailed answer of Eva, her earlier answers to it and to team B's
    survey, and team B's CX manager ("foreign")."""
    survey = make_survey(kind="nps", name="Weiterempfehlung", dashboard_properties=["plan"])
    other = make_survey(kind="nps", name="Team B")
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    eva = make_contact(
        email="eva@example.com", name="Eva Kunde", external_id="K-17", properties={"plan": "pro"}
    )
    event = Event.objects.create(touchpoint=delivery, contact=eva, occurred_at=AT - timedelta(hours=3))
    invitation = make_invitation(
        survey=survey,
        touchpoint=delivery,
        contact=eva,
        event=event,
        now=AT - timedelta(hours=2),
        properties={"order": "A-1042", "carrier": "DHL", "phone": "+49 171 2345678"},
        delivered_at=AT - timedelta(hours=1, minutes=59),
        opened_at=AT - timedelta(minutes=5),
    )
    response = invitation.record_answer(score=3, comment="Zu spät <b>geliefert</b>", language="de", now=AT)
    invitation.record_answer(score=4, comment=None, language="de", now=AT + timedelta(minutes=10))
    earlier_here = make_response(survey=survey, score=9, contact=eva, created_at=AT - timedelta(days=30))
    make_response(survey=other, score=1, contact=eva, comment="Geheim", created_at=AT - timedelta(days=10))
    make_response(survey=survey, score=10, contact=eva, created_at=AT + timedelta(days=1))  # later
    make_team("A", surveys=[survey], members=[cx_manager, analyst, agent])
    foreign = make_staff("foreigner", roles.CX_MANAGER)
    make_team("B", surveys=[other], members=[foreign])
    return {
        "survey": survey,
        "response": Response.objects.get(pk=response.pk),
        "earlier": earlier_here,
        "foreign": foreign,
        "eva": eva,
    }


def page_url(response) -> str:
    return reverse("feedback:response", args=[response.public_id])


def get(client, user, response):
    client.force_login(user)
    return client.get(page_url(response))


# Access


def test_anonymous_visitors_are_sent_to_the_login(client, world):
    page = client.get(page_url(world["response"]))
    assert page.status_code == 302 and page.url.startswith("/login/")


def test_staff_without_permissions_are_refused(client, outsider, world):
    assert get(client, outsider, world["response"]).status_code == 403


@pytest.mark.parametrize("role", ["admin_user", "cx_manager", "analyst", "agent"])
def test_every_reader_of_the_survey_sees_the_page(client, world, role, request):
    page = get(client, request.getfixturevalue(role), world["response"])
    assert page.status_code == 200
    assert by_id(page.content.decode(), "score") == "4"
    assert "'unsafe-eval'" not in page["Content-Security-Policy"]


def test_another_teams_answer_is_not_found_like_an_unknown_one(client, world):
    assert get(client, world["foreign"], world["response"]).status_code == 404
    assert (
        client.get(reverse("feedback:response", args=["3f1c9a52-7d4e-4b8a-9f0e-2c6d81a4b5e7"])).status_code
        == 404
    )


def test_it_answers_get_only(client, cx_manager, world):
    client.force_login(cx_manager)
    assert client.post(page_url(world["response"])).status_code == 405


# What it shows


def test_the_answer_with_its_context(client, cx_manager, world):
    html = get(client, cx_manager, world["response"]).content.decode()
    assert by_id(html, "category") == "Detractor"
    assert by_id(html, "comment") == "Zu spät <b>geliefert</b>"
    assert "<b>geliefert" not in html  # escaped
    assert by_id(html, "touchpoint") == "Lieferung"
    assert 'data-channel="email"' in html
    assert by_id(html, "language") == "DE"
    response = world["response"]
    assert f'id="created" datetime="{localtime(response.created_at).isoformat()}"' in html
    assert f'id="changed" datetime="{localtime(response.updated_at).isoformat()}"' in html


def test_an_answer_never_changed_shows_no_change(client, cx_manager, world):
    answer_by_link = make_response(survey=world["survey"], score=8, created_at=AT, updated_at=AT)
    html = get(client, cx_manager, answer_by_link).content.decode()
    assert 'id="changed"' not in html
    assert [step for step in re.findall(r'data-step="(\w+)"', html)] == ["answered"]


def test_who_may_see_personal_data_sees_the_customer_and_every_property(client, cx_manager, world):
    html = get(client, cx_manager, world["response"]).content.decode()
    assert (
        by_id(html, "contact-email"),
        by_id(html, "contact-name"),
        by_id(html, "contact-external-id"),
    ) == (
        "eva@example.com",
        "Eva Kunde",
        "K-17",
    )
    assert by_id(html, "person-properties") == "plan pro"
    assert re.findall(r'data-property="(\w+)"', by_block(html, "event-properties")) == [
        "carrier",
        "order",
        "phone",
    ]


def test_analysts_see_the_pseudonym_and_no_personal_property(client, analyst, world):
    html = get(client, analyst, world["response"]).content.decode()
    assert by_id(html, "pseudonym") == pseudonym(world["eva"].pk)
    for personal in ("eva@example.com", "Eva Kunde", "K-17", "+49 171 2345678"):
        assert personal not in html
    assert 'id="contact"' not in html and 'id="person-properties"' not in html
    assert re.findall(r'data-property="(\w+)"', by_block(html, "event-properties")) == ["carrier", "order"]
    assert by_id(html, "contact-properties") == "plan pro"  # the survey's segment


def test_an_unsigned_answer_shows_whom_it_claims_only_to_who_may_see_personal_data(
    client, cx_manager, analyst, world
):
    claimed = answer_by_link(
        world["survey"],
        5,
        AT,
        comment="Ruft mich an",
        properties={"mobile": "0171 2345678", "campaign": "Herbst"},
        identity=Identity(email="mallory@example.com", name="Mallory"),
    )
    html = get(client, cx_manager, claimed).content.decode()
    assert "mallory@example.com" in by_block(html, "claimed")
    html = get(client, analyst, claimed).content.decode()
    for personal in ("mallory@example.com", "Mallory", "0171 2345678"):
        assert personal not in html
    assert 'id="claimed"' not in html and 'id="pseudonym"' not in html
    assert re.findall(r'data-property="(\w+)"', by_block(html, "event-properties")) == ["campaign"]


def by_block(html: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return match.group(2)


def test_earlier_answers_come_from_the_surveys_the_reader_may_see(client, cx_manager, admin_user, world):
    html = get(client, cx_manager, world["response"]).content.decode()
    earlier = re.findall(r'<li data-response="([0-9a-f-]+)">', by_block(html, "earlier"))
    assert earlier == [str(world["earlier"].public_id)]  # not team B's, not the later one
    assert f'href="{page_url(world["earlier"])}"' in html
    assert "Geheim" not in html
    html = get(client, admin_user, world["response"]).content.decode()
    assert len(re.findall(r"<li data-response=", by_block(html, "earlier"))) == 2  # newest first
    assert "Geheim" in by_block(html, "earlier").split("</li>")[0]


def test_the_journey_of_the_invitation(client, cx_manager, world):
    html = get(client, cx_manager, world["response"]).content.decode()
    journey = re.findall(r'data-step="(\w+)"', html)
    assert journey == ["created", "sent", "delivered", "opened", "answered", "changed"]
    assert 'class="problem"' not in html


@pytest.mark.parametrize("status", ["bounced", "failed", "complained"])
def test_a_journey_that_went_wrong_says_so(client, cx_manager, world, status):
    invitation = world["response"].invitation
    Invitation.objects.filter(pk=invitation.pk).update(status=status)
    html = get(client, cx_manager, world["response"]).content.decode()
    assert re.search(rf'<li data-step="{status}" class="problem">', html)


def test_a_skipped_invitation_says_why(client, cx_manager, world):
    invitation = world["response"].invitation
    Invitation.objects.filter(pk=invitation.pk).update(
        status="skipped", skip_reason="paused", scheduled_for=AT - timedelta(hours=2)
    )
    html = get(client, cx_manager, world["response"]).content.decode()
    assert re.findall(r'data-step="(\w+)"', html)[:3] == ["created", "scheduled", "skipped"]


def test_without_a_case_the_page_says_so_and_offers_to_open_one(client, cx_manager, world):
    html = get(client, cx_manager, world["response"]).content.decode()
    assert 'id="no-case"' in html and 'id="case-link"' not in html
    assert f'action="{reverse("followup:open_case", args=[world["response"].public_id])}"' in html


def test_who_may_not_change_cases_is_not_offered_to_open_one(client, analyst, world):
    html = get(client, analyst, world["response"]).content.decode()
    assert 'id="no-case"' in html and 'id="open-case"' not in html


def test_the_case_with_status_assignee_and_due_time(client, cx_manager, agent, world):
    case, _ = open_case(response=world["response"], now=AT, assignee=agent, sla_hours=24)
    html = get(client, cx_manager, world["response"]).content.decode()
    assert 'data-status="new"' in html
    assert by_id(html, "case-assignee") == "agent"
    assert f'datetime="{localtime(case.due_at).isoformat()}"' in html
    assert 'id="no-case"' not in html
    assert f'<a href="{case.get_absolute_url()}" id="case-link">' in html
    assert 'id="open-case"' not in html


def test_who_may_not_see_cases_sees_no_case(client, cx_manager, agent, world):
    open_case(response=world["response"], now=AT, assignee=agent)
    take_away(cx_manager, "view_case")
    html = get(client, cx_manager, world["response"]).content.decode()
    assert 'id="case"' not in html and 'id="case-assignee"' not in html


def test_the_page_takes_the_same_queries_however_many_earlier_answers(
    client, cx_manager, world, django_assert_num_queries
):
    tag_names = ["Lieferung", "Preis", "Rückruf"]
    for name in tag_names:
        ResponseTag.objects.create(response=world["response"], tag=Tag.objects.create(name=name))
    client.force_login(cx_manager)
    url = page_url(world["response"])
    client.get(url)
    # The session, the user, the permissions (2), the answer with its survey, touchpoint, contact,
    # invitation and case, the earlier answers, the tags, the names offered for a new tag.
    with django_assert_num_queries(8):
        html = client.get(url).content.decode()
    for day in range(2, 20):
        make_response(
            survey=world["survey"], score=day % 11, contact=world["eva"], created_at=AT - timedelta(days=day)
        )
    with django_assert_num_queries(8):
        html = client.get(url).content.decode()
    assert len(re.findall(r"<li data-response=", by_block(html, "earlier"))) == 10
    assert re.findall(r'<span class="tag">([^<]+)</span>', html) == tag_names


# Links to the page


def test_every_comment_on_the_dashboard_and_in_the_explorer_links_to_its_page(client, cx_manager, world):
    survey = world["survey"]
    comments = [answer(survey, score, AT.date(), comment=f"Kommentar {score}") for score in (2, 9)]
    client.force_login(cx_manager)
    period = {"survey": survey.pk, "since": "2026-11-01", "until": "2026-11-30"}
    for url in ("/dashboard/", "/verbatims/"):
        html = client.get(url, period).content.decode()
        linked = set(re.findall(r'href="/responses/([0-9a-f-]+)/"', by_block(html, "verbatims")))
        assert {str(response.public_id) for response in comments} <= linked
        assert str(world["response"].public_id) in linked  # its comment too


# Tagging on the page


def add(client, response, name):
    return client.post(reverse("feedback:add_tag", args=[response.public_id]), {"name": name})


def remove(client, response, tag):
    return client.post(reverse("feedback:remove_tag", args=[response.public_id]), {"tag": tag})


def test_a_cx_manager_adds_a_new_tag_and_removes_it(client, cx_manager, world):
    client.force_login(cx_manager)
    response = world["response"]
    added = add(client, response, "  Lieferung  ")
    assert added.status_code == 302 and added.url == page_url(response) + "#tags"
    tagging = ResponseTag.objects.get()
    assert (tagging.tag.name, tagging.response, tagging.added_by) == ("Lieferung", response, cx_manager)
    html = client.get(page_url(response)).content.decode()
    assert re.findall(r'<span class="tag">([^<]+)</span>', html) == ["Lieferung"]
    removed = remove(client, response, str(tagging.tag_id))
    assert removed.status_code == 302
    assert not ResponseTag.objects.exists() and Tag.objects.count() == 1


def test_without_the_right_to_create_tags_only_known_ones_are_added(client, analyst, world):
    take_away(analyst, "add_tag")
    client.force_login(analyst)
    refused = add(client, world["response"], "Neu")
    assert refused.status_code == 400
    assert by_id(refused.content.decode(), "tag-error") == "There is no tag named “Neu”."
    assert not Tag.objects.exists()
    Tag.objects.create(name="Preis")
    assert add(client, world["response"], "preis").status_code == 302
    assert list(world["response"].tags.values_list("name", flat=True)) == ["Preis"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Give the tag a name."), ("x" * 51, "A tag's name can be at most 50 characters long.")],
)
def test_bad_names_are_refused_with_a_message(client, cx_manager, world, name, message):
    client.force_login(cx_manager)
    refused = add(client, world["response"], name)
    assert refused.status_code == 400
    assert by_id(refused.content.decode(), "tag-error") == message
    assert not Tag.objects.exists() and not ResponseTag.objects.exists()


def test_removing_needs_a_tag(client, cx_manager, world):
    client.force_login(cx_manager)
    refused = remove(client, world["response"], "Lieferung")
    assert refused.status_code == 400
    assert by_id(refused.content.decode(), "tag-error") == "Choose a tag to remove."
    assert remove(client, world["response"], "12345").status_code == 302  # already off


def test_tagging_needs_the_permissions(client, cx_manager, outsider, world):
    tag = Tag.objects.create(name="Preis")
    ResponseTag.objects.create(response=world["response"], tag=tag)
    take_away(cx_manager, "add_responsetag", "delete_responsetag")
    client.force_login(cx_manager)
    assert add(client, world["response"], "Preis").status_code == 403
    assert remove(client, world["response"], str(tag.pk)).status_code == 403
    html = client.get(page_url(world["response"])).content.decode()
    assert 'id="add-tag"' not in html and 'name="tag"' not in html
    client.force_login(outsider)
    assert add(client, world["response"], "Preis").status_code == 403
    assert ResponseTag.objects.count() == 1


def test_another_teams_answer_cannot_be_tagged(client, world):
    tag = Tag.objects.create(name="Preis")
    client.force_login(world["foreign"])
    assert add(client, world["response"], "Preis").status_code == 404
    assert remove(client, world["response"], str(tag.pk)).status_code == 404
    assert not ResponseTag.objects.exists()


def test_tagging_answers_post_only_and_checks_the_token(client, cx_manager, world):
    client.force_login(cx_manager)
    assert client.get(reverse("feedback:add_tag", args=[world["response"].public_id])).status_code == 405
    client.handler.enforce_csrf_checks = True
    assert add(client, world["response"], "Preis").status_code == 403
    assert not Tag.objects.exists()


def test_anonymous_visitors_cannot_tag(client, world):
    refused = add(client, world["response"], "Preis")
    assert refused.status_code == 302 and refused.url.startswith("/login/")
