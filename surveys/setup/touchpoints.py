"""A touchpoint's set-up page: its rules in words and units people use (days and hours, a week of
day checkboxes and times of day), how the company's systems send it events, and where its answers
are on the dashboard.

``TouchpointForm`` is the one definition of these fields: the back office's admin uses it too.
It converts the model's ``delay_seconds`` and ``send_window`` (see ``surveys.schedule``) both ways.
"""

import copy
import json
from datetime import time, timedelta
from typing import Any, cast

from crispy_forms.bootstrap import InlineCheckboxes
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Fieldset, Layout, Row, Submit
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.admin.utils import construct_change_message
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.http import urlencode
from django.utils.text import capfirst, slugify
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from cxsurvey.signin import back_office_required
from surveys.access import AnyUser, get_survey_for_user, may_read_feedback, visible_surveys
from surveys.models import Survey, Touchpoint
from surveys.schedule import default_send_window
from surveys.stats import STATISTICS_DAYS, Funnel, touchpoint_funnels, whole_days

# Seconds per unit of a delay, largest first: a stored delay is shown in the largest that divides it.
DELAY_UNITS = {"days": 86400, "hours": 3600, "minutes": 60}
# Seconds only for a delay the API set that no larger unit divides.
UNIT_SECONDS = {**DELAY_UNITS, "seconds": 1}
UNIT_NAMES = {"days": _("days"), "hours": _("hours"), "minutes": _("minutes"), "seconds": _("seconds")}
MAX_DELAY_SECONDS = 2**31 - 1  # the column's limit on PostgreSQL
SMALL_MAX = 32767  # a PositiveSmallIntegerField's limit on PostgreSQL, enforced on SQLite too
DAY_FIELDS = ("recontact_days", "expires_after_days", "reminder_after_days", "recheck_after_days")
TIME_FORMAT = "%H:%M"


def delay_in_largest_unit(seconds: int) -> tuple[int, str]:
    """(amount, unit) of a delay in the largest unit that divides it evenly: 172800 → (2, "days"),
    0 → (0, "days"); a delay of odd seconds (set by the API) stays in seconds."""
    for unit, size in DELAY_UNITS.items():
        if seconds % size == 0:
            return seconds // size, unit
    return seconds, "seconds"


def describe_delay(seconds: int) -> str:
    """A delay in words, in its largest unit: "2 days", "90 minutes"."""
    amount, unit = delay_in_largest_unit(seconds)
    words = {
        "days": ngettext("%(count)d day", "%(count)d days", amount),
        "hours": ngettext("%(count)d hour", "%(count)d hours", amount),
        "minutes": ngettext("%(count)d minute", "%(count)d minutes", amount),
        "seconds": ngettext("%(count)d second", "%(count)d seconds", amount),
    }
    return words[unit] % {"count": amount}


def describe_send_window(window: dict | None) -> str:
    """A send window in words: "Monday, Tuesday, Friday 09:00–18:00"; "at any time" for none."""
    if window is None:
        return gettext("at any time")
    days = ", ".join(str(WEEKDAYS[day]) for day in sorted(window["days"]))
    return f"{days} {window['start']}–{window['end']}"


def _time_field(label) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        input_formats=[TIME_FORMAT],
        widget=forms.TimeInput(format=TIME_FORMAT, attrs={"type": "time"}),
    )


