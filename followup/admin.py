"""The back office's pages of the follow-up: the reply templates."""

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from followup.models import ReplyTemplate
from surveys.models import Survey
from surveys.texts import validate_email_text


class ReplyTemplateForm(forms.ModelForm):
    """The subject and text are checked as survey texts are, with ``{score}`` besides."""

    class Meta:
        model = ReplyTemplate
        fields = ["name", "language", "survey", "subject", "body"]
        help_texts = {
            "body": _(
                "Placeholders: {{ contact.name }}, {{ contact.email }}, {{ properties.<name> }}, {brand} "
                "and {score}, the answer's score."
            )
        }

    def clean_subject(self) -> str:
        return _checked(self.cleaned_data["subject"])

    def clean_body(self) -> str:
        return _checked(self.cleaned_data["body"])


def _checked(text: str) -> str:
    validate_email_text(text.replace("{score}", "0"))
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
