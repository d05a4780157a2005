"""The survey's set-up page: its texts in each language beside a live preview of what customers
see (the answering page, the widget, the email), its link and widget snippet, and a test email
to oneself.

A text left as the standard wording is stored empty, so that it keeps following the standard
wording; editing it makes it the survey's own ("custom"), and "use the standard text" returns.
"""

import copy
import json
from collections import Counter
from typing import cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout, Submit
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.mail import BadHeaderError
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from surveys import ratelimit, texts
from surveys.access import get_survey_for_user
from surveys.answering.pages import public_link, render_preview_page
from surveys.answering.widget import widget_config, widget_snippet
from surveys.email.dispatch import PermanentFailure, TemporaryFailure, send_message
from surveys.email.messages import render_preview, sample_email
from surveys.models import PropertyScore, Response, Survey, Team
from surveys.properties import is_filterable_property
from surveys.scales import LANGUAGES, SCALES, TEXTS, standard_text
from surveys.setup.pages import setup_page
from surveys.texts import EMAIL_PLACEHOLDERS, PAGE_PLACEHOLDERS

TEXT_FIELDS = tuple(f"{text}_{language}" for language in LANGUAGES for text in TEXTS)
PAGE_TEXTS = ("subject", "question", "follow_up", "thank_you")
EMAIL_TEXTS = ("email_subject", "email_intro")
PROPERTY_SAMPLE = 2000  # newest responses read to offer the property names seen in the data
PREVIEWS = ("answer", "widget", "email")
LANGUAGE_NAMES = {"de": _("German"), "en": _("English")}


def _standard_box(name: str) -> str:
    return f"{name}_standard"


def _text_and_language(name: str) -> tuple[str, str]:
    text, _separator, language = name.rpartition("_")
    return text, language


def _plain(value: object) -> str:
    """A text as compared with the standard wording: line breaks as one character, no outer spaces."""
    return str(value or "").replace("\r\n", "\n").strip()


