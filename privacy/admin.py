"""Retention in the back office: the runs and what each cleared, and what the next would clear."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from privacy.models import RetentionRun
from privacy.retention import KINDS, apply_retention
from surveys.access import is_admin
from surveys.models import Survey


@admin.register(RetentionRun)
class RetentionRunAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "via", "cleared"]
    list_filter = ["via"]
    date_hierarchy = "at"
    change_list_template = "admin/privacy/retentionrun/change_list.html"

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

    @admin.display(description=_("cleared"))
    def cleared(self, run: RetentionRun) -> str:
        counts = run.details.get("cleared", {})
        return ", ".join(f"{kind.label}: {counts.get(kind.name, 0)}" for kind in KINDS)

    def get_urls(self) -> list:
        preview = self.admin_site.admin_view(require_GET(self.preview))
        return [path("preview/", preview, name="privacy_retentionrun_preview"), *super().get_urls()]

    def preview(self, request: HttpRequest) -> TemplateResponse:
        """What a run would clear now (a dry run), and each survey's periods."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = apply_retention(now=timezone.now(), dry_run=True)
        surveys = [
            (survey, [kind.days(survey) for kind in KINDS]) for survey in Survey.objects.order_by("name")
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("What the next retention run would clear"),
            "kinds": [(kind, report[kind.name]) for kind in KINDS],
            "surveys": surveys,
        }
        return TemplateResponse(request, "admin/privacy/retentionrun/preview.html", context)
