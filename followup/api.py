"""The follow-up's REST API: cases (``/api/v1/cases/``) and their notes, tags, and the tags of a
response.

Scoped like the rest of the API: the token's user needs the back office's permission for what
the request does (``ModelPermission``), writes need a token with write access, and a case or
response of a survey the user may not see does not exist (404). Cases carry no contact data:
the answer is named by its id, to be read through the responses API with its own rules.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from feedback.api.responses import MAX_ID, PUBLIC_ID, SURVEY_PARAMETERS, MomentField
from followup.access import may_work_on_cases, visible_cases
from followup.cases import KEEP, add_note, change_case
from followup.models import (
    CLOSED_STATUSES,
    NAME_MAX_LENGTH,
    Case,
    CaseEntry,
    CaseResolution,
    CaseStatus,
    ResponseTag,
    Tag,
    Team,
)
from followup.tags import TagRefused, tag_response, untag_response
from surveys.access import get_survey_for_user, visible_surveys
from surveys.api.auth import ModelPermission, TokenScope
from surveys.api.base import (
    AwareDateTimeField,
    ById,
    ClosedSerializer,
    Conflict,
    StrictCharField,
    StrictChoiceField,
)
from surveys.models import Response

MAX_TAGS = 20
MAX_MENTIONS = 20
NOTE_MAX_LENGTH = 20000
API_PERMISSIONS = [TokenScope, ModelPermission]

CASE_EXAMPLE = {
    "id": "6b0f6f7e-3f3e-4a47-9a0e-6f1c2d9e8b41",
    "response": "3f1c9a52-7d4e-4b8a-9f0e-2c6d81a4b5e7",
    "survey": 2,
    "touchpoint": 3,
    "status": "in_progress",
    "resolution": "",
    "assignee": 7,
    "team": 1,
    "opening_score": 3,
    "due_at": "2026-11-25T12:49:02+01:00",
    "first_response_at": "2026-11-23T15:10:00+01:00",
    "resolved_at": None,
    "sla": "met",
    "created_at": "2026-11-23T12:49:02+01:00",
    "updated_at": "2026-11-23T15:10:00+01:00",
}


class CaseSerializer(serializers.ModelSerializer):
    """A follow-up case: whose it is, by when, and how it ended."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    response = serializers.UUIDField(
        source="response.public_id", read_only=True, help_text="The answer's id."
    )
    resolution = serializers.ChoiceField(
        CaseResolution.choices, allow_blank=True, read_only=True, help_text="How it ended; empty while open."
    )
    sla = serializers.SerializerMethodField(
        help_text="none (no due time), on_track, due_soon, overdue, or once answered met or missed."
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "response",
            "survey",
            "touchpoint",
            "status",
            "resolution",
            "assignee",
            "team",
            "opening_score",
            "due_at",
            "first_response_at",
            "resolved_at",
            "sla",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_sla(self, case: Case) -> str:
        return case.sla_state(self.context["now"])


class CaseQuery(serializers.Serializer):
    survey = StrictCharField(required=False)
    touchpoint = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_ID), required=False, max_length=50
    )
    status = serializers.ListField(child=StrictChoiceField(CaseStatus.values), required=False, max_length=5)
    assignee = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    updated_since = MomentField()


class DueField(AwareDateTimeField):
    """A due time: ISO 8601 with its offset, in the future as due times are (up to ten years)."""

    max_future = timedelta(days=3653)


class CaseChange(ClosedSerializer):
    status = StrictChoiceField(CaseStatus.values, required=False)
    assignee = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="A user's id; null unassigns.",
    )
    team = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="A team's id; null for none.",
    )
    resolution = StrictChoiceField(
        CaseResolution.values, required=False, help_text="How it ended: needed to resolve a case."
    )
    due_at = DueField(required=False, allow_null=True, help_text="ISO 8601 with its offset; null for none.")

    def validate(self, data: dict) -> dict:
        if not data:
            raise serializers.ValidationError(_("Send at least one field to change."))
        return data


