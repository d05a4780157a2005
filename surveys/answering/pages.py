"""Respondent pages: answering by invitation link (email) and by public survey link.

A GET never records anything: mail scanners open every link in an email. The
page shows the chosen score and its script posts it at once; without
JavaScript the respondent presses Send.
"""

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from surveys.answering.collect import record_public_answer
from surveys.answering.forms import AnswerForm, LinkParamsForm, is_valid_utf8_form
from surveys.models import Contact, Invitation, LegalInformation, Response, Survey, host_of, is_token_shaped
from surveys.models.invitation import ContactErased
from surveys.public import (
    PublicError,
    check_rate,
    legal_information,
    not_found,
    public_page,
    render_public,
    use_language,
    wants_json,
)

LINK_MEMORY_SECONDS = 24 * 60 * 60


def get_invitation_by_token(request: HttpRequest, token: str) -> Invitation:
    """The invitation behind an email link, with what its pages use (the survey, the contact and
    the response, if any); a 404 for unknown, malformed and skipped tokens alike."""
    invitation = (
        Invitation.objects.select_related("survey", "contact", "response")
        .exclude(status=Invitation.Status.SKIPPED)
        .filter(token=token)
        .first()
        if is_token_shaped(token)
        else None
    )
    if invitation is None:
        raise not_found(
            request,
            gettext_lazy("Link not valid"),
            gettext_lazy(
                "This survey link is not valid. Please use the link from your email exactly as it was sent."
            ),
        )
    return invitation


def _contact_language(invitation: Invitation) -> str:
    """The invited contact's language; none once the contact was erased (the browser's then)."""
    return invitation.contact.language if invitation.contact is not None else ""


def get_survey_by_public_key(request: HttpRequest, key: str) -> Survey:
    survey = Survey.objects.filter(public_key=key).first() if is_token_shaped(key) else None
    if survey is None:
        raise not_found(
            request, gettext_lazy("Survey not found"), gettext_lazy("There is no survey at this address.")
        )
    return survey


def _closed(reason: str) -> PublicError:
    if reason == "expired":
        return PublicError(
            410,
            _("This survey has closed"),
            _("The time for answering this survey has passed. Thank you for wanting to take part."),
        )
    return PublicError(
        410,
        _("This survey has ended"),
        _("This survey is no longer collecting answers. Thank you for wanting to take part."),
    )


def _answer_form(request: HttpRequest, survey: Survey) -> AnswerForm:
    # The page and its script post urlencoded bodies, which Django keeps; a multipart
    # body (no browser form of ours sends one) is consumed by its parser unseen.
    urlencoded = request.content_type == "application/x-www-form-urlencoded"
    if urlencoded and not is_valid_utf8_form(request.body):
        raise PublicError(
            400,
            _("Your answer could not be saved"),
            _("Your answer contains characters that are not valid text (UTF-8). Please retype it."),
        )
    return AnswerForm(request.POST, scale=survey.scale)


def _return_url(survey: Survey, legal: LegalInformation | None = None) -> str:
    """Where the thank-you page leads back to: the survey's return URL, else the installation's
    (from ``legal``, or read if the survey has none)."""
    return survey.return_url or (legal or legal_information()).return_url


def _next_url(request: HttpRequest, survey: Survey) -> str | None:
    """Where to go after answering: a path on this site, or a page on one of the survey's origins or
    on the site its thank-you page leads back to."""
    target = request.GET.get("next")
    if not target:
        return None
    hosts = {request.get_host()} | {origin.split("://", 1)[1] for origin in survey.allowed_origins()}
    secure = request.is_secure()
    if not url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=secure):
        hosts = {urlsplit(_return_url(survey)).netloc} - {""}
        if not url_has_allowed_host_and_scheme(target, allowed_hosts=hosts, require_https=secure):
            raise PublicError(
                400,
                _("Link not valid"),
                _("This link would send you to another website after answering, which is not allowed."),
            )
    return target


