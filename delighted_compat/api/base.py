"""What every endpoint of the Delighted API shares: the API key as HTTP Basic user name, the
project it stands for, the permissions of the key's user, Delighted's error bodies, its times
and its two kinds of pages.

The key is a CXSurvey API token bound to a Delighted project (``delighted_compat.Project``): it
reads and writes that project's survey only, and only as far as its user's roles and teams allow,
like every other token. Requests count against the token's rate like the rest of the API.
"""

import base64
import binascii
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from delighted_compat.models import Project
from delighted_compat.shapes import from_unix
from surveys.api.auth import BearerTokenAuthentication, TokenRateThrottle
from surveys.api.parsers import JSONParser
from surveys.api.renderers import JSONRenderer
from surveys.models import ApiToken, Survey
from surveys.properties import UNSTORABLE, printable

# Ids sent as numbers beyond 64 bits are no ids of ours, and the database cannot compare them.
MAX_ID = 2**63 - 1
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
# Far enough for any moment of a survey, near enough that a datetime holds it.
MAX_UNIX = 253402300799  # 9999-12-31 23:59:59 UTC
MESSAGES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Basic base64(key:)``, the key being an API token; the password is ignored."""

    def authenticate(self, request: Request) -> tuple | None:
        scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            key = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise exceptions.AuthenticationFailed(
                _("Send the API key as the user name of HTTP Basic.")
            ) from None
        return BearerTokenAuthentication().authenticate_key(key)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="Delighted API"'


class ProjectKey(BasePermission):
    """The key stands for a Delighted project whose survey its user may see; changes need a key
    with write access; and the user needs the view's permissions for the request's method."""

    def has_permission(self, request: Request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # 401
        project = Project.objects.select_related("touchpoint__survey", "autopilot_touchpoint").filter(
            token=token
        )
        view.project = project.first()
        if view.project is None:
            raise exceptions.AuthenticationFailed(_("This API token is not the key of a Delighted project."))
        if not Survey.objects.visible_to(request.user).filter(pk=view.project.survey_id).exists():
            raise exceptions.PermissionDenied(_("The user of this API key may not see the project's survey."))
        if request.method not in SAFE_METHODS and not token.write:
            raise exceptions.PermissionDenied(_("This API key can only read. Writing needs write access."))
        needed = view.permissions.get(request.method or "", ())
        if not all(request.user.has_perm(permission) for permission in needed):
            raise exceptions.PermissionDenied(_("The user of this API key lacks the permission for this."))
        return True


class Invalid(exceptions.ValidationError):
    """A 422 naming the fields that are wrong, as Delighted answered bad parameters."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [message]})


def errors(exc, context):
    """Delighted's error body, ``{"status": …, "message": …}``, with ``errors`` by field on 422;
    DRF's headers (``Retry-After``, ``WWW-Authenticate``) stay."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, exceptions.ParseError):  # a body that is no JSON: invalid, as Delighted said
        exc = exceptions.ValidationError({"body": [str(exc.detail)]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        detail = exc.detail if isinstance(exc.detail, dict) else {"base": exc.detail}
        response.data = {
            "status": 422,
            "message": MESSAGES[422],
            "errors": {
                field: [str(message) for message in _flat(messages)] for field, messages in detail.items()
            },
        }
        return response
    body = {"status": response.status_code, "message": MESSAGES.get(response.status_code, "Error")}
    if detail := getattr(exc, "detail", None):
        body["error"] = str(detail)
    response.data = body
    return response


def _flat(messages) -> list:
    if isinstance(messages, dict):
        return [f"{name}: {message}" for name, inner in messages.items() for message in _flat(inner)]
    if isinstance(messages, list):
        return [message for inner in messages for message in _flat(inner)]
    return [messages]


class DelightedView(APIView):
    """An endpoint of the Delighted API: ``permissions`` by method, ``self.project`` once allowed."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [ProjectKey]
    throttle_classes = [TokenRateThrottle]
    # Delighted took form fields (properties[name]=value) as well as JSON.
    parser_classes = [JSONParser, parsers.FormParser]
    renderer_classes = [JSONRenderer]
    permissions: dict[str, tuple[str, ...]] = {}
    project: Project
    # Delighted documented this API; CXSurvey's OpenAPI schema describes its own.
    schema = None

    def get_exception_handler(self):
        return errors

    def params(self, request: Request) -> dict:
        """The request's parameters: the query's for reads, the body's for changes, both for
        deletions (Delighted's clients sent them either way); ``name[]`` lists and ``name[key]``
        maps of form fields folded as its clients sent them. Text that no database can store
        (U+0000, lone surrogates) is refused here, once for every endpoint."""
        # Checked whatever the method, as sent: a query is written to the audit log with personal
        # data read.
        _check_storable(dict(request.query_params.lists()))
        query = fold(request.query_params)
        params = query if request.method in (*SAFE_METHODS, "DELETE") else {}
        if request.method not in SAFE_METHODS:
            data = request.data
            if hasattr(data, "lists"):  # form fields
                data = fold(data)
            if not isinstance(data, dict):
                raise exceptions.ValidationError({"body": [_("Send a JSON object.")]})
            _check_storable(data)
            params |= data
        return params


