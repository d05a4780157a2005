"""One answer's page: the score and comment in full, who gave it (or their pseudonym), the customer's
earlier answers, how the invitation travelled, the answer's tags and its follow-up case."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from cxsurvey.signin import back_office_required
from feedback import charts
from feedback.views import PAGE_CSP, AuthenticatedHttpRequest, feedback_page
from followup.models import Tag
from followup.tags import TagRefused, tag_response, untag_response
from privacy.scrub import Scrubber
from surveys.access import AnyUser, may_read_feedback, may_see_personal_data, pseudonym, visible_surveys
from surveys.models import Invitation, Response

EARLIER_ANSWERS = 10
TAGS_SUGGESTED = 200  # offered while typing a tag's name; any other is still found by its name


def get_response_for_user(user: AnyUser, public_id: UUID) -> Response:
    """The answer with this public id if the user may see its survey, with what its page shows
    alongside; Http404 for an unknown or foreign one alike."""
    response = (
        Response.objects.filter(public_id=public_id, survey__in=visible_surveys(user))
        .select_related("survey", "touchpoint", "contact", "invitation", "case", "case__assignee")
        .first()
    )
    if response is None:
        raise Http404("No answer has this id.")
    return response


@dataclass(frozen=True)
class Step:
    """One station of the invitation's journey; ``time`` is None where the step has none."""

    code: str
    label: str | Promise
    time: datetime | None
    problem: bool = False  # bounced, failed, marked as spam, skipped


def journey(response: Response) -> list[Step]:
    """The invitation's way to the answer, in order, only the steps it took: created or scheduled,
    sent, reminded, delivered, opened, then answered and changed. An answer by link or widget was
    only answered (and perhaps changed)."""
    steps = []
    invitation = response.invitation
    if invitation is not None:
        status = Invitation.Status
        steps.append(Step("created", _("created"), invitation.created_at))
        if invitation.scheduled_for is not None:
            steps.append(Step("scheduled", _("scheduled for"), invitation.scheduled_for))
        if invitation.status == status.SKIPPED:
            steps.append(Step("skipped", invitation.get_skip_reason_display(), None, problem=True))
        for code, label, time in (
            ("sent", _("sent"), invitation.sent_at),
            ("reminded", _("reminder sent"), invitation.reminder_sent_at),
            ("delivered", _("delivered"), invitation.delivered_at),
            ("opened", _("opened"), invitation.opened_at),
        ):
            if time is not None:
                steps.append(Step(code, label, time))
        if invitation.status in (status.BOUNCED, status.COMPLAINED, status.FAILED):
            steps.append(Step(invitation.status, invitation.get_status_display(), None, problem=True))
    steps.append(Step("answered", _("answered"), response.created_at))
    if response.updated_at > response.created_at:
        steps.append(Step("changed", _("changed"), response.updated_at))
    return steps


def earlier_answers(response: Response, user: AnyUser) -> list[Response]:
    """The same customer's answers before this one, newest first, of the surveys the user may see."""
    if response.contact_id is None:
        return []
    earlier = Response.objects.filter(
        contact_id=response.contact_id, survey__in=visible_surveys(user), created_at__lt=response.created_at
    )
    return list(
        earlier.select_related("survey", "touchpoint")
        .only("public_id", "score", "kind", "comment", "created_at", "survey__name", "touchpoint__name")
        .order_by("-created_at", "-pk")[:EARLIER_ANSWERS]
    )


def shown_properties(response: Response, personal: bool) -> tuple[list, list]:
    """The answer's contact and event properties, sorted by name, as (name, value) pairs. Who may
    not see personal data sees only what would stay on the answer if its customer were erased
    (``privacy.scrub``): the survey's segments and event properties that name nobody."""
    contact, event = _as_dict(response.contact_properties), _as_dict(response.event_properties)
    if not personal:
        person = response.contact
        scrubber = Scrubber(
            email=person.email if person else response.claimed_email,
            external_id=person.external_id if person else response.claimed_external_id,
            name=person.name if person else response.claimed_name,
            properties=_as_dict(person.properties) if person else {},
        )
        _comment, contact, event = scrubber.answer(
            comment="",
            contact=contact,
            event=event,
            segments=response.survey.dashboard_properties,
            keep_comment=False,
        )
    return sorted(contact.items()), sorted(event.items())


