"""The insights' filters: the dashboard's, and the comments' language."""

from django import forms
from django.utils.translation import gettext_lazy as _

from feedback.forms import DashboardFilterForm
from surveys.models.survey import Language

COMPARISONS = {
    "categories": _("the lowest category against the highest"),
    "previous": _("this period against the previous one"),
}


class InsightsFilterForm(DashboardFilterForm):
    """The dashboard's filters plus the language of the comments (any if empty)."""

    language = forms.ChoiceField(
        label=_("language"), choices=[("", _("any")), *Language.choices], required=False
    )


class TermsQueryForm(InsightsFilterForm):
    """The API's question: which comparison, with the insights' filters."""

    compare = forms.ChoiceField(label=_("comparison"), choices=COMPARISONS.items())
