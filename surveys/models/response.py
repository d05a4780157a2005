"""Responses: one answer to a survey, its comment (the verbatim) and a snapshot of properties."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

from django.db import connections, models, transaction
from django.db.models.functions import Greatest, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from surveys.models.contact import Contact
from surveys.models.survey import Language, Survey, Touchpoint
from surveys.properties import counted_value, property_condition
from surveys.scales import LANGUAGES, SCALES
from surveys.signals import response_saved
from surveys.terms import comment_fields

# Stands for "no touchpoint" (answers by link or widget) among touchpoint ids, in filters and tallies.
NO_TOUCHPOINT = 0


def _score_in_scale() -> models.Q:
    condition = models.Q()
    for scale in SCALES.values():
        condition |= models.Q(kind=scale.kind, score__gte=scale.low, score__lte=scale.high)
    return condition


class ResponseChannel(models.TextChoices):
    EMAIL = "email", _("email")
    LINK = "link", _("link")
    WIDGET = "widget", _("widget")


class HasTerm(models.Func):
    """Whether a JSON array of texts holds a text: EXISTS over json_each, for SQLite, which has no
    JSON containment."""

    output_field = models.BooleanField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple]:
        (array, array_params), (text, text_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        # Both parts are compiled SQL with their values as parameters.
        sql = f"EXISTS (SELECT 1 FROM json_each({array}) AS term WHERE term.value = {text})"  # noqa: S608
        return sql, (*array_params, *text_params)


class ResponseQuerySet(models.QuerySet):
    """What the dashboards, the verbatim explorer, exports and the API select answers by."""

    def in_period(self, since: datetime | None = None, until: datetime | None = None) -> Self:
        """Answers created at or after ``since`` and before ``until``; None leaves that end open."""
        if since is not None:
            self = self.filter(created_at__gte=since)
        if until is not None:
            self = self.filter(created_at__lt=until)
        return self

    def at_touchpoints(self, touchpoints: Iterable[int]) -> Self:
        """Answers at any of these touchpoints (ids); NO_TOUCHPOINT selects those by link and widget.
        No touchpoints: no filter."""
        touchpoints = set(touchpoints)
        if not touchpoints:
            return self
        condition = models.Q(touchpoint_id__in=touchpoints - {NO_TOUCHPOINT})
        if NO_TOUCHPOINT in touchpoints:
            condition |= models.Q(touchpoint__isnull=True)
        return self.filter(condition)

    def in_category(self, *codes: str) -> Self:
        """Answers in any of the categories ``codes`` of their own scale (detractor, satisfied,
        easy, …); none if no scale has them."""
        condition = models.Q(pk__in=[])
        for scale in SCALES.values():
            for code in codes:
                if scores := scale.category_range(code):
                    condition |= models.Q(kind=scale.kind, score__range=scores)
        return self.filter(condition)

    def in_lowest_category(self) -> Self:
        """Answers in the lowest category of their own scale: NPS detractors, dissatisfied CSAT and
        difficult CES answers, which the follow-up treats alike."""
        condition = models.Q(pk__in=[])
        for scale in SCALES.values():
            worst = scale.categories[0]
            condition |= models.Q(kind=scale.kind, score__range=(worst.low, worst.high))
        return self.filter(condition)

    def with_comment(self, present: bool | None = True) -> Self:
        """Answers with a comment (True), without one (False), or either (None)."""
        if present is None:
            return self
        return self.exclude(comment="") if present else self.filter(comment="")

    def with_term(self, term: str) -> Self:
        """Answers whose comment has the term (``comment_ngrams``: a lemma or a two-word phrase,
        lower case, as ``surveys.terms.comment_ngrams`` makes them); the terms are matched
        exactly, so a word in another form or case finds nothing."""
        if connections[self.db].vendor == "postgresql":
            return self.filter(comment_ngrams__contains=[term])  # jsonb containment, @>
        return self.filter(HasTerm("comment_ngrams", models.Value(term)))

    def with_property(self, name: str, value: str) -> Self:
        """Answers whose property ``name`` is ``value`` (``surveys.properties.property_condition``:
        the event's property wins; on PostgreSQL the properties' GIN indexes of migration 0009
        serve it)."""
        vendor = connections[self.db].vendor
        return self.filter(
            property_condition(
                name, value, event="event_properties", contact="contact_properties", vendor=vendor
            )
        )


class Response(models.Model):
    Channel = ResponseChannel

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    survey = models.ForeignKey(
        Survey,
        verbose_name=_("survey"),
        on_delete=models.PROTECT,
        related_name="responses",
    )
    # A copy of survey.kind, so that the database can check the score against its scale.
    kind = models.CharField(_("kind"), max_length=4, choices=Survey.Kind.choices, editable=False)
    touchpoint = models.ForeignKey(
        Touchpoint,
        verbose_name=_("touchpoint"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="responses",
    )
    invitation = models.OneToOneField(
        "surveys.Invitation",
        verbose_name=_("invitation"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="response",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="responses",
    )
    # Who an answer by link or widget says it comes from when the company did not sign it: anyone
    # can type any address, so it is kept here, never matched to a contact. Personal data all the
    # same, shown only to those who may view contacts. The database's default lets bulk loads leave
    # them out.
    claimed_email = models.EmailField(_("claimed email (unverified)"), blank=True, default="", db_default="")
    claimed_external_id = models.CharField(
        _("claimed external id (unverified)"), max_length=200, blank=True, default="", db_default=""
    )
    claimed_name = models.CharField(
        _("claimed name (unverified)"), max_length=200, blank=True, default="", db_default=""
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    score = models.SmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True, max_length=5000)
    # The comment's lemmas in its language (surveys.terms), which the verbatim search matches:
    # written with the comment and the language on every path, emptied with the comment.
    comment_terms = models.TextField(
        _("terms of the comment"), blank=True, default="", db_default="", editable=False
    )
    # The comment's terms for text insights (``surveys.terms.comment_ngrams``): its lemmas and
    # two-word phrases without stop words and personal data, which the term tally counts. Written
    # with ``comment_terms``, on the same paths.
    comment_ngrams = models.JSONField(
        _("terms for insights"), default=list, db_default=[], blank=True, editable=False
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    contact_properties = models.JSONField(_("contact properties"), default=dict, blank=True)
    event_properties = models.JSONField(_("event properties"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = ResponseQuerySet.as_manager()

    class Meta:
        verbose_name = _("response")
        verbose_name_plural = _("responses")
        ordering = ["-created_at"]
        permissions = [("export_response", _("Can export responses"))]
        constraints = [
            models.CheckConstraint(condition=_score_in_scale(), name="response_score_in_scale"),
            models.CheckConstraint(
                condition=models.Q(channel__in=ResponseChannel.values),
                name="response_channel_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=LANGUAGES),
                name="response_language_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(updated_at__gte=models.F("created_at")),
                name="response_updated_after_created",
            ),
            # An answer is either a contact's or claims an identity, never both.
            models.CheckConstraint(
                condition=models.Q(contact__isnull=True)
                | models.Q(claimed_email="", claimed_external_id="", claimed_name=""),
                name="response_claims_only_without_contact",
            ),
        ]
        indexes = [
            # Dashboards: one survey over a period, counting scores (index-only scans).
            models.Index(
                fields=["survey", "created_at"],
                include=["score"],
                name="response_survey_time_idx",
            ),
            # Dashboards split by touchpoint over a period.
            models.Index(
                fields=["touchpoint", "created_at"],
                include=["score"],
                name="response_touchpoint_time_idx",
            ),
            # Exports and API sync: "what changed since".
            models.Index(fields=["updated_at"], name="response_updated_idx"),
            # Access and erasure requests: the answers that claimed an address, in any case.
            models.Index(
                Lower("claimed_email"),
                condition=~models.Q(claimed_email=""),
                name="response_claimed_email_idx",
            ),
            models.Index(
                fields=["claimed_external_id"],
                condition=~models.Q(claimed_external_id=""),
                name="response_claimed_ext_id_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey}: {self.score}"

    @property
    def category(self) -> str:
        return SCALES[self.kind].category(self.score)

    def revise(self, *, score: int | None, comment: str | None, now: datetime, language: str = "") -> None:
        """Change the score, comment or language; None (or "") leaves a field as it is.

        A changed comment or language changes its terms with it (``comment_terms``, ``comment_ngrams``).

        A changed score moves the response from one count of the daily tallies to another
        (the database's triggers do it, with the row locked by the UPDATE, so that two changes
        cannot both move it). Subscribers hear of the change (``response_saved``, with the score
        it had as ``old_score`` if the score changed, else None) in the same transaction.
        """
        changes: dict = {}
        if comment is not None:
            changes["comment"] = comment
        if language:
            changes["language"] = language
        if score is not None:
            changes["score"] = score
        if "comment" in changes or "language" in changes:
            changes |= comment_fields(
                changes.get("comment", self.comment), changes.get("language", self.language)
            )
        old_score = self.score if score is not None and score != self.score else None
        with transaction.atomic():
            # A concurrent first answer may have been created a moment after our clock read.
            Response.objects.filter(pk=self.pk).update(
                **changes, updated_at=Greatest(models.F("created_at"), models.Value(now))
            )
            for field, value in changes.items():
                setattr(self, field, value)
            self.updated_at = max(now, self.created_at)
            response_saved.send(sender=Response, response=self, created=False, old_score=old_score)

    def property_value(self, name: str) -> str | None:
        """The value of a property as the dashboards count it (``surveys.properties.counted_value``)."""
        return counted_value(name, event=self.event_properties, contact=self.contact_properties)
