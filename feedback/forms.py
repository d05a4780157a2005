"""The dashboard's filters, read from the URL by the page and by the metrics API alike."""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists
from django.http import QueryDict
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from feedback.counts import Filters
from feedback.dashboard import default_survey
from feedback.verbatims import VerbatimQuery
from followup.tags import TagRefused, tags_named
from insights.themes import ThemeRefused, themes_named
from insights.tone import Tone
from surveys.access import AnyUser, get_survey_among, visible_surveys
from surveys.models import NO_TOUCHPOINT, PropertyLabel, Response, Survey, Touchpoint
from surveys.properties import filter_pairs, filters_problem

RANGES = {
    "30d": _("last 30 days"),
    "90d": _("last 90 days"),
    "12m": _("last 12 months"),
    "ytd": _("this year"),
    "custom": _("custom"),
}


INTERVALS = [("day", _("day")), ("week", _("week")), ("month", _("month")), ("quarter", _("quarter"))]
MAX_TAGS = 50  # tags filtered by at once


class NamesField(forms.Field):
    """A repeated URL parameter's values, as texts."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        return [str(item) for item in value or ()]


class DashboardFilterForm(forms.Form):
    data: QueryDict
    # Resolved by clean_survey among the surveys the user may see; any other id is a 404.
    survey = forms.CharField(label=_("survey"), required=False)
    touchpoint = forms.TypedMultipleChoiceField(label=_("touchpoints"), required=False, coerce=int)
    range = forms.ChoiceField(label=_("period"), choices=RANGES.items(), required=False)
    since = forms.DateField(label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    interval = forms.ChoiceField(
        label=_("interval"),
        choices=INTERVALS,
        required=False,
    )
    # Names, any case: answers carrying any of these tags.
    tag = NamesField(label=_("tags"), required=False)
    # Names: answers whose comment has any of these themes.
    theme = NamesField(label=_("themes"), required=False)

    def __init__(self, data: QueryDict, *, user: AnyUser, today: date | None = None):
        super().__init__(data)
        self.user = user
        self.today = today or timezone.localdate()
        self.surveys = visible_surveys(user)
        touchpoints = (
            Touchpoint.objects.filter(survey__in=self.surveys).order_by("name").values_list("pk", "name")
        )
        self.touchpoint_choices: list[tuple[int, str | Promise]] = [
            *touchpoints,
            (NO_TOUCHPOINT, _("link and widget")),
        ]
        cast(forms.ChoiceField, self.fields["touchpoint"]).choices = self.touchpoint_choices
        self.properties = filter_pairs(data)

    def clean_survey(self) -> Survey | None:
        """The survey asked for, if the user may see it (Http404 for any other id, as for an unknown
        one); None if none is, to be chosen once the period is known."""
        if chosen := self.cleaned_data["survey"]:
            return get_survey_among(self.surveys, chosen)
        return None

    def clean_tag(self) -> dict[int, str]:
        """The tags asked for, by id, with their names as stored; an unknown name is an error."""
        names = self.cleaned_data["tag"]
        if len(names) > MAX_TAGS:
            raise ValidationError(_("Filter by at most %(limit)d tags at once.") % {"limit": MAX_TAGS})
        try:
            return {tag.pk: tag.name for tag in tags_named(names)}
        except TagRefused as refusal:
            raise ValidationError(str(refusal), code="tag") from None

    def clean_theme(self) -> dict[int, str]:
        """The themes asked for, by id, with their names; an unknown name is an error."""
        names = self.cleaned_data["theme"]
        if len(names) > MAX_TAGS:
            raise ValidationError(_("Filter by at most %(limit)d themes at once.") % {"limit": MAX_TAGS})
        try:
            return themes_named(names)
        except ThemeRefused as refusal:
            raise ValidationError(str(refusal), code="theme") from None

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if "survey" not in data:  # an id the user may not see is a 404 before this
            return data
        data["since"], data["until"] = self._period(data)
        if data["survey"] is None:
            data["survey"] = default_survey(self.user, self.surveys, since=data["since"], until=data["until"])
        if data["survey"] is None:
            raise ValidationError(_("There is no survey yet."), code="no_survey")
        if problem := filters_problem(self.properties):
            raise ValidationError(problem[1])
        self._refuse_unknown(data["survey"], data.get("touchpoint") or ())
        return data

    def _refuse_unknown(self, survey: Survey, touchpoints: Iterable[int]) -> None:
        """Touchpoints of another survey and property values that none of the survey's answers has
        are errors that name them, rather than an empty dashboard that looks like a result."""
        if others := set(touchpoints) - {NO_TOUCHPOINT}:
            names = dict(self.touchpoint_choices)
            for touchpoint in sorted(others - set(survey.touchpoints.values_list("pk", flat=True))):
                self.add_error(
                    "touchpoint",
                    _("“%(touchpoint)s” is not a touchpoint of this survey.")
                    % {"touchpoint": names[touchpoint]},
                )
        if not self.properties:
            return
        answers = Response.objects.filter(survey=survey)
        exists = {
            f"found_{index}": Exists(answers.with_property(name, value))
            for index, (name, value) in enumerate(self.properties)
        }
        # One query for all of them: does any answer of the survey, at any time, have the value?
        found = Survey.objects.filter(pk=survey.pk).annotate(**exists).values_list(*exists).get()
        missing = [pair for pair, present in zip(self.properties, found, strict=True) if not present]
        labels = PropertyLabel.objects.names() if missing else {}
        for name, value in missing:
            self.add_error(
                None,
                _("No answer to this survey has “%(value)s” as %(property)s.")
                % {"value": value, "property": labels.get(name, name)},
            )

    def _period(self, data: dict) -> tuple[date, date]:
        today, chosen = self.today, data.get("range")
        since, until = data.get("since"), data.get("until")
        if chosen == "30d" or (not chosen and not (since or until)):
            return today - timedelta(days=29), today
        if chosen == "90d":
            return today - timedelta(days=89), today
        if chosen == "12m":
            return today - timedelta(days=364), today
        if chosen == "ytd":
            return today.replace(month=1, day=1), today
        until = until or today
        since = since or until - timedelta(days=29)
        if since > until:
            raise ValidationError(_("The period must end after it starts."), code="period")
        if (until - since).days > 3660:
            raise ValidationError(_("A period can be at most ten years long."), code="period")
        return since, until

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            survey=data["survey"],
            since=data["since"],
            until=data["until"],
            touchpoints=tuple(sorted(set(data.get("touchpoint") or ()))),
            properties=self.properties,
            tags=tuple(sorted(data.get("tag") or ())),
            themes=tuple(sorted(data.get("theme") or ())),
        )


class VerbatimFilterForm(DashboardFilterForm):
    """The dashboard's filters plus what narrows the comments: category, score, comment, term and text."""

    COMMENT_CHOICES = {
        "with": _("with a comment"),
        "without": _("without a comment"),
        "any": _("all answers"),
    }

    category = forms.CharField(label=_("category"), required=False, max_length=20)
    score = forms.IntegerField(label=_("score"), required=False)
    comment = forms.ChoiceField(label=_("answers"), choices=COMMENT_CHOICES.items(), required=False)
    q = forms.CharField(label=_("search"), required=False, max_length=200)
    TONE_CHOICES = {
        "disagree": _("disagreeing with the score"),
        **{tone.value: tone.label for tone in Tone},
    }
    tone = forms.ChoiceField(label=_("tone"), choices=[("", _("any")), *TONE_CHOICES.items()], required=False)
    # A term of the insights (a lemma or a two-word phrase), which the insights link to.
    term = forms.CharField(label=_("term"), required=False, max_length=200)

    def clean_term(self) -> str:
        """The term as the insights write it: lower case, its words apart by single spaces."""
        return " ".join(self.cleaned_data["term"].split()).casefold()

    def clean(self):
        data = super().clean()
        scale = data["survey"].scale
        if data.get("category") and data["category"] not in {category.code for category in scale.categories}:
            self.add_error("category", _("This survey has no such category."))
        if data.get("score") is not None and data["score"] not in scale.points:
            self.add_error(
                "score",
                _("Scores of this survey run from %(low)d to %(high)d.")
                % {"low": scale.low, "high": scale.high},
            )
        return data

    def verbatim_query(self) -> VerbatimQuery:
        data = self.cleaned_data
        return VerbatimQuery(
            filters=self.filters(),
            text=data["q"],
            category=data["category"],
            score=data["score"],
            with_comment={"with": True, "without": False, "any": None}[data["comment"] or "with"],
            term=data["term"],
            tone=data["tone"],
        )
