"""``/api/v1/exports/``: the verbatim explorer's exports for programs, prepared in the background.

``POST`` starts one with a format and the explorer's filters and answers 202 at once;
the export's URL tells how far the worker is, and ``download/`` gives the file once it
is done, until it expires. A warehouse's nightly job or a notebook thus gets a million
answers as one CSV, XLSX or JSON Lines file, exactly as the explorer's button would.

Starting an export reads answers and changes nothing, so a token that can only read
may do it. The token's user needs the permission to export responses, and the survey must be
one of theirs; without the permission to view contacts the file has the contact's pseudonym
instead of who answered, and exports made with personal data are not shown. A token sees its
user's exports only.
"""

from django.contrib.auth.models import User
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from feedback import exports, tasks
from feedback.models import ExportRecord
from surveys.access import may_export, may_see_personal_data
from surveys.api.auth import AnyScope
from surveys.api.base import Conflict, Gone, Newest, StrictChoiceField, form_errors
from surveys.properties import PROPERTY_PREFIX

# The explorer's URL parameters that select answers; "touchpoint", "tag" and "theme" alone may repeat.
FILTERS = (
    "survey", "touchpoint", "range", "since", "until", "category", "score", "comment", "q", "tag", "theme",
)  # fmt: skip
REPEATABLE = ("touchpoint", "tag", "theme")
MAX_FILTER_VALUES = 50
EXPORT_RETRY_SECONDS = 30  # when the user's exports keep the workers busy

EXPORT_EXAMPLE = {
    "id": "6f1c2a8e-3b7d-4d0e-9a51-2c4e8f0b7d13",
    "format": "csv",
    "filters": {
        "survey": ["3"],
        "since": ["2026-09-01"],
        "until": ["2026-11-30"],
        "category": ["detractor"],
        "property.plan": ["pro"],
    },
    "personal": False,
    "status": "running",
    "rows": 40000,
    "total": 118250,
    "percent": 33,
    "error": "",
    "file_name": "kundenzufriedenheit-nach-lieferung-2026-09-01-2026-11-30.csv",
    "created_at": "2026-12-01T09:00:04.112+01:00",
    "finished_at": None,
    "expires_at": "2026-12-08T09:00:04.112+01:00",
    "download": None,
}
DONE_EXAMPLE = EXPORT_EXAMPLE | {
    "status": "done",
    "rows": 118250,
    "percent": 100,
    "finished_at": "2026-12-01T09:00:06.870+01:00",
    "download": "https://cx.example.com/api/v1/exports/6f1c2a8e-3b7d-4d0e-9a51-2c4e8f0b7d13/download/",
}


class Exports(BasePermission):
    message = gettext_lazy("The user of this API token lacks the permission to export responses.")

    def has_permission(self, request: Request, view) -> bool:
        return may_export(request.user)


class FiltersField(serializers.DictField):
    """The explorer's filters as a JSON object: a text or a number per name, a list for touchpoints,
    tags and themes."""

    default_error_messages = {
        "unknown": gettext_lazy("Unknown filter “{name}”. Filters: {known} and property.<name>."),
        "value": gettext_lazy("Give “{name}” a text or a number."),
        "values": gettext_lazy("Give “touchpoint” an id or a list of at most {limit} ids."),
        "tags": gettext_lazy("Give “tag” a name or a list of at most {limit} names."),
        "themes": gettext_lazy("Give “theme” a name or a list of at most {limit} names."),
    }

    def to_internal_value(self, data) -> dict[str, list[str]]:
        filters = super().to_internal_value(data)
        parameters = {}
        for name, value in filters.items():
            if name not in FILTERS and not name.startswith(PROPERTY_PREFIX):
                self.fail("unknown", name=name[:80], known=", ".join(FILTERS))
            values = value if isinstance(value, list) and name in REPEATABLE else [value]
            problem = {"touchpoint": "values", "tag": "tags", "theme": "themes"}.get(name, "value")
            if len(values) > MAX_FILTER_VALUES:
                self.fail(problem, name=name, limit=MAX_FILTER_VALUES)
            if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in values):
                self.fail(problem, name=name, limit=MAX_FILTER_VALUES)
            parameters[name] = [str(item) for item in values]
        return parameters