def _check_storable(params: dict) -> None:
    for name, value in params.items():
        if _unstorable(name) or _unstorable(value):
            raise Invalid(printable(name), _("contains characters that cannot be stored"))


def _unstorable(value: object) -> bool:
    """Whether text anywhere in a parameter holds U+0000 or a lone surrogate."""
    if isinstance(value, str):
        return bool(UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(_unstorable(name) or _unstorable(item) for name, item in value.items())
    if isinstance(value, list):
        return any(_unstorable(item) for item in value)
    return False


def fold(query) -> dict:
    """``a=1&b[]=x&b[]=y&c[k]=v`` as ``{"a": "1", "b": ["x", "y"], "c": {"k": "v"}}``."""
    folded: dict = {}
    for name, values in query.lists():
        if name.endswith("[]"):
            folded[name[:-2]] = values
        elif "[" in name and name.endswith("]"):
            outer, _bracket, inner = name[:-1].partition("[")
            if isinstance(folded.setdefault(outer, {}), dict):
                folded[outer][inner] = values[-1]
        else:
            folded[name] = values[-1]
    return folded


def whole(
    params: dict, name: str, *, default: int | None = None, low: int = 0, high: int = MAX_UNIX
) -> int | None:
    """A whole number parameter (a JSON number or its digits) within [low, high]."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(name, _("must be a whole number"))
    try:
        number = int(value)
    except ValueError:
        raise Invalid(name, _("must be a whole number")) from None
    if not low <= number <= high:
        raise Invalid(name, _("must be between %(low)d and %(high)d") % {"low": low, "high": high})
    return number


def moment(params: dict, name: str):
    """A Unix time parameter as an aware datetime, or None."""
    seconds = whole(params, name)
    return None if seconds is None else from_unix(seconds)


def per_page(params: dict) -> int:
    return whole(params, "per_page", default=DEFAULT_PER_PAGE, low=1, high=MAX_PER_PAGE)  # type: ignore[return-value]


def page_of(items, request: Request, params: dict) -> tuple[list, dict]:
    """One numbered page (``page``, from 1) of ``per_page`` items, and its Link header, which
    names the next page while there is one."""
    size = per_page(params)
    number = whole(params, "page", low=1, high=10**6) or 1
    rows = list(items[(number - 1) * size : number * size + 1])
    headers = {}
    if len(rows) > size:
        rows = rows[:size]
        headers["Link"] = link(request, {"page": str(number + 1)})
    return rows, headers


def page_after(items: QuerySet, request: Request, params: dict) -> tuple[list, dict]:
    """One page of ``per_page`` items in the order of their ids, after the id that ``page_info``
    names, and its Link header, which names the last one shown while more follow."""
    if after := whole(params, "page_info", high=MAX_ID):
        items = items.filter(pk__gt=after)
    size = per_page(params)
    rows = list(items.order_by("pk")[: size + 1])
    headers = {}
    if len(rows) > size:
        rows = rows[:size]
        headers["Link"] = link(request, {"page_info": str(rows[-1].pk)})
    return rows, headers


def link(request: Request, changes: dict) -> str:
    """``<url>; rel="next"``: this request's address with ``changes`` to its query."""
    query = {name: values for name, values in request.query_params.lists() if name not in changes}
    query.update({name: [value] for name, value in changes.items()})
    url = request.build_absolute_uri(request.path)
    return f'<{url}?{urlencode(query, doseq=True)}>; rel="next"'
