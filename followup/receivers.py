"""What ``followup`` does when an answer is stored or changed: queue it for the alert rules."""

from django.utils import timezone

from followup import tasks
from followup.models import AlertRule, Case, Evaluation
from surveys.models import Response


def queue_evaluation(
    sender, *, response: Response, created: bool, old_score: int | None = None, **kwargs
) -> None:
    """Queue the answer for its survey's rules (``followup.alerts``) inside its transaction, if it
    has an active rule or a case whose answer's score changed; else nothing is written. The check is
    one EXISTS on the index of active rules, so an answer pays one cheap query, and one insert
    only where rules watch."""
    if not AlertRule.objects.filter(survey_id=response.survey_id, active=True).exists() and (
        old_score is None or not Case.objects.filter(response_id=response.pk).exists()
    ):
        return
    now = timezone.now()
    evaluation = Evaluation.objects.create(response=response, old_score=old_score, created_at=now, due_at=now)
    tasks.enqueue(evaluation.pk)
