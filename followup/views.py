"""The cases inbox and the case page (triage, assignment, notes, replies to the customer); the
digest's page, where staff subscribe to it, and its unsubscribe link, which works without
signing in."""

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cxsurvey.signin import back_office_required
from feedback import charts
from feedback.views import PAGE_CSP, AuthenticatedHttpRequest
from followup import cases, replies, tasks
from followup.access import get_case_for_user, may_work_on_cases, visible_cases
from followup.digests import read_unsubscribe_token
from followup.forms import ALL, CLOSED, OPEN, ChangeForm, DigestForm, InboxFilterForm, NoteForm, ReplyForm
from followup.models import CLOSED_STATUSES, OPEN_STATUSES, Case, CaseEntry, CaseQuerySet, Digest
from surveys.access import may_read_feedback, may_see_personal_data, visible_surveys
from surveys.models import Response, Team
from surveys.public import not_found, public_page, render_public, use_language

CASES_PER_PAGE = 50


def case_view(*permissions: str) -> Callable:
    """A page or action for staff who may work on cases and hold ``permissions``; GET pages, POST
    actions (``require_POST`` on the view), all with the pages' CSP."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @back_office_required
        @wraps(view)
        def page(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
            if not may_work_on_cases(request.user) or not request.user.has_perms(permissions):
                raise PermissionDenied
            response = view(request, *args, **kwargs)
            response["Content-Security-Policy"] = PAGE_CSP
            return response

        return page

    return decorate


@case_view()
@require_GET
def inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = InboxFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return render(request, "followup/inbox.html", _inbox_context(request, form), status=400)
    return render(request, "followup/inbox.html", _inbox_context(request, form))


def _inbox_context(request: AuthenticatedHttpRequest, form: InboxFilterForm) -> dict:
    now = timezone.now()
    rows = visible_cases(request.user)
    rows = _filtered(rows, form.cleaned_data, request.user, now) if form.is_valid() else rows.none()
    page = Paginator(rows, CASES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "rows": [_row(case, now) for case in page.object_list],
        "query": query.urlencode(),
        "change": ChangeForm(prefix="bulk"),
        "now": now,
    }


def _filtered(rows: CaseQuerySet, data: dict, user: User, now: datetime) -> CaseQuerySet:
    """Sorted by due time; cases without one after those with one, oldest first."""
    who = data.get("who")
    if who == "mine":
        rows = rows.filter(assignee=user)
    elif who == "team":
        rows = rows.filter(team__members=user)
    elif who == "unassigned":
        rows = rows.filter(assignee=None, team=None)
    status = data.get("status") or OPEN
    if status == OPEN:
        rows = rows.filter(status__in=OPEN_STATUSES)
    elif status == CLOSED:
        rows = rows.filter(status__in=CLOSED_STATUSES)
    elif status != ALL:
        rows = rows.filter(status=status)
    if data.get("overdue"):
        rows = rows.overdue(now)
    if data.get("survey"):
        rows = rows.filter(survey=data["survey"])
    if data.get("touchpoint"):
        rows = rows.filter(touchpoint=data["touchpoint"])
    related = ("response", "survey", "touchpoint", "assignee", "team")
    due_first = F("due_at").asc(nulls_last=True)
    return rows.select_related(*related).order_by(due_first, "created_at", "pk")


def _row(case: Case, now: datetime) -> dict:
    return {
        "case": case,
        "category": charts.category_label(case.response.category),
        "category_index": charts.category_index(case.response),
        "sla": case.sla_state(now),
        "age": now - case.created_at,
    }


@case_view("followup.change_case")
@require_POST
def bulk_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Assign, hand to a team or change the status of the selected cases; each as ``change_case``
    does it, all or none."""
    chosen = _visible_cases_by_ids(request.user, request.POST.getlist("case"))
    form = ChangeForm(request.POST, prefix="bulk")
    if not form.is_valid() or not chosen or not _any_change(form.cleaned_data):
        messages.error(request, _problem(form) or _("Select cases and what to change."))
        return HttpResponseRedirect(_back(request), status=303)
    data = form.cleaned_data
    if problem := _cannot_take(data.get("assignee"), data.get("team"), chosen):
        messages.error(request, problem)
        return HttpResponseRedirect(_back(request), status=303)
    now = timezone.now()
    for case in chosen:
        cases.change_case(
            case,
            by=request.user,
            now=now,
            status=data["status"] or None,
            resolution=data["resolution"] if data["status"] in CLOSED_STATUSES else None,
            assignee=data["assignee"] or cases.KEEP,
            team=data["team"] or cases.KEEP,
        )
    messages.success(request, _("%(count)d cases changed.") % {"count": len(chosen)})
    return HttpResponseRedirect(_back(request), status=303)


