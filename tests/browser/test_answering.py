"""Customers answering in a real browser: email link, public link and the embedded widget."""

import json
from html import escape

import pytest
from playwright.sync_api import expect

from surveys.models import Response
from tests.factories import make_contact, make_invitation, make_survey, sign_identity
from tests.legal import ENGLISH, GERMAN, label, set_legal_information

pytestmark = pytest.mark.django_db(transaction=True)

SAVED = "Your score has been saved. Would you like to tell us why?"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script> Lieferung „pünktlich“'


def foreign_requests(page, *allowed_origins):
    return [r.url for r in page.requests if not r.url.startswith(tuple(allowed_origins))]


def test_nps_from_an_email_link_score_then_comment(page, live_server):
    survey = make_survey(kind="nps", brand="Nordwind")
    invitation = make_invitation(survey=survey, contact=make_contact(language="en"))

    page.goto(f"{live_server.url}/s/{invitation.token}/?score=9")
    expect(page.locator("#saved-status")).to_have_text(SAVED)
    response = Response.objects.get()
    assert (response.score, response.comment, response.channel) == (9, "", "email")
    assert page.locator("#score-9").is_checked()

    page.fill("#comment", XSS)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Thank you for your feedback!")
    response.refresh_from_db()
    assert (response.score, response.comment) == (9, XSS)

    # A second click in the email changes the one response.
    page.goto(f"{live_server.url}/s/{invitation.token}/?score=3")
    expect(page.locator("#saved-status")).to_have_text(SAVED)
    assert list(Response.objects.values_list("score", "comment")) == [(3, XSS)]
    assert page.locator("#comment").input_value() == XSS

    assert page.dialogs == []
    assert page.errors == []
    assert foreign_requests(page, live_server.url) == []


def test_csat_link_survey_in_german_with_a_property_and_a_signed_contact(page, live_server):
    survey = make_survey(kind="csat", brand="Nordwind", subject_de="unserem Kundendienst")
    signature = sign_identity(survey, email="Anna@Example.com")
    page.goto(
        f"{live_server.url}/l/{survey.public_key}/?lang=de&p_plan=pro&email=Anna@Example.com&signature={signature}"
    )
    expect(page.locator("h1")).to_have_text("Wie zufrieden waren Sie mit unserem Kundendienst?")
    assert page.locator("html").get_attribute("lang") == "de"

    page.click("label[for=score-4]")
    expect(page.locator("#saved-status")).to_contain_text("gespeichert")
    page.fill("#comment", "Schnelle, freundliche Antwort.")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Vielen Dank für Ihr Feedback!")

    response = Response.objects.select_related("contact").get()
    assert (response.score, response.comment, response.channel, response.language) == (
        4,
        "Schnelle, freundliche Antwort.",
        "link",
        "de",
    )
    assert response.event_properties == {"plan": "pro"}
    assert response.contact.email == "Anna@Example.com"
    assert page.errors == []
    assert foreign_requests(page, live_server.url) == []


def widget_page(live_server, survey, **attributes):
    data = "".join(f' data-{name.replace("_", "-")}="{escape(value)}"' for name, value in attributes.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
        "<body><h1>Your order is on its way</h1>"
        f'<script src="{live_server.url}/static/cxsurvey/widget.js" data-key="{survey.public_key}"'
        f"{data} async></script></body></html>"
    )


def widget(page):
    return page.locator("[data-cxsurvey] section[role=dialog]")


