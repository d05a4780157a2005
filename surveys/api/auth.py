"""Who calls the REST API and what they may do: bearer tokens, their read or write scope, the
back office's permissions of their user, and a rate per token.

The project's DRF defaults (``REST_FRAMEWORK`` in settings) come from here: every API view
needs a token unless it says otherwise, as the widget's public views do. DRF imports them
while it starts, so this module must not import DRF's views (nor ``surveys.api.base``).
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from surveys import ratelimit
from surveys.models import ApiToken, digest_token

# ``last_used_at`` is for people ("used today?"); writing it on every request would
# turn each read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``: the request acts as the token's user.

    The token is found by its SHA-256 digest, so the lookup compares digests, never the
    secret itself, and its timing says nothing about the token.
    """

    def authenticate(self, request: Request) -> tuple | None:
        scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None  # no token: the permission check answers 401
        token = credentials.strip()
        if not token or " " in token:
            raise exceptions.AuthenticationFailed(_("Send the token as “Authorization: Bearer <token>”."))
        return self.authenticate_key(token)

    def authenticate_key(self, token: str) -> tuple:
        """The token's user and token, however the request sent it; AuthenticationFailed if the
        token is unknown or its user inactive."""
        api_token = ApiToken.objects.select_related("user").filter(digest=digest_token(token)).first()
        if api_token is None:
            raise exceptions.AuthenticationFailed(_("This API token is not valid."))
        if not api_token.user.is_active:
            raise exceptions.AuthenticationFailed(_("The user of this API token is inactive."))
        _record_use(api_token)
        return api_token.user, api_token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def _record_use(api_token: ApiToken) -> None:
    now = timezone.now()
    cutoff = now - LAST_USED_PRECISION
    if api_token.last_used_at is None or api_token.last_used_at <= cutoff:
        # Conditional, so that concurrent requests write it once.
        ApiToken.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff), pk=api_token.pk
        ).update(last_used_at=now)


class TokenScope(BasePermission):
    """Any valid token may read; changing anything needs a token with write access."""

    message = gettext_lazy("This API token can only read. Writing needs a token with write access.")

    def has_permission(self, request: Request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # DRF answers 401 with WWW-Authenticate
        return request.method in SAFE_METHODS or token.write


class ModelPermission(BasePermission):
    """The token's user needs the back office's permission for what the request does to the
    view's model: view to read, add to create, change to update, delete to delete."""

    message = gettext_lazy("The user of this API token lacks the permission for this.")
    ACTIONS = {
        "GET": "view",
        "HEAD": "view",
        "OPTIONS": "view",
        "POST": "add",
        "PUT": "change",
        "PATCH": "change",
    }

    def has_permission(self, request: Request, view) -> bool:
        if getattr(view, "action", "") is None:
            return True  # a method the view set does not offer: DRF answers 405
        options = view.queryset.model._meta
        action = self.ACTIONS.get(request.method or "", "delete")
        return request.user.has_perm(f"{options.app_label}.{action}_{options.model_name}")


class AnyScope(BasePermission):
    """Any valid token, whatever its scope: for requests that only read, whatever their method."""

    def has_permission(self, request: Request, view) -> bool:
        return isinstance(request.auth, ApiToken)  # else DRF answers 401 with WWW-Authenticate


class SendsSurveys(BasePermission):
    """Reporting events (and so asking people) needs the permission to send surveys."""

    message = gettext_lazy("The user of this API token lacks the permission to send surveys.")

    def has_permission(self, request: Request, view) -> bool:
        return request.user.has_perm("surveys.send_survey")


class ReadsResponses(BasePermission):
    """The dashboards' numbers are read from answers: they need the permission to view responses."""

    message = gettext_lazy("The user of this API token lacks the permission to view responses.")

    def has_permission(self, request: Request, view) -> bool:
        return request.user.has_perm("surveys.view_response")


class TokenRateThrottle(BaseThrottle):
    """``settings.RATE_LIMITS["api"]`` requests per minute and token, counted in the cache."""

    def __init__(self) -> None:
        self.seconds: int | None = None

    def allow_request(self, request: Request, view) -> bool:
        if not isinstance(request.auth, ApiToken):
            return True  # public views (the widget) have their own limits
        self.seconds = ratelimit.count_request("api", str(request.auth.pk))
        return self.seconds is None

    def wait(self) -> int | None:
        return self.seconds
