import pytest
from django.urls import reverse

from surveys import roles
from tests.factories import make_staff, make_survey, make_team, make_touchpoint

pytestmark = pytest.mark.django_db


def test_the_index_lists_the_users_surveys_with_their_touchpoints_and_links(client, cx_manager):
    mine = make_survey(name="Delivery")
    delivered = make_touchpoint(survey=mine, name="Order delivered")
    theirs = make_survey(name="Other team's")
    make_team(surveys=[mine], members=[cx_manager])
    make_team(surveys=[theirs])
    client.force_login(cx_manager)
    page = client.get(reverse("setup:index"))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("setup:survey", args=[mine.pk]) in html
    assert "Order delivered" in html and reverse("setup:touchpoint", args=[delivered.pk]) in html
    assert f"{reverse('setup:new_touchpoint')}?survey={mine.pk}" in html
    assert reverse("setup:new_survey") in html
    assert "Other team" not in html and reverse("setup:survey", args=[theirs.pk]) not in html


@pytest.mark.parametrize("role", [roles.ANALYST, roles.AGENT, None])
def test_the_index_is_refused_to_those_who_may_set_up_nothing(client, role):
    client.force_login(make_staff("someone", role))
    assert client.get(reverse("setup:index")).status_code == 403


def test_the_index_sends_the_signed_out_to_the_login(client):
    page = client.get(reverse("setup:index"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))


def test_the_index_takes_no_post(client, cx_manager):
    client.force_login(cx_manager)
    assert client.post(reverse("setup:index")).status_code == 405