class ExportStart(serializers.Serializer):
    format = StrictChoiceField(list(exports.FORMATS), help_text="csv, xlsx or jsonl.")
    filters = FiltersField(
        help_text=(
            "The verbatim explorer's filters: survey (id, required), touchpoint (ids; 0 for link and "
            "widget answers), range (30d, 90d, 12m, ytd) or since and until (local dates, inclusive; "
            "the last 30 days by default), category, score, comment (with, the default; without; any), "
            "q (words in the comment), tag (a tag's name or a list: answers carrying any), theme (a "
            "theme's name or a list: answers whose comment has any) and property.<name>."
        )
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample("Being written", EXPORT_EXAMPLE, response_only=True),
        OpenApiExample("Ready to download", DONE_EXAMPLE, response_only=True),
    ]
)
class ExportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    filters = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="The filters as the explorer's URL parameters, with the survey and the period spelled out.",
    )
    personal = serializers.BooleanField(help_text="Whether the file has who answered, or pseudonyms.")
    rows = serializers.IntegerField(allow_null=True, help_text="Rows written so far.")
    total = serializers.IntegerField(allow_null=True, help_text="Rows to write, once a worker counted them.")
    percent = serializers.IntegerField(allow_null=True, help_text="How far the worker is, 0 to 100.")
    error = serializers.CharField(help_text="Why the export failed; empty unless it did.")
    file_name = serializers.CharField(source="filename")
    expires_at = serializers.DateTimeField(help_text="When the file is deleted.")
    download = serializers.SerializerMethodField(help_text="The file's URL once it is ready, else null.")

    class Meta:
        model = ExportRecord
        fields = [
            "id",
            "format",
            "filters",
            "personal",
            "status",
            "rows",
            "total",
            "percent",
            "error",
            "file_name",
            "created_at",
            "finished_at",
            "expires_at",
            "download",
        ]
        read_only_fields = fields

    def get_download(self, record: ExportRecord) -> str | None:
        if not record.downloadable:
            return None
        return self.context["request"].build_absolute_uri(
            reverse("feedback:api-export-download", args=[record.public_id])
        )


FILE_TYPES = {content_type: OpenApiTypes.BINARY for content_type, _extension in exports.FORMATS.values()}


EXPORT_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The export's id."
)


@extend_schema_view(
    list=extend_schema(summary="The exports of the token's user, newest first"),
    retrieve=extend_schema(
        summary="An export: how far it is, and its file's URL once ready", parameters=[EXPORT_ID]
    ),
)
class ExportViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = ExportRecord.objects.prepared()
    serializer_class = ExportSerializer
    pagination_class = Newest
    permission_classes = [AnyScope, Exports]
    lookup_field = "public_id"
    lookup_value_regex = "[0-9a-f-]{36}"

    def get_queryset(self):
        records = super().get_queryset().filter(user=self.request.user)
        # Made when the user could see personal data; no longer theirs if they cannot now.
        return records if may_see_personal_data(self.request.user) else records.filter(personal=False)

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # A file is what it is, whatever the client accepts; errors about it are JSON.
        return super().perform_content_negotiation(request, force=force or self.action == "download")

    @extend_schema(
        summary="Start an export",
        request=ExportStart,
        responses={
            202: ExportSerializer,
            404: OpenApiResponse(description="The filters name a survey the token's user may not see."),
        },
        examples=[
            OpenApiExample(
                "Detractors' comments of one quarter",
                {
                    "format": "csv",
                    "filters": {
                        "survey": 3,
                        "since": "2026-09-01",
                        "until": "2026-11-30",
                        "category": "detractor",
                        "property.plan": "pro",
                    },
                },
                request_only=True,
            ),
            OpenApiExample(
                "Every answer of two touchpoints, with or without a comment",
                {
                    "format": "jsonl",
                    "filters": {"survey": 3, "range": "12m", "touchpoint": [4, 7], "comment": "any"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued",
                EXPORT_EXAMPLE | {"status": "queued", "rows": None, "total": None, "percent": None},
                response_only=True,
                status_codes=["202"],
            ),
        ],
        description=(
            "Queues the export for a worker and answers at once. Ask the export's URL (also in the "
            "Location header) until its status is done or failed, then get the file from download."
        ),
    )
    def create(self, request: Request, *args, **kwargs) -> ApiResponse:
        asked = ExportStart(data=request.data)
        asked.is_valid(raise_exception=True)
        file_format, parameters = asked.validated_data["format"], asked.validated_data["filters"]
        if "survey" not in parameters:
            raise exceptions.ValidationError({"filters": {"survey": [_("Choose the survey to export.")]}})
        form = exports.filter_form(parameters, request.user)
        if not form.is_valid():
            raise exceptions.ValidationError({"filters": form_errors(form)})
        export = exports.Export(form.verbatim_query(), personal=may_see_personal_data(request.user))
        if refusal := exports.refusal(export, file_format):
            raise exceptions.ValidationError({"format": [refusal]})
        user = request.user
        if not isinstance(user, User):  # TokenScope lets only a token's user this far
            raise exceptions.NotAuthenticated
        if busy := exports.too_many_unfinished(user):
            raise exceptions.Throttled(wait=EXPORT_RETRY_SECONDS, detail=busy)
        record = exports.prepared_record(user, export, file_format, parameters)
        tasks.start(record)
        record.refresh_from_db()  # without a broker the file is already written
        url = reverse("feedback:api-export-detail", args=[record.public_id])
        return ApiResponse(
            self.get_serializer(record).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": request.build_absolute_uri(url)},
        )

    @extend_schema(
        summary="The export's file",
        parameters=[EXPORT_ID],
        responses={
            **{(200, content_type): schema for content_type, schema in FILE_TYPES.items()},
            409: OpenApiResponse(description="The export is not done yet, or it failed."),
            410: OpenApiResponse(description="The file was deleted when it expired."),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, public_id=None) -> FileResponse:
        record = self.get_object()
        if record.status == ExportRecord.Status.FAILED:
            raise Conflict(exports.progress_text(record))
        if record.status != ExportRecord.Status.DONE:
            raise Conflict(_("The export is not done yet; ask for it again when its status is done."))
        if not record.file:
            raise Gone(exports.progress_text(record))
        return exports.prepared_file(record)
