"""Alert rules at work: new and changed answers are checked against their survey's active rules
after the answer's commit, and a rule that matches fires once per answer.

1. ``followup.receivers.queue_evaluation`` (a receiver of ``surveys.signals.response_saved``) writes an
   ``Evaluation`` row in the answer's transaction, only if the survey has an active rule or the
   score of an answer with a case changed: one indexed EXISTS for every answer, one insert for
   those that need it. A task is handed to the broker after the commit; the periodic sweep
   (``followup.tasks.evaluate``, also run by ``manage.py runtasks``) takes what it missed.
   Rules with a theme condition wait for the comment's themes, given in the background
   (``insights.themes.sweep``, within a minute): that evaluation leaves them out, and once the
   themes are given ``followup.receivers.queue_themed_evaluations`` queues one for them alone
   (``Evaluation.themed``), for the answers that have a theme such a rule asks for.
2. A worker claims rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE on
   SQLite) and, in one transaction per answer, notes a revised score on the answer's case,
   records an ``Alert`` for each matching rule (the unique key lets a rule fire once per answer,
   however often the answer is evaluated) and does the rule's database actions: opens the case,
   tags the answer, queues the signed webhook (``followup.signals.alert_fired``) and the Slack
   and Teams posts (``ChatPost`` rows), and deletes the row.
3. After that commit, slow I/O: the instant email to the rule's users and the chat posts. An
   email is recorded as sent (``Alert.notified_at``) before it is sent and the record undone if
   the mail server refuses it; the sweep tries again for a day. A chat post that fails waits
   longer each time and is given up after a day. Alerts of rules with ``delivery == "digest"``
   wait for the digest with ``notified_at`` empty.
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.translation import override

from followup import chat
from followup.cases import open_case, record_revised_answer
from followup.chat import excerpt
from followup.links import response_link
from followup.models import Alert, AlertRule, ChatPost, Evaluation, ResponseTag
from followup.rules import Conditions, previous_score
from followup.signals import alert_fired
from insights.models import ResponseTheme, Theme
from surveys.access import may_read_responses
from surveys.email.messages import render_email
from surveys.models import Response, Survey
from webhooks import outbound

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
CLAIM_LEASE = timedelta(minutes=5)
# Waits after the 1st, 2nd, … failed attempt (evaluations and chat posts); the last one repeats.
RETRY_WAITS = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1))
GIVE_UP_AFTER = timedelta(hours=24)


# Claiming and running evaluations.


def _unclaimed(now: datetime) -> Q:
    return Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)


def claim_due_evaluations(*, now: datetime, limit: int) -> list[int]:
    """Mark up to ``limit`` due evaluations as taken by this worker; their ids."""
    due = Evaluation.objects.filter(_unclaimed(now), due_at__lte=now).order_by("due_at")
    claim = {"claimed_at": now, "attempts": F("attempts") + 1}
    with transaction.atomic():
        if db.features.has_select_for_update_skip_locked:
            ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            Evaluation.objects.filter(pk__in=ids).update(**claim)
            return ids
        # SQLite has one writer at a time; a conditional update per row tells who won.
        candidates = list(due.values_list("pk", flat=True)[:limit])
        return [pk for pk in candidates if Evaluation.objects.filter(_unclaimed(now), pk=pk).update(**claim)]


def evaluate_due(*, batch_size: int = BATCH_SIZE) -> int:
    """Run one batch of due evaluations; how many were claimed."""
    claimed = claim_due_evaluations(now=timezone.now(), limit=batch_size)
    for evaluation_id in claimed:
        run_evaluation(evaluation_id, now=timezone.now())
    return len(claimed)


def evaluate_if_due(evaluation_id: int) -> None:
    """Run one evaluation now unless another worker has it (the task handed off after the commit)."""
    now = timezone.now()
    taken = Evaluation.objects.filter(_unclaimed(now), pk=evaluation_id, due_at__lte=now).update(
        claimed_at=now, attempts=F("attempts") + 1
    )
    if taken:
        run_evaluation(evaluation_id, now=now)


def run_evaluation(evaluation_id: int, *, now: datetime) -> list[Alert]:
    """Evaluate one claimed answer and do what the fired rules ask; the alerts fired now. A failure
    is logged and the evaluation tried again later (what it wrote rolls back)."""
    evaluation = Evaluation.objects.filter(pk=evaluation_id).first()
    if evaluation is None:
        return []
    try:
        with transaction.atomic():
            fired = _evaluate(evaluation, now=now)
            Evaluation.objects.filter(pk=evaluation.pk).delete()
    except Exception:
        logger.exception("Evaluating the alert rules for response %s failed", evaluation.response_id)
        wait = RETRY_WAITS[min(evaluation.attempts, len(RETRY_WAITS)) - 1]
        Evaluation.objects.filter(pk=evaluation.pk).update(claimed_at=None, due_at=now + wait)
        return []
    notify(fired, now=now)
    return fired


def _evaluate(evaluation: Evaluation, *, now: datetime) -> list[Alert]:
    response = (
        Response.objects.select_related("survey", "touchpoint")
        .annotate(previous_score=previous_score())
        .get(pk=evaluation.response_id)
    )
    if evaluation.old_score is not None:
        record_revised_answer(response, old_score=evaluation.old_score, now=now)
    rules = (
        AlertRule.objects.filter(survey_id=response.survey_id, active=True)
        .exclude(alerts__response=response)
        .select_related("assignee", "team")
        .prefetch_related("touchpoints", "tags")
    )
    with_themes = Exists(AlertRule.themes.through.objects.filter(alertrule_id=OuterRef("pk")))
    if evaluation.themed:
        rules = rules.filter(with_themes).prefetch_related("themes")
        themes = frozenset(ResponseTheme.objects.filter(response=response).values_list("theme_id", flat=True))
    else:
        # The rules without themes: none to read.
        rules = rules.exclude(with_themes).prefetch_related(Prefetch("themes", queryset=Theme.objects.none()))
        themes = frozenset()
    fired = []
    for rule in rules:
        matches = Conditions.of(rule).match(response, previous_score=response.previous_score, themes=themes)
        if matches and (alert := fire(rule, response, now=now)) is not None:
            fired.append(alert)
    return fired


def fire(rule: AlertRule, response: Response, *, now: datetime) -> Alert | None:
    """Record that ``rule`` fired for ``response`` and do its database actions; None if it had
    fired for it already (a concurrent evaluation of the same answer)."""
    instant_email = rule.delivery == AlertRule.Delivery.INSTANT and rule.notify.exists()
    # Nothing to tell at once counts as told, so that only digest alerts and unsent emails wait.
    told = None if instant_email or rule.delivery == AlertRule.Delivery.DIGEST else now
    try:
        with transaction.atomic():
            alert = Alert.objects.create(rule=rule, response=response, fired_at=now, notified_at=told)
    except IntegrityError:
        return None
    if rule.open_case:
        open_case(
            response=response,
            now=now,
            rule=rule,
            assignee=rule.assignee if rule.assignee and rule.assignee.is_active else None,
            team=rule.team,
            sla_hours=rule.sla_hours,
        )
    tags = [ResponseTag(response=response, tag=tag, rule=rule, created_at=now) for tag in rule.tags.all()]
    ResponseTag.objects.bulk_create(tags, ignore_conflicts=True)  # a tag set earlier stays as it was
    posts = [
        ChatPost(alert=alert, service=service, url=url, created_at=now, next_attempt_at=now)
        for service, url in (
            (ChatPost.Service.SLACK, rule.slack_url),
            (ChatPost.Service.TEAMS, rule.teams_url),
        )
        if url
    ]
    ChatPost.objects.bulk_create(posts)
    if rule.send_webhook:
        alert_fired.send(sender=Alert, alert=alert)
    return alert


# Telling people, after the commit.


def notify(alerts: list[Alert], *, now: datetime) -> None:
    """Send the instant emails and the chat posts of alerts that were just recorded."""
    for alert in alerts:
        if alert.notified_at is None and alert.rule.delivery == AlertRule.Delivery.INSTANT:
            send_alert_email(alert.pk, now=now)
    for post_id in ChatPost.objects.filter(alert__in=alerts).values_list("pk", flat=True):
        if _claim_post(post_id, now=now):
            send_chat_post(post_id, now=now)


def send_alert_email(alert_id: int, *, now: datetime) -> bool:
    """Email the rule's active users of an instant alert not yet told; whether it was sent. It is
    recorded as sent first (so that two workers do not both send it) and the record undone if
    the mail server refuses it."""
    if not Alert.objects.filter(pk=alert_id, notified_at__isnull=True).update(notified_at=now):
        return False
    alert = Alert.objects.select_related("rule__survey", "response__touchpoint").get(pk=alert_id)
    # Only those who may still read the survey's answers learn of one.
    recipients = [
        user.email
        for user in alert.rule.notify.filter(is_active=True).exclude(email="")
        if may_read_responses(user)
        and Survey.objects.visible_to(user).filter(pk=alert.rule.survey_id).exists()
    ]
    if not recipients:
        return True
    response = alert.response
    context = {
        "rule": alert.rule,
        "response": response,
        "survey": alert.rule.survey,
        "touchpoint": response.touchpoint,
        "excerpt": excerpt(response.comment),
        "link": response_link(response),
    }
    language = settings.LANGUAGE_CODE
    try:
        with override(language):
            render_email("followup/email/alert", context, language=language, to=recipients).send()
    except Exception:
        logger.exception("Could not email alert %s; it is tried again", alert_id)
        Alert.objects.filter(pk=alert_id, notified_at=now).update(notified_at=None)
        return False
    return True


def _claim_post(post_id: int, *, now: datetime) -> bool:
    return bool(
        ChatPost.objects.filter(_unclaimed(now), pk=post_id, next_attempt_at__lte=now).update(
            claimed_at=now, attempts=F("attempts") + 1
        )
    )


def send_chat_post(post_id: int, *, now: datetime) -> bool:
    """Post one claimed chat message; whether it arrived. Sent or given up, the row is deleted;
    else it waits for the next attempt. The message is written when it is sent, from the answer
    as it is then: a comment erased meanwhile is not posted."""
    post = (
        ChatPost.objects.select_related("alert__rule__survey", "alert__response__touchpoint")
        .filter(pk=post_id)
        .first()
    )
    if post is None:
        return False
    build = chat.slack_payload if post.service == ChatPost.Service.SLACK else chat.teams_payload
    payload = build(post.alert.rule, post.alert.response)
    answer = outbound.post(post.url, body=json.dumps(payload).encode(), headers={})
    if answer.ok:
        post.delete()
        return True
    error = answer.error or f"HTTP {answer.status}: {answer.body[:200]}"
    if now - post.created_at >= GIVE_UP_AFTER:
        logger.error("Gave up posting alert %s to %s: %s", post.alert_id, post.service, error)
        post.delete()
        return False
    logger.warning("Posting alert %s to %s failed: %s", post.alert_id, post.service, error)
    wait = answer.retry_after or RETRY_WAITS[min(post.attempts, len(RETRY_WAITS)) - 1]
    ChatPost.objects.filter(pk=post.pk).update(
        claimed_at=None, next_attempt_at=now + wait, last_error=error[:1000]
    )
    return False


def deliver_pending(*, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """The sweep of what an earlier attempt left: instant emails not sent (for a day) and chat
    posts due again; how many went out."""
    emails = Alert.objects.filter(
        notified_at__isnull=True,
        rule__delivery=AlertRule.Delivery.INSTANT,
        fired_at__gte=now - GIVE_UP_AFTER,
        fired_at__lte=now - timedelta(seconds=30),  # the worker that fired it sends it first
    ).values_list("pk", flat=True)[:batch_size]
    sent = 0
    for alert_id in emails:
        sent += send_alert_email(alert_id, now=now)
    posts = ChatPost.objects.filter(_unclaimed(now), next_attempt_at__lte=now).order_by("next_attempt_at")
    for post_id in posts.values_list("pk", flat=True)[:batch_size]:
        if _claim_post(post_id, now=now):
            sent += send_chat_post(post_id, now=now)
    return sent
