"""Setting up the loop in the back office: alert rules and reply templates, scoped to the surveys a
user may see."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from followup.chat import excerpt
from followup.links import response_link
from followup.models import AlertRule, ReplyTemplate
from followup.rules import chat_url_problem, dry_run, rule_problems
from surveys.admin import URLS_ASSUME_HTTPS, SurveyScoped
from surveys.models import Survey, Touchpoint
from surveys.scales import SCALES
from surveys.texts import validate_reply_text

DRY_RUN_DAYS = 30


def _category_choices() -> list[tuple[str, str]]:
    codes = dict.fromkeys(category.code for scale in SCALES.values() for category in scale.categories)
    return [(code, code) for code in codes]


def _formfield(field: models.Field, **kwargs) -> forms.Field | None:
    """Web addresses typed without their scheme are taken as https, as everywhere in the back office."""
    return field.formfield(**{**URLS_ASSUME_HTTPS.get(type(field), {}), **kwargs})


class AlertRuleForm(forms.ModelForm):
    categories = forms.MultipleChoiceField(
        label=_("categories"),
        choices=_category_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Of the survey's kind; none: any."),
    )

    class Meta:
        model = AlertRule
        formfield_callback = _formfield
        fields = [
            "survey",
            "name",
            "active",
            "categories",
            "score_min",
            "score_max",
            "score_drop",
            "touchpoints",
            "properties",
            "words",
            "themes",
            "open_case",
            "assignee",
            "team",
            "sla_hours",
            "tags",
            "notify",
            "delivery",
            "slack_url",
            "teams_url",
            "send_webhook",
        ]

    def clean(self) -> dict:
        data = super().clean() or {}
        survey: Survey | None = data.get("survey") or (
            self.instance.survey if self.instance.survey_id else None
        )
        if survey is None:
            return data
        problems = rule_problems(
            survey=survey,
            categories=data.get("categories", []),
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            properties=data.get("properties", {}),
            words=data.get("words", ""),
        )
        touchpoints = data.get("touchpoints")
        if touchpoints is not None and any(touchpoint.survey_id != survey.pk for touchpoint in touchpoints):
            problems["touchpoints"] = gettext("Choose touchpoints of the rule's survey.")
        for field in ("slack_url", "teams_url"):
            if data.get(field) and (problem := chat_url_problem(data[field])):
                problems[field] = problem
        for field, message in problems.items():
            if field in self.fields:
                self.add_error(field, message)
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(SurveyScoped, admin.ModelAdmin):
    form = AlertRuleForm
    formfield_overrides = URLS_ASSUME_HTTPS
    list_display = ["name", "survey", "active", "open_case", "delivery"]
    list_filter = ["active", "delivery"]
    search_fields = ["name"]
    readonly_fields = ["dry_run_link"]
    fieldsets = [
        (None, {"fields": ["survey", "name", "active", "dry_run_link"]}),
        (
            _("Conditions"),
            {
                "fields": [
                    "categories",
                    "score_min",
                    "score_max",
                    "score_drop",
                    "touchpoints",
                    "properties",
                    "words",
                    "themes",
                ]
            },
        ),
        (
            _("Actions"),
            {
                "fields": [
                    "open_case",
                    "assignee",
                    "team",
                    "sla_hours",
                    "tags",
                    "notify",
                    "delivery",
                    "slack_url",
                    "teams_url",
                    "send_webhook",
                ]
            },
        ),
    ]
    filter_horizontal = ["touchpoints", "themes", "notify", "tags"]

    def get_fieldsets(self, request, obj=None):
        if obj is not None:
            return self.fieldsets
        # A new rule starts switched off: it is tried against the last days' answers first.
        _first, *rest = self.fieldsets
        return [(None, {"fields": ["survey", "name"]}), *rest]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs["queryset"] = _active_staff()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "notify":
            kwargs["queryset"] = _active_staff()
        elif db_field.name == "touchpoints":
            kwargs["queryset"] = Touchpoint.objects.filter(survey__in=Survey.objects.visible_to(request.user))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj: AlertRule, form, change: bool) -> None:
        obj.updated_at = timezone.now()
        if not change:
            obj.active = False
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("dry run"))
    def dry_run_link(self, rule: AlertRule) -> str:
        url = reverse("admin:followup_alertrule_dry_run", args=[rule.pk])
        return format_html('<a href="{}">{}</a>', url, _("Test against the last 30 days"))

    def get_urls(self):
        view = self.admin_site.admin_view(self.dry_run_view)
        return [path("<int:rule_id>/dry-run/", view, name="followup_alertrule_dry_run"), *super().get_urls()]

    def dry_run_view(self, request: HttpRequest, rule_id: int) -> HttpResponse:
        """How often the rule, as saved, would have fired in the last 30 days, with a sample."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        rule = get_object_or_404(self.get_queryset(request).select_related("survey"), pk=rule_id)
        result = dry_run(rule, now=timezone.now(), days=DRY_RUN_DAYS)
        sample = [
            (response, excerpt(response.comment), response_link(response)) for response in result.sample
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": rule,
            "title": gettext("Dry run of %(rule)s") % {"rule": rule.name},
            "result": result,
            "sample": sample,
            "days": DRY_RUN_DAYS,
        }
        return TemplateResponse(request, "followup/admin/dry_run.html", context)


def _active_staff():
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")


class ReplyTemplateForm(forms.ModelForm):
    """The subject and text are checked as survey emails are, with ``{{ score }}`` besides."""

    class Meta:
        model = ReplyTemplate
        fields = ["name", "language", "survey", "subject", "body"]
        help_texts = {
            "body": _(
                "Placeholders: {{ contact.name }}, {{ contact.email }}, {{ properties.<name> }}, "
                "{{ brand }} and {{ score }}, the answer's score."
            )
        }

    def clean_subject(self) -> str:
        return _checked(self.cleaned_data["subject"])

    def clean_body(self) -> str:
        return _checked(self.cleaned_data["body"])


def _checked(text: str) -> str:
    validate_reply_text(text)
    return text


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    form = ReplyTemplateForm
    list_display = ["name", "language", "survey", "subject"]
    list_filter = ["language"]
    search_fields = ["name", "subject"]

    def get_queryset(self, request):
        """Templates for every survey and for the user's surveys; another team's "do not exist"."""
        visible = Survey.objects.visible_to(request.user)
        return super().get_queryset(request).filter(Q(survey=None) | Q(survey__in=visible))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "survey":
            kwargs["queryset"] = Survey.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