def _visible_cases_by_ids(user: User, ids: list[str]) -> list[Case]:
    """The cases of these public ids; Http404 if one is malformed, unknown or not the user's."""
    try:
        wanted = {UUID(value) for value in ids}
    except ValueError:
        raise Http404("No case has this id.") from None
    found = list(visible_cases(user).filter(public_id__in=wanted).select_related("survey"))
    if len(found) != len(wanted):
        raise Http404("No case has this id.")
    return found


def _any_change(data: dict) -> bool:
    return any(data.get(name) for name in ("status", "assignee", "team"))


def _problem(form: ChangeForm) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _cannot_take(assignee: User | None, team: Team | None, chosen: list[Case]) -> str:
    """Why the assignee or team cannot take these cases (they may not see a case's survey), or ""."""
    surveys = {case.survey_id for case in chosen}
    if assignee is not None and visible_surveys(assignee).filter(pk__in=surveys).count() != len(surveys):
        return _("%(person)s may not see the survey of every selected case.") % {"person": assignee}
    if team is not None and team.surveys.filter(pk__in=surveys).count() != len(surveys):
        return _("The team %(team)s does not work on the survey of every selected case.") % {"team": team}
    return ""


def _back(request: AuthenticatedHttpRequest) -> str:
    """The inbox page the request came from (``next``), or the inbox."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) and target.startswith(
        reverse("followup:inbox")
    ):
        return target
    return reverse("followup:inbox")


@case_view()
@require_GET
def case_page(request: AuthenticatedHttpRequest, public_id: UUID) -> HttpResponse:
    case = get_case_for_user(request.user, public_id)
    reply = None
    if chosen := request.GET.get("template"):
        rendered = replies.render_reply(case, chosen)
        if rendered is not None:
            reply = ReplyForm(initial={"subject": rendered[0], "body": rendered[1]})
    return _render_case(request, case, reply=reply)


def _render_case(
    request: AuthenticatedHttpRequest, case: Case, *, status: int = 200, **forms
) -> HttpResponse:
    now = timezone.now()
    entries = (
        CaseEntry.objects.filter(case=case)
        .select_related("author")
        .prefetch_related(Prefetch("mentions", queryset=User.objects.order_by("username")))
        .order_by("created_at", "pk")
    )
    response: Response = case.response
    refusal = replies.reason_not_to_reply(case)
    people = {user.pk: user for user in User.objects.filter(pk__in=_mentioned_people(entries))}
    teams = dict(Team.objects.values_list("pk", "name"))
    context = {
        "case": case,
        "response": response,
        "category": charts.category_label(response.category),
        "category_index": charts.category_index(response),
        "sla": case.sla_state(now),
        "tags": list(response.tags.order_by("name")),
        "timeline": [_entry(entry, people, teams) for entry in entries],
        "change": forms.get("change") or ChangeForm(initial=_current(case)),
        "note": forms.get("note") or NoteForm(),
        "reply": forms.get("reply") or ReplyForm(),
        "refusal": replies.REFUSALS.get(refusal, ""),
        "templates": replies.reply_templates(case) if not refusal else [],
        "reply_language": replies.reply_language(case),
        "personal": may_see_personal_data(request.user),
        "response_url": f"/responses/{response.public_id}/",
    }
    return render(request, "followup/case.html", context, status=status)


def _mentioned_people(entries) -> set[int]:
    """The users that assignment entries name (ids in their details)."""
    return {
        value
        for entry in entries
        if entry.kind == CaseEntry.Kind.ASSIGNED and entry.details.get("field") == "assignee"
        for value in (entry.details.get("from"), entry.details.get("to"))
        if isinstance(value, int)
    }


def _entry(entry: CaseEntry, people: dict[int, User], teams: dict[int, str]) -> dict:
    """A timeline line with the names its details refer to."""
    details: dict = entry.details if isinstance(entry.details, dict) else {}
    named: dict[str, object] = {}
    if entry.kind == CaseEntry.Kind.ASSIGNED:
        names: dict = people if details.get("field") == "assignee" else teams
        for side in ("from", "to"):
            found = names.get(details.get(side))
            named[side] = (
                (found.get_full_name() or found.get_username()) if isinstance(found, User) else found
            )
    elif entry.kind == CaseEntry.Kind.STATUS:
        labels: dict = dict(Case.Status.choices)
        named = {side: labels.get(details.get(side), details.get(side)) for side in ("from", "to")}
        named["resolution"] = dict(Case.Resolution.choices).get(details.get("resolution", ""), "")
    return {"entry": entry, "details": details, "named": named}


def _current(case: Case) -> dict:
    return {
        "status": case.status,
        "resolution": case.resolution,
        "assignee": case.assignee_id,
        "team": case.team_id,
    }


@case_view("followup.change_case")
@require_POST
def change(request: AuthenticatedHttpRequest, public_id: UUID) -> HttpResponse:
    case = get_case_for_user(request.user, public_id)
    form = ChangeForm(request.POST)
    if not form.is_valid():
        return _render_case(request, case, status=400, change=form)
    data = form.cleaned_data
    if problem := _cannot_take(data["assignee"], data["team"], [case]):
        form.add_error(None, problem)
        return _render_case(request, case, status=400, change=form)
    cases.change_case(
        case,
        by=request.user,
        now=timezone.now(),
        status=data["status"] or None,
        resolution=data["resolution"] if data["status"] in CLOSED_STATUSES else None,
        assignee=data["assignee"],
        team=data["team"],
    )
    return redirect(case)


@case_view("followup.change_case", "followup.add_caseentry")
@require_POST
def add_note(request: AuthenticatedHttpRequest, public_id: UUID) -> HttpResponse:
    case = get_case_for_user(request.user, public_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _render_case(request, case, status=400, note=form)
    cases.write_note(case, by=request.user, text=form.cleaned_data["text"], now=timezone.now())
    return redirect(case)


@case_view("followup.reply_case")
@require_POST
def reply(request: AuthenticatedHttpRequest, public_id: UUID) -> HttpResponse:
    """Queue the reply; a worker sends it (``followup.replies``), the request does not wait."""
    case = get_case_for_user(request.user, public_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _render_case(request, case, status=400, reply=form)
    data = form.cleaned_data
    try:
        entry = replies.queue_reply(
            case, by=request.user, subject=data["subject"], body=data["body"], now=timezone.now()
        )
    except replies.ReplyRefused:
        return _render_case(request, case, status=409, reply=form)
    tasks.enqueue_reply(entry.pk)
    messages.success(request, _("The reply is on its way."))
    return redirect(case)


@case_view("followup.change_case")
@require_POST
def open_case(request: AuthenticatedHttpRequest, public_id: UUID) -> HttpResponse:
    """A case for an answer that has none (the answer's existing case otherwise)."""
    response = Response.objects.filter(public_id=public_id, survey__in=visible_surveys(request.user)).first()
    if response is None:
        raise Http404("No response has this id.")
    case, _opened = cases.open_case(response=response, now=timezone.now(), author=request.user)
    return redirect(case)


@back_office_required
@require_http_methods(["GET", "HEAD", "POST"])
def digest(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Subscribe to the digest, change it, or stop it ("stop" in the form)."""
    if not may_read_feedback(request.user):
        raise PermissionDenied
    current = Digest.objects.filter(user=request.user).first()
    if request.method == "POST" and "stop" in request.POST:
        Digest.objects.filter(user=request.user).delete()
        return redirect("followup:digest")
    initial = {} if current else {"language": translation.get_language()}
    form = DigestForm(request.POST or None, instance=current or Digest(user=request.user), initial=initial)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("followup:digest")
    with translation.override(current.language if current else translation.get_language()):
        status = 400 if form.errors else 200
        return render(request, "followup/digest.html", {"form": form, "digest": current}, status=status)


# Mail services stop a subscription with one POST without cookies (RFC 8058), so the POST is exempt
# from CSRF checks: it needs the signed token, and whoever has it may stop the digest anyway.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners open every link); POST stops the digest."""
    user_id = read_unsubscribe_token(token)
    if user_id is None:
        raise not_found(
            request,
            gettext_lazy("Link not valid"),
            gettext_lazy(
                "This link is not valid. Please use the link from your email exactly as it was sent."
            ),
        )
    current = Digest.objects.filter(user_id=user_id).first()
    use_language(request, current.language if current else "")
    if request.method == "POST":
        Digest.objects.filter(user_id=user_id).delete()
        state = "stopped"
    else:
        state = "ask" if current else "none"
    return render_public(request, "followup/digest_unsubscribe.html", {"state": state, "token": token})
