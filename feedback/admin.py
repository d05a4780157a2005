from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from feedback.models import ExportRecord


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    """The record of exports: read only, as a record must not be edited after the fact."""

    list_display = [
        "created_at",
        "username",
        "format",
        "rows",
        "personal",
        "background",
        "status",
        "finished_at",
    ]
    list_filter = ["format", "personal", "background", "status", "created_at"]
    search_fields = ["username"]
    date_hierarchy = "created_at"
    # The storage never serves the file, so its name would only be a dead link: the download view's instead.
    exclude = ["file"]
    readonly_fields = [field.name for field in ExportRecord._meta.fields if field.name != "file"] + [
        "download"
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("file"))
    def download(self, record: ExportRecord) -> str:
        if not record.downloadable:
            return "—"
        url = reverse("feedback:download_export", args=[record.public_id])
        return format_html('<a href="{}">{}</a>', url, record.filename)