def _as_dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _page(request: HttpRequest, response: Response, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    personal = may_see_personal_data(user)
    contact_properties, event_properties = shown_properties(response, personal)
    may_tag = user.has_perm("followup.add_responsetag")
    case = getattr(response, "case", None)  # None without one (its accessor raises AttributeError)
    context = {
        "response": response,
        "category": charts.category_label(response.category),
        "category_index": charts.category_index(response),
        "personal": personal,
        "pseudonym": pseudonym(response.contact_id),
        "contact_properties": contact_properties,
        "event_properties": event_properties,
        "person_properties": sorted(_as_dict(response.contact.properties).items())
        if personal and response.contact
        else [],
        "earlier": earlier_answers(response, user),
        "journey": journey(response),
        "tags": list(response.tags.order_by("name")),
        "may_tag": may_tag,
        "may_untag": user.has_perm("followup.delete_responsetag"),
        "suggested_tags": list(Tag.objects.order_by("name").values_list("name", flat=True)[:TAGS_SUGGESTED])
        if may_tag
        else [],
        "may_create_tags": user.has_perm("followup.add_tag"),
        "show_case": user.has_perm("followup.view_case"),
        "case": case,
        "tag_error": error,
    }
    page = render(request, "feedback/response.html", context, status=status)
    page["Content-Security-Policy"] = PAGE_CSP
    return page


@feedback_page
def response_page(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _page(request, get_response_for_user(request.user, public_id))


TaggingView = Callable[[AuthenticatedHttpRequest, Response], HttpResponse]


def _tagging(permission: str) -> Callable[[TaggingView], Callable[..., HttpResponseBase]]:
    """A POST on an answer's tags: for who may read feedback and hold ``permission``, on an answer of
    a survey they may see (404 otherwise)."""

    def decorate(view: TaggingView) -> Callable[..., HttpResponseBase]:
        @back_office_required
        @require_POST
        @wraps(view)
        def tagging(request: AuthenticatedHttpRequest, public_id: UUID) -> HttpResponse:
            if not (may_read_feedback(request.user) and request.user.has_perm(permission)):
                raise PermissionDenied
            return view(request, get_response_for_user(request.user, public_id))

        return tagging

    return decorate


@_tagging("followup.add_responsetag")
def add_tag(request: AuthenticatedHttpRequest, response: Response) -> HttpResponse:
    """Put a tag on the answer by its name; a new name becomes a tag for who may create tags."""
    try:
        tag_response(
            response=response,
            names=[request.POST.get("name", "")],
            by=request.user,
            now=timezone.now(),
            create=request.user.has_perm("followup.add_tag"),
        )
    except TagRefused as refusal:
        return _page(request, response, error=str(refusal), status=400)
    return redirect(reverse("feedback:response", args=[response.public_id]) + "#tags")


@_tagging("followup.delete_responsetag")
def remove_tag(request: AuthenticatedHttpRequest, response: Response) -> HttpResponse:
    """Take a tag (by its id) off the answer; one it no longer carries is already off."""
    chosen = request.POST.get("tag", "")
    if not (chosen.isdigit() and len(chosen) < 19):
        return _page(request, response, error=str(_("Choose a tag to remove.")), status=400)
    tags = list(Tag.objects.filter(pk=int(chosen)))
    untag_response(response=response, tags=tags, by=request.user, now=timezone.now())
    return redirect(reverse("feedback:response", args=[response.public_id]) + "#tags")