def _render_answer_page(
    request: HttpRequest,
    survey: Survey,
    language: str,
    form: AnswerForm,
    saved: Response | None,
    status: int = 200,
    preview: bool = False,
    properties: dict | None = None,
) -> HttpResponse:
    """``properties``: the invitation's event properties, which the page's texts may use."""
    scale = survey.scale
    labels = scale.point_labels(language)
    chosen = form["score"].value() if form.is_bound else form.initial.get("score")
    points = [
        {
            "value": value,
            "label": labels.get(value, ""),
            "checked": str(value) == str(chosen),
        }
        for value in scale.points
    ]
    low, high = scale.end_labels(language)
    context = {
        "survey": survey,
        "question": survey.question(language, properties),
        "follow_up": survey.follow_up(language, properties),
        "points": points,
        "low_label": low,
        "high_label": high,
        "form": form,
        "comment": form["comment"].value() or "",
        "saved": saved,
        # Post the preselected score at once, unless exactly that score is stored already.
        "autosubmit": form.initial.get("autosubmit", False) and not preview,
        "preview": preview,
        "language": language,
    }
    return render_public(request, "surveys/answer.html", context, status=status)


def _initial(request: HttpRequest, survey: Survey, saved: Response | None) -> dict:
    requested = request.GET.get("score", "")
    if requested.lstrip("-").isdigit() and int(requested) in survey.scale.points:
        score = int(requested)
        return {
            "score": score,
            "comment": saved.comment if saved else "",
            "autosubmit": not saved or saved.score != score,
        }
    return {
        "score": saved.score if saved else None,
        "comment": saved.comment if saved else "",
    }


def _saved(request: HttpRequest, response: Response, thanks_url: str, next_url: str | None) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"saved": True, "score": response.score})
    return redirect(next_url or thanks_url)


