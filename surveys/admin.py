"""The back office until CXSurvey has its own pages: Django admin for CX managers."""

import uuid
from datetime import datetime, timedelta
from typing import cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import BadHeaderError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from surveys import ratelimit
from surveys.access import is_admin, may_see_personal_data, pseudonym
from surveys.answering.pages import public_link
from surveys.answering.widget import widget_snippet
from surveys.email.dispatch import PermanentFailure, TemporaryFailure, send_message
from surveys.email.messages import render_preview, sample_email
from surveys.models import (
    CONSENT_TEXT_MAX_LENGTH,
    ApiToken,
    Consent,
    ConsentRecord,
    Contact,
    Event,
    Invitation,
    LegalBasisStated,
    LegalInformation,
    PropertyLabel,
    PropertyScore,
    Response,
    Survey,
    Team,
    Touchpoint,
)
from surveys.scales import LANGUAGES
from surveys.setup.touchpoints import TouchpointForm, describe_delay, describe_send_window
from surveys.stats import STATISTICS_DAYS, touchpoint_funnels, whole_days
from surveys.texts import validate_email_text
from surveys.upload import import_contacts, parse_contacts

UPLOAD_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_CACHE_SECONDS = 3600
# How a company's server signs an identity, in Python; README shows PHP and Node too.
SIGNING_EXAMPLE = 'hmac.new(secret.encode(), f"{email}\\n{external_id}".encode(), hashlib.sha256).hexdigest()'


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


