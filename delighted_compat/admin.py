"""The back office of the Delighted compatibility layer: its projects, and the import of
Delighted's CSV exports (``delighted_compat.importer``) from the projects' list."""

from dataclasses import replace
from typing import cast

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from delighted_compat.importer import (
    ImportOptions,
    ImportRefused,
    ImportReport,
    import_file,
    record_import,
    zone,
)
from delighted_compat.models import Project
from surveys.models import Survey

# Larger files take longer than a request may: the command imports them (``import_delighted``).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
IMPORT_PERMISSIONS = ("surveys.add_response", "surveys.add_contact")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple) and data:
            return [single(file, initial) for file in data]
        return [single(data or None, initial)]


class DelightedImportForm(forms.Form):
    csv_files = MultipleFileField(
        label=_("CSV files"),
        help_text=_(
            "Delighted's exports of responses, people, unsubscribes or bounces; up to 20 MB together."
        ),
    )
    survey = forms.ModelChoiceField(
        label=_("survey"),
        queryset=Survey.objects.none(),
        required=False,
        help_text=_("Receives the responses."),
    )
    survey_name = forms.CharField(label=_("or a new survey named"), max_length=200, required=False)
    kind = forms.ChoiceField(
        label=_("kind of the new survey"),
        choices=[("", _("from the file's survey type, else NPS")), *Survey.Kind.choices],
        required=False,
    )
    touchpoint_property = forms.CharField(
        label=_("touchpoints from the property"),
        max_length=200,
        required=False,
        help_text=_("A column whose values become the survey's touchpoints. Empty: one touchpoint."),
    )
    time_zone = forms.CharField(
        label=_("time zone"),
        max_length=64,
        required=False,
        help_text=_("Of times in the file without an offset. Empty: the installation's."),
    )
    dry_run = forms.BooleanField(
        label=_("dry run"),
        required=False,
        initial=True,
        help_text=_("Report what would be done; change nothing."),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        survey = cast(forms.ModelChoiceField, self.fields["survey"])
        survey.queryset = Survey.objects.visible_to(user)

    def clean_csv_files(self) -> list:
        files = self.cleaned_data["csv_files"]
        if sum(file.size for file in files) > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                gettext("Files over 20 MB are imported with the command: manage.py import_delighted.")
            )
        return files

    def clean_time_zone(self) -> str:
        try:
            zone(self.cleaned_data["time_zone"])
        except ImportRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        return self.cleaned_data["time_zone"]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("survey") and data.get("survey_name"):
            raise forms.ValidationError(gettext("Choose a survey or name a new one, not both."))
        if data.get("survey_name") and not self.user.has_perm("surveys.add_survey"):
            self.add_error("survey_name", gettext("You may not create surveys."))
        return data


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    """Which API token answers as which Delighted project's key; the Admin's to set up, since a
    project's key reads and writes through whatever its token's user may."""

    list_display = ["__str__", "token", "touchpoint", "autopilot_touchpoint", "autopilot_days", "members"]
    list_select_related = ["token", "touchpoint__survey", "autopilot_touchpoint"]
    fields = ["token", "touchpoint", "autopilot_touchpoint", "autopilot_days"]

    @admin.display(description=_("Autopilot members"))
    def members(self, project: Project) -> int:
        return project.autopilot_memberships.count()

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="delighted_compat_project_import"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "may_import": may_import(request.user)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Import Delighted's exports, or try them in a dry run: the summary of each file and its
        errors by line."""
        if not may_import(request.user):
            raise PermissionDenied
        form = DelightedImportForm(user=request.user)
        reports: list[tuple[str, ImportReport | None, str]] = []
        if request.method == "POST":
            form = DelightedImportForm(request.POST, request.FILES, user=request.user)
            if form.is_valid():
                reports = _import(request, form.cleaned_data)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import from Delighted"),
            "form": form,
            "reports": reports,
            "time_zone": settings.TIME_ZONE,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(request, "delighted_compat/admin/import.html", context, status=status)


def may_import(user) -> bool:
    return user.is_active and user.is_staff and user.has_perms(IMPORT_PERMISSIONS)


def _import(request: HttpRequest, data: dict) -> list[tuple[str, ImportReport | None, str]]:
    """Each file's name with its report, or with why it was refused."""
    options = ImportOptions(
        survey=data["survey"],
        survey_name=data["survey_name"],
        kind=data["kind"],
        touchpoint_property=data["touchpoint_property"],
        time_zone=data["time_zone"],
        dry_run=data["dry_run"],
    )
    reports: list[tuple[str, ImportReport | None, str]] = []
    for upload in data["csv_files"]:
        try:
            report = import_file(upload, options=options, now=timezone.now())
        except ImportRefused as refused:
            reports.append((upload.name, None, str(refused)))
            continue
        record_import(report, file_name=upload.name, request=request)
        reports.append((upload.name, report, ""))
        if report.survey_created and not options.dry_run:
            options = replace(options, survey=report.survey, survey_name="")
    return reports
