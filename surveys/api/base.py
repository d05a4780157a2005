"""What every API endpoint shares: one error shape, ``{"error": {"code": ..., "message": ...,
"fields": {...}}}``, from one exception handler; reading a JSON body; strict fields and
serializers; cursor pagination and the view set of plain CRUD.

Who may call lives in ``surveys.api.auth`` and the renderer in ``surveys.api.renderers``: DRF
imports its default classes while its views start, and this module imports DRF's views.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import Http404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import exception_handler as drf_exception_handler

from audit.log import Action, filters, record
from surveys.models import CONSENT_CLOCK_DIFFERENCE, CONSENT_TEXT_MAX_LENGTH, Consent, Survey
from surveys.properties import printable, properties_problem

# The error shape's codes for statuses answered without an exception of DRF's, which brings its own:
# the views' own errors as the schema documents them, and errors answered outside the API's views.
ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}
# How far ahead of the server's clock a client's time may lie (clocks differ a little).
MAX_FUTURE = timedelta(days=1)


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"
    default_detail = "This survey is no longer collecting answers."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with an earlier one."


class Cursor(CursorPagination):
    """Stable pages however the rows change in between: ``?cursor=`` from ``next``.

    A cursor that was not made here is a bad parameter (400), not a missing page (DRF's 404)
    nor a server error: DRF hands a cursor's position to the database as it came, so a
    position that is no value of the ordering's column ("abc" for an id or a time, an id
    beyond the database's range, a time without its offset) is refused here.
    """

    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    # DRF clips a cursor's offset to offset_cutoff. Our cursors' offsets stay within
    # max_offset; clipping one past it tells a larger, forged offset from an allowed one.
    max_offset = 1000
    offset_cutoff = max_offset + 1

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
            valid = cursor is None or self._made_here(cursor)
        except exceptions.NotFound:  # not base64, an offset or direction that is no number
            valid = False
        if not valid:
            raise exceptions.ValidationError({self.cursor_query_param: [_("This cursor is not valid.")]})
        return cursor

    def _made_here(self, cursor) -> bool:
        """Whether the cursor's offset is within ours and its position a value of the column the
        pages are ordered by (DRF orders by the first field, and filters by it)."""
        if cursor.offset > self.max_offset:
            return False
        if cursor.position is None:
            return True
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            if isinstance(field, models.DateTimeField):
                moment = parse_datetime(cursor.position)  # ValueError for 30 February
                if moment is None or moment.utcoffset() is None:
                    return False
                moment.astimezone(UTC)  # OverflowError for the year 1 at +14:00
            else:
                field.run_validators(field.to_python(cursor.position))  # ids: the database's range
        except (ValueError, OverflowError, DjangoValidationError):
            return False
        return True


class Newest(Cursor):
    """A growing log, newest first."""

    ordering = "-id"


class ById(Cursor):
    """Objects in the order they were made."""

    ordering = "id"


class ListCreateRetrieveUpdate(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Plain CRUD without delete, in pages by id: what the API keeps of a survey, touchpoint or
    contact has answers hanging on it, and switching it off or erasing it are their own procedures."""

    pagination_class = ById


# The consent of the API's examples (events and contacts): the wording the shop showed, and when.
CONSENT_EXAMPLE = {
    "text": "Ja, Kessler Haustechnik darf mich per E-Mail nach meiner Zufriedenheit fragen. "
    "Widerruf jederzeit möglich.",
    "given_at": "2026-11-20T18:02:11+01:00",
}


def record_personal_data_read(request: Request, *, object_type: str, count: int, object_id: str = "") -> None:
    """Personal data read through an API goes into the audit log: what was asked and how many objects
    came back, never the data itself."""
    record(
        Action.PERSONAL_DATA_READ,
        request=request,
        object_type=object_type,
        object_id=object_id,
        details={"path": request.path, "query": filters(dict(request.query_params.lists())), "count": count},
    )


class ReadsPersonalData:
    """A view set whose reads return personal data: each successful list or get is written to the
    audit log, with what was asked and how many objects were returned (never the data itself)."""

    def reads_personal_data(self) -> bool:
        return True

    def finalize_response(self, request: Request, response, *args, **kwargs):
        action = getattr(self, "action", None)
        if (
            response.status_code == status.HTTP_200_OK
            and action in ("list", "retrieve")
            and self.reads_personal_data()
        ):
            results = response.data.get("results") if action == "list" else None
            record_personal_data_read(
                request,
                object_type=self.queryset.model._meta.label_lower,  # type: ignore[attr-defined]
                object_id=str(kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")),  # type: ignore[attr-defined]
                count=len(results) if results is not None else 1,
            )
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: 42 is not silently turned into "42"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictChoiceField(serializers.ChoiceField):
    """One of the choices, as a string; the error names the choices instead of echoing the input."""

    def to_internal_value(self, data):
        if data == "" and self.allow_blank:
            return ""
        if isinstance(data, str) and data in self.choice_strings_to_values:
            return self.choice_strings_to_values[data]
        raise serializers.ValidationError(
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(map(str, self.choices))},
            code="invalid_choice",
        )


class StrictModelSerializer(serializers.ModelSerializer):
    """Text columns take JSON strings only."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }


class VisibleSurveyField(serializers.PrimaryKeyRelatedField):
    """A survey's id, among those the request's user may see: another team's is refused as unknown."""

    def get_queryset(self):
        return Survey.objects.visible_to(self.context["request"].user)


class ClosedSerializer(serializers.Serializer):
    """Refuses fields it does not know, so that a typo ("propertis") is not silently dropped."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError(
                {printable(name): [_("Unknown field.")] for name in unknown[:10]}
            )
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class AwareDateTimeField(serializers.Field):
    """An ISO 8601 time with its offset, at most a day ahead of the server's clock."""

    default_error_messages = {
        "invalid": gettext_lazy("Send a time in ISO 8601 with its offset, e.g. 2025-03-01T14:30:00+01:00."),
        "naive": gettext_lazy(
            "This time has no offset (Z or +01:00), so it is ambiguous. Send it with its offset."
        ),
        "future": gettext_lazy("This time lies more than a day in the future."),
    }

    max_future = MAX_FUTURE

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 40:
            self.fail("invalid")
        try:
            value = datetime.fromisoformat(data)
        except ValueError:
            self.fail("invalid")
        if value.utcoffset() is None:
            self.fail("naive")
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # the year 1 or 9999 shifted by its offset
            self.fail("invalid")
        if value > self.context["now"] + self.max_future:
            self.fail("future")
        return value

    def to_representation(self, value):
        return value.isoformat()


class PastDateTimeField(AwareDateTimeField):
    """An ISO 8601 time with its offset at which something happened (a consent given): not after
    the server's clock, give or take the few minutes by which clocks differ."""

    default_error_messages = {
        "future": gettext_lazy("This time lies in the future. Send the time at which it happened.")
    }
    max_future = CONSENT_CLOCK_DIFFERENCE


class ConsentBody(ClosedSerializer):
    """The proof of a legal basis: the wording the person was shown when they agreed, and when
    that was (default: now). Kept in the contact's consent history."""

    text = StrictCharField(
        max_length=CONSENT_TEXT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The wording the person agreed to, as shown to them (up to 2,000 characters).",
    )
    given_at = PastDateTimeField(
        required=False,
        allow_null=True,
        help_text="When they agreed, ISO 8601 with its offset; not in the future. Default: now.",
    )


def consent_of(attrs: dict) -> Consent | None:
    """The consent that a validated body with a ``ConsentBody`` as ``consent`` brings, if any."""
    consent = attrs.get("consent")
    if consent is None:
        return None
    return Consent(text=consent.get("text") or "", given_at=consent.get("given_at"))


def consent_needs_legal_basis(attrs: dict) -> None:
    """A consent proves a legal basis: refused without the ``legal_basis`` it proves."""
    if attrs.get("consent") is not None and not attrs.get("legal_basis"):
        raise serializers.ValidationError(
            {"consent": [_("Send the legal_basis that this consent proves beside it.")]}
        )


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "additionalProperties": {
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
            "nullable": True,
        },
        "example": {"order_id": "A-1042", "carrier": "DHL"},
    }
)
class PropertiesField(serializers.Field):
    """Up to 50 named values: strings up to 500 characters, numbers, booleans or null; with
    ``as_text`` (the widget) text only, numbers taken as their text."""

    default_error_messages = {"not_an_object": gettext_lazy("Send the properties as a JSON object.")}

    def __init__(self, *, as_text: bool = False, **kwargs):
        self.as_text = as_text
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        if self.as_text:
            data = {
                name: str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
                for name, value in data.items()
            }
        if problem := properties_problem(data, as_text=self.as_text):
            raise serializers.ValidationError(problem)
        return data

    def to_representation(self, value):
        return value


