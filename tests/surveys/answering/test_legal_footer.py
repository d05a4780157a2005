"""Every page a respondent sees names the company and links to its privacy notice and Impressum,
in the respondent's language; the thank-you pages lead back to the company's site."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from surveys.answering import pages
from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import LegalInformation, Response
from tests.factories import make_contact, make_invitation, make_survey
from tests.legal import ENGLISH, GERMAN, label, legal_footers, set_legal_information

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    """How a respondent reaches a page in a language, and the status it answers with."""

    status: int
    open: Callable[[Client, str], object]


def _contact_page(suffix: str, status: int = 200, **invitation) -> Page:
    def open(client: Client, language: str):
        found = make_invitation(contact=make_contact(language=language), **invitation)
        return client.get(f"/s/{found.token}/{suffix}")

    return Page(status, open)


def _link_page(path: str, status: int = 200, *, next: str = "", **survey) -> Page:
    def open(client: Client, language: str):
        query = f"?lang={language}" + (f"&next={next}" if next else "")
        return client.get(f"/l/{make_survey(**survey).public_key}/{path}{query}")

    return Page(status, open)


def _unsubscribe(state: str) -> Page:
    def open(client: Client, language: str):
        link = f"/u/{unsubscribe_token(make_contact(language=language))}/"
        if state == "ask":
            return client.get(link)
        if state == "unsubscribed":
            return client.post(link, {"List-Unsubscribe": "One-Click"})
        return client.post(f"{link}resubscribe/")

    return Page(200, open)


def _by_browser(path: str, status: int) -> Page:
    return Page(status, lambda client, language: client.get(path, headers={"Accept-Language": language}))


def _refused_post(client: Client, language: str):
    found = make_invitation(contact=make_contact(language=language))
    return Client(enforce_csrf_checks=True, headers={"Accept-Language": language}).post(
        f"/s/{found.token}/", {"score": "9"}
    )


PAGES = {
    "answer": _contact_page("?score=9"),
    "answer thanks": _contact_page("thanks/"),
    "answer expired (410)": _contact_page("", 410, now=timezone.now() - timedelta(days=31)),
    "link": _link_page(""),
    "link thanks": _link_page("thanks/"),
    "link ended (410)": _link_page("", 410, active=False),
    "preview": Page(
        200, lambda client, language: client.get(f"/preview/{make_survey().public_key}/?lang={language}")
    ),
    "unsubscribe": _unsubscribe("ask"),
    "unsubscribed": _unsubscribe("unsubscribed"),
    "resubscribed": _unsubscribe("resubscribed"),
    "unknown token (404)": _by_browser("/s/unknown-token-abc/", 404),
    "unknown page (404)": _by_browser("/nowhere/", 404),
    "link leading elsewhere (400)": _link_page("", 400, next="https://evil.example/"),
    "refused post (403)": Page(403, _refused_post),
}


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("name", PAGES)
def test_every_respondent_page_names_the_company_and_links_its_privacy_notice_and_impressum(
    client, name, language
):
    set_legal_information(**GERMAN, **ENGLISH)
    page = PAGES[name].open(client, language)
    assert page.status_code == PAGES[name].status
    [footer] = legal_footers(page.content.decode())
    values = GERMAN if language == "de" else ENGLISH
    assert footer.texts == [values[f"company_name_{language}"]]
    assert footer.links == {
        "privacy-notice": {
            "id": "privacy-notice",
            "href": values[f"privacy_url_{language}"],
            "text": label("Privacy notice", language),
        },
        "impressum": {
            "id": "impressum",
            "href": values[f"impressum_url_{language}"],
            "text": label("Impressum", language),
        },
    }
    assert f'<html lang="{language}">' in page.content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_without_legal_information_the_pages_have_no_footer(client, name):
    LegalInformation.objects.all().delete()
    page = PAGES[name].open(client, "en")
    assert page.status_code == PAGES[name].status
    assert legal_footers(page.content.decode()) == []


def test_a_german_page_shows_the_english_texts_where_german_ones_are_missing(client):
    set_legal_information(
        company_name_de="Kessler GmbH", **{k: v for k, v in ENGLISH.items() if "name" not in k}
    )
    [footer] = legal_footers(PAGES["answer"].open(client, "de").content.decode())
    assert footer.texts == ["Kessler GmbH"]
    assert footer.links["privacy-notice"]["href"] == ENGLISH["privacy_url_en"]
    assert footer.links["impressum"]["href"] == ENGLISH["impressum_url_en"]


def test_an_english_page_shows_the_german_texts_where_english_ones_are_missing(client):
    set_legal_information(privacy_url_de=GERMAN["privacy_url_de"])
    [footer] = legal_footers(PAGES["link"].open(client, "en").content.decode())
    assert footer.texts == []
    assert list(footer.links) == ["privacy-notice"]
    assert footer.links["privacy-notice"]["href"] == GERMAN["privacy_url_de"]
    assert footer.links["privacy-notice"]["text"] == label("Privacy notice", "en")


def test_footer_links_open_in_the_same_tab_and_company_texts_are_escaped(client):
    set_legal_information(
        company_name_en='<b>Acme</b> & "Sons"', privacy_url_en="https://acme.example/p?a=1&b=2"
    )
    html = PAGES["answer"].open(client, "en").content.decode()
    [footer] = legal_footers(html)
    assert footer.texts == ['<b>Acme</b> & "Sons"']
    assert footer.links["privacy-notice"]["href"] == "https://acme.example/p?a=1&b=2"
    assert "target" not in footer.links["privacy-notice"]
    assert "<b>Acme</b>" not in html


def test_the_page_for_an_unreachable_database_shows_the_legal_information_read_before(client, monkeypatch):
    set_legal_information(**GERMAN)
    survey = make_survey()
    assert client.get(f"/l/{survey.public_key}/?lang=de").status_code == 200  # reads it

    def unreachable(request, key):
        raise OperationalError("the database went away")

    monkeypatch.setattr(pages, "get_survey_by_public_key", unreachable)
    client.raise_request_exception = False
    with CaptureQueriesContext(connection) as queries:
        down = client.get(f"/l/{survey.public_key}/", headers={"Accept-Language": "de"})
    assert down.status_code == 503
    assert not [query for query in queries if "legalinformation" in query["sql"]]
    [footer] = legal_footers(down.content.decode())
    assert footer.links["privacy-notice"]["href"] == GERMAN["privacy_url_de"]


# The way back from the thank-you pages.


def thanks(client, survey, language="en"):
    invitation = make_invitation(survey=survey, contact=make_contact(language=language))
    return client.get(f"/s/{invitation.token}/thanks/").content.decode()


def return_link(html: str) -> tuple[str, str] | None:
    found = re.search(r'<a href="([^"]*)" id="return-link">([^<]*)</a>', html)
    return (found[1], found[2]) if found else None


def test_the_thanks_page_leads_back_to_the_surveys_return_url(client):
    set_legal_information(return_url="https://www.kessler.example/")
    survey = make_survey(return_url="https://shop.kessler.example/konto")
    assert return_link(thanks(client, survey)) == (
        "https://shop.kessler.example/konto",
        "Back to shop.kessler.example",
    )


def test_without_its_own_the_thanks_page_leads_back_to_the_installations_return_url(client):
    set_legal_information(return_url="https://www.kessler.example/")
    link = make_survey()
    assert return_link(thanks(client, make_survey())) == (
        "https://www.kessler.example/",
        "Back to www.kessler.example",
    )
    page = client.get(f"/l/{link.public_key}/thanks/?lang=en").content.decode()
    assert return_link(page) == ("https://www.kessler.example/", "Back to www.kessler.example")


def test_without_any_return_url_the_thanks_page_offers_no_way_back(client):
    LegalInformation.objects.all().delete()
    assert return_link(thanks(client, make_survey())) is None


def test_the_way_back_is_worded_in_the_respondents_language(client):
    survey = make_survey(return_url="https://shop.example.com/")
    expected = label("Back to %(site)s", "de") % {"site": "shop.example.com"}
    assert return_link(thanks(client, survey, "de")) == ("https://shop.example.com/", expected)


def test_a_next_link_may_lead_to_the_site_the_thanks_page_leads_back_to(client):
    set_legal_information(return_url="https://www.kessler.example/")
    invitation = make_invitation(survey=make_survey())
    answer = client.post(f"/s/{invitation.token}/?next=https://www.kessler.example/danke", {"score": "9"})
    assert (answer.status_code, answer["Location"]) == (302, "https://www.kessler.example/danke")
    own = make_invitation(survey=make_survey(return_url="https://shop.example.com/"))
    answer = client.post(f"/s/{own.token}/?next=https://shop.example.com/done", {"score": "9"})
    assert answer["Location"] == "https://shop.example.com/done"
    refused = client.post(f"/s/{own.token}/?next=https://www.kessler.example/danke", {"score": "9"})
    assert refused.status_code == 400  # the survey's own return URL replaces the installation's
    assert Response.objects.count() == 2