@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def answer(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_invitation_by_token(request, token)
    survey = invitation.survey
    language = use_language(request, _contact_language(invitation))
    now = timezone.now()
    if reason := invitation.closed_reason(now):
        raise _closed(reason)
    saved = getattr(invitation, "response", None)
    next_url = _next_url(request, survey)
    if request.method == "POST":
        check_rate(request, "answer")
        form = _answer_form(request, survey)
        if not form.is_valid():
            return _reject(request, survey, language, form, saved, properties=invitation.properties)
        try:
            response = invitation.record_answer(
                score=form.cleaned_data["score"],
                comment=form.comment_or_none(),
                language=language,
                now=now,
            )
        except ContactErased:
            raise _closed("erased") from None
        except IntegrityError:
            # The contact was erased while the answer was being stored: nothing was stored.
            if invitation.contact_id is None or Contact.objects.filter(pk=invitation.contact_id).exists():
                raise
            raise _closed("erased") from None
        return _saved(request, response, reverse("surveys:answer_thanks", args=[token]), next_url)
    form = AnswerForm(initial=_initial(request, survey, saved), scale=survey.scale)
    return _render_answer_page(request, survey, language, form, saved, properties=invitation.properties)


def _reject(request, survey, language, form, saved, properties: dict | None = None) -> HttpResponse:
    if wants_json(request):
        message = " ".join(error for errors in form.errors.values() for error in errors)
        return JsonResponse({"error": {"code": "invalid", "message": message}}, status=400)
    return _render_answer_page(request, survey, language, form, saved, status=400, properties=properties)


@require_http_methods(["GET", "HEAD"])
@public_page
def answer_thanks(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_invitation_by_token(request, token)
    language = use_language(request, _contact_language(invitation))
    change_url = reverse("surveys:answer", args=[token])
    return _thanks_page(request, invitation.survey, language, change_url, properties=invitation.properties)


def _thanks_page(
    request: HttpRequest, survey: Survey, language: str, change_url: str, properties: dict | None = None
) -> HttpResponse:
    """The thanks, a link to change the answer, and one back to the company's site; ``properties``:
    the invitation's event properties, which the thanks may use."""
    legal = legal_information()
    return_url = _return_url(survey, legal)
    context = {
        "survey": survey,
        "thank_you": survey.thank_you(language, properties),
        "change_url": change_url,
        "return_url": return_url,
        "return_to": host_of(return_url),
    }
    return render_public(request, "surveys/thanks.html", context, legal=legal)


def _link_cookie_name(survey: Survey) -> str:
    return f"cxs_{survey.public_key[:12]}"


def _remembered_link_response(request: HttpRequest, survey: Survey, now: datetime) -> Response | None:
    """The response this browser gave to this link survey within the last day, if any."""
    value = request.COOKIES.get(_link_cookie_name(survey))
    if not value:
        return None
    try:
        public_id = signing.loads(value, salt=f"link:{survey.public_key}", max_age=LINK_MEMORY_SECONDS)
    except signing.BadSignature:
        return None
    return Response.objects.filter(
        public_id=public_id,
        survey=survey,
        channel=Response.Channel.LINK,
        created_at__gte=now - timedelta(seconds=LINK_MEMORY_SECONDS),
    ).first()


def _link_params(request: HttpRequest, survey: Survey) -> LinkParamsForm:
    params = LinkParamsForm(request.GET, survey=survey)
    if not params.is_valid():
        message = " ".join(str(error) for errors in params.errors.values() for error in errors)
        raise PublicError(400, _("Link not valid"), message)
    return params


@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def link_survey(request: HttpRequest, key: str) -> HttpResponse:
    survey = get_survey_by_public_key(request, key)
    language = use_language(request, request.GET.get("lang", "").lower())
    params = _link_params(request, survey)
    if not survey.active:
        raise _closed("inactive")
    now = timezone.now()
    saved = _remembered_link_response(request, survey, now)
    next_url = _next_url(request, survey)
    if request.method == "POST":
        check_rate(request, "answer")
        form = _answer_form(request, survey)
        if not form.is_valid():
            return _reject(request, survey, language, form, saved)
        score, comment = form.cleaned_data["score"], form.comment_or_none()
        if saved:
            saved.revise(score=score, comment=comment, now=now)
        else:
            # Without its cookie a browser answers anew: each new answer counts against the
            # client's limit for this survey, so that one client cannot stuff the ballot.
            check_rate(request, "link", per=survey.pk)
            saved = record_public_answer(
                survey=survey,
                channel=Response.Channel.LINK,
                score=score,
                comment=comment or "",
                language=language,
                identity=params.identity(),
                properties=params.cleaned_data["properties"],
                now=now,
            )
        thanks = reverse("surveys:link_thanks", args=[key])
        if request.GET.get("lang"):
            thanks += f"?lang={language}"
        response = _saved(request, saved, thanks, next_url)
        response.set_cookie(
            _link_cookie_name(survey),
            signing.dumps(str(saved.public_id), salt=f"link:{survey.public_key}"),
            max_age=LINK_MEMORY_SECONDS,
            path=reverse("surveys:link", args=[key]),
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
        return response
    form = AnswerForm(initial=_initial(request, survey, saved), scale=survey.scale)
    return _render_answer_page(request, survey, language, form, saved)


@require_http_methods(["GET", "HEAD"])
@public_page
def link_thanks(request: HttpRequest, key: str) -> HttpResponse:
    survey = get_survey_by_public_key(request, key)
    language = use_language(request, request.GET.get("lang", ""))
    return _thanks_page(request, survey, language, reverse("surveys:link", args=[key]))


@require_http_methods(["GET", "HEAD"])
@public_page
def preview(request: HttpRequest, key: str) -> HttpResponse:
    """The answering page as an email's score link opens it, for CX managers and test emails.

    Read-only: no CSRF token, no script, and its form only reloads the preview.
    """
    survey = get_survey_by_public_key(request, key)
    language = use_language(request, request.GET.get("lang", "").lower())
    return render_preview_page(request, survey, language)


def render_preview_page(request: HttpRequest, survey: Survey, language: str) -> HttpResponse:
    """The answering page of ``survey`` (saved or not) in ``language`` as a preview: read-only, no
    script; the score in the request's ``?score=`` is shown chosen."""
    form = AnswerForm(initial=_initial(request, survey, None), scale=survey.scale)
    return _render_answer_page(request, survey, language, form, None, preview=True)


def public_link(survey: Survey) -> str:
    """The survey's public link, as a company puts it on its site or in a message."""
    return settings.SITE_URL.rstrip("/") + reverse("surveys:link", args=[survey.public_key])
