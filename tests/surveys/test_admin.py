import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from surveys.access import pseudonym
from surveys.answering.collect import Identity
from surveys.models import Response, Survey
from tests.factories import (
    answer_by_link,
    make_contact,
    make_invitation,
    make_response,
    make_survey,
    make_touchpoint,
    sign_identity,
)

pytestmark = pytest.mark.django_db

MODELS = ["survey", "touchpoint", "contact", "invitation", "response"]


@pytest.fixture
def data():
    invitation = make_invitation()
    make_response(
        survey=invitation.survey, invitation=invitation, contact=invitation.contact, comment="<i>hi</i>"
    )
    return invitation


@pytest.mark.parametrize("model", MODELS)
def test_a_cx_manager_can_list_search_and_filter(
    client, cx_manager, data, model, django_assert_max_num_queries
):
    client.force_login(cx_manager)
    changelist = reverse(f"admin:surveys_{model}_changelist")
    with django_assert_max_num_queries(12):
        assert client.get(changelist).status_code == 200
    assert client.get(changelist, {"q": "example"}).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_anonymous_visitors_and_users_without_staff_rights_are_sent_to_the_login(client, non_staff, model):
    changelist = reverse(f"admin:surveys_{model}_changelist")
    assert client.get(changelist)["Location"].startswith("/admin/login/")
    client.force_login(non_staff)
    assert client.get(changelist)["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("model", MODELS)
def test_staff_without_permissions_are_refused(client, outsider, model):
    client.force_login(outsider)
    assert client.get(reverse(f"admin:surveys_{model}_changelist")).status_code == 403


def queries_for_list(client, model: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(f"admin:surveys_{model}_changelist")).status_code == 200
    return len(queries)


@pytest.mark.parametrize("model", ["invitation", "response"])
def test_the_lists_do_not_query_per_row(client, cx_manager, model):
    client.force_login(cx_manager)
    survey = make_survey()
    touchpoint = make_touchpoint(survey=survey)

    def add_rows(count):
        for _ in range(count):
            invitation = make_invitation(survey=survey, touchpoint=touchpoint)
            make_response(
                survey=survey, touchpoint=touchpoint, invitation=invitation, contact=invitation.contact
            )

    add_rows(2)
    few = queries_for_list(client, model)
    add_rows(30)
    assert queries_for_list(client, model) == few


def test_tokens_and_keys_are_shown_but_cannot_be_edited(client, cx_manager, data):
    client.force_login(cx_manager)
    page = client.get(reverse("admin:surveys_invitation_change", args=[data.pk])).content.decode()
    assert data.token in page
    assert 'name="token"' not in page
    assert f"/s/{data.token}/" in page
    survey_page = client.get(reverse("admin:surveys_survey_change", args=[data.survey.pk])).content.decode()
    assert data.survey.public_key in survey_page
    assert 'name="public_key"' not in survey_page
    assert 'name="kind"' not in survey_page  # the kind fixes the scale of stored responses
    assert "cxsurvey/widget.js" in survey_page


def test_comments_are_escaped_in_the_admin(client, cx_manager, data):
    client.force_login(cx_manager)
    page = client.get(reverse("admin:surveys_response_changelist")).content.decode()
    assert "&lt;i&gt;hi&lt;/i&gt;" in page
    assert "<i>hi</i>" not in page


def test_responses_cannot_be_added_by_hand(client, cx_manager):
    client.force_login(cx_manager)
    assert client.get(reverse("admin:surveys_response_add")).status_code == 403


def test_a_response_has_a_page_to_read_and_none_to_change(client, cx_manager, data):
    client.force_login(cx_manager)
    response = data.response
    url = reverse("admin:surveys_response_change", args=[response.pk])
    page = client.get(url, headers={"Accept-Language": "en"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "| View response |" in html.split("</title>")[0]
    assert "Change response" not in html
    assert 'name="_save"' not in html
    assert "&lt;i&gt;hi&lt;/i&gt;" in html
    assert client.post(url, {"comment": "changed"}).status_code == 403
    response.refresh_from_db()
    assert response.comment == "<i>hi</i>"


def test_who_may_not_see_contacts_reads_answers_under_a_pseudonym_and_cannot_search_by_email(client, analyst):
    invitation = make_invitation(contact=make_contact(email="eva@example.com", name="Eva"))
    response = invitation.record_answer(score=3, comment="Zu spät", language="de", now=invitation.created_at)
    client.force_login(analyst)
    page = client.get(reverse("admin:surveys_response_change", args=[response.pk])).content.decode()
    assert "Zu spät" in page
    assert "eva@example.com" not in page
    assert pseudonym(invitation.contact_id) in page
    found = client.get(reverse("admin:surveys_response_changelist"), {"q": "eva@example.com"})
    assert found.context["cl"].result_count == 0
    found = client.get(reverse("admin:surveys_response_changelist"), {"q": "spät"})
    assert found.context["cl"].result_count == 1


def test_who_may_see_contacts_finds_answers_by_email(client, cx_manager):
    invitation = make_invitation(contact=make_contact(email="eva@example.com"))
    response = invitation.record_answer(score=3, comment="", language="de", now=invitation.created_at)
    client.force_login(cx_manager)
    page = client.get(reverse("admin:surveys_response_change", args=[response.pk])).content.decode()
    assert "eva@example.com" in page
    found = client.get(reverse("admin:surveys_response_changelist"), {"q": "eva@example.com"})
    assert found.context["cl"].result_count == 1


def unsigned_answer():
    return answer_by_link(
        make_survey(),
        2,
        timezone.now(),
        comment="Nie wieder",
        identity=Identity(email="eva@example.com", external_id="K-7", name="Eva Kunde"),
    )


def test_who_may_see_contacts_reads_an_unsigned_answers_claimed_identity_as_unverified(client, cx_manager):
    response = unsigned_answer()
    client.force_login(cx_manager)
    url = reverse("admin:surveys_response_change", args=[response.pk])
    page = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    for label, value in [
        ("Claimed email (unverified)", "eva@example.com"),
        ("Claimed external id (unverified)", "K-7"),
        ("Claimed name (unverified)", "Eva Kunde"),
    ]:
        assert re.search(rf"{re.escape(label)}:</label>\s*<div class=\"readonly\">{value}</div>", page), label
    assert re.search(r"Contact:</label>\s*<div class=\"readonly\">-</div>", page)
    found = client.get(reverse("admin:surveys_response_changelist"), {"q": "eva@example.com"})
    assert found.context["cl"].result_count == 1


def test_who_may_not_see_contacts_sees_nothing_of_a_claimed_identity(client, analyst):
    response = unsigned_answer()
    client.force_login(analyst)
    page = client.get(reverse("admin:surveys_response_change", args=[response.pk])).content.decode()
    assert "Nie wieder" in page
    for personal in ("eva@example.com", "K-7", "Eva Kunde", "claimed"):
        assert personal not in page
    found = client.get(reverse("admin:surveys_response_changelist"), {"q": "eva@example.com"})
    assert found.context["cl"].result_count == 0


def test_who_may_change_a_survey_finds_its_identity_secret_and_how_to_sign(client, cx_manager):
    survey = make_survey()
    client.force_login(cx_manager)
    page = client.get(
        reverse("admin:surveys_survey_change", args=[survey.pk]), headers={"Accept-Language": "en"}
    )
    html = page.content.decode()
    assert survey.identity_secret in html
    assert "HMAC-SHA256" in html
    assert "signature=" in html and "data-signature=" in html
    assert 'name="identity_secret"' not in html  # shown, never edited


@pytest.mark.parametrize("reader", ["agent", "analyst"])
def test_who_may_only_view_a_survey_never_sees_its_identity_secret(client, reader, request):
    survey = make_survey()
    client.force_login(request.getfixturevalue(reader))
    page = client.get(reverse("admin:surveys_survey_change", args=[survey.pk]))
    assert page.status_code == 200
    assert survey.name in page.content.decode()
    assert survey.identity_secret not in page.content.decode()
    assert "HMAC" not in page.content.decode()


def rotate(client, *surveys):
    return client.post(
        reverse("admin:surveys_survey_changelist"),
        {"action": "rotate_identity_secret", "_selected_action": [survey.pk for survey in surveys]},
        headers={"Accept-Language": "en"},
        follow=True,
    )


def test_rotating_the_identity_secret_refuses_the_old_signatures(client, cx_manager):
    first, second, untouched = make_survey(), make_survey(), make_survey()
    secrets = {survey.pk: survey.identity_secret for survey in (first, second, untouched)}
    old = sign_identity(first, email="anna@example.com")
    client.force_login(cx_manager)
    assert "The identity secrets of 2 surveys were replaced" in rotate(client, first, second).content.decode()
    for survey in (first, second, untouched):
        survey.refresh_from_db()
    assert first.identity_secret != secrets[first.pk] and second.identity_secret != secrets[second.pk]
    assert first.identity_secret != second.identity_secret
    assert untouched.identity_secret == secrets[untouched.pk]
    history = client.get(
        reverse("admin:surveys_survey_history", args=[first.pk]), headers={"Accept-Language": "en"}
    )
    assert "Changed identity secret." in history.content.decode()
    assert first.identity_secret not in history.content.decode()
    answer = client.post(
        f"/l/{first.public_key}/?email=anna@example.com&signature={old}&lang=en", {"score": "9"}
    )
    assert answer.status_code == 400
    assert not Response.objects.exists()


@pytest.mark.parametrize("reader", ["agent", "analyst"])
def test_who_may_only_view_a_survey_cannot_rotate_its_secret(client, reader, request):
    survey = make_survey()
    client.force_login(request.getfixturevalue(reader))
    listing = client.get(reverse("admin:surveys_survey_changelist")).content.decode()
    assert "rotate_identity_secret" not in listing
    rotate(client, survey)
    assert Survey.objects.get().identity_secret == survey.identity_secret