def _url_field(field: models.Field, **kwargs) -> forms.Field | None:
    # A web address typed without its scheme is taken as https, as in the admin.
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class SurveyForm(forms.ModelForm):
    """What an everyday set-up needs of a survey; the admin keeps the rest (identity secret, teams)."""

    dashboard_properties = forms.MultipleChoiceField(
        label=_("properties on the dashboard"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Properties that name segments (plan, region), seen in this survey's answers: the "
            "dashboard filters and breaks down by them quickly."
        ),
    )

    class Meta:
        model = Survey
        fields = [
            "name",
            "kind",
            "brand",
            "active",
            "expires_after_days",
            "return_url",
            *TEXT_FIELDS,
            "sender_name",
            "reply_to",
            "accent_color",
            "widget_origins",
            "dashboard_properties",
            "comment_retention_days",
            "invitation_retention_days",
            "event_retention_days",
        ]
        formfield_callback = _url_field
        widgets = {
            "accent_color": forms.TextInput(attrs={"type": "color"}),
            "widget_origins": forms.Textarea(attrs={"rows": 3}),
            **{
                name: forms.Textarea(attrs={"rows": 2})
                for name in TEXT_FIELDS
                if not name.startswith("subject")
            },
        }

    def __init__(
        self, data: QueryDict | None = None, *, instance: Survey, seen_properties: list[str]
    ) -> None:
        if data is not None:
            # "Use the standard text" wins over what the field holds, even over a text that could
            # not be saved.
            data = data.copy()
            for name in TEXT_FIELDS:
                if data.get(_standard_box(name)):
                    data[name] = ""
        self.saved = copy.copy(instance)  # the form writes what it validates into the instance
        super().__init__(data, instance=instance)
        self.kind = instance.kind if instance.pk else (self.data.get("kind") or Survey.Kind.NPS)
        if instance.pk:
            self.fields["kind"].disabled = True  # the kind fixes the scale of every stored answer
        else:
            self.initial["kind"] = self.kind
        self.seen = seen_properties
        chosen = list(instance.dashboard_properties or [])
        offered = chosen + [name for name in seen_properties if name not in chosen]
        cast(forms.MultipleChoiceField, self.fields["dashboard_properties"]).choices = [
            (n, n) for n in offered
        ]
        for name in TEXT_FIELDS:
            text, language = _text_and_language(name)
            if not self.initial.get(name):
                self.initial[name] = standard_text(
                    self.kind if self.kind in SCALES else "nps", text, language
                )
            self.fields[_standard_box(name)] = forms.BooleanField(
                label=_("Use the standard text"), required=False
            )
        self.helper = self._helper(bool(offered))

    def is_custom(self, name: str) -> bool:
        """Whether the text shown in field ``name`` is the survey's own rather than the standard wording."""
        text, language = _text_and_language(name)
        value = self[name].value()
        kinds = list(SCALES) if text == "question" and not self.instance.pk else [self.kind]
        standards = {_plain(standard_text(kind, text, language)) for kind in kinds if kind in SCALES}
        return bool(_plain(value)) and _plain(value) not in standards

    def clean(self) -> dict:
        """A text equal to the standard wording is stored empty: it then follows the standard wording.
        A new survey's question may still show another kind's standard question (the kind was
        changed without the page's script): that one is the standard too."""
        super().clean()
        data = self.cleaned_data
        for name in TEXT_FIELDS:
            if name in data and not self.is_custom(name):
                data[name] = ""
        return data

    def _helper(self, has_properties: bool) -> FormHelper:
        helper = FormHelper()
        helper.form_id = "survey-form"
        helper.attrs = {"novalidate": "", "data-preview-url": ""}
        helper.layout = Layout(
            Fieldset(
                _("Survey"),
                "name",
                "kind",
                "brand",
                "active",
                "expires_after_days",
                "return_url",
            ),
            *(self._texts_fieldset(language) for language in LANGUAGES),
            Fieldset(_("Email"), "sender_name", "reply_to"),
            Fieldset(_("Link and widget"), "accent_color", "widget_origins"),
            Fieldset(
                _("Dashboard"),
                "dashboard_properties"
                if has_properties
                else _literal(
                    format_html(
                        '<p class="text-body-secondary" id="no-properties">{}</p>',
                        gettext(
                            "No properties have been seen in this survey's answers yet. Once answers "
                            "carry properties (plan, region …), choose those to count here."
                        ),
                    )
                ),
            ),
            Fieldset(
                _("Retention"),
                "comment_retention_days",
                "invitation_retention_days",
                "event_retention_days",
            ),
            Submit("save", _("Save"), css_class="btn-primary"),
        )
        return helper

    def _texts_fieldset(self, language: str) -> Fieldset:
        legend = gettext("Texts (%(language)s)") % {"language": LANGUAGE_NAMES[language]}
        page = [self._text_block(f"{text}_{language}") for text in PAGE_TEXTS]
        email = [self._text_block(f"{text}_{language}") for text in EMAIL_TEXTS]
        return Fieldset(
            legend,
            _placeholder_list("page", self.seen),
            *page,
            _placeholder_list("email", self.seen),
            *email,
            css_class="texts",
            lang=language,
        )

    def _text_block(self, name: str) -> Div:
        custom = self.is_custom(name)
        badge = format_html(
            '<span class="badge {}" data-badge-for="{}" data-custom="{}" data-standard="{}">{}</span>',
            "text-bg-warning" if custom else "text-bg-light",
            self[name].auto_id,
            gettext("custom"),
            gettext("standard"),
            gettext("custom") if custom else gettext("standard"),
        )
        return Div(
            Field(name, wrapper_class="mb-1"),
            Div(
                _literal(badge),
                Field(_standard_box(name), wrapper_class="mb-0"),
                css_class="standard-controls",
            ),
            css_class="standard-text mb-3",
            data_text=name,
        )


def _literal(html: str) -> HTML:
    """Markup for the layout, whose HTML parts are templates: braces as character references, so
    that a placeholder shown is never read as one."""
    return HTML(html.replace("{", "&#123;").replace("}", "&#125;"))


def _placeholder_list(kind: str, properties: list[str]) -> HTML:
    """The placeholders a kind of text may use, as buttons that insert them where one types; the
    properties seen in the answers stand for ``{{ properties.<name> }}``."""
    allowed: tuple[str, ...]
    if kind == "page":
        intro, allowed = gettext("Placeholders of the page texts:"), PAGE_PLACEHOLDERS
    else:
        intro, allowed = gettext("Placeholders of the email texts:"), EMAIL_PLACEHOLDERS
    names = [
        written
        for placeholder in texts.placeholders(allowed)
        for written in (
            [f"{{{{ properties.{name} }}}}" for name in properties[:5] or ["order_id"]]
            if "<name>" in placeholder
            else [placeholder]
        )
    ]
    items = format_html_join(
        "",
        '<li><button type="button" class="btn btn-sm btn-outline-secondary insert-placeholder" '
        'data-insert="{}">{}</button></li>',
        ((name, name) for name in names),
    )
    return _literal(format_html('<div class="placeholders"><span>{}</span> <ul>{}</ul></div>', intro, items))


