"""The API's one error shape: ``{"error": {"code": ..., "message": ..., "fields": {...}}}``."""

from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"
    default_detail = "This survey is no longer collecting answers."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, errors = next(iter(detail.items()))
        message = _first_message(errors)
        return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        error = {
            "code": "invalid",
            "message": _first_message(exc.detail),
            "fields": response.data,
        }
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        error = {
            "code": code if isinstance(code, str) else "error",
            "message": _first_message(exc.detail),
        }
    response.data = {"error": error}
    return response
