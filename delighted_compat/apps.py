from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DelightedCompatConfig(AppConfig):
    """Delighted's API, webhooks and exports, answered and read over CXSurvey's own models."""

    name = "delighted_compat"
    verbose_name = _("Delighted compatibility")
