from django.contrib import admin

from feedback.models import ExportRecord


@admin.register(ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    """The record of exports: read only, as a record must not be edited after the fact."""

    list_display = ["created_at", "username", "format", "rows", "personal", "finished_at"]
    list_filter = ["format", "personal", "created_at"]
    search_fields = ["username"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in ExportRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
