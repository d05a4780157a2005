"""The inbox's filters and the case page's forms (plain forms, whose choices are what the user may
see: their surveys, the people who may work on cases), and the digest's settings form."""

import zoneinfo

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from followup.access import case_workers
from followup.models import (
    CLOSED_STATUSES,
    CaseEntry,
    CaseResolution,
    CaseStatus,
    Digest,
    ReplyTemplate,
    Team,
)
from surveys.access import AnyUser, visible_surveys
from surveys.models import Survey, Touchpoint

OPEN, CLOSED, ALL = "open", "closed", "all"


class InboxFilterForm(forms.Form):
    who = forms.ChoiceField(
        label=_("cases"),
        required=False,
        choices=[
            ("", _("everyone's")),
            ("mine", _("mine")),
            ("team", _("my teams'")),
            ("unassigned", _("unassigned")),
        ],
    )
    status = forms.ChoiceField(
        label=_("status"),
        required=False,
        choices=[(OPEN, _("open")), (CLOSED, _("closed")), (ALL, _("all")), *CaseStatus.choices],
    )
    overdue = forms.BooleanField(label=_("overdue only"), required=False)
    survey: "forms.ModelChoiceField[Survey]" = forms.ModelChoiceField(
        label=_("survey"), queryset=Survey.objects.none(), required=False, empty_label=_("all")
    )
    touchpoint: "forms.ModelChoiceField[Touchpoint]" = forms.ModelChoiceField(
        label=_("touchpoint"), queryset=Touchpoint.objects.none(), required=False, empty_label=_("all")
    )

    def __init__(self, *args, user: AnyUser, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        surveys = visible_surveys(user)
        _offer(self.fields["survey"], surveys)
        _offer(self.fields["touchpoint"], Touchpoint.objects.filter(survey__in=surveys).order_by("name"))


class ChangeForm(forms.Form):
    """Who works on cases and how they stand; several cases at once from the inbox (``case``)."""

    status = forms.ChoiceField(label=_("status"), required=False, choices=[("", "—"), *CaseStatus.choices])
    resolution = forms.ChoiceField(
        label=_("resolution"), required=False, choices=[("", "—"), *CaseResolution.choices]
    )
    assignee: "forms.ModelChoiceField[User]" = forms.ModelChoiceField(
        label=_("assignee"), queryset=User.objects.none(), required=False, empty_label=_("nobody")
    )
    team = forms.ModelChoiceField(
        label=_("team"), queryset=Team.objects.all(), required=False, empty_label="—"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _offer(self.fields["assignee"], case_workers())

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("status") in CLOSED_STATUSES and not data.get("resolution"):
            self.add_error("resolution", _("Say how the case ended."))
        return data


def _offer(field: forms.Field, queryset: QuerySet) -> forms.ModelChoiceField:
    """The choice field offering these objects only."""
    if not isinstance(field, forms.ModelChoiceField):
        raise TypeError(f"{field!r} offers no objects")
    field.queryset = queryset
    return field


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("internal note"),
        max_length=CaseEntry._meta.get_field("text").max_length,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only your colleagues see notes; @username tells a colleague by email."),
    )


class ReplyForm(forms.Form):
    subject = forms.CharField(
        label=_("subject"), max_length=ReplyTemplate._meta.get_field("subject").max_length
    )
    body = forms.CharField(
        label=_("text"),
        max_length=ReplyTemplate._meta.get_field("body").max_length,
        widget=forms.Textarea(attrs={"rows": 8}),
    )


def time_zone_choices() -> list[tuple[str, str]]:
    """The IANA time zones with a region ("Europe/Berlin"), sorted; UTC at the end."""
    names = sorted(
        name for name in zoneinfo.available_timezones() if "/" in name and not name.startswith("Etc/")
    )
    return [(name, name) for name in [*names, "UTC"]]


class DigestForm(forms.ModelForm):
    hour = forms.TypedChoiceField(coerce=int, choices=[(hour, f"{hour:02d}:00") for hour in range(24)])
    time_zone = forms.ChoiceField(choices=time_zone_choices)

    class Meta:
        model = Digest
        fields = ["frequency", "hour", "time_zone", "language"]
