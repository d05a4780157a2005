"""Closing the loop: tags on answers, the alert rules that watch new answers, the follow-up cases
they open, each case's timeline (notes, replies, changes), the reply templates, and who wants a
digest.

A case belongs to one answer and, through it, to one survey: whoever may see the survey (its
teams, ``surveys.access``) and holds the permission may see and work on its cases.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from insights.models import Theme
from surveys.models import Language, Response, Survey, Team, Touchpoint, new_token

NAME_MAX_LENGTH = 50


class Tag(models.Model):
    """A label on answers ("Lieferung", "Rückruf"), set by hand or by an alert rule."""

    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    responses = models.ManyToManyField(
        Response, through="ResponseTag", related_name="tags", verbose_name=_("responses"), blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [
            # "Lieferung" and "lieferung" are one tag.
            models.UniqueConstraint(Lower("name"), name="tag_name_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.name


class ResponseTag(models.Model):
    """One tag on one answer: who or which rule set it, and when."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="taggings")
    rule = models.ForeignKey(
        "AlertRule", verbose_name=_("rule"), on_delete=models.SET_NULL, null=True, blank=True
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("added by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("tag of a response")
        verbose_name_plural = _("tags of responses")
        constraints = [
            models.UniqueConstraint(fields=["response", "tag"], name="response_tag_once"),
        ]
        indexes = [
            # Filters by tag: the answers that carry one (the unique constraint serves the reverse).
            models.Index(fields=["tag", "response"], name="response_tag_by_tag_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.response_id}"


class AlertRule(models.Model):
    """What to do when a new or changed answer of a survey meets every condition.

    An empty condition does not restrict: a rule with none fires on every answer. A rule
    starts switched off, to be tried against the last days' answers first (``followup.rules``)."""

    class Delivery(models.TextChoices):
        INSTANT = "instant", _("at once")
        DIGEST = "digest", _("in the digest")

    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="alert_rules"
    )
    name = models.CharField(_("name"), max_length=200)
    active = models.BooleanField(_("active"), default=False)
    # Conditions
    categories = models.JSONField(
        _("categories"), default=list, blank=True, help_text=_("For example detractor; empty: any.")
    )
    score_min = models.SmallIntegerField(_("lowest score"), null=True, blank=True)
    score_max = models.SmallIntegerField(_("highest score"), null=True, blank=True)
    score_drop = models.PositiveSmallIntegerField(
        _("drop against the previous answer"),
        null=True,
        blank=True,
        help_text=_("Points below the customer's previous answer to this survey."),
    )
    touchpoints = models.ManyToManyField(Touchpoint, verbose_name=_("touchpoints"), blank=True)
    properties = models.JSONField(
        _("properties"),
        default=dict,
        blank=True,
        help_text=_('Names and the values that match: {"region": ["Nord"]}.'),
    )
    words = models.TextField(
        _("words in the comment"),
        blank=True,
        help_text=_("One per line; any matches, inflected forms too."),
    )
    themes = models.ManyToManyField(
        Theme,
        verbose_name=_("themes"),
        blank=True,
        related_name="alert_rules",
        help_text=_(
            "Any of them. Comments get their themes in the background, so a rule with themes "
            "looks at an answer about a minute after it arrives."
        ),
    )
    # Actions
    open_case = models.BooleanField(_("open a follow-up case"), default=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    team = models.ForeignKey(Team, verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True)
    sla_hours = models.PositiveIntegerField(_("due within (hours)"), default=48)
    notify = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("notify by email"), blank=True, related_name="alert_rules"
    )
    delivery = models.CharField(_("notify"), max_length=8, choices=Delivery.choices, default=Delivery.INSTANT)
    slack_url = models.URLField(_("Slack incoming webhook"), max_length=500, blank=True)
    teams_url = models.URLField(_("Microsoft Teams incoming webhook"), max_length=500, blank=True)
    send_webhook = models.BooleanField(
        _("send the signed webhook"),
        default=False,
        help_text=_("The event alert.fired to webhook subscriptions."),
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("add tags"), blank=True, related_name="rules")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["survey", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(delivery__in=["instant", "digest"]), name="alert_rule_delivery_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(score_min__isnull=True)
                | models.Q(score_max__isnull=True)
                | models.Q(score_min__lte=models.F("score_max")),
                name="alert_rule_score_range_valid",
            ),
        ]
        indexes = [
            # Every answer asks for its survey's active rules.
            models.Index(fields=["survey"], condition=models.Q(active=True), name="alert_rule_active_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class CaseStatus(models.TextChoices):
    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    WAITING = "waiting", _("waiting for customer")
    RESOLVED = "resolved", _("resolved")
    NO_ACTION = "no_action", _("no action needed")


# Cases that still need someone.
OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.IN_PROGRESS, CaseStatus.WAITING)
CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.NO_ACTION)


class CaseResolution(models.TextChoices):
    SOLVED = "solved", _("problem solved")
    EXPLAINED = "explained", _("explained, nothing to change")
    COMPENSATED = "compensated", _("compensated")
    FEEDBACK_PASSED_ON = "passed_on", _("passed on to the product team")
    NOT_REACHABLE = "not_reachable", _("customer not reachable")
    OTHER = "other", _("other")


def overdue_condition(now: datetime) -> models.Q:
    """Cases open past their due time, as the inbox, the dashboard, the home page and the digest
    count them."""
    return models.Q(status__in=OPEN_STATUSES, due_at__lt=now)


class CaseQuerySet(models.QuerySet):
    def open(self) -> "CaseQuerySet":
        return self.filter(status__in=OPEN_STATUSES)

    def overdue(self, now: datetime) -> "CaseQuerySet":
        """Open cases whose due time has passed."""
        return self.filter(overdue_condition(now))


class Case(models.Model):
    """The follow-up of one answer: who works on it, by when, and how it ended."""

    Status = CaseStatus
    Resolution = CaseResolution

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    response = models.OneToOneField(
        Response, verbose_name=_("response"), on_delete=models.CASCADE, related_name="case"
    )
    # Copies of the answer's, for the inbox's filters and the access check without a join.
    survey = models.ForeignKey(
        Survey, verbose_name=_("survey"), on_delete=models.CASCADE, related_name="cases"
    )
    touchpoint = models.ForeignKey(
        Touchpoint, verbose_name=_("touchpoint"), on_delete=models.SET_NULL, null=True, blank=True
    )
    rule = models.ForeignKey(
        AlertRule,
        verbose_name=_("rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    # The score when the case was opened: a revised answer shows against it.
    opening_score = models.SmallIntegerField(_("score when opened"))
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    # The first reply to the customer, or the first time someone took the case up.
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("closed"), null=True, blank=True)
    resolution = models.CharField(_("resolution"), max_length=16, choices=Resolution.choices, blank=True)
    created_at = models.DateTimeField(_("opened"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["due_at", "created_at"]
        permissions = [("reply_case", _("Can reply to the customer of a case"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CaseStatus.values), name="case_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(resolution="") | models.Q(resolution__in=CaseResolution.values),
                name="case_resolution_valid",
            ),
            # A closed case knows when it closed; an open one does not.
            models.CheckConstraint(
                condition=models.Q(status__in=CLOSED_STATUSES, resolved_at__isnull=False)
                | models.Q(status__in=OPEN_STATUSES, resolved_at__isnull=True),
                name="case_resolved_at_matches_status",
            ),
        ]
        indexes = [
            # The inbox: a survey's open cases by due time.
            models.Index(fields=["survey", "status", "due_at"], name="case_survey_status_due_idx"),
            # "Mine": a user's cases by status.
            models.Index(fields=["assignee", "status"], name="case_assignee_status_idx"),
            # The loop's figures over a period.
            models.Index(fields=["survey", "created_at"], name="case_survey_created_idx"),
        ]

    def __str__(self) -> str:
        return str(self.public_id)

    def get_absolute_url(self) -> str:
        return reverse("followup:case", args=[self.public_id])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def sla_state(self, now: datetime) -> str:
        """ "none" without a due time, "met" or "missed" once answered or closed, else "overdue",
        "due_soon" (within a quarter of the time given, at most a day) or "on_track"."""
        if self.due_at is None:
            return "none"
        done = self.first_response_at or self.resolved_at
        if done is not None:
            return "met" if done <= self.due_at else "missed"
        if now > self.due_at:
            return "overdue"
        warning = min((self.due_at - self.created_at) / 4, timedelta(days=1))
        return "due_soon" if self.due_at - now <= warning else "on_track"


class CaseEntryKind(models.TextChoices):
    OPENED = "opened", _("opened")
    NOTE = "note", _("note")
    STATUS = "status", _("status changed")
    ASSIGNED = "assigned", _("assigned")
    SCORE_CHANGED = "score", _("answer changed")
    REPLY_SENT = "reply_sent", _("reply sent")
    REPLY_RECEIVED = "reply_received", _("reply received")
    TAGGED = "tagged", _("tags changed")
    RECHECKED = "rechecked", _("customer asked again")


class CaseEntry(models.Model):
    """One line of a case's timeline: opened, a note, a change, a reply sent or received."""

    Kind = CaseEntryKind

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.SET_NULL, null=True, blank=True
    )
    text = models.TextField(_("text"), blank=True, max_length=20000)
    # What changed ({"from": …, "to": …}), the reply's subject and addresses: structured, small.
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Replies: the email's Message-ID, and the one it answers, to thread the conversation.
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    in_reply_to = models.CharField(_("In-Reply-To"), max_length=255, blank=True)
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("mentions"), blank=True, related_name="case_mentions"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("case entry")
        verbose_name_plural = _("case entries")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=CaseEntryKind.values), name="case_entry_kind_valid"
            ),
        ]
        indexes = [
            # A case's timeline.
            models.Index(fields=["case", "created_at"], name="case_entry_timeline_idx"),
            # An inbound reply finds the message it answers.
            models.Index(
                fields=["message_id"], condition=~models.Q(message_id=""), name="case_entry_message_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.created_at:%Y-%m-%d %H:%M})"


class RecheckStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    SENDING = "sending", _("being sent")
    SENT = "sent", _("sent")
    SKIPPED = "skipped", _("not sent")
    FAILED = "failed", _("failed")


class Recheck(models.Model):
    """ "Was your issue solved?": asked some days after a case was resolved, if its touchpoint says so
    (``Touchpoint.recheck_after_days``), and answered yes or no by the customer. Counted apart
    from the survey: it is a question about the follow-up, not about the touchpoint."""

    Status = RecheckStatus

    case = models.OneToOneField(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="recheck"
    )
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_token, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    skip_reason = models.CharField(_("why not sent"), max_length=32, blank=True)
    due_at = models.DateTimeField(_("due"))
    claimed_at = models.DateTimeField(_("claimed by a sender"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=1000, blank=True)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    solved = models.BooleanField(_("issue solved"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True, max_length=5000)

    class Meta:
        verbose_name = _("question after a case")
        verbose_name_plural = _("questions after cases")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RecheckStatus.values), name="recheck_status_valid"
            ),
            # An answer says yes or no; without one there is nothing to say.
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True, solved__isnull=True)
                | models.Q(answered_at__isnull=False, solved__isnull=False),
                name="recheck_answer_complete",
            ),
        ]
        indexes = [
            # The sender: scheduled questions by due time.
            models.Index(fields=["due_at"], condition=models.Q(status="scheduled"), name="recheck_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case} ({self.status})"


class ReplyTemplate(models.Model):
    """A reply to a customer, in one language, with placeholders filled from the answer."""

    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"), max_length=10000)
    survey = models.ForeignKey(
        Survey,
        verbose_name=_("survey"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text=_("Empty: for every survey."),
    )

    class Meta:
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="reply_template_name_language_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class Alert(models.Model):
    """A rule fired for an answer: at most once per rule and answer, so a retried evaluation or a
    revised answer does not alert twice. Alerts delivered in the digest wait here for it."""

    rule = models.ForeignKey(
        AlertRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="alerts"
    )
    response = models.ForeignKey(
        Response, verbose_name=_("response"), on_delete=models.CASCADE, related_name="alerts"
    )
    fired_at = models.DateTimeField(_("fired"), default=timezone.now)
    # When the digest (or the instant email) told the rule's users; null while it waits.
    notified_at = models.DateTimeField(_("notified"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(fields=["rule", "response"], name="alert_once_per_rule_and_response")
        ]
        indexes = [
            # The digest: alerts still waiting to be told.
            models.Index(
                fields=["rule"], condition=models.Q(notified_at__isnull=True), name="alert_waiting_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} for {self.response_id}"


class Digest(models.Model):
    """A user's wish for a daily or weekly email with their surveys' numbers and cases."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("daily")
        WEEKLY = "weekly", _("weekly (Mondays)")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest")
    frequency = models.CharField(
        _("frequency"), max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY
    )
    hour = models.PositiveSmallIntegerField(_("hour"), default=8, help_text=_("Local time, 0–23."))
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Berlin")
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.DE)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        constraints = [
            models.CheckConstraint(condition=models.Q(hour__lte=23), name="digest_hour_valid"),
            models.CheckConstraint(
                condition=models.Q(frequency__in=["daily", "weekly"]), name="digest_frequency_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.frequency})"


class Evaluation(models.Model):
    """An answer to check against its survey's active rules, written in the transaction that stored
    or changed it and claimed by a worker after the commit (``followup.alerts``): the answering
    request pays one insert, and an answer is not lost when a worker or the broker is down."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    # The score before a revision changed it; null for a new answer or an unchanged score.
    old_score = models.SmallIntegerField(null=True, blank=True)
    # Queued by the themes' sweep once the answer's comment got its themes: for the rules with a
    # theme condition only, which the evaluation queued when the answer was stored leaves out.
    themed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Taken by a worker; a claim older than the lease belongs to a worker that stopped.
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Workers claim the due rows, oldest first.
            models.Index(fields=["due_at"], name="evaluation_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.response_id} ({self.created_at:%Y-%m-%d %H:%M})"


class ChatPost(models.Model):
    """A fired alert's post to a Slack or Microsoft Teams incoming webhook, queued with the alert
    and sent after its commit; deleted once sent or given up. The message itself is written when
    it is sent, so that no copy of a comment waits here."""

    class Service(models.TextChoices):
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="chat_posts")
    service = models.CharField(max_length=8, choices=Service.choices)
    url = models.URLField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(service__in=["slack", "teams"]), name="chat_post_service_valid"
            ),
        ]
        indexes = [
            # Workers claim the due posts.
            models.Index(fields=["next_attempt_at"], name="chat_post_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service} for {self.alert_id}"