class SurveyScoped:
    """For the back office's pages of what belongs to a survey: only the user's surveys' objects
    are listed and found (another team's answer "does not exist", like an unknown id), and forms
    offer only the user's surveys and touchpoints."""

    survey_field = "survey"

    def get_queryset(self, request):
        objects = super().get_queryset(request)  # type: ignore[misc]  # a mixin of ModelAdmin
        return objects.filter(**{f"{self.survey_field}__in": Survey.objects.visible_to(request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "survey":
            kwargs["queryset"] = Survey.objects.visible_to(request.user)
        elif db_field.name == "touchpoint":
            kwargs["queryset"] = Touchpoint.objects.filter(survey__in=Survey.objects.visible_to(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class TouchpointInline(admin.TabularInline):
    model = Touchpoint
    extra = 0
    fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# A web address typed without its scheme is taken as https.
URLS_ASSUME_HTTPS: dict[type[models.Field], dict[str, str]] = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    formfield_overrides = URLS_ASSUME_HTTPS
    list_display = ["name", "kind", "brand", "active", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "brand"]
    readonly_fields = [
        "public_key",
        "link",
        "widget_snippet",
        "identity_signing",
        "email_preview",
        "created_at",
    ]
    inlines = [TouchpointInline]
    actions = ["rotate_identity_secret"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "brand", "active", "expires_after_days"]}),
        (
            _("Texts (empty fields use the standard wording)"),
            {
                "fields": [
                    ("question_de", "question_en"),
                    ("subject_de", "subject_en"),
                    ("follow_up_de", "follow_up_en"),
                    ("thank_you_de", "thank_you_en"),
                    "return_url",
                ]
            },
        ),
        (
            _("Email"),
            {
                "fields": [
                    ("email_subject_de", "email_subject_en"),
                    ("email_intro_de", "email_intro_en"),
                    ("sender_name", "reply_to"),
                    "email_preview",
                ]
            },
        ),
        (
            _("Link and widget"),
            {
                "fields": [
                    "accent_color",
                    "widget_origins",
                    "public_key",
                    "link",
                    "widget_snippet",
                    "identity_signing",
                ]
            },
        ),
        (_("Dashboard"), {"fields": ["dashboard_properties"]}),
        (
            _("Retention"),
            {"fields": ["comment_retention_days", "invitation_retention_days", "event_retention_days"]},
        ),
        (None, {"fields": ["created_at"]}),
    ]

    def get_queryset(self, request):
        return Survey.objects.visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        # The kind fixes the scale of every stored response.
        return [*self.readonly_fields, "kind"] if obj else self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        """The identity secret only for those who may change the survey: whoever holds it can
        attach answers to any contact."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                name,
                {**options, "fields": [field for field in options["fields"] if field != "identity_signing"]},
            )
            for name, options in fieldsets
        ]

    def save_model(self, request, obj, form, change):
        """Save, then count the responses for a changed list of dashboard properties. A new survey
        belongs to its maker's teams, so that they see what they made.

        In the admin's transaction and after the survey's row is written: answers that
        arrive meanwhile wait for it and are then counted under the new list.
        """
        super().save_model(request, obj, form, change)
        if not change:
            obj.teams.add(*Team.objects.filter(members=request.user))
        if "dashboard_properties" in form.changed_data:
            PropertyScore.objects.rebuild(obj)

    @admin.display(description=_("public link"))
    def link(self, survey: Survey) -> str:
        if not survey.pk:
            return "—"
        url = public_link(survey)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.display(description=_("widget snippet"))
    def widget_snippet(self, survey: Survey) -> str:
        if not survey.pk:
            return "—"
        return format_html("<code>{}</code>", widget_snippet(survey))

    @admin.display(description=_("signed identities"))
    def identity_signing(self, survey: Survey) -> str:
        if not survey.pk:
            return gettext("Save the survey to see its identity secret.")
        link = _absolute(reverse("surveys:link", args=[survey.public_key]))
        return format_html(
            "<div>{intro}</div><p><code>{secret}</code></p>"
            "<pre>{example}</pre>"
            "<p>{link_label}: <code>{link}?email=…&amp;external_id=…&amp;signature=…</code><br>"
            '{widget_label}: <code>data-email="…" data-external-id="…" data-signature="…"</code></p>'
            "<div>{outcome}</div>",
            intro=gettext(
                "Your servers sign who a link or the widget is for, so that the answer is attached to "
                "that contact: HMAC-SHA256 with this secret over the email, a line break and the "
                "external id (each empty if absent), in lowercase hex. Keep the secret on your "
                "servers; never put it into a page."
            ),
            secret=survey.identity_secret,
            example=SIGNING_EXAMPLE,
            link_label=gettext("Link"),
            link=link,
            widget_label=gettext("Widget"),
            outcome=gettext(
                "Without a signature an answer keeps the identity it claims, unverified and apart from "
                "the contacts; a wrong signature is refused. To replace the secret (signatures made "
                "with the old one are refused from then on), choose the survey in the list and the "
                "action “Rotate the identity secret”."
            ),
        )

    @admin.action(description=_("Rotate the identity secret"), permissions=["change"])
    def rotate_identity_secret(self, request: HttpRequest, surveys) -> None:
        """A new secret for each chosen survey, e.g. after the old one leaked."""
        surveys = list(surveys)
        for survey in surveys:
            survey.rotate_identity_secret()
            # In the survey's history: who replaced it, and when (never the secret itself).
            self.log_change(request, survey, [{"changed": {"fields": ["identity secret"]}}])
        messages.success(
            request,
            ngettext(
                "The identity secret of %(count)d survey was replaced; signatures made with the old "
                "one are refused from now on.",
                "The identity secrets of %(count)d surveys were replaced; signatures made with the old "
                "ones are refused from now on.",
                len(surveys),
            )
            % {"count": len(surveys)},
        )

    @admin.display(description=_("preview"))
    def email_preview(self, survey: Survey) -> str:
        if not survey.pk:
            return gettext("Save the survey to see its email.")
        url = reverse("admin:surveys_survey_email", args=[survey.pk])
        return format_html('<a href="{}">{}</a>', url, _("Show the email and send yourself a test"))

    def get_urls(self):
        email = self.admin_site.admin_view(self.email_view)
        return [path("<int:survey_id>/email/", email, name="surveys_survey_email"), *super().get_urls()]

    def email_view(self, request: HttpRequest, survey_id: int) -> HttpResponse:
        """The survey's email as a sample contact gets it, in German and English; and, for whoever
        may change the survey, a test send to their own address or the configured test inboxes."""
        survey = get_object_or_404(self.get_queryset(request), pk=survey_id)
        if not self.has_view_permission(request, survey):
            raise PermissionDenied
        may_test = self.has_change_permission(request, survey)
        if request.method == "POST" and not may_test:
            raise PermissionDenied
        form = TestEmailForm(request.POST or None, user=request.user) if may_test else None
        status = 200
        if form is not None and request.method == "POST" and form.is_valid():
            if wait := ratelimit.count_request("test_email", f"user:{request.user.pk}"):
                message = ngettext(
                    "You have sent many test emails in a short time. Please wait %(seconds)d second.",
                    "You have sent many test emails in a short time. Please wait %(seconds)d seconds.",
                    wait,
                )
                messages.error(request, message % {"seconds": wait})
                status = 429
            else:
                address, language = form.cleaned_data["to"], form.cleaned_data["language"]
                try:
                    send_message(sample_email(survey, to=address, language=language), None)
                except (TemporaryFailure, PermanentFailure, BadHeaderError) as error:
                    message = gettext("The test email could not be sent: %(error)s") % {"error": error}
                    messages.error(request, message)
                else:
                    message = gettext("A test email is on its way to %(to)s.") % {"to": address}
                    messages.success(request, message)
                    return HttpResponseRedirect(request.path)
        for warning in _unusable_email_texts(survey):
            messages.warning(request, warning)
        previews = []
        for language in LANGUAGES:
            subject, text, html = render_preview(survey, language)
            previews.append({"language": language, "subject": subject, "text": text, "html": html})
        return TemplateResponse(
            request,
            "surveys/admin/email_preview.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": survey,
                "title": gettext("Email of %(survey)s") % {"survey": survey},
                "previews": previews,
                "form": form,
            },
            status=status,
        )


def _unusable_email_texts(survey: Survey) -> list[str]:
    """Why the preview shows the standard text for a text saved before the rules of surveys.texts."""
    warnings = []
    for field in (
        f"{text}_{language}" for text in ("email_subject", "email_intro") for language in LANGUAGES
    ):
        try:
            validate_email_text(getattr(survey, field))
        except ValidationError as refusal:
            warnings.append(
                gettext("%(field)s: the standard text is sent instead. %(problem)s")
                % {
                    "field": capfirst(cast(models.Field, Survey._meta.get_field(field)).verbose_name),
                    "problem": " ".join(refusal.messages),
                }
            )
    return warnings


class TestEmailForm(forms.Form):
    """A test goes to the sender's own address or a configured test inbox, never anywhere else:
    a survey's email under the company's brand is a phishing mail to any other address."""

    to = forms.ChoiceField(
        label=_("Send a test to"),
        error_messages={
            "invalid_choice": _(
                "A test email goes only to your own address or to the test addresses the "
                "administrator has set (TEST_EMAIL_RECIPIENTS)."
            )
        },
    )
    language = forms.ChoiceField(label=_("language"), choices=[("de", _("German")), ("en", _("English"))])

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        addresses: dict[str, str] = {}
        for address in [user.email, *settings.TEST_EMAIL_RECIPIENTS]:
            if address:
                addresses.setdefault(address.lower(), address)
        self.recipients = list(addresses.values())
        cast(forms.ChoiceField, self.fields["to"]).choices = [
            (address, address) for address in self.recipients
        ]


class ContactUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "First line: column names. email or external_id is required; name, language (de/en), "
            "legal_basis (consent/customer/none), consent_text and consent_given_at (the wording the "
            "person agreed to, and when) and occurred_at are optional; every other column becomes a "
            "contact property. Excel files saved as CSV work as they are."
        ),
    )

    def clean_file(self):
        file = self.cleaned_data["file"]
        if file.size > UPLOAD_MAX_BYTES:
            raise ValidationError(_("The file is larger than 5 MB; split it into several."))
        return file


class PeriodForm(forms.Form):
    since = forms.DateField(label=_("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError(_("The period must end after it starts."))
        return data

    def period(self) -> tuple[datetime, datetime]:
        """[since, until] as whole local days; the last 30 days by default."""
        data = self.cleaned_data if self.is_valid() else {}
        until = data.get("until") or timezone.localdate()
        return whole_days(data.get("since") or until - timedelta(days=STATISTICS_DAYS - 1), until)


@admin.register(Touchpoint)
class TouchpointAdmin(SurveyScoped, admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "survey",
        "active",
        "delay",
        "sample_percent",
        "recontact_days",
        "require_consent",
        "upload_link",
    ]
    list_filter = [("survey", admin.RelatedOnlyFieldListFilter), "active", "require_consent"]
    list_select_related = ["survey"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    # The set-up page's form: a delay in days or hours, the send window as days and times.
    form = TouchpointForm
    fieldsets = [
        (None, {"fields": ["name", "slug", "survey", "active"]}),
        (
            _("Whom to ask, and when"),
            {
                "fields": [
                    "require_consent",
                    "recontact_days",
                    "sample_percent",
                    ("delay_amount", "delay_unit"),
                    "send_any_time",
                    "send_days",
                    ("send_start", "send_end"),
                    "expires_after_days",
                    "reminder_after_days",
                ]
            },
        ),
        (_("After a follow-up case"), {"fields": ["recheck_after_days"]}),
    ]

    # The form's own fields, and what stands for them where the touchpoint can only be viewed.
    FORM_ONLY = {"delay_amount": "delay", "send_days": "send_window_text"}
    FORM_ONLY_HIDDEN = {"delay_unit", "send_any_time", "send_start", "send_end"}
    readonly_fields = list(FORM_ONLY.values())

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [(name, {**options, "fields": self._viewed(options["fields"])}) for name, options in fieldsets]

    def _viewed(self, fields) -> list[str]:
        names = [name for field in fields for name in (field if isinstance(field, tuple) else [field])]
        return [self.FORM_ONLY.get(name, name) for name in names if name not in self.FORM_ONLY_HIDDEN]

    @admin.display(description=_("delay"), ordering="delay_seconds")
    def delay(self, touchpoint: Touchpoint) -> str:
        return describe_delay(touchpoint.delay_seconds)

    @admin.display(description=_("send window"))
    def send_window_text(self, touchpoint: Touchpoint) -> str:
        return describe_send_window(touchpoint.send_window)

    @admin.display(description=_("contacts"))
    def upload_link(self, touchpoint: Touchpoint) -> str:
        url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
        return format_html('<a href="{}">{}</a>', url, _("Upload…"))

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload_view)
        statistics = self.admin_site.admin_view(self.statistics_view)
        return [
            path("<int:touchpoint_id>/upload/", upload, name="surveys_touchpoint_upload"),
            path("statistics/", statistics, name="surveys_touchpoint_statistics"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest, touchpoint_id: int) -> HttpResponse:
        """Upload contacts to ask at this touchpoint: a preview first, then the import."""
        touchpoint = get_object_or_404(self.get_queryset(request).select_related("survey"), pk=touchpoint_id)
        # Uploading contacts asks them: it needs the permission to send surveys.
        if not (
            request.user.has_perm("surveys.send_survey") and self.has_view_permission(request, touchpoint)
        ):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": touchpoint,
            "title": gettext("Upload contacts for %(touchpoint)s") % {"touchpoint": touchpoint},
        }
        form = ContactUploadForm()
        if request.method == "POST" and "upload" in request.POST:
            key = f"contact-upload:{request.user.pk}:{request.POST['upload']}"
            data = cache.get(key) if _is_uuid(request.POST["upload"]) else None
            if data is None:
                messages.error(request, gettext("The preview has expired; please upload the file again."))
                return HttpResponseRedirect(request.path)
            upload = parse_contacts(data, touchpoint=touchpoint, now=timezone.now())
            decisions, refused = import_contacts(upload, now=timezone.now(), recorded_by=request.user.pk)
            cache.delete(key)
            scheduled = decisions.get("scheduled", 0)
            messages.success(
                request,
                ngettext(
                    "%(count)d contact imported; %(scheduled)d invitations scheduled.",
                    "%(count)d contacts imported; %(scheduled)d invitations scheduled.",
                    len(upload.events) - len(refused),
                )
                % {"count": len(upload.events) - len(refused), "scheduled": scheduled},
            )
            return HttpResponseRedirect(reverse("admin:surveys_invitation_changelist"))
        if request.method == "POST":
            form = ContactUploadForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data["file"].read()
                try:
                    upload = parse_contacts(data, touchpoint=touchpoint, now=timezone.now())
                except ValidationError as error:
                    form.add_error("file", error)
                else:
                    decisions, refused = import_contacts(
                        upload, now=timezone.now(), recorded_by=request.user.pk, dry_run=True
                    )
                    token = str(uuid.uuid4())
                    cache.set(f"contact-upload:{request.user.pk}:{token}", data, UPLOAD_CACHE_SECONDS)
                    context.update(
                        upload=upload,
                        token=token,
                        decisions=sorted(decisions.items(), key=lambda item: -item[1]),
                        errors=sorted(upload.errors + refused)[:200],
                        error_count=len(upload.errors) + len(refused),
                        sample=upload.events[:20],
                    )
        context["form"] = form
        # A refused file is a bad request: nothing was read into the preview.
        status = 400 if form.errors else 200
        return TemplateResponse(request, "surveys/admin/contact_upload.html", context, status=status)

    def statistics_view(self, request: HttpRequest) -> HttpResponse:
        """Per touchpoint over a period: events, skipped by reason, invitations sent, delivered,
        opened and answered (``surveys.stats``); a malformed or backwards period is a 400."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = PeriodForm(request.GET or None)
        since, until = form.period()
        return TemplateResponse(
            request,
            "surveys/admin/touchpoint_statistics.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": gettext("Touchpoint statistics"),
                "form": form,
                "since": since,
                "until": until - timedelta(days=1),
                "funnels": touchpoint_funnels(self.get_queryset(request), since=since, until=until),
            },
            status=400 if form.errors else 200,
        )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class ContactForm(forms.ModelForm):
    """A contact, and the proof that comes with a legal basis set here: it goes into the contact's
    consent history with the legal basis."""

    consent_text = forms.CharField(
        label=_("wording the person agreed to"),
        required=False,
        max_length=CONSENT_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Recorded with the legal basis in the consent history below; the history keeps every change."
        ),
    )
    consent_given_at = forms.SplitDateTimeField(
        label=_("consent given"),
        required=False,
        widget=widgets.AdminSplitDateTime,
        help_text=_("Empty: now."),
    )

    class Meta:
        model = Contact
        fields = [
            "email",
            "external_id",
            "name",
            "language",
            "properties",
            "legal_basis",
            "unsubscribed_at",
            "bounced_at",
            "complained_at",
        ]

    def clean_consent_given_at(self):
        given_at = self.cleaned_data.get("consent_given_at")
        if given_at and given_at > timezone.now():
            raise ValidationError(_("A consent cannot have been given in the future."))
        return given_at

    def consent(self) -> Consent | None:
        """The proof entered with the legal basis, if any."""
        text, given_at = self.cleaned_data.get("consent_text", ""), self.cleaned_data.get("consent_given_at")
        return Consent(text=text, given_at=given_at) if text or given_at else None


