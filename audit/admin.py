"""The audit log in the back office: Admins read, filter and download it; nobody changes it."""

import json
from collections.abc import Iterator

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.log import Action, filters, record
from audit.models import AuditEvent
from feedback.exports import BOM, csv_line, neutralised
from surveys.access import is_admin

CSV_COLUMNS = [
    "at",
    "action",
    "actor_id",
    "actor",
    "client",
    "via",
    "object_type",
    "object_id",
    "object_repr",
    "details",
]


class ReadOnlyForAdmins(admin.ModelAdmin):
    """Rows that Admins read and nobody adds, changes or deletes: the audit log and what it reports."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_admin(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyForAdmins):
    list_display = ["at", "action", "actor", "client", "via", "object_type", "object_repr"]
    list_filter = ["action", "via", "object_type"]
    search_fields = ["actor", "object_id", "object_repr", "client"]
    date_hierarchy = "at"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    list_per_page = 50
    show_full_result_count = False  # no count over millions of rows on each page
    change_list_template = "admin/audit/auditevent/change_list.html"

    def get_urls(self) -> list:
        download = self.admin_site.admin_view(require_GET(self.download))
        return [path("download/", download, name="audit_auditevent_download"), *super().get_urls()]

    def download(self, request: HttpRequest) -> StreamingHttpResponse:
        """The events the list shows (its filters and search), as CSV; the download is an event too."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        events = self.get_changelist_instance(request).get_queryset(request)
        record(
            Action.EXPORT_DOWNLOADED,
            request=request,
            object_type="audit.auditevent",
            details={"filters": filters(dict(request.GET.lists()))},
        )
        response = StreamingHttpResponse(_csv(events), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{timezone.now():%Y-%m-%d}.csv"'
        return response


def _csv(events) -> Iterator[bytes]:
    yield (BOM + csv_line(CSV_COLUMNS) + "\r\n").encode()
    for event in events.iterator(chunk_size=2000):
        cells = [getattr(event, name) for name in CSV_COLUMNS]
        cells[0] = event.at.isoformat()
        cells[-1] = json.dumps(event.details, ensure_ascii=False)
        yield (csv_line([neutralised(cell) for cell in cells]) + "\r\n").encode()
