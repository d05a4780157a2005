"""The privacy pages of the back office."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from privacy.processing import record_of_processing
from surveys.access import is_admin


@require_GET
def processing(request: HttpRequest) -> HttpResponse:
    """The record of processing, as the configuration says it now (Admins)."""
    if not is_admin(request.user):
        raise PermissionDenied
    context = {
        **admin.site.each_context(request),
        "title": _("Record of processing"),
        "record": record_of_processing(language=translation.get_language()),
    }
    return TemplateResponse(request, "admin/privacy/processing.html", context)
