"""The digest's page, where staff subscribe to it, and its unsubscribe link, which works without
signing in."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cxsurvey.signin import back_office_required
from followup.digests import read_unsubscribe_token
from followup.forms import DigestForm
from followup.models import Digest
from surveys.access import may_read_feedback
from surveys.public import not_found, public_page, render_public, use_language


class AuthenticatedHttpRequest(HttpRequest):
    user: User


@back_office_required
@require_http_methods(["GET", "HEAD", "POST"])
def digest(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Subscribe to the digest, change it, or stop it ("stop" in the form)."""
    if not may_read_feedback(request.user):
        raise PermissionDenied
    current = Digest.objects.filter(user=request.user).first()
    if request.method == "POST" and "stop" in request.POST:
        Digest.objects.filter(user=request.user).delete()
        return redirect("followup:digest")
    initial = {} if current else {"language": translation.get_language()}
    form = DigestForm(request.POST or None, instance=current or Digest(user=request.user), initial=initial)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("followup:digest")
    with translation.override(current.language if current else translation.get_language()):
        status = 400 if form.errors else 200
        return render(request, "followup/digest.html", {"form": form, "digest": current}, status=status)


# Mail services stop a subscription with one POST without cookies (RFC 8058), so the POST is exempt
# from CSRF checks: it needs the signed token, and whoever has it may stop the digest anyway.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners open every link); POST stops the digest."""
    user_id = read_unsubscribe_token(token)
    if user_id is None:
        raise not_found(
            request,
            gettext_lazy("Link not valid"),
            gettext_lazy(
                "This link is not valid. Please use the link from your email exactly as it was sent."
            ),
        )
    current = Digest.objects.filter(user_id=user_id).first()
    use_language(request, current.language if current else "")
    if request.method == "POST":
        Digest.objects.filter(user_id=user_id).delete()
        state = "stopped"
    else:
        state = "ask" if current else "none"
    return render_public(request, "followup/digest_unsubscribe.html", {"state": state, "token": token})
