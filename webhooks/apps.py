from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Webhooks: tells subscribers' systems of responses, bounces, unsubscriptions, alerts and
    follow-up cases. Reads ``surveys`` and ``followup``."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from followup.signals import alert_fired, case_saved
        from surveys.signals import contact_unsubscribed, invitation_bounced, response_saved
        from webhooks.events import queue_alert, queue_bounce, queue_case, queue_response, queue_unsubscribe
        from webhooks.formats import register_default

        register_default()
        response_saved.connect(queue_response, dispatch_uid="webhooks.events.response")
        invitation_bounced.connect(queue_bounce, dispatch_uid="webhooks.events.bounce")
        contact_unsubscribed.connect(queue_unsubscribe, dispatch_uid="webhooks.events.unsubscribe")
        alert_fired.connect(queue_alert, dispatch_uid="webhooks.events.alert")
        case_saved.connect(queue_case, dispatch_uid="webhooks.events.case")
