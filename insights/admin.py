from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from followup.models import AlertRule
from insights.models import Theme
from insights.themes import start_matching


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    """Themes and their rules; a change of the rules matches every comment again, in the background."""

    list_display = ["name", "include", "language", "progress"]
    search_fields = ["name", "include"]
    readonly_fields = ["progress"]
    fields = ["name", "include", "exclude", "language", "progress"]

    @admin.display(description=_("matched"))
    def progress(self, theme: Theme) -> str:
        if theme.pk is None:
            return "–"
        if theme.matching_after is None:
            return _("all %(count)s comments") % {"count": f"{theme.to_match:,}"}
        return _("%(matched)s of %(count)s comments") % {
            "matched": f"{theme.matched:,}",
            "count": f"{theme.to_match:,}",
        }

    def get_deleted_objects(self, objs, request):
        """A theme that an alert rule asks for is kept: without it, the rule would no longer ask
        for any theme and fire on answers of every subject."""
        deleted, counts, permissions, protected = super().get_deleted_objects(objs, request)
        rules = AlertRule.objects.filter(themes__in=objs).distinct().order_by("name")
        return deleted, counts, permissions, [*protected, *(f"{_('alert rule')}: {rule}" for rule in rules)]

    def save_model(self, request, obj: Theme, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change or {"include", "exclude", "language"} & set(form.changed_data):
            start_matching(obj, now=timezone.now())