def test_ces_through_the_widget_on_another_site_by_keyboard(page, live_server, customer_site):
    survey = make_survey(kind="ces", brand="Nordwind", widget_origins=customer_site.origin)
    customer_site.html = widget_page(
        live_server,
        survey,
        email="kim@example.com",
        properties=json.dumps({"plan": "pro", "cart": 3}),
    )
    page.goto(customer_site.origin)
    dialog = widget(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Nordwind made it easy for me to handle my issue.")

    page.keyboard.press("Tab")  # into the scale: the radio group is one stop
    page.keyboard.press("Space")  # 1
    for _ in range(5):
        page.keyboard.press("ArrowRight")  # … 6
    expect(dialog.locator("[role=status]")).to_have_text("Thank you! Your score has been saved.")
    assert Response.objects.get().score == 6

    page.keyboard.press("Tab")
    page.keyboard.type("Der Rückversand war in zwei Minuten erledigt.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(dialog.get_by_text("Thank you for your feedback!")).to_be_visible()
    expect(dialog.locator("textarea")).to_be_hidden()

    response = Response.objects.select_related("contact").get()
    assert (response.score, response.comment, response.channel, response.language) == (
        6,
        "Der Rückversand war in zwei Minuten erledigt.",
        "widget",
        "en",
    )
    assert (response.contact, response.claimed_email) == (None, "kim@example.com")  # not signed
    assert response.event_properties == {"plan": "pro", "cart": "3"}
    posts = [r for r in page.requests if r.method == "POST"]
    assert len(posts) == 1, "arrowing through the scale sends one answer, then changes it"

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Nothing on the visitor's device without consent (§ 25 TDDDG).
    assert page.evaluate("[document.cookie, window.localStorage.length]") == ["", 0]
    assert page.context.cookies() == []
    assert page.errors == []
    assert foreign_requests(page, live_server.url, customer_site.origin) == []


def test_a_contact_signed_by_the_site_answers_through_the_widget(page, live_server, customer_site):
    survey = make_survey(kind="ces", widget_origins=customer_site.origin)
    contact = make_contact(email="kim@example.com", external_id="C-7", name="Kim", properties={"plan": "pro"})
    customer_site.html = widget_page(
        live_server,
        survey,
        email="kim@example.com",
        external_id="C-7",
        name="Someone else",
        signature=sign_identity(survey, email="kim@example.com", external_id="C-7"),
    )
    page.goto(customer_site.origin)
    widget(page).locator("label[for=cxs-6]").click()
    expect(widget(page).locator("[role=status]")).to_have_text("Thank you! Your score has been saved.")
    response = Response.objects.get()
    assert (response.score, response.contact, response.contact_properties) == (6, contact, {"plan": "pro"})
    assert response.claimed_email == ""
    contact.refresh_from_db()
    assert contact.name == "Kim"
    assert page.errors == []


def test_a_wrong_signature_shows_the_widgets_error_and_stores_nothing(page, live_server, customer_site):
    survey = make_survey(kind="ces", widget_origins=customer_site.origin)
    customer_site.html = widget_page(
        live_server,
        survey,
        email="kim@example.com",
        signature=sign_identity(survey, email="mallory@example.com"),
    )
    warnings = []
    page.on("console", lambda message: message.type == "warning" and warnings.append(message.text))
    page.goto(customer_site.origin)
    widget(page).locator("label[for=cxs-6]").click()
    expect(widget(page).locator("[role=status]")).to_have_text(
        "Your answer could not be sent. Please try again."
    )
    assert not Response.objects.exists()
    assert any("signature" in warning for warning in warnings)


def test_with_consent_the_widget_does_not_ask_again(page, live_server, customer_site):
    survey = make_survey(kind="ces", widget_origins=customer_site.origin)
    customer_site.html = widget_page(live_server, survey, consent="true")
    page.goto(customer_site.origin)
    widget(page).locator("label[for=cxs-7]").click()
    expect(widget(page).locator("[role=status]")).to_have_text("Thank you! Your score has been saved.")
    assert page.evaluate(f"window.localStorage.getItem('cxsurvey:{survey.public_key}') !== null")

    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-cxsurvey]").count() == 0
    assert Response.objects.count() == 1


def test_a_site_not_on_the_allow_list_gets_no_widget_and_stores_nothing(page, live_server, customer_site):
    survey = make_survey(kind="ces", widget_origins="https://shop.example.com")
    customer_site.html = widget_page(live_server, survey)
    page.goto(customer_site.origin)
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-cxsurvey]").count() == 0

    # Even a script on that site posting by hand is refused by the browser's CORS check.
    outcome = page.evaluate(
        """([url, key]) => fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify({key: key, score: 5})})
                 .then(r => "answered " + r.status, e => "blocked")""",
        [f"{live_server.url}/api/v1/widget/responses/", survey.public_key],
    )
    assert outcome == "blocked"
    assert not Response.objects.exists()


