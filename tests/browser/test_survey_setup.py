"""The survey's set-up page in a real browser: the live preview follows what one types, in German
and English, on a phone and a desktop; reset to standard; the controls by keyboard; copying."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from surveys import roles
from surveys.scales import standard_text
from tests.factories import make_staff, make_survey, make_team

pytestmark = pytest.mark.django_db(transaction=True)

SIZES = {
    390: {"width": 390, "height": 844},
    768: {"width": 768, "height": 1024},
    1440: {"width": 1440, "height": 900},
}
LOCALES = {"de": "de-DE", "en": "en-GB"}


@pytest.fixture
def editor(browser, live_server, request):
    """A CX manager signed in, in a browser of the size and language the test is parametrised with."""
    width, language = request.param
    context = browser.new_context(locale=LOCALES[language], viewport=SIZES[width])
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda asked: page.requests.append(asked.url))
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    manager = make_staff("manager", roles.CX_MANAGER)
    survey = make_survey(kind="nps", name="Delivery", brand="Nordwind")
    make_team(surveys=[survey], members=[manager])
    page.goto(f"{live_server.url}/login/?next=/setup/surveys/{survey.pk}/")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "manager-password")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"**/setup/surveys/{survey.pk}/")
    page.errors.clear()  # the login page asks for a favicon.ico it does not have
    page.language, page.survey = language, survey
    yield page
    context.close()


BOTH = [(width, language) for width in SIZES for language in LOCALES]


def frame_text(page, view: str) -> str:
    return page.frame_locator(f"#preview-{view}").locator("body").inner_text()


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def only_our_host(page, live_server) -> None:
    ours = urlsplit(live_server.url).netloc
    asked = [url for url in page.requests if not url.startswith(("about:", "data:"))]
    assert asked and all(urlsplit(url).netloc == ours for url in asked)


@pytest.mark.parametrize("editor", BOTH, indirect=True, ids=lambda size: f"{size[0]}-{size[1]}")
def test_typing_a_text_changes_the_preview_and_marks_the_text_custom(editor, live_server):
    page, language = editor, editor.language
    field = page.locator(f"#id_question_{language}")
    badge = page.locator(f'[data-badge-for="id_question_{language}"]')
    expect(page.frame_locator("#preview-answer").locator("#question")).to_have_text(
        standard_text("nps", "question", language).replace("{{ brand }}", "Nordwind")
    )
    assert badge.inner_text() == badge.get_attribute("data-standard")
    field.fill("")
    field.press_sequentially('Würden Sie <b>uns</b> "empfehlen"?', delay=10)
    expect(page.frame_locator("#preview-answer").locator("#question")).to_have_text(
        'Würden Sie <b>uns</b> "empfehlen"?'
    )
    assert badge.inner_text() == badge.get_attribute("data-custom")
    no_horizontal_scroll(page)
    only_our_host(page, live_server)
    assert not page.errors


@pytest.mark.parametrize("editor", BOTH, indirect=True, ids=lambda size: f"{size[0]}-{size[1]}")
def test_the_email_preview_shows_the_email_and_follows_its_subject(editor, live_server):
    page, language = editor, editor.language
    page.click('.preview-controls [data-view="email"]')
    expect(page.locator("#preview-email")).to_be_visible()
    expect(page.locator("#preview-answer")).to_be_hidden()
    email = page.frame_locator("#preview-email")
    expect(email.locator("a[href*='score=10']").first).to_be_visible()
    page.fill(f"#id_email_subject_{language}", "Nordwind fragt / asks")
    expect(page.locator("#preview-subject")).to_have_text("Nordwind fragt / asks")
    # The other language's email, at desktop width.
    other = "en" if language == "de" else "de"
    page.click(f'.preview-controls [data-language="{other}"]')
    page.click('.preview-controls [data-width="1280"]')
    expect(email.locator("html")).to_have_attribute("lang", other)
    no_horizontal_scroll(page)
    only_our_host(page, live_server)
    assert not page.errors


@pytest.mark.parametrize("editor", [(390, "en"), (1440, "de")], indirect=True, ids=["390-en", "1440-de"])
def test_reset_to_standard_returns_the_standard_text_and_saves_it_as_standard(editor):
    page, language = editor, editor.language
    survey = page.survey
    field = page.locator(f"#id_thank_you_{language}")
    field.fill("Merci!")
    page.locator(f'[data-text="thank_you_{language}"] .reset-standard').click()
    assert field.input_value() == standard_text("nps", "thank_you", language)
    expect(field).to_be_focused()
    expect(page.frame_locator("#preview-answer").locator("body")).to_be_attached()
    page.locator("#submit-id-save").click()
    page.wait_for_url(f"**/setup/surveys/{survey.pk}/")
    survey.refresh_from_db()
    assert getattr(survey, f"thank_you_{language}") == ""


@pytest.mark.parametrize("editor", [(390, "de"), (1440, "en")], indirect=True, ids=["390-de", "1440-en"])
def test_the_controls_work_by_keyboard(editor):
    page, language = editor, editor.language
    # A placeholder goes where one typed.
    field = page.locator(f"#id_follow_up_{language}")
    field.fill("Was sagen Sie zu ")
    field.press("End")
    placeholder = page.locator(f'fieldset[lang="{language}"] button.insert-placeholder').first
    placeholder.focus()
    page.keyboard.press("Enter")
    assert field.input_value() == "Was sagen Sie zu {{ brand }}"
    # The preview's switches.
    widget = page.locator('.preview-controls [data-view="widget"]')
    widget.focus()
    page.keyboard.press("Space")
    expect(widget).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#preview-widget")).to_be_visible()
    expect(page.frame_locator("#preview-widget").locator("[data-cxsurvey]")).to_be_attached()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator('.preview-controls [data-view="answer"]')).to_have_attribute("aria-pressed", "true")
    # Copying the snippet.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.locator('[data-copy="widget-snippet"]')
    copy.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".copy-status")).not_to_be_empty()
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#widget-snippet").inner_text()
    assert not page.errors
