"""What ``followup`` does when an answer is stored or changed, or its comment got its themes: queue
it for the alert rules."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from followup import tasks
from followup.models import AlertRule, Case, Evaluation
from insights.models import ResponseTheme
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


def queue_themed_evaluations(sender, *, response_ids: list[int], **kwargs) -> None:
    """Queue the answers of a batch of the themes' sweep for the rules with a theme condition,
    inside the batch's transaction: only those whose comment has a theme that an active rule of
    their survey asks for. One query per batch; an insert only where such a rule watches."""
    watching = AlertRule.themes.through.objects.filter(
        theme_id=OuterRef("theme_id"),
        alertrule__active=True,
        alertrule__survey_id=OuterRef("response__survey_id"),
    )
    watched = (
        ResponseTheme.objects.filter(response_id__in=response_ids)
        .filter(Exists(watching))
        .values_list("response_id", flat=True)
        .distinct()
    )
    now = timezone.now()
    evaluations = Evaluation.objects.bulk_create(
        Evaluation(response_id=response_id, themed=True, created_at=now, due_at=now)
        for response_id in watched
    )
    for evaluation in evaluations:
        tasks.enqueue(evaluation.pk)