def _case_change(case: Case, data: dict) -> dict:
    """``change_case``'s arguments from a validated body, checked against the case; a
    ValidationError for a change that cannot be made."""
    status_after = data.get("status", case.status)
    resolution = data.get("resolution") or (case.resolution if status_after in CLOSED_STATUSES else "")
    if status_after == CaseStatus.RESOLVED and not resolution:
        raise exceptions.ValidationError({"resolution": [_("Say how the case was resolved to resolve it.")]})
    if "resolution" in data and status_after not in CLOSED_STATUSES:
        raise exceptions.ValidationError({"resolution": [_("Only a closed case has a resolution.")]})
    change: dict = {"status": data.get("status"), "resolution": data.get("resolution")}
    change["assignee"] = _assignee(case, data["assignee"]) if "assignee" in data else KEEP
    change["team"] = _team(case, data["team"]) if "team" in data else KEEP
    change["due_at"] = data.get("due_at", KEEP)
    return change


def _assignee(case: Case, pk: int | None) -> User | None:
    return None if pk is None else _colleague(case, pk)


def _colleague(case: Case, pk: int, *, field: str = "assignee") -> User:
    """The user with this id if they may work on the case; a ValidationError otherwise."""
    user = get_user_model().objects.filter(pk=pk).first()
    if (
        user is None
        or not may_work_on_cases(user)
        or not visible_surveys(user).filter(pk=case.survey_id).exists()
    ):
        raise exceptions.ValidationError(
            {field: [_("User %(id)s may not work on the cases of this survey.") % {"id": pk}]}
        )
    return user


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # TokenScope lets only a token's user this far
        raise exceptions.NotAuthenticated
    return user


def _team(case: Case, pk: int | None) -> Team | None:
    if pk is None:
        return None
    team = Team.objects.filter(pk=pk, surveys=case.survey_id).first()
    if team is None:
        raise exceptions.ValidationError({"team": [_("No team of this survey has this id.")]})
    return team