def seen_property_names(survey: Survey) -> list[str]:
    """The names of the properties in the survey's newest PROPERTY_SAMPLE answers that a dashboard
    can count, most common first (one indexed query; names only, to offer as choices)."""
    rows = (
        Response.objects.filter(survey=survey)
        .order_by("-created_at")
        .values_list("contact_properties", "event_properties")[:PROPERTY_SAMPLE]
    )
    counts: Counter = Counter()
    for contact, event in rows:
        counts.update(
            {*(contact if isinstance(contact, dict) else ()), *(event if isinstance(event, dict) else ())}
        )
    return [name for name, _count in counts.most_common() if is_filterable_property(name)]


@setup_page("surveys.add_survey")
@require_http_methods(["GET", "POST"])
def new_survey(request: HttpRequest) -> HttpResponse:
    form = SurveyForm(
        request.POST if request.method == "POST" else None, instance=Survey(), seen_properties=[]
    )
    if request.method == "POST":
        if form.is_valid():
            survey = _save(request, form, added=True)
            messages.success(request, gettext("The survey “%(name)s” was created.") % {"name": survey.name})
            return redirect("setup:survey", survey.pk)
        return _page(request, form, status=400)
    return _page(request, form)


@setup_page("surveys.change_survey")
@require_http_methods(["GET", "POST"])
def edit_survey(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_survey_for_user(request.user, pk)
    seen = seen_property_names(survey)
    form = SurveyForm(
        request.POST if request.method == "POST" else None, instance=survey, seen_properties=seen
    )
    if request.method == "POST":
        if form.is_valid():
            _save(request, form, added=False)
            messages.success(request, gettext("The survey “%(name)s” was saved.") % {"name": survey.name})
            return redirect("setup:survey", survey.pk)
        return _page(request, form, status=400)
    return _page(request, form)


def _save(request: HttpRequest, form: SurveyForm, *, added: bool) -> Survey:
    """Save the survey as the admin does: a new one belongs to its maker's teams, a changed list of
    dashboard properties is counted afresh, and the admin's history names who changed what (the
    audit log records every change from the model's signals)."""
    user = cast(User, request.user)
    with transaction.atomic():
        survey = form.save()
        if added:
            survey.teams.add(*Team.objects.filter(members=user))
        if "dashboard_properties" in form.changed_data:
            PropertyScore.objects.rebuild(survey)
        LogEntry.objects.log_actions(
            user.pk,
            [survey],
            ADDITION if added else CHANGE,
            change_message=_change_message(form, added=added),
            single_object=True,
        )
    return survey


def _change_message(form: SurveyForm, *, added: bool) -> list:
    """The admin's kind of history message: the labels of the changed fields, in English as the
    admin keeps them."""
    if added:
        return [{"added": {}}]
    changed = {name.removesuffix("_standard") for name in form.changed_data}
    with translation.override(None):
        fields = [str(form.fields[name].label) for name in SurveyForm.Meta.fields if name in changed]
    return [{"changed": {"fields": fields}}] if fields else []


def _page(request: HttpRequest, form: SurveyForm, *, status: int = 200) -> HttpResponse:
    survey = form.instance
    language = translation.get_language()
    language = language if language in LANGUAGES else settings.LANGUAGE_CODE
    shown = _shown(form)
    context = {
        "form": form,
        "survey": survey if survey.pk else None,
        "standards": {
            kind: {name: standard_text(kind, *_text_and_language(name)) for name in TEXT_FIELDS}
            for kind in SCALES
        },
        "previews": [{"view": view, **_render_preview(request, shown, view, language)} for view in PREVIEWS],
        "preview_language": language,
        "preview_url": reverse("setup:survey_preview", args=[survey.pk])
        if survey.pk
        else reverse("setup:new_survey_preview"),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "may_send_test": survey.pk and request.user.has_perm("surveys.send_survey"),
    }
    if survey.pk:
        context["link"] = public_link(survey)
        context["snippet"] = widget_snippet(survey)
    return render(request, "surveys/setup/survey.html", context, status=status)


def _shown(form: SurveyForm) -> Survey:
    """The survey as the form has it, unsaved: what validated of what was typed, the saved (or
    default) value for the rest. A new survey without a valid kind is shown as NPS."""
    survey = copy.copy(form.instance)
    for name in form.errors:
        if name in SurveyForm.Meta.fields:
            setattr(survey, name, getattr(form.saved, name))
    if survey.kind not in SCALES:
        survey.kind = form.kind if form.kind in SCALES else Survey.Kind.NPS
    return survey


def _render_preview(request: HttpRequest, survey: Survey, view: str, language: str) -> dict[str, str]:
    """The HTML of one preview (``view`` of PREVIEWS) in ``language``, rendered by the templates
    customers get; the email's subject too."""
    with translation.override(language):
        if view == "answer":
            return {"html": render_preview_page(request, survey, language).content.decode(), "subject": ""}
        if view == "widget":
            config = json.dumps(widget_config(survey, language))
            page = render(
                request, "surveys/setup/widget_preview.html", {"config": config, "language": language}
            )
            return {"html": page.content.decode(), "subject": ""}
        subject, _text, html = render_preview(survey, language)
        return {"html": html, "subject": subject}


class PreviewChoice(forms.Form):
    preview_view = forms.ChoiceField(choices=[(view, view) for view in PREVIEWS])
    preview_language = forms.ChoiceField(choices=[(language, language) for language in LANGUAGES])


@setup_page("surveys.change_survey")
@require_POST
def preview_survey(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview of the survey as the posted, unsaved form has it; nothing is saved."""
    return _preview(request, get_survey_for_user(request.user, pk))


@setup_page("surveys.add_survey")
@require_POST
def preview_new_survey(request: HttpRequest) -> HttpResponse:
    return _preview(request, Survey())


def _preview(request: HttpRequest, survey: Survey) -> HttpResponse:
    """JSON: ``html`` (the document for the preview's frame), ``subject`` (the email's) and ``errors``
    (what the form would refuse, by field: the preview shows those fields as saved)."""
    choice = PreviewChoice(request.POST)
    if not choice.is_valid():
        return JsonResponse({"errors": choice.errors.get_json_data()}, status=400)
    form = SurveyForm(request.POST, instance=survey, seen_properties=[])
    form.is_valid()
    preview = _render_preview(
        request, _shown(form), choice.cleaned_data["preview_view"], choice.cleaned_data["preview_language"]
    )
    errors = {
        name: [str(error) for error in errors]
        for name, errors in form.errors.items()
        if name != "dashboard_properties"
    }
    return JsonResponse({**preview, "errors": errors})


class TestEmailForm(forms.Form):
    language = forms.ChoiceField(
        label=_("language"), choices=[(code, name) for code, name in LANGUAGE_NAMES.items()]
    )


@setup_page("surveys.change_survey")
@require_POST
def send_test_email(request: HttpRequest, pk: int) -> HttpResponse:
    """The survey's email as a sample customer gets it, sent to the user's own address and to no
    other: a survey's email under the company's brand would be a phishing mail to anyone else."""
    survey = get_survey_for_user(request.user, pk)
    user = cast(User, request.user)
    if not user.has_perm("surveys.send_survey"):
        raise PermissionDenied
    form = TestEmailForm(request.POST)
    if not form.is_valid():
        return _refused(request, survey, gettext("Choose German or English for the test email."), 400)
    if not user.email:
        message = gettext(
            "Your account has no email address; enter one in your account to receive test emails."
        )
        return _refused(request, survey, message, 400)
    if wait := ratelimit.count_request("test_email", f"user:{user.pk}"):
        message = ngettext(
            "You have sent many test emails in a short time. Please wait %(seconds)d second.",
            "You have sent many test emails in a short time. Please wait %(seconds)d seconds.",
            wait,
        )
        return _refused(request, survey, message % {"seconds": wait}, 429)
    try:
        send_message(sample_email(survey, to=user.email, language=form.cleaned_data["language"]), None)
    except (TemporaryFailure, PermanentFailure, BadHeaderError) as error:
        message = gettext("The test email could not be sent: %(error)s") % {"error": error}
        return _refused(request, survey, message, 502)
    messages.success(request, gettext("A test email is on its way to %(to)s.") % {"to": user.email})
    return redirect("setup:survey", survey.pk)


def _refused(request: HttpRequest, survey: Survey, message: str, status: int) -> HttpResponse:
    messages.error(request, message)
    return _page(
        request, SurveyForm(instance=survey, seen_properties=seen_property_names(survey)), status=status
    )