class TouchpointForm(forms.ModelForm):
    """A touchpoint with its delay as a number and a unit and its send window as days and times."""

    delay_amount = forms.IntegerField(
        label=_("delay"),
        min_value=0,
        help_text=_("How long after the event the invitation goes out; 0: at once (within the send window)."),
    )
    delay_unit = forms.ChoiceField(label=_("unit"), choices=[])
    send_any_time = forms.BooleanField(
        label=_("send at any time"),
        required=False,
        help_text=_(
            "Invitations go out whenever they are due, at night and at weekends too; the days and times "
            "below are not used."
        ),
    )
    send_days = forms.TypedMultipleChoiceField(
        label=_("days of the week"),
        choices=list(WEEKDAYS.items()),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    send_start = _time_field(_("from"))
    send_end = _time_field(_("to"))

    class Meta:
        model = Touchpoint
        fields = [
            "name",
            "slug",
            "survey",
            "active",
            "require_consent",
            "recontact_days",
            "sample_percent",
            "expires_after_days",
            "reminder_after_days",
            "recheck_after_days",
        ]
        help_texts = {
            "slug": _(
                "The name your systems send events under, e.g. order-delivered: letters, digits, hyphens "
                "and underscores. Changing it breaks the systems that send the old one."
            ),
            "expires_after_days": _(
                "For how many days after it goes out an invitation can be answered. Empty: as long as the "
                "survey says."
            ),
            "reminder_after_days": _(
                "After how many days those who have not answered get one reminder. Empty: no reminder."
            ),
        }

    def __init__(self, *args, user: AnyUser | None = None, read_only: bool = False, **kwargs) -> None:
        """``user``: the survey is chosen among theirs (the admin narrows the choice itself);
        ``read_only``: shown to whoever may view the touchpoint but not change it."""
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["survey"].queryset = visible_surveys(user)  # type: ignore[attr-defined]
        if self.instance.pk is None:
            self.fields["slug"].required = False
            self.fields["slug"].help_text = _("Empty: made from the name.")
        for name in DAY_FIELDS:
            if name in self.fields:  # not in the admin's form for those who may only view
                self.fields[name].validators.append(MaxValueValidator(SMALL_MAX))
                self.fields[name].widget.attrs.update(min=0 if name == "recontact_days" else 1, max=SMALL_MAX)
        if "sample_percent" in self.fields:
            self.fields["sample_percent"].widget.attrs.update(min=0, max=100)
        amount, unit = delay_in_largest_unit(self.instance.delay_seconds)
        units = [*reversed(DELAY_UNITS), *(["seconds"] if unit == "seconds" else [])]
        self.fields["delay_unit"].choices = [(name, UNIT_NAMES[name]) for name in units]  # type: ignore[attr-defined]
        window = self.instance.send_window
        shown = window or default_send_window()
        self.fields["send_start"].help_text = _("Local time (%(zone)s).") % {"zone": settings.TIME_ZONE}
        self.fields["send_end"].help_text = _("Invitations go out before this time, on the same day.")
        for name, value in {
            "delay_amount": amount,
            "delay_unit": unit,
            "send_any_time": window is None,
            "send_days": shown["days"],
            "send_start": shown["start"],
            "send_end": shown["end"],
        }.items():
            self.initial.setdefault(name, value)
        for field in self.fields.values():
            field.label = capfirst(field.label)
            field.disabled = field.disabled or read_only
        self.helper = self._layout(read_only=read_only)

    def _layout(self, *, read_only: bool) -> FormHelper:
        helper = FormHelper(self)
        helper.form_id = "touchpoint-form"
        helper.layout = Layout(
            Fieldset(_("Touchpoint"), "name", "slug", "survey", "active"),
            Fieldset(_("Whom to ask"), "require_consent", "recontact_days", "sample_percent"),
            Fieldset(
                _("When to ask"),
                Row(Column("delay_amount", css_class="col-6"), Column("delay_unit", css_class="col-6")),
                "send_any_time",
                InlineCheckboxes("send_days"),
                Row(Column("send_start", css_class="col-sm-6"), Column("send_end", css_class="col-sm-6")),
                "expires_after_days",
                "reminder_after_days",
            ),
            Fieldset(_("After a follow-up case"), "recheck_after_days"),
        )
        if not read_only:
            helper.add_input(Submit("save", _("Save")))
        return helper

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if not slug and self.instance.pk is None:
            slug = slugify(self.cleaned_data.get("name", ""))[:100]
            if not slug:
                raise forms.ValidationError(_("Enter a slug: the name gives none."))
        return slug

    def clean(self) -> dict[str, Any]:
        super().clean()
        self._clean_delay(self.cleaned_data)
        self._clean_send_window(self.cleaned_data)
        return self.cleaned_data

    def _clean_delay(self, data: dict) -> None:
        amount, unit = data.get("delay_amount"), data.get("delay_unit")
        if amount is None or not unit:
            return  # the field says what is missing
        seconds = amount * UNIT_SECONDS[unit]
        if seconds > MAX_DELAY_SECONDS:
            self.add_error("delay_amount", _("A delay can be at most 68 years."))
            return
        self.instance.delay_seconds = seconds

    def _clean_send_window(self, data: dict) -> None:
        """Days and times → ``{"days": [...], "start": "HH:MM", "end": "HH:MM"}``, or None for any time.
        A window ends after it starts on the same day: the format has no windows over midnight."""
        if data.get("send_any_time"):
            self.instance.send_window = None
            return
        days, start, end = data.get("send_days"), data.get("send_start"), data.get("send_end")
        if not days and "send_days" not in self.errors:
            self.add_error("send_days", _("Choose at least one day, or send at any time."))
        for name, value in (("send_start", start), ("send_end", end)):
            if value is None and name not in self.errors:
                self.add_error(name, _("Enter a time like 09:00, or send at any time."))
        if not (days and isinstance(start, time) and isinstance(end, time)):
            return
        if start >= end:
            self.add_error(
                "send_end",
                _("The window must end after it starts, on the same day: it cannot run over midnight."),
            )
            return
        self.instance.send_window = {
            "days": sorted(days),
            "start": start.strftime(TIME_FORMAT),
            "end": end.strftime(TIME_FORMAT),
        }


def get_touchpoint_for_user(user: AnyUser, pk: object) -> Touchpoint:
    """The touchpoint with this id if it belongs to a survey the user may see; Http404 for an
    unknown, malformed or another team's id alike."""
    digits = str(pk)
    visible = Touchpoint.objects.select_related("survey").filter(survey__in=visible_surveys(user))
    touchpoint = visible.filter(pk=int(digits)).first() if digits.isdigit() and len(digits) < 19 else None
    if touchpoint is None:
        raise Http404("No touchpoint has this id.")
    return touchpoint


def event_example(touchpoint: Touchpoint) -> str:
    """A request that reports an event of this touchpoint, as a shell command to copy and adapt."""
    body: dict[str, object] = {
        "touchpoint": touchpoint.slug,
        "email": "anna.schmidt@example.com",
        "name": "Anna Schmidt",
        "language": "de",
    }
    if touchpoint.require_consent:
        body["legal_basis"] = "customer"  # without a legal basis, such a touchpoint asks nobody
    body["properties"] = {"order_id": "A-1042"}
    # Slugs hold no quote, so the body fits between the shell's single quotes as it is.
    return (
        f"curl {settings.SITE_URL}{reverse('surveys:api_events')} \\\n"
        '  -H "Authorization: Bearer $TOKEN" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f'  -H "Idempotency-Key: A-1042-{touchpoint.slug}" \\\n'
        f"  -d '{json.dumps(body, ensure_ascii=False, indent=2)}'"
    )


def _save(form: TouchpointForm, *, user: User, add: bool) -> Touchpoint:
    """Save the form and note it in the touchpoint's history, as the admin does (the audit log
    records the change itself, with the values before and after, through ``audit.changes``)."""
    with transaction.atomic():
        touchpoint = form.save()
        message = construct_change_message(form, [], add)  # type: ignore[arg-type]  # stubs: any form works
        LogEntry.objects.log_actions(
            user_id=user.pk,
            queryset=[touchpoint],
            action_flag=ADDITION if add else CHANGE,
            change_message=message,
            single_object=True,
        )
    return touchpoint


def last_days_funnel(touchpoint: Touchpoint) -> Funnel:
    """The touchpoint's funnel over the last 30 local days, today included, as the admin's
    statistics count them by default."""
    today = timezone.localdate()
    since, until = whole_days(today - timedelta(days=STATISTICS_DAYS - 1), today)
    [funnel] = touchpoint_funnels(Touchpoint.objects.filter(pk=touchpoint.pk), since=since, until=until)
    return funnel


def _render(request: HttpRequest, form: TouchpointForm, touchpoint: Touchpoint | None) -> HttpResponse:
    context: dict[str, object] = {"form": form, "touchpoint": touchpoint}
    if touchpoint is not None:
        context["event_example"] = event_example(touchpoint)
        context["funnel"] = last_days_funnel(touchpoint)
        context["funnel_days"] = STATISTICS_DAYS
        if may_read_feedback(request.user):
            query = urlencode({"survey": touchpoint.survey_id, "touchpoint": touchpoint.pk})
            context["dashboard_url"] = f"{reverse('feedback:dashboard')}?{query}"
    return render(request, "surveys/setup/touchpoint.html", context, status=400 if form.errors else 200)


@back_office_required
@require_http_methods(["GET", "HEAD", "POST"])
def new_touchpoint(request: HttpRequest) -> HttpResponse:
    """A new touchpoint, for one of the user's surveys (``?survey=`` chooses it beforehand)."""
    if not request.user.has_perm("surveys.add_touchpoint"):
        raise PermissionDenied
    initial: dict[str, Survey] = {}
    if chosen := request.GET.get("survey"):
        initial["survey"] = get_survey_for_user(request.user, chosen)
    elif len(only := list(visible_surveys(request.user)[:2])) == 1:
        initial["survey"] = only[0]
    data = request.POST if request.method == "POST" else None
    form = TouchpointForm(data, user=request.user, initial=initial)
    if form.is_valid():
        touchpoint = _save(form, user=cast(User, request.user), add=True)
        messages.success(request, gettext("The touchpoint “%(name)s” was created.") % {"name": touchpoint})
        return redirect("setup:touchpoint", touchpoint.pk)
    return _render(request, form, None)


@back_office_required
@require_http_methods(["GET", "HEAD", "POST"])
def touchpoint_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A touchpoint's rules, to change for whoever may (to read for whoever may view them), how to
    send it events, and its answers on the dashboard."""
    user = request.user
    may_change = user.has_perm("surveys.change_touchpoint")
    if not (may_change or user.has_perm("surveys.view_touchpoint")):
        raise PermissionDenied
    if request.method == "POST" and not may_change:
        raise PermissionDenied
    touchpoint = get_touchpoint_for_user(user, pk)
    data = request.POST if request.method == "POST" else None
    # The form works on a copy: a refused form must not show its values as the saved touchpoint's.
    form = TouchpointForm(data, instance=copy.copy(touchpoint), user=user, read_only=not may_change)
    if data is not None and form.is_valid():
        touchpoint = _save(form, user=cast(User, user), add=False)
        messages.success(request, gettext("The touchpoint “%(name)s” was saved.") % {"name": touchpoint})
        return redirect("setup:touchpoint", touchpoint.pk)
    return _render(request, form, touchpoint)
