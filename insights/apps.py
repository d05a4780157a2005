from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from insights.demo import seed_themes
        from surveys.signals import demo_seeded

        demo_seeded.connect(seed_themes, dispatch_uid="insights.demo")
