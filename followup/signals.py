"""What happens to cases that other apps act on (webhooks), sent inside the change's transaction
like ``surveys.signals``: a receiver queues, it does no slow work."""

from django.dispatch import Signal

# A case was opened (``created=True``) or changed: ``case``, ``created``, ``changes`` (field → (old, new)).
case_saved = Signal()
# A rule that sends the signed webhook fired for an answer: ``alert``.
alert_fired = Signal()