CASE_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The case's id (a UUID)."
)
CASE_QUERY = [
    *SURVEY_PARAMETERS,
    OpenApiParameter("status", OpenApiTypes.STR, many=True, enum=CaseStatus.values, description="Statuses."),
    OpenApiParameter("assignee", OpenApiTypes.INT, description="The assigned user's id."),
    OpenApiParameter(
        "overdue", OpenApiTypes.BOOL, description="true: open cases past their due time; false: the others."
    ),
    OpenApiParameter(
        "updated_since", OpenApiTypes.STR, description="Cases changed since then (ISO 8601 or a date)."
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="List the cases",
        description="The cases of the surveys the token's user may see, oldest first; follow ``next``.",
        parameters=CASE_QUERY,
        examples=[OpenApiExample("A case in progress", CASE_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Get a case",
        parameters=[CASE_ID],
        examples=[OpenApiExample("A case in progress", CASE_EXAMPLE, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Change a case",
        description="Status, assignee, team, resolution (needed to resolve) and due time; "
        "what is left out stays.",
        parameters=[CASE_ID],
        request=CaseChange,
        responses={200: CaseSerializer},
        examples=[
            OpenApiExample("Resolve", {"status": "resolved", "resolution": "solved"}, request_only=True),
            OpenApiExample(
                "Hand over", {"assignee": 7, "due_at": "2026-11-27T12:00:00+01:00"}, request_only=True
            ),
            OpenApiExample(
                "Resolved",
                CASE_EXAMPLE
                | {"status": "resolved", "resolution": "solved", "resolved_at": "2026-11-24T09:00:00+01:00"},
                response_only=True,
            ),
        ],
    ),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Case.objects.all()
    serializer_class = CaseSerializer
    pagination_class = ById
    permission_classes = API_PERMISSIONS
    lookup_field = "public_id"
    lookup_value_regex = PUBLIC_ID
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Case]:
        user = self.request.user
        if getattr(self, "swagger_fake_view", False):  # the schema's generator
            return Case.objects.none()
        cases = visible_cases(user).select_related("response")
        if self.action != "list":
            return cases
        query = CaseQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return _filtered(cases, query.validated_data, user=user, now=self.now)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "now": self.now}

    @property
    def now(self) -> datetime:
        if not hasattr(self, "_now"):
            self._now = timezone.now()
        return self._now

    def partial_update(self, request: Request, *args, **kwargs) -> ApiResponse:
        case = self.get_object()
        body = CaseChange(data=request.data, context={"now": self.now})
        body.is_valid(raise_exception=True)
        change_case(case, by=_user(request), now=self.now, **_case_change(case, body.validated_data))
        return ApiResponse(self.get_serializer(self.get_object()).data)


def _filtered(cases: QuerySet[Case], query: dict, *, user, now: datetime) -> QuerySet[Case]:
    if "survey" in query:
        cases = cases.filter(survey=get_survey_for_user(user, query["survey"]))
    if touchpoints := set(query.get("touchpoint") or ()):
        condition = Q(touchpoint_id__in=touchpoints - {0})
        if 0 in touchpoints:
            condition |= Q(touchpoint__isnull=True)
        cases = cases.filter(condition)
    if query.get("status"):
        cases = cases.filter(status__in=query["status"])
    if "assignee" in query:
        cases = cases.filter(assignee_id=query["assignee"])
    if query["overdue"] is not None:
        overdue = Q(pk__in=Case.objects.overdue(now).values("pk"))
        cases = cases.filter(overdue if query["overdue"] else ~overdue)
    if query.get("updated_since"):
        cases = cases.filter(updated_at__gte=query["updated_since"])
    return cases


# Notes

NOTE_EXAMPLE = {
    "id": 41,
    "author": 7,
    "text": "Rückruf vereinbart für Donnerstag; Ersatzteil ist bestellt.",
    "mentions": [9],
    "created_at": "2026-11-23T15:10:00+01:00",
}


class NoteSerializer(serializers.ModelSerializer):
    """An internal note on a case."""

    mentions = serializers.SerializerMethodField(help_text="The ids of the users it mentions.")

    class Meta:
        model = CaseEntry
        fields = ["id", "author", "text", "mentions", "created_at"]
        read_only_fields = fields

    def get_mentions(self, entry: CaseEntry) -> list[int]:
        return [user.pk for user in entry.mentions.all()]


class NoteBody(ClosedSerializer):
    text = StrictCharField(max_length=NOTE_MAX_LENGTH, help_text="Up to 20,000 characters.")
    mentions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_MENTIONS,
        help_text="Ids of users who may work on the case, to tell them.",
    )


@extend_schema_view(
    list=extend_schema(
        summary="List a case's notes",
        parameters=[CASE_ID],
        examples=[OpenApiExample("A note", NOTE_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Add a note to a case",
        parameters=[CASE_ID],
        request=NoteBody,
        responses={201: NoteSerializer},
        examples=[
            OpenApiExample("A note", {"text": NOTE_EXAMPLE["text"], "mentions": [9]}, request_only=True),
            OpenApiExample("Added", NOTE_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    ),
)
class NoteViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = CaseEntry.objects.all()
    serializer_class = NoteSerializer
    pagination_class = ById
    permission_classes = API_PERMISSIONS

    def case(self) -> Case:
        if not hasattr(self, "_case"):
            case = visible_cases(self.request.user).filter(public_id=self.kwargs["public_id"]).first()
            if case is None:
                raise Http404
            self._case = case
        return self._case

    def get_queryset(self) -> QuerySet[CaseEntry]:
        if getattr(self, "swagger_fake_view", False):  # the schema's generator
            return CaseEntry.objects.none()
        notes = super().get_queryset().filter(case=self.case(), kind=CaseEntry.Kind.NOTE)
        return notes.prefetch_related("mentions")

    def create(self, request: Request, *args, **kwargs) -> ApiResponse:
        case = self.case()
        body = NoteBody(data=request.data)
        body.is_valid(raise_exception=True)
        mentions = [
            _colleague(case, pk, field="mentions")
            for pk in dict.fromkeys(body.validated_data.get("mentions", []))
        ]
        if not body.validated_data["text"].strip():
            raise exceptions.ValidationError({"text": [_("Write the note.")]})
        note = add_note(
            case, by=_user(request), text=body.validated_data["text"], now=timezone.now(), mentions=mentions
        )
        return ApiResponse(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


# Tags

TAG_EXAMPLE = {"id": 4, "name": "Lieferung", "created_at": "2026-11-02T09:00:00+01:00"}


class TagSerializer(serializers.ModelSerializer):
    name = StrictCharField(max_length=NAME_MAX_LENGTH, help_text="Up to 50 characters; unique ignoring case.")

    class Meta:
        model = Tag
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []  # the case-insensitive uniqueness is checked on create (409)

    def validate_name(self, name: str) -> str:
        if not name.strip():
            raise serializers.ValidationError(_("Give the tag a name."))
        return name.strip()


@extend_schema_view(
    list=extend_schema(
        summary="List the tags", examples=[OpenApiExample("A tag", TAG_EXAMPLE, response_only=True)]
    ),
    create=extend_schema(
        summary="Create a tag",
        responses={201: TagSerializer, 409: OpenApiResponse(description="A tag of this name exists.")},
        examples=[
            OpenApiExample("A tag", {"name": "Lieferung"}, request_only=True),
            OpenApiExample("Created", TAG_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    ),
)
class TagViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = Tag.objects.all()
    serializer_class = TagSerializer
    pagination_class = ById
    permission_classes = API_PERMISSIONS

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        name = serializer.validated_data["name"]
        if Tag.objects.filter(name__iexact=name).exists():
            raise Conflict(_("A tag of this name exists."))
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:  # created at the same moment
            raise Conflict(_("A tag of this name exists.")) from None


# Tags of a response

RESPONSE_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The response's id (a UUID)."
)
TAG_NAME = OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="The tag's name.")
ResponseTags = inline_serializer(
    "ResponseTags",
    {"tags": serializers.ListField(child=serializers.CharField(), help_text="The tags' names.")},
)


class TagNames(ClosedSerializer):
    tags = serializers.ListField(
        child=StrictCharField(max_length=NAME_MAX_LENGTH),
        min_length=1,
        max_length=MAX_TAGS,
        help_text="Names of tags; those that do not exist are created (with the permission to add tags).",
    )


@extend_schema_view(
    create=extend_schema(
        summary="Tag a response",
        parameters=[RESPONSE_ID],
        request=TagNames,
        responses={200: ResponseTags},
        examples=[
            OpenApiExample("Two tags", {"tags": ["Lieferung", "Rückruf"]}, request_only=True),
            OpenApiExample("Its tags", {"tags": ["Lieferung", "Rückruf"]}, response_only=True),
        ],
    ),
    destroy=extend_schema(summary="Take a tag off a response", parameters=[RESPONSE_ID, TAG_NAME]),
)
class ResponseTagViewSet(viewsets.GenericViewSet):
    queryset = ResponseTag.objects.all()
    serializer_class = TagNames
    permission_classes = API_PERMISSIONS
    pagination_class = None

    def answer(self) -> Response:
        response = (
            Response.objects.filter(
                survey__in=visible_surveys(self.request.user), public_id=self.kwargs["public_id"]
            )
            .only("pk", "public_id")
            .first()
        )
        if response is None:
            raise Http404
        return response

    def create(self, request: Request, public_id=None) -> ApiResponse:
        response = self.answer()
        body = TagNames(data=request.data)
        body.is_valid(raise_exception=True)
        names = [name for name in body.validated_data["tags"] if name.strip()]
        if not names:
            raise exceptions.ValidationError({"tags": [_("Give the tags names.")]})
        user = _user(request)
        try:
            tag_response(
                response=response,
                names=names,
                by=user,
                now=timezone.now(),
                create=user.has_perm("followup.add_tag"),
            )
        except TagRefused as refused:
            raise exceptions.ValidationError({"tags": [str(refused)]}) from None
        return ApiResponse({"tags": _names(response)})

    def destroy(self, request: Request, public_id=None, name=None) -> ApiResponse:
        response = self.answer()
        tags = Tag.objects.filter(name__iexact=name, taggings__response=response)
        if not untag_response(response=response, tags=list(tags), by=_user(request), now=timezone.now()):
            raise Http404
        return ApiResponse(status=status.HTTP_204_NO_CONTENT)


def _names(response: Response) -> list[str]:
    return list(
        Tag.objects.filter(taggings__response=response).order_by("name").values_list("name", flat=True)
    )
