from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DelightedCompatConfig(AppConfig):
    """Delighted's API, webhooks and exports, answered and read over CXSurvey's own models."""

    name = "delighted_compat"
    verbose_name = _("Delighted compatibility")

    def ready(self) -> None:
        from delighted_compat.webhooks import payload_format
        from privacy.places import PLACES, Owned
        from webhooks.formats import register

        # A member's Autopilot properties are the person's data: shown in the access export and
        # erased with them, before the contact itself (the last place).
        if not any(place.name == "autopilot" for place in PLACES):
            PLACES.insert(
                len(PLACES) - 1,
                Owned(
                    "autopilot",
                    _("Delighted Autopilot"),
                    "delighted_compat.AutopilotMembership",
                    ("properties", "next_at", "created_at"),
                ),
            )

        register(payload_format())