CONSENT_RECORD_FIELDS = ("recorded_at", "legal_basis", "text", "language", "given_at", "source", "recorder")


class ConsentRecordInline(admin.TabularInline):
    """A contact's consent history, read-only: records are added by setting the legal basis."""

    model = ConsentRecord
    fields = CONSENT_RECORD_FIELDS
    readonly_fields = CONSENT_RECORD_FIELDS
    extra = 0
    can_delete = False
    verbose_name_plural = _("consent history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("surveys.view_contact")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("recorded by"))
    def recorder(self, record: ConsentRecord) -> str:
        if record.recorded_by is not None:
            return record.recorded_by.get_username()
        return f"#{record.recorded_by_id}" if record.recorded_by_id else "—"


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    inlines = [ConsentRecordInline]
    list_display = [
        "__str__",
        "name",
        "external_id",
        "language",
        "legal_basis",
        "unsubscribed_at",
        "bounced_at",
        "complained_at",
        "created_at",
    ]
    list_filter = [
        "language",
        "legal_basis",
        ("unsubscribed_at", admin.EmptyFieldListFilter),
        ("bounced_at", admin.EmptyFieldListFilter),
        ("complained_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["email", "external_id", "name"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["email", "external_id", "name", "language", "properties"]}),
        (_("Legal basis"), {"fields": ["legal_basis", "consent_text", "consent_given_at"]}),
        (_("Not to be asked"), {"fields": ["unsubscribed_at", "bounced_at", "complained_at"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        """The proof of a legal basis is entered, never shown: who may only view sees the history."""
        if self.has_change_permission(request, obj):
            return self.fieldsets
        proof = {"consent_text", "consent_given_at"}
        return [
            (name, {**options, "fields": [field for field in options["fields"] if field not in proof]})
            for name, options in self.fieldsets
        ]

    def save_model(self, request, obj, form, change):
        """Save, then add to the consent history what the legal basis and its proof say anew."""
        before = form.initial.get("legal_basis") if change else None
        super().save_model(request, obj, form, change)
        consent = form.consent()
        if "legal_basis" in form.changed_data or consent is not None:
            statement = LegalBasisStated(
                contact=obj, legal_basis=obj.legal_basis, before=before, consent=consent
            )
            ConsentRecord.objects.record(
                [statement],
                source=ConsentRecord.Source.BACK_OFFICE,
                recorded_by=request.user.pk,
                now=timezone.now(),
            )


@admin.register(Invitation)
class InvitationAdmin(SurveyScoped, admin.ModelAdmin):
    list_display = [
        "contact",
        "survey",
        "touchpoint",
        "status",
        "skip_reason",
        "created_at",
        "scheduled_for",
        "sent_at",
        "answered_at",
    ]
    list_filter = [
        "status",
        "skip_reason",
        ("survey", admin.RelatedOnlyFieldListFilter),
        ("touchpoint", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["contact", "survey", "touchpoint"]
    search_fields = ["contact__email", "contact__external_id", "token", "message_id"]
    autocomplete_fields = ["contact"]
    readonly_fields = [
        "token",
        "answer_link",
        "event",
        "skip_reason",
        "created_at",
        "attempts",
        "claimed_at",
        "send_started_at",
        "sent_at",
        "message_id",
        "provider_message_id",
        "last_error",
        "delivered_at",
        "opened_at",
        "reminder_sent_at",
        "answered_at",
    ]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    @admin.action(description=_("Send again (checked invitations under review or failed)"))
    def send_again(self, request: HttpRequest, invitations) -> None:
        """A person decided, after checking the mail server's log, that these never went out."""
        count = invitations.filter(status__in=[Invitation.Status.REVIEW, Invitation.Status.FAILED]).update(
            status=Invitation.Status.SCHEDULED,
            scheduled_for=timezone.now(),
            claimed_at=None,
            send_started_at=None,
            attempts=0,
            last_error="",
        )
        messages.success(
            request,
            ngettext(
                "%(count)d invitation will be sent again.", "%(count)d invitations will be sent again.", count
            )
            % {"count": count},
        )

    def get_changeform_initial_data(self, request):
        return {
            "expires_at": timezone.now() + timedelta(days=30),
            **super().get_changeform_initial_data(request),
        }

    @admin.display(description=_("answer link"))
    def answer_link(self, invitation: Invitation) -> str:
        if not invitation.pk:
            return "—"
        url = _absolute(reverse("surveys:answer", args=[invitation.token]))
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)


@admin.register(Response)
class ResponseAdmin(SurveyScoped, admin.ModelAdmin):
    list_display = [
        "created_at",
        "survey",
        "touchpoint",
        "score",
        "category",
        "channel",
        "language",
        "short_comment",
    ]
    list_filter = [
        ("survey", admin.RelatedOnlyFieldListFilter),
        "channel",
        "language",
        ("touchpoint", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["survey", "touchpoint"]
    search_fields = [
        "comment",
        "contact__email",
        "contact__external_id",
        "claimed_email",
        "claimed_external_id",
    ]
    date_hierarchy = "created_at"
    readonly_fields = [
        "public_id",
        "survey",
        "kind",
        "touchpoint",
        "invitation",
        "contact",
        "claimed_email",
        "claimed_external_id",
        "claimed_name",
        "channel",
        "score",
        "comment",
        "language",
        "contact_properties",
        "event_properties",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # responses come from respondents only

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # what a respondent said is read here, never edited: the page has no Save

    def get_fields(self, request, obj=None):
        """Who answered, and who an unsigned answer claimed to be (unverified), for those who may see
        personal data; a pseudonym for everyone else (the invitation's name says who it went to)."""
        if may_see_personal_data(request.user):
            return self.readonly_fields
        hidden = {
            "contact": "respondent",
            "invitation": None,
            "claimed_email": None,
            "claimed_external_id": None,
            "claimed_name": None,
        }
        return [hidden.get(field, field) for field in self.readonly_fields if hidden.get(field, field)]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_search_fields(self, request):
        """Only those who may see personal data find answers by who gave them."""
        return self.search_fields if may_see_personal_data(request.user) else ["comment"]

    @admin.display(description=_("respondent"))
    def respondent(self, response: Response) -> str:
        return pseudonym(response.contact_id) or "—"

    @admin.display(description=_("category"))
    def category(self, response: Response) -> str:
        return response.category

    @admin.display(description=_("comment"))
    def short_comment(self, response: Response) -> str:
        return response.comment[:80] + ("…" if len(response.comment) > 80 else "")


@admin.register(Event)
class EventAdmin(SurveyScoped, admin.ModelAdmin):
    """Events are what the company's systems reported; they are read, never edited."""

    list_display = ["received_at", "touchpoint", "contact", "occurred_at", "source"]
    list_filter = [("touchpoint", admin.RelatedOnlyFieldListFilter), "source"]
    survey_field = "touchpoint__survey"
    list_select_related = ["touchpoint", "contact"]
    search_fields = ["contact__email", "contact__external_id"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here and shown once; deleting one revokes it at once.

    Staff who are not Admins see and issue tokens for themselves only.
    """

    list_display = ["name", "user", "hint", "write", "created_at", "last_used_at"]
    list_filter = ["write"]
    list_select_related = ["user"]
    search_fields = ["name", "hint", "user__username"]

    def get_fields(self, request, obj=None):
        fields = ["user", "name", "write"]
        return fields if obj is None else [*fields, "hint", "created_at", "last_used_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["user", "hint", "created_at", "last_used_at"]

    def get_queryset(self, request):
        tokens = super().get_queryset(request)
        return tokens if is_admin(request.user) else tokens.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            users = get_user_model()._default_manager.filter(is_active=True)
            kwargs["queryset"] = users if is_admin(request.user) else users.filter(pk=request.user.pk)
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # The model issues tokens; the admin's object takes over the issued row for its log and page.
        issued, obj.plain_token = ApiToken.issue(user=obj.user, name=obj.name, write=obj.write)
        for field in ("id", "digest", "hint", "created_at"):
            setattr(obj, field, getattr(issued, field))
        obj._state.adding = False

    def response_add(self, request, obj, post_url_continue=None):
        """A page with the new token, instead of a message that would pass it through the session."""
        response = TemplateResponse(
            request,
            "surveys/admin/api_token_issued.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "api_token": obj,
                "token": obj.plain_token,
                "title": _("New API token"),
            },
        )
        add_never_cache_headers(response)
        return response


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Who works on which surveys. While there is no team, everyone sees every survey; once there
    is one, members of staff see the surveys of their teams, and Admins all."""

    list_display = ["name"]
    search_fields = ["name", "members__username"]
    filter_horizontal = ["members", "surveys"]


@admin.register(PropertyLabel)
class PropertyLabelAdmin(admin.ModelAdmin):
    """What the dashboards, the comments and exports call a property, instead of its raw name."""

    list_display = ["name", "label_de", "label_en"]
    search_fields = ["name", "label_de", "label_en"]


@admin.register(LegalInformation)
class LegalInformationAdmin(admin.ModelAdmin):
    """The installation's legal information: one page, which Admins alone see and change (settings
    are theirs). Its list leads to that page; its history says who changed what, when."""

    formfield_overrides = URLS_ASSUME_HTTPS
    readonly_fields = ["updated_at"]
    fieldsets = [
        (
            _("Company"),
            {
                "description": _(
                    "Shown at the foot of every respondent page, in the widget and in every survey email, "
                    "in the respondent's language. An empty field shows the other language's text."
                ),
                "fields": [("company_name_de", "company_name_en"), ("address_de", "address_en")],
            },
        ),
        (
            _("Links"),
            {"fields": [("privacy_url_de", "privacy_url_en"), ("impressum_url_de", "impressum_url_en")]},
        ),
        (_("Thank-you pages"), {"fields": ["return_url"]}),
        (None, {"fields": ["updated_at"]}),
    ]

    # Viewing and changing need the model's permissions, which the Admin role alone holds.

    def has_add_permission(self, request) -> bool:
        return False  # the one row is made when an Admin first opens the page

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        legal, _made = LegalInformation.objects.get_or_create(pk=LegalInformation.ONLY_ID)
        return HttpResponseRedirect(reverse("admin:surveys_legalinformation_change", args=[legal.pk]))

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
