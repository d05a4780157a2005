from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        from anymail.signals import inbound

        from followup.replies import record_inbound_reply

        inbound.connect(record_inbound_reply, dispatch_uid="followup.record_inbound_reply")
