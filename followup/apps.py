from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        from anymail.signals import inbound

        from followup.demo import seed_loop
        from followup.receivers import queue_evaluation, queue_themed_evaluations
        from followup.replies import record_inbound_reply
        from insights.signals import themes_given
        from surveys.signals import demo_seeded, response_saved

        demo_seeded.connect(seed_loop, dispatch_uid="followup.demo")
        inbound.connect(record_inbound_reply, dispatch_uid="followup.record_inbound_reply")
        response_saved.connect(queue_evaluation, dispatch_uid="followup.receivers.evaluation")
        themes_given.connect(queue_themed_evaluations, dispatch_uid="followup.receivers.themed_evaluations")
