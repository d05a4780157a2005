from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        from followup.demo import seed_loop
        from followup.receivers import queue_evaluation
        from surveys.signals import demo_seeded, response_saved

        demo_seeded.connect(seed_loop, dispatch_uid="followup.demo")
        response_saved.connect(queue_evaluation, dispatch_uid="followup.receivers.evaluation")
