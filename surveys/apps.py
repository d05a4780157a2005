from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = _("Surveys")

    def ready(self) -> None:
        from anymail.signals import tracking
        from corsheaders.signals import check_request_enabled
        from django.db.models.signals import post_migrate

        from surveys import checks  # noqa: F401  (registers the system checks)
        from surveys.answering.widget import allow_widget_origin
        from surveys.email.tracking import record_tracking_event
        from surveys.models import sync_tally_zone
        from surveys.roles import ensure_roles

        check_request_enabled.connect(allow_widget_origin, dispatch_uid="surveys.answering.widget.origin")
        tracking.connect(record_tracking_event, dispatch_uid="surveys.email.tracking.event")
        # The tallies count days in the installation's time zone: recounted when it changes.
        post_migrate.connect(sync_tally_zone, sender=self, dispatch_uid="surveys.models.tallies.zone")
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="surveys.roles")
