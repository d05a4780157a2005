"""The Content-Security-Policy of the back office and the app's pages, and the idle time of sessions.

Respondent pages (``surveys.public.RESPONDENT_CSP``) and the dashboards (``feedback.views.PAGE_CSP``)
set their own policy; every other HTML page gets ``BACK_OFFICE_CSP``. Django's admin (5.2) runs no
inline script: its pages pass data to their scripts in ``data-`` attributes. The few inline
``<script>`` and ``<style>`` elements that the project's templates need carry the request's nonce
(``{{ csp_nonce }}``). Style attributes stay allowed: the email preview shows the email's own.
"""

import secrets

from django.contrib.auth import SESSION_KEY, user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

BACK_OFFICE_CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.csp_nonce = secrets.token_urlsafe(18)  # type: ignore[attr-defined]
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if html and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = BACK_OFFICE_CSP.format(nonce=request.csp_nonce)  # type: ignore[attr-defined]
        return response


def csp_nonce(request: HttpRequest) -> dict[str, str]:
    """The template context's ``csp_nonce``, for the ``nonce`` attribute of inline scripts and styles."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


# A signed-in session lasts SESSION_COOKIE_AGE (SESSION_IDLE_MINUTES) from its last save. Saving it
# on every request would be one more write per page and per poll; once a minute is enough.
ACTIVE_KEY = "_active_at"
ACTIVE_PRECISION_SECONDS = 60


class IdleSessionMiddleware:
    """Keeps a signed-in session alive while it is used: at most one write a minute moves its expiry on.

    A session left alone for SESSION_IDLE_MINUTES (less up to a minute) has expired, in the
    database and in the browser: its next request is anonymous and goes to the login page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        session = request.session
        if SESSION_KEY in session:
            now = int(timezone.now().timestamp())
            if now - session.get(ACTIVE_KEY, 0) >= ACTIVE_PRECISION_SECONDS:
                session[ACTIVE_KEY] = now
        return self.get_response(request)


@receiver(user_logged_in)
def _mark_active(sender, request: HttpRequest, **kwargs) -> None:
    # A new session starts active, so that the requests right after signing in write nothing.
    if hasattr(request, "session"):
        request.session[ACTIVE_KEY] = int(timezone.now().timestamp())
