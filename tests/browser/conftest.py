"""Headless Chromium (Debian's package, no browser download) driven by Playwright.

The tests are skipped where Chromium is missing, except in CI, where a missing
browser must fail the run rather than hide the tests.
"""

import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The machine has no internet: without these flags Chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed; CI must run the browser tests.")
        pytest.skip("Chromium is not installed (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, so Django takes the
    # tests' own ORM calls for async code; they are plain synchronous calls.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_locale() -> str:
    """The browser's language (its Accept-Language); a test parametrizes it for German."""
    return "en-GB"


@pytest.fixture
def page(browser, live_server, browser_locale):
    """A fresh browser profile per test, recording every request and every console error."""
    context = browser.new_context(locale=browser_locale, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.dialogs = []
    page.on("request", lambda request: page.requests.append(request))
    page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


class _HostPage(BaseHTTPRequestHandler):
    html = ""

    def do_GET(self):
        body = self.server.html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def customer_site():
    """A customer's website on another origin (127.0.0.1 beside the live server's localhost)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostPage)
    server.html = ""
    server.origin = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def sign_in(page, live_server, user, *, language: str = "") -> None:
    """Signs ``user`` in without the login page (its own tests drive it), and sets the language the
    pages answer in, as the language cookie does."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookies = [
        {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
    ]
    if language:
        cookies.append({"name": settings.LANGUAGE_COOKIE_NAME, "value": language})
    page.context.add_cookies([{**cookie, "url": live_server.url} for cookie in cookies])
