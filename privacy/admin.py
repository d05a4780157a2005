"""Privacy in the back office: the retention's runs and what the next would clear, and on a
contact's page its erasure and everything held about it (right of access)."""

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from audit.admin import ReadOnlyForAdmins
from privacy.access import personal_data, record_access_export, sections
from privacy.erasure import erase_contact
from privacy.models import RetentionRun
from privacy.places import PLACES, Person, counts
from privacy.retention import INACTIVE_CONTACTS, KINDS, LABELS, apply_retention
from surveys import admin as surveys_admin
from surveys.models import Contact, Suppression, Survey


@admin.register(RetentionRun)
class RetentionRunAdmin(ReadOnlyForAdmins):
    list_display = ["at", "actor", "via", "cleared"]
    list_filter = ["via"]
    date_hierarchy = "at"
    change_list_template = "admin/privacy/retentionrun/change_list.html"

    @admin.display(description=_("cleared"))
    def cleared(self, run: RetentionRun) -> str:
        counts = run.details.get("cleared", {})
        return ", ".join(f"{label}: {counts.get(name, 0)}" for name, label in LABELS.items())

    def get_urls(self) -> list:
        preview = self.admin_site.admin_view(require_GET(self.preview))
        return [path("preview/", preview, name="privacy_retentionrun_preview"), *super().get_urls()]

    def preview(self, request: HttpRequest) -> TemplateResponse:
        """What a run would clear now (a dry run), and each survey's periods."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = apply_retention(now=timezone.now(), dry_run=True)
        surveys = [
            (survey, [kind.days(survey) for kind in KINDS]) for survey in Survey.objects.order_by("name")
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("What the next retention run would clear"),
            "kinds": [(kind, report[kind.name]) for kind in KINDS],
            "contacts": (
                LABELS[INACTIVE_CONTACTS],
                report[INACTIVE_CONTACTS],
                settings.RETENTION_CONTACT_DAYS,
            ),
            "surveys": surveys,
        }
        return TemplateResponse(request, "admin/privacy/retentionrun/preview.html", context)


class ErasureForm(forms.Form):
    """The options of an erasure in the back office; the button's hidden ``post`` confirms it."""

    delete_answers = forms.BooleanField(
        label=_("Delete the answers too (their scores leave the dashboards)"), required=False
    )
    keep_comments = forms.BooleanField(
        label=_("Keep the comments, with email addresses, phone numbers and the contact's name masked"),
        required=False,
    )


# The contact's page as the surveys app has it, with the doors of privacy: deleting a contact is
# erasing it, and its personal data can be read and downloaded (right of access).
admin.site.unregister(Contact)


@admin.register(Contact)
class ContactAdmin(surveys_admin.ContactAdmin):
    change_form_template = "admin/privacy/contact/change_form.html"

    def get_actions(self, request: HttpRequest) -> dict:
        """No bulk delete: a contact goes by erasure, one at a time, with its confirmation."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self) -> list:
        data = self.admin_site.admin_view(require_GET(self.personal_data_view))
        return [
            path("<path:object_id>/personal-data/", data, name="surveys_contact_personal_data"),
            *super().get_urls(),
        ]

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        """Erase the contact (``privacy.erasure``), after a page that names what goes and what stays.
        For whoever may delete contacts; a contact that does not exist is answered as the admin does."""
        contact = self.get_object(request, unquote(object_id))
        if not self.has_delete_permission(request, contact):
            raise PermissionDenied
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        confirmed = request.method == "POST" and request.POST.get("post") == "yes"
        form = ErasureForm(
            request.POST if confirmed else None, initial={"keep_comments": settings.ERASURE_KEEP_COMMENTS}
        )
        if form.is_bound and form.is_valid():
            erased = erase_contact(
                contact_id=contact.pk,
                keep_comments=form.cleaned_data["keep_comments"],
                delete_answers=form.cleaned_data["delete_answers"],
            )
            counted = erased.counts if erased else {}
            self.message_user(
                request,
                gettext(
                    "The contact was erased: %(responses)d answers, %(invitations)d invitations and "
                    "%(events)d events no longer name it."
                )
                % {name: counted.get(name, 0) for name in ("responses", "invitations", "events")},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:surveys_contact_changelist"))
        person = Person.of(contact)
        found = counts(person)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": contact,
            "title": gettext("Erase this contact"),
            "form": form,
            "goes": [(place.label, found[place.name]) for place in PLACES if place.name != "contact"],
            "objection": Suppression.Reason(contact.suppression).label if contact.suppression else None,
        }
        return TemplateResponse(request, "admin/privacy/contact/erase.html", context)

    def personal_data_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Everything held about the contact (right of access), as a page or, with ``?format=json``,
        as a JSON file; each is recorded in the audit log. For whoever may view contacts."""
        contact = self.get_object(request, unquote(object_id))
        if not self.has_view_or_change_permission(request, contact):
            raise PermissionDenied
        if contact is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        person = Person.of(contact)
        document = personal_data(person)
        as_json = request.GET.get("format") == "json"
        record_access_export(person, document, form="json" if as_json else "html")
        if as_json:
            response = JsonResponse(document, json_dumps_params={"ensure_ascii": False, "indent": 2})
            response["Content-Disposition"] = (
                f'attachment; filename="personal-data-contact-{contact.pk}.json"'
            )
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": contact,
            "title": gettext("Personal data of this contact"),
            "sections": sections(document),
            "generated_at": datetime.fromisoformat(document["generated_at"]),
        }
        return TemplateResponse(request, "admin/privacy/contact/personal_data.html", context)
