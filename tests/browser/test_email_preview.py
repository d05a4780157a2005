"""The back office's email preview in a real browser: each language's frame shows the email itself,
with its scale, on a phone, a tablet and a desktop, whatever the back office's language."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from surveys.email.messages import render_preview
from tests.browser.conftest import sign_in
from tests.factories import make_survey

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 768, 1440])
@pytest.mark.parametrize("ui_language", ["de", "en"])
def test_each_frame_shows_the_email_with_its_scale(page, live_server, width, ui_language):
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "Boss-password-77")
    survey = make_survey(kind="nps", brand='Acme "Quotes" & <Sons>')
    sign_in(page, live_server, boss, language=ui_language)
    page.set_viewport_size({"width": width, "height": 900})

    failed = []
    page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
    page.goto(f"{live_server.url}/admin/surveys/survey/{survey.pk}/email/")

    expect(page.locator("html")).to_have_attribute("lang", ui_language)
    frames = page.locator("iframe")
    expect(frames).to_have_count(2)
    for index, language in enumerate(("de", "en")):
        subject, _text, _html = render_preview(survey, language)
        frame = page.frame_locator("iframe").nth(index)
        # The whole email arrived: its brand as text (quotes and angle brackets intact), and every
        # point of the 0–10 scale as a link.
        expect(frame.locator("body")).to_contain_text('Acme "Quotes" & <Sons>')
        expect(frame.locator("a", has_text="10")).not_to_have_count(0)
        assert frame.locator("a").count() >= 11
        expect(page.locator(f"section[lang={language}]")).to_contain_text(subject)
    box = frames.first.bounding_box()
    assert box is not None and box["height"] > 300 and box["width"] <= width
    # The admin asks for a /favicon.ico it does not have; nothing else may fail.
    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    assert [error for error in page.errors if "Failed to load resource" not in error] == []
    assert {request.url.split("/")[2] for request in page.requests if request.url.startswith("http")} == {
        live_server.url.split("/")[2]
    }
