"""Survey responses: ``POST/GET /survey_responses.json`` and ``GET/PUT /survey_responses/{id}.json``.

A survey response is an answer of the project's survey. One that is added or changed here is
announced like any other answer (webhooks, alert rules, the case's timeline); its channel is
email and its touchpoint the project's. ``trend`` is the id of one of the survey's touchpoints.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from delighted_compat.api.base import MAX_ID, DelightedView, Invalid, moment, page_of, whole
from delighted_compat.api.people import properties_of
from delighted_compat.shapes import site_of, survey_response, survey_responses
from surveys.access import may_see_personal_data
from surveys.api.base import MAX_FUTURE, record_personal_data_read
from surveys.models import Contact, Response, Touchpoint
from surveys.scales import LANGUAGES, SCALES
from surveys.signals import response_saved
from surveys.terms import comment_fields

ORDERS = {
    "asc": ("created_at", "pk"),
    "desc": ("-created_at", "-pk"),
    "asc:updated_at": ("updated_at", "pk"),
    "desc:updated_at": ("-updated_at", "-pk"),
}
EXPANDABLE = frozenset({"person", "notes"})
COMMENT_MAX_LENGTH = 5000


def expansions(params: dict) -> frozenset[str]:
    wanted = params.get("expand") or []
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(wanted, list) or not all(
        isinstance(item, str) and item in EXPANDABLE for item in wanted
    ):
        raise Invalid("expand", _("can be person and notes"))
    return frozenset(wanted)


class Answers(DelightedView):
    """Reads and changes answers of the project's survey."""

    def answers(self) -> QuerySet[Response]:
        return Response.objects.filter(survey_id=self.project.survey_id)

    def shown(self, request: Request, responses: list[Response], expand: frozenset[str]) -> list[dict]:
        if may_see_personal_data(request.user):
            record_personal_data_read(request, object_type="surveys.response", count=len(responses))
        return [
            survey_response(response, user=request.user, site=site_of(request), expand=expand)
            for response in responses
        ]

    def score_of(self, params: dict) -> int | None:
        """The score on the survey's scale; None if not sent."""
        scale = SCALES[self.project.touchpoint.survey.kind]
        return whole(params, "score", low=scale.low, high=scale.high)

    def comment_of(self, params: dict) -> str | None:
        comment = params.get("comment")
        if comment is None:
            return None
        if not isinstance(comment, str) or len(comment) > COMMENT_MAX_LENGTH:
            raise Invalid(
                "comment", _("must be text of at most %(limit)d characters") % {"limit": COMMENT_MAX_LENGTH}
            )
        return comment.strip()

    def contact_of(self, params: dict) -> Contact:
        contact_id = whole(params, "person", high=MAX_ID)
        contact = Contact.objects.filter(pk=contact_id).first() if contact_id is not None else None
        if contact is None:
            raise Invalid("person", _("can't be blank") if contact_id is None else _("is not a known person"))
        return contact


class SurveyResponses(Answers):
    permissions = {"GET": ("surveys.view_response",), "POST": ("surveys.add_response",)}

    def get(self, request: Request) -> ApiResponse:
        params = self.params(request)
        expand = expansions(params)
        answers = self.answers()
        for name, lookup in (
            ("since", "created_at__gte"),
            ("until", "created_at__lte"),
            ("updated_since", "updated_at__gte"),
            ("updated_until", "updated_at__lte"),
        ):
            if (value := moment(params, name)) is not None:
                answers = answers.filter(**{lookup: value})
        if (trend := whole(params, "trend", high=MAX_ID)) is not None:
            if not Touchpoint.objects.filter(pk=trend, survey_id=self.project.survey_id).exists():
                raise exceptions.NotFound(_("No trend (touchpoint) of this project has this id."))
            answers = answers.filter(touchpoint_id=trend)
        if (person_id := whole(params, "person_id", high=MAX_ID)) is not None:
            answers = answers.filter(contact_id=person_id)
        if email := params.get("person_email"):
            answers = answers.filter(contact__in=Contact.objects.matching(email=str(email)))
        order = params.get("order") or "asc"
        if order not in ORDERS:
            raise Invalid("order", _("must be one of: %(orders)s") % {"orders": ", ".join(ORDERS)})
        answers = survey_responses(answers.order_by(*ORDERS[order]), user=request.user, expand=expand)
        rows, headers = page_of(answers, request, params)
        return ApiResponse(self.shown(request, rows, expand), headers=headers)

    def post(self, request: Request) -> ApiResponse:
        params = self.params(request)
        contact = self.contact_of(params)
        score = self.score_of(params)
        if score is None:
            raise Invalid("score", _("can't be blank"))
        comment = self.comment_of(params) or ""
        properties = properties_of(params, "person_properties")
        now = timezone.now()
        created_at = moment(params, "created_at") or now
        if created_at > now + MAX_FUTURE:
            raise Invalid("created_at", _("lies in the future"))
        language = contact.language if contact.language in LANGUAGES else settings.LANGUAGE_CODE[:2]
        survey = self.project.touchpoint.survey
        with transaction.atomic():
            response = Response.objects.create(
                survey=survey,
                kind=survey.kind,
                touchpoint=self.project.touchpoint,
                channel=Response.Channel.EMAIL,
                contact=contact,
                contact_properties=contact.properties,
                event_properties=properties,
                score=score,
                comment=comment,
                **comment_fields(comment, language),
                language=language,
                created_at=created_at,
                updated_at=max(created_at, now),
            )
            response_saved.send(sender=Response, response=response, created=True)
        shown = survey_responses(self.answers().filter(pk=response.pk), user=request.user)
        return ApiResponse(self.shown(request, list(shown), frozenset())[0], status=status.HTTP_201_CREATED)


class SurveyResponse(Answers):
    permissions = {"GET": ("surveys.view_response",), "PUT": ("surveys.change_response",)}

    def answer(self, request: Request, response_id: str, expand: frozenset[str]) -> Response:
        found = None
        if response_id.isdigit() and len(response_id) < 19:
            found = survey_responses(
                self.answers().filter(pk=int(response_id)), user=request.user, expand=expand
            )
            found = found.first()
        if found is None:
            raise exceptions.NotFound()
        return found

    def get(self, request: Request, response_id: str) -> ApiResponse:
        expand = expansions(self.params(request))
        return ApiResponse(self.shown(request, [self.answer(request, response_id, expand)], expand)[0])

    def put(self, request: Request, response_id: str) -> ApiResponse:
        """Changes the score, the comment, the person or adds to the person's properties."""
        params = self.params(request)
        expand = expansions({"expand": params.get("expand") or []})
        score = self.score_of(params)
        comment = self.comment_of(params)
        properties = properties_of(params, "person_properties")
        contact = self.contact_of(params) if params.get("person") not in (None, "") else None
        with transaction.atomic():
            response = (
                self.answers().select_for_update().get(pk=self.answer(request, response_id, frozenset()).pk)
            )
            others: dict = {}
            if properties:
                others["event_properties"] = {**response.event_properties, **properties}
            if contact is not None and contact.pk != response.contact_id:
                others |= {"contact": contact, "contact_properties": contact.properties}
                others |= {"claimed_email": "", "claimed_external_id": "", "claimed_name": ""}
            if others:
                Response.objects.filter(pk=response.pk).update(**others)
                for field, value in others.items():
                    setattr(response, field, value)
            if others or score is not None or comment is not None:
                response.revise(score=score, comment=comment, now=timezone.now())
        return ApiResponse(self.shown(request, [self.answer(request, response_id, expand)], expand)[0])
