"""The back office until CXSurvey has its own pages: Django admin for CX managers."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from surveys.models import ApiToken, Contact, Invitation, Response, Survey, Touchpoint


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


class TouchpointInline(admin.TabularInline):
    model = Touchpoint
    extra = 0
    fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "brand", "active", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "brand"]
    readonly_fields = ["public_key", "link", "widget_snippet", "created_at"]
    inlines = [TouchpointInline]
    fieldsets = [
        (None, {"fields": ["name", "kind", "brand", "active", "expires_after_days"]}),
        (
            _("Texts (empty fields use the standard wording)"),
            {
                "fields": [
                    ("question_de", "question_en"),
                    ("subject_de", "subject_en"),
                    ("follow_up_de", "follow_up_en"),
                    ("thank_you_de", "thank_you_en"),
                ]
            },
        ),
        (
            _("Link and widget"),
            {
                "fields": [
                    "accent_color",
                    "widget_origins",
                    "public_key",
                    "link",
                    "widget_snippet",
                ]
            },
        ),
        (None, {"fields": ["created_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The kind fixes the scale of every stored response.
        return [*self.readonly_fields, "kind"] if obj else self.readonly_fields

    @admin.display(description=_("public link"))
    def link(self, survey: Survey) -> str:
        if not survey.pk:
            return "—"
        url = _absolute(reverse("surveys:link", args=[survey.public_key]))
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.display(description=_("widget snippet"))
    def widget_snippet(self, survey: Survey) -> str:
        if not survey.pk:
            return "—"
        snippet = (
            f'<script src="{_absolute(settings.STATIC_URL + "cxsurvey/widget.js")}" '
            f'data-key="{survey.public_key}" async></script>'
        )
        return format_html("<code>{}</code>", snippet)


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "survey", "created_at"]
    list_filter = ["survey"]
    list_select_related = ["survey"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "name",
        "external_id",
        "language",
        "unsubscribed_at",
        "bounced_at",
        "created_at",
    ]
    list_filter = [
        "language",
        ("unsubscribed_at", admin.EmptyFieldListFilter),
        ("bounced_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["email", "external_id", "name"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = [
        "contact",
        "survey",
        "touchpoint",
        "status",
        "created_at",
        "sent_at",
        "answered_at",
    ]
    list_filter = ["status", "survey", "touchpoint"]
    list_select_related = ["contact", "survey", "touchpoint"]
    search_fields = ["contact__email", "contact__external_id", "token"]
    autocomplete_fields = ["contact"]
    readonly_fields = ["token", "answer_link", "created_at", "answered_at"]
    date_hierarchy = "created_at"

    def get_changeform_initial_data(self, request):
        return {
            "expires_at": timezone.now() + timezone.timedelta(days=30),
            **super().get_changeform_initial_data(request),
        }

    @admin.display(description=_("answer link"))
    def answer_link(self, invitation: Invitation) -> str:
        if not invitation.pk:
            return "—"
        url = _absolute(reverse("surveys:answer", args=[invitation.token]))
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "survey",
        "touchpoint",
        "score",
        "category",
        "channel",
        "language",
        "short_comment",
    ]
    list_filter = ["survey", "channel", "language", "touchpoint"]
    list_select_related = ["survey", "touchpoint"]
    search_fields = ["comment", "contact__email", "contact__external_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "public_id",
        "survey",
        "kind",
        "touchpoint",
        "invitation",
        "contact",
        "channel",
        "score",
        "comment",
        "language",
        "contact_properties",
        "event_properties",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # responses come from respondents only

    @admin.display(description=_("category"))
    def category(self, response: Response) -> str:
        return response.category

    @admin.display(description=_("comment"))
    def short_comment(self, response: Response) -> str:
        return response.comment[:80] + ("…" if len(response.comment) > 80 else "")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here and shown once; deleting one revokes it at once.

    Staff who are not superusers see and issue tokens for themselves only.
    """

    list_display = ["name", "user", "hint", "write", "created_at", "last_used_at"]
    list_filter = ["write"]
    list_select_related = ["user"]
    search_fields = ["name", "hint", "user__username"]

    def get_fields(self, request, obj=None):
        fields = ["user", "name", "write"]
        return fields if obj is None else [*fields, "hint", "created_at", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user", "hint", "created_at", "last_used_at"]

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            users = get_user_model()._default_manager.filter(is_active=True)
            kwargs["queryset"] = users if request.user.is_superuser else users.filter(pk=request.user.pk)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # The model issues tokens; the admin's object takes over the issued row for its log and page.
        issued, obj.plain_token = ApiToken.issue(user=obj.user, name=obj.name, write=obj.write)
        for field in ("id", "digest", "hint", "created_at"):
            setattr(obj, field, getattr(issued, field))
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        """A page with the new token, instead of a message that would pass it through the session."""
        response = TemplateResponse(
            request,
            "surveys/admin/api_token_issued.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "api_token": obj,
                "token": obj.plain_token,
                "title": _("New API token"),
            },
        )
        add_never_cache_headers(response)
        return response
