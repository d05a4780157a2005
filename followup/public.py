"""The customer's page for "Was your issue solved?" (``followup.rechecks``): ``/r/<token>/``.

A GET never records anything (mail scanners open every link in an email): the page shows
the choice the email's button made, and the customer sends it, with a comment if they like.
Like the answering pages it speaks the customer's language, loads nothing from elsewhere and
is rate-limited.
"""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from followup.models import Recheck
from followup.rechecks import record_recheck_answer
from surveys.answering.forms import comment_field, is_valid_utf8_form
from surveys.models import is_token_shaped
from surveys.public import PublicError, check_rate, not_found, public_page, render_public, use_language


class RecheckForm(forms.Form):
    solved = forms.ChoiceField(
        choices=[("yes", "yes"), ("no", "no")],
        error_messages={
            "required": _("Please choose whether your issue was solved."),
            "invalid_choice": _("Please choose whether your issue was solved."),
        },
    )
    comment = comment_field()


def get_recheck_by_token(request: HttpRequest, token: str) -> Recheck:
    """The question behind an email's link, once sent; a 404 for unknown, malformed and unsent ones alike."""
    recheck = (
        Recheck.objects.select_related("case__survey").filter(token=token, sent_at__isnull=False).first()
        if is_token_shaped(token)
        else None
    )
    if recheck is None:
        raise not_found(
            request,
            _("Link not valid"),
            _("This link is not valid. Please use the link from your email exactly as it was sent."),
        )
    return recheck


@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def recheck(request: HttpRequest, token: str) -> HttpResponse:
    question = get_recheck_by_token(request, token)
    use_language(request, question.language)
    page_url = reverse("followup:recheck", args=[token])
    if request.method == "POST":
        check_rate(request, "answer")
        if not is_valid_utf8_form(request.body):
            raise PublicError(
                400,
                str(_("Your answer could not be saved")),
                str(_("Your answer contains characters that are not valid text (UTF-8). Please retype it.")),
            )
        form = RecheckForm(request.POST)
        if form.is_valid():
            solved = form.cleaned_data["solved"] == "yes"
            record_recheck_answer(
                question, solved=solved, comment=form.cleaned_data["comment"], now=timezone.now()
            )
            return redirect(f"{page_url}?answered=1")
        status = 400
    else:
        chosen = request.GET.get("solved", "")
        form = RecheckForm(initial={"solved": chosen, "comment": question.comment})
        status = 200
    context = {
        "survey": question.case.survey,
        "recheck": question,
        "form": form,
        "chosen": form["solved"].value() or "",
        "comment": form["comment"].value() or "",
        "page_url": page_url,
        "answered": request.method != "POST" and request.GET.get("answered") and question.answered_at,
    }
    return render_public(request, "followup/recheck.html", context, status=status)