def test_the_widget_opens_on_demand_in_german_and_closes_with_escape(page, live_server, customer_site):
    survey = make_survey(kind="nps", brand="Nordwind", widget_origins=customer_site.origin)
    customer_site.html = widget_page(live_server, survey, open="manual", lang="de")
    page.goto(customer_site.origin)
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-cxsurvey]").count() == 0

    page.evaluate("CXSurvey.open()")
    dialog = widget(page)
    expect(dialog).to_contain_text("Wie wahrscheinlich ist es, dass Sie Nordwind")
    assert dialog.get_attribute("lang") == "de"
    expect(dialog.locator("input[value='0']")).to_be_focused()
    expect(dialog.locator("button.close")).to_have_attribute("aria-label", "Schließen")

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not Response.objects.exists()


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_widget_footer_names_the_company_and_links_its_privacy_notice_and_impressum(
    page, live_server, customer_site, language
):
    set_legal_information(**GERMAN, **ENGLISH)
    values = GERMAN if language == "de" else ENGLISH
    survey = make_survey(kind="nps", brand="Nordwind", widget_origins=customer_site.origin)
    customer_site.html = widget_page(live_server, survey, lang=language)
    page.goto(customer_site.origin)
    footer = widget(page).locator("p.legal")
    expect(footer).to_contain_text(values[f"company_name_{language}"])
    links = footer.locator("a")
    expect(links).to_have_count(2)
    for link, (text, url) in zip(
        links.all(),
        [
            (label("Privacy notice", language), values[f"privacy_url_{language}"]),
            (label("Impressum", language), values[f"impressum_url_{language}"]),
        ],
        strict=True,
    ):
        expect(link).to_have_text(text)
        assert (link.get_attribute("href"), link.get_attribute("target"), link.get_attribute("rel")) == (
            url,
            "_blank",
            "noopener",
        )
    # The links come before the close button, which stays last in the tab order.
    assert widget(page).evaluate("box => box.lastElementChild.className") == "close"
    assert page.errors == []
    assert foreign_requests(page, live_server.url, customer_site.origin) == []


def test_without_legal_information_the_widget_has_no_footer(page, live_server, customer_site):
    survey = make_survey(kind="ces", widget_origins=customer_site.origin)
    customer_site.html = widget_page(live_server, survey)
    page.goto(customer_site.origin)
    expect(widget(page)).to_be_visible()
    assert widget(page).locator("p.legal").count() == 0
    assert page.errors == []


def test_a_respondent_page_shows_the_legal_footer_and_asks_no_other_host(page, live_server):
    set_legal_information(**GERMAN)
    survey = make_survey(kind="nps", brand="Nordwind", return_url="https://shop.kessler.example/")
    page.goto(f"{live_server.url}/l/{survey.public_key}/?lang=de&score=9")
    footer = page.locator("footer.legal")
    expect(footer).to_contain_text(GERMAN["company_name_de"])
    expect(footer.locator("#privacy-notice")).to_have_attribute("href", GERMAN["privacy_url_de"])
    expect(footer.locator("#impressum")).to_have_attribute("href", GERMAN["impressum_url_de"])
    expect(page.locator("#saved-status")).to_contain_text("gespeichert")
    page.click("button[type=submit]")
    expect(page.locator("#return-link")).to_have_attribute("href", "https://shop.kessler.example/")
    expect(page.locator("footer.legal #impressum")).to_be_visible()
    assert page.errors == []
    assert foreign_requests(page, live_server.url) == []