def read_json(request: Request, *, max_bytes: int) -> object:
    """The parsed JSON body: 413 when larger than ``max_bytes``, 415 when not JSON, 400 when malformed.

    The size is checked on Content-Length before anything is read, so an oversized
    body is refused without being loaded into memory.
    """
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise exceptions.ParseError(_("The Content-Length header is not a number.")) from None
    if length > max_bytes:
        raise PayloadTooLarge(
            _("The request body is larger than %(limit)d kB.") % {"limit": max_bytes // 1024}
        )
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        raise exceptions.UnsupportedMediaType(request.content_type)
    try:
        request.body  # noqa: B018 - reads the body once, keeping the raw bytes for fingerprints
    except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE set below max_bytes
        raise PayloadTooLarge() from None
    return request.data


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, errors = next(iter(detail.items()))
        message = _first_message(errors)
        return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def invalid(detail) -> dict:
    """The error object for a validation error's detail (also used per item in bulk answers)."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
    return {"code": "invalid", "message": _first_message(detail), "fields": detail}


def form_errors(form: forms.Form) -> dict[str, list[str]]:
    """A Django form's errors by field, named as the error shape names them."""
    return {
        "non_field_errors" if field == NON_FIELD_ERRORS else field: [str(message) for message in messages]
        for field, messages in form.errors.items()
    }


def exception_handler(exc, context):
    # DRF answers Django's own exceptions too; convert them first so they have a detail.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        error = invalid(response.data)
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        error = {
            "code": code if isinstance(code, str) else "error",
            "message": _first_message(exc.detail),
            "fields": {},
        }
    response.data = {"error": error}
    return response
