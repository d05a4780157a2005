"""The staff's navigation: each section for whoever may open it, the current one marked, the same
list in the app's pages and the admin's header."""

import re

import pytest

from followup.models import Case
from tests.factories import make_survey, make_team
from tests.followup.conftest import answer, case_for

pytestmark = pytest.mark.django_db


def sections(html: str) -> dict[str, str]:
    """The sections' keys and their aria-current ("" where not current), in order."""
    nav = re.search(r'<details class="sections".*?</details>', html, re.S)
    if nav is None:
        return {}
    links = re.findall(r'data-section="([\w-]+)"(?: aria-current="(\w+)")?', nav.group(0))
    return dict(links)


EVERY = ["home", "dashboard", "comments", "insights", "cases", "exports", "settings", "digest", "back-office"]


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("admin_user", EVERY),
        ("cx_manager", EVERY),
        (
            "analyst",
            ["home", "dashboard", "comments", "insights", "cases", "exports", "digest", "back-office"],
        ),
        ("agent", ["home", "dashboard", "comments", "insights", "cases", "digest", "back-office"]),
        ("outsider", ["back-office"]),
    ],
)
def test_each_role_sees_the_sections_it_may_open(client, request, role, shown):
    client.force_login(request.getfixturevalue(role))
    assert list(sections(client.get("/admin/").content.decode())) == shown


def test_the_current_section_is_marked_on_its_pages(client, cx_manager):
    survey = make_survey(name="Lieferung")
    make_team(surveys=[survey], members=[cx_manager])
    case: Case = case_for(answer(survey, 2, "Zu spät"))
    client.force_login(cx_manager)
    home = sections(client.get("/").content.decode())
    assert home["home"] == "page" and home["dashboard"] == ""
    assert sections(client.get("/cases/").content.decode())["cases"] == "page"
    assert sections(client.get("/insights/").content.decode())["insights"] == "page"
    on_case = sections(client.get(f"/cases/{case.public_id}/").content.decode())
    assert on_case["cases"] == "true" and on_case["home"] == ""
    assert sections(client.get("/admin/surveys/survey/").content.decode())["back-office"] == "true"
    assert sections(client.get("/setup/").content.decode())["settings"] == "page"
    assert sections(client.get(f"/setup/surveys/{survey.pk}/").content.decode())["settings"] == "true"


def test_the_admin_s_header_leads_to_the_app_s_pages_and_its_view_site_home(client, cx_manager):
    client.force_login(cx_manager)
    html = client.get("/admin/").content.decode()
    assert 'href="/dashboard/" data-section="dashboard"' in html
    assert re.search(r'<a href="/">[^<]+</a>', html)  # "View site"
    assert sections(html)["back-office"] == "page"


def test_who_may_not_use_the_back_office_sees_no_sections(client, non_staff):
    client.force_login(non_staff)
    assert sections(client.get("/login/").content.decode()) == {}
