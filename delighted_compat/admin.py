from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from delighted_compat.models import Project


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
