"""What every set-up page shares: who may use them, and their index of surveys and touchpoints."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cxsurvey.signin import back_office_required
from surveys.access import visible_surveys
from surveys.models import Touchpoint

# Whoever holds one of these may set something up; each page asks for the one it needs.
SETUP_PERMISSIONS = (
    "surveys.add_survey",
    "surveys.change_survey",
    "surveys.add_touchpoint",
    "surveys.change_touchpoint",
)


def may_set_up(user: AbstractUser | AnonymousUser, *permissions: str) -> bool:
    """Whether an active member of staff holds one of ``permissions`` (any set-up permission if none
    is named). Which surveys they may set up is ``visible_surveys``'s question."""
    wanted = permissions or SETUP_PERMISSIONS
    return user.is_active and user.is_staff and any(user.has_perm(name) for name in wanted)


def setup_page(
    *permissions: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """A set-up page: behind the back office's login, for staff with one of ``permissions``
    (403 for the others); the view itself finds its survey among the user's (404 for another's)."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @back_office_required
        @wraps(view)
        def page(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
            if not may_set_up(request.user, *permissions):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return page

    return decorate


@setup_page()
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The surveys the user may set up, each with its touchpoints, and what they may create."""
    user = request.user
    surveys = visible_surveys(user).prefetch_related(
        Prefetch("touchpoints", queryset=Touchpoint.objects.order_by("name"))
    )
    context = {
        "surveys": surveys,
        "may_add_survey": user.has_perm("surveys.add_survey"),
        "may_change_survey": user.has_perm("surveys.change_survey"),
        "may_add_touchpoint": user.has_perm("surveys.add_touchpoint"),
        "may_view_touchpoint": user.has_perm("surveys.view_touchpoint")
        or user.has_perm("surveys.change_touchpoint"),
    }
    return render(request, "surveys/setup/index.html", context)
