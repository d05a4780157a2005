"""What the Delighted compatibility layer keeps beside CXSurvey's own models: which API token
stands for which Delighted project, and who is on a project's Autopilot.

Everything else (people, responses, unsubscribes, bounces, metrics) is read from and written to
CXSurvey's contacts, answers and invitations; nothing is stored twice.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models import ApiToken, Contact, Touchpoint

DEFAULT_AUTOPILOT_DAYS = 90


class Project(models.Model):
    """A Delighted project as this installation answers it.

    Integrations send the API token as their Delighted API key. Its survey is the project: the
    responses, metrics and people the key reads. ``POST /people`` asks through ``touchpoint``, with
    all of its rules; Autopilot asks its members through ``autopilot_touchpoint`` every
    ``autopilot_days``. What the token may do is still its user's roles and teams.
    """

    token = models.OneToOneField(
        ApiToken,
        verbose_name=_("API token"),
        on_delete=models.CASCADE,
        related_name="delighted_project",
        help_text=_("Integrations send this token as their Delighted API key."),
    )
    touchpoint = models.ForeignKey(
        Touchpoint,
        verbose_name=_("touchpoint"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("People sent to /people.json are asked through it."),
    )
    autopilot_touchpoint = models.ForeignKey(
        Touchpoint,
        verbose_name=_("Autopilot touchpoint"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Autopilot asks its members through it again and again. Empty: none."),
    )
    autopilot_days = models.PositiveSmallIntegerField(
        _("Autopilot frequency (days)"),
        default=DEFAULT_AUTOPILOT_DAYS,
        validators=[MinValueValidator(1)],
        help_text=_("How often each member of Autopilot is asked."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("Delighted project")
        verbose_name_plural = _("Delighted projects")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(autopilot_days__gte=1), name="delighted_autopilot_days"
            ),
        ]

    def __str__(self) -> str:
        return str(self.touchpoint.survey)

    def clean(self) -> None:
        autopilot = self.autopilot_touchpoint
        if autopilot is not None and self.touchpoint_id and autopilot.survey_id != self.touchpoint.survey_id:
            raise ValidationError(
                {"autopilot_touchpoint": _("Choose a touchpoint of the same survey as the project's.")}
            )

    @property
    def survey_id(self) -> int:
        return self.touchpoint.survey_id

    @property
    def autopilot_frequency(self) -> timedelta:
        return timedelta(days=self.autopilot_days)


class AutopilotMembership(models.Model):
    """A person on a project's Autopilot: asked through its Autopilot touchpoint every
    ``autopilot_days``, each time as a new event with these properties, until removed."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="autopilot_memberships")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    properties = models.JSONField(_("event properties"), default=dict, blank=True)
    next_at = models.DateTimeField(_("next survey"))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("Autopilot membership")
        verbose_name_plural = _("Autopilot memberships")
        constraints = [
            models.UniqueConstraint(fields=["project", "contact"], name="delighted_autopilot_member_once"),
        ]
        indexes = [models.Index(fields=["next_at"], name="delighted_autopilot_due_idx")]

    def __str__(self) -> str:
        return f"{self.project} → {self.contact_id}"


class ImportedResponse(models.Model):
    """A response brought in from a Delighted export, by the key it had there: its Response ID, or
    for rows without one a hash of email, time, score and comment (``delighted_compat.importer``).
    Importing the same row again finds it here and adds nothing."""

    delighted_id = models.CharField(_("Delighted response"), max_length=100, unique=True)
    response = models.OneToOneField(
        "surveys.Response", verbose_name=_("response"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("response imported from Delighted")
        verbose_name_plural = _("responses imported from Delighted")

    def __str__(self) -> str:
        return self.delighted_id
