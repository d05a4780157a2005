"""The OpenAPI 3 schema (``/api/schema/``) and its interactive docs (``/api/docs/``).

drf-spectacular reads the views; this module adds what it cannot see: the bearer
token scheme, the one error shape that every endpoint answers with, with examples, and
each list's own links in its examples. Both are for the back office's users unless
``API_DOCS_PUBLIC`` is set.
"""

import json
import re
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cxsurvey.signin import may_use_back_office
from surveys.api.base import ERROR_CODES

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs: e.g. invalid, not_found."},
                "message": {"type": "string", "description": "For people, in the request's language."},
                "fields": {
                    "type": "object",
                    "description": "Per field (or item), its messages.",
                    "additionalProperties": True,
                },
            },
        }
    },
}
EXAMPLE_SITE = "https://cx.example.com"
ERRORS = {
    "400": ("The request is not valid.", "invalid", "score: Ensure this value is less than or equal to 10."),
    "401": ("No valid token.", "not_authenticated", "Authentication credentials were not provided."),
    "403": ("The token may not do this.", "permission_denied", "This API token can only read."),
    "404": ("There is no such object.", "not_found", "Not found."),
    "429": (
        "Too many requests: wait for the seconds in Retry-After.",
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
    ),
}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "surveys.api.auth.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "description": "An API token from the back office."}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """Every operation documents the error shape for the statuses it can answer with."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for route, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            secured = bool(operation.get("security")) and operation["security"] != [{}]
            wanted = {
                "400": method not in ("get", "delete") or bool(operation.get("parameters")),
                "401": secured,
                "403": secured,
                # An object in the path, or a survey named as a filter: a foreign one is unknown too.
                "404": "{" in route or any(p["name"] == "survey" for p in operation.get("parameters", [])),
                "429": secured,
            }
            responses = operation.setdefault("responses", {})
            for status, (description, code, message) in ERRORS.items():
                if wanted[status]:
                    responses.setdefault(status, _error_response(description, code, message))
            # The views' own errors (409, 410, ...), documented by their description alone.
            for status, response in responses.items():
                if status.startswith("4") and "content" not in response:
                    code = ERROR_CODES.get(int(status), "error")
                    response.update(_error_response(response["description"], code, response["description"]))
    return result


def link_pages_to_their_list(result: dict, generator, request, public) -> dict:
    """DRF's paginator gives every list the same example links, to another API's accounts; here
    each list's examples link to its own next page (of object 7 under an id) and no previous one."""
    schemas = result.get("components", {}).get("schemas", {})
    for route, methods in result.get("paths", {}).items():
        content = methods.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        media = content.get("application/json", {})
        page = schemas.get(media.get("schema", {}).get("$ref", "").rpartition("/")[2], {})
        fields = page.get("properties", {})
        if set(fields) != {"next", "previous", "results"}:
            continue
        links = {
            "next": EXAMPLE_SITE + re.sub(r"\{[^}]+\}", "7", route) + "?cursor=cD0yMDI2LTExLTEz",
            "previous": None,
        }
        for name, link in links.items():
            fields[name]["example"] = link
        for example in media.get("examples", {}).values():
            example["value"].update(links)
    return result


def drop_unused_components(result: dict, generator, request, public) -> dict:
    """drf-spectacular describes a nested serializer that is only written (a contact's ``consent``)
    for answers too, and then leaves it out of them: a schema nothing refers to is dropped."""
    schemas = result.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps(result, default=str)  # lazy translations among the descriptions
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return result
        for name in unused:
            del schemas[name]


def _error_response(description: str, code: str, message: str) -> dict:
    example = {"error": {"code": code, "message": message, "fields": {}}}
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": example}
        },
    }


def for_the_back_office(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The schema and the docs for whoever may use the back office, or for everyone with API_DOCS_PUBLIC.

    Others are sent to the back office's login page from the docs; the schema, which programs
    read, answers in the API's error shape.
    """

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if settings.API_DOCS_PUBLIC or may_use_back_office(request.user):
            return view(request, *args, **kwargs)
        if request.resolver_match and request.resolver_match.url_name == "api_schema":
            message = _("The API's schema is for the back office: sign in there first.")
            return JsonResponse(
                {"error": {"code": ERROR_CODES[403], "message": message, "fields": {}}}, status=403
            )
        return redirect_to_login(request.get_full_path())

    return guarded


urlpatterns = [
    path(
        "api/schema/",
        for_the_back_office(SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[])),
        name="api_schema",
    ),
    path(
        "api/docs/",
        # The split view serves Swagger UI's start-up script as a file of its own: no inline script.
        for_the_back_office(
            SpectacularSwaggerSplitView.as_view(
                url_name="api_schema",
                template_name="surveys/api_docs.html",
                authentication_classes=[],
                permission_classes=[],
            )
        ),
        name="api_docs",
    ),
]
