"""The frame of every page a respondent sees, and the site-wide error pages.

Respondent pages (answering, thanks, unsubscribing) load only their own script and stylesheet,
speak the respondent's language, name the company and link to its privacy notice and Impressum
(``render_public``), and turn a ``PublicError`` into a page that says what is wrong; programs
(the API's callers, whoever asks for JSON) get the API's error shape instead.
"""

import logging
import sys
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views import defaults

from surveys import ratelimit
from surveys.api.base import ERROR_CODES
from surveys.models import LegalFooter, LegalInformation
from surveys.scales import LANGUAGES

logger = logging.getLogger(__name__)


class PublicError(Exception):
    """A request a respondent cannot go on with; shown as a page with this status."""

    def __init__(self, status: int, title: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.title, self.message, self.retry_after = (
            status,
            title,
            message,
            retry_after,
        )


# Respondent pages load only their own script and stylesheet. Inline style attributes
# carry the survey's accent colour; nothing else inline runs, and nobody may frame them.
RESPONDENT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def public_page(view):
    """Security headers for respondent pages; a PublicError becomes a page in the respondent's language."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except PublicError as error:
            response = message_page(request, error.status, error.title, error.message)
            if error.retry_after:
                response["Retry-After"] = str(error.retry_after)
        response["Content-Security-Policy"] = RESPONDENT_CSP
        # The URL carries a token or key: never send it to another host. Not "no-referrer":
        # browsers then send "Origin: null" with the form, and the CSRF check refuses it.
        response["Referrer-Policy"] = "same-origin"
        return response

    return wrapper


# The legal information this process read last. The page that says the database cannot be
# reached shows it, rather than asking the database once more.
_last_read: LegalInformation | None = None


def legal_information(*, from_database: bool = True) -> LegalInformation:
    """The installation's legal information; the copy this process read last when the database
    is not to be asked or cannot be read (empty if it never read one)."""
    global _last_read
    if from_database:
        try:
            _last_read = LegalInformation.objects.current()
        except (DatabaseError, InterfaceError):  # an error page must not become a server error
            logger.warning("The legal information could not be read; the page shows the last copy")
    return _last_read or LegalInformation()


def render_public(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    status: int = 200,
    legal: LegalInformation | None = None,
) -> HttpResponse:
    """A respondent page (a template extending ``surveys/base_public.html``) with the footer of the
    installation's legal information (``legal``, else read now) in the active language."""
    footer: LegalFooter = (legal or legal_information()).footer(translation.get_language())
    return render(request, template, {**context, "legal": footer}, status=status)


def message_page(
    request: HttpRequest, status: int, title: str, message: str, *, legal: LegalInformation | None = None
) -> HttpResponse:
    if wants_json(request):
        error = {"code": ERROR_CODES.get(status, "error"), "message": message, "fields": {}}
        return JsonResponse({"error": error}, status=status)
    context = {"title": title, "message": message}
    return render_public(request, "surveys/message.html", context, status=status, legal=legal)


def wants_json(request: HttpRequest) -> bool:
    """Programs get the API's error shape: the API's callers, and whoever asks for JSON."""
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def use_language(request: HttpRequest, preferred: str = "") -> str:
    """Activate the respondent's language: the preferred one, else the browser's (de or en)."""
    language = preferred if preferred in LANGUAGES else translation.get_language_from_request(request)
    if language not in LANGUAGES:
        language = settings.LANGUAGE_CODE
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def check_rate(request: HttpRequest, scope: str, *, per: int | None = None) -> None:
    """Raise a 429 PublicError if the client is over its limit in ``scope`` (for the object ``per``)."""
    if wait := ratelimit.retry_after(request, scope, per=per):
        raise PublicError(
            429,
            _("Too many requests"),
            _("Too many answers came from your network in a short time. Please try again in a minute."),
            retry_after=wait,
        )


def not_found(request: HttpRequest, title: Promise, message: Promise) -> PublicError:
    """The page for a link whose token or key is not ours, in the browser's language. Each one
    counts against the client's limit of unknown tokens, so that guessing runs out of tries."""
    check_rate(request, "unknown_token")
    use_language(request)
    return PublicError(404, str(title), str(message))


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Requests Django refuses before any view runs: bodies over the size limit, bad hosts."""
    use_language(request)
    return message_page(
        request,
        400,
        _("Request not accepted"),
        _("What was sent is too large or malformed. Please go back and try again."),
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    use_language(request)
    return message_page(request, 404, _("Page not found"), _("There is nothing at this address."))


# How long a client should wait before it tries again while the database cannot be reached.
DATABASE_RETRY_AFTER = 10


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's last resort for an exception (it has logged it): a database that cannot be
    reached, or that dropped the connection, is a 503 to try again shortly; anything else a 500.
    Django closes the broken connection after the request, and the next one opens a new one."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        use_language(request)
        response = message_page(
            request,
            503,
            _("Briefly unavailable"),
            _("We cannot reach our database at the moment. Please try again in a minute."),
            legal=legal_information(from_database=False),
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
    if wants_json(request):
        use_language(request)
        message = _("Something went wrong on our side. Please try again later.")
        return message_page(request, 500, message, message)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    use_language(request)
    return message_page(
        request,
        403,
        _("Your answer could not be saved"),
        _(
            "The page was open for too long or your browser blocked its security cookie. "
            "Please reload the page and answer again."
        ),
    )
