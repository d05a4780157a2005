"""Signing in to the back office: the password, a lockout after failures, the second factor, and a
password reset by email.

The back office (Django's admin) and the app's pages share one login page, ``/login/``
(``SignInView``), and one rule, ``may_use_back_office``: an active staff user who, where
``REQUIRE_2FA`` asks for it, signed in with a code from an authenticator app. Whoever has set up an
app needs its code to sign in, required or not. The admin's own login address sends to ``/login/``,
so that there is one way in, with one set of rules and one page to keep.
"""

import math
from base64 import b32encode
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode, urlsplit

import qrcode
from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.utils import reset as reset_failed_logins
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.auth.views import redirect_to_login
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathFillImage

from surveys import ratelimit


def second_factor_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether ``REQUIRE_2FA`` asks this user for a code from an authenticator app."""
    required = settings.REQUIRE_2FA
    return required == "staff" or (required == "superusers" and bool(getattr(user, "is_superuser", False)))


def is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether this session signed in with a second factor (set by django-otp's middleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def may_use_back_office(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Active staff, signed in with their second factor where it is required."""
    if not (user.is_active and getattr(user, "is_staff", False)):
        return False
    return not second_factor_required(user) or is_verified(user)


def back_office_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """The back office's own rule for the app's pages; everyone else goes to its login page."""

    @wraps(view)
    def page(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if not may_use_back_office(request.user):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return page


def confirmed_device(user: AbstractBaseUser | AnonymousUser) -> TOTPDevice | None:
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


class SignInForm(AdminAuthenticationForm):
    """The admin's login with a field for the code of an authenticator app, needed by whoever set one up."""

    otp_token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        help_text=gettext_lazy("Only if you have set up two-factor authentication."),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        device = confirmed_device(user)
        if device is None:
            return
        token = self.cleaned_data.get("otp_token", "").replace(" ", "")
        if not token:
            raise forms.ValidationError(_("Enter the code from your authenticator app."), code="otp_required")
        allowed, _details = device.verify_is_allowed()
        verified = verify_token(user, device.persistent_id, token) if allowed else None
        if verified is None:
            # A wrong code counts as a failed sign-in, towards the lockout like a wrong password.
            credentials = {"username": user.get_username()}
            user_login_failed.send(sender=__name__, credentials=credentials, request=self.request)
            if not allowed:
                message = _("Too many wrong codes. Wait a moment, then enter the newest code.")
            else:
                message = _("This code is not right. Enter the newest code from your authenticator app.")
            raise forms.ValidationError(message, code="otp_invalid")
        # django-otp's user_logged_in receiver keeps the device in the session: the session is verified.
        user.otp_device = verified  # type: ignore[attr-defined]


class BackOfficeSite(admin.AdminSite):
    """Django's admin site with ``may_use_back_office`` as its rule and the second factor's set-up page."""

    login_form = SignInForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_use_back_office(request.user)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """The one login page; ``next`` and any other parameter go along."""
        query = request.GET.urlencode(safe="/")
        return HttpResponseRedirect(f"{reverse('login')}?{query}" if query else reverse("login"))

    def get_urls(self) -> list:
        own: list[URLPattern] = [
            path("two-factor/", self.two_factor, name="two_factor"),
            path("two-factor/qr.svg", self.two_factor_qr_code, name="two_factor_qr_code"),
        ]
        return own + super().get_urls()

    @method_decorator(never_cache)
    def two_factor(self, request: HttpRequest) -> HttpResponse:
        """Set up, replace or turn off the authenticator app of the signed-in user."""
        user = request.user
        if refusal := _refuse_two_factor_page(request):
            return refusal
        current = confirmed_device(user)
        new = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
        action = request.POST.get("action")
        form = TwoFactorForm(request.POST if action == "confirm" else None)
        if request.method == "POST" and action == "replace":
            new = new or TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
        elif request.method == "POST" and action == "off" and current and not second_factor_required(user):
            TOTPDevice.objects.filter(user=user).delete()
            messages.success(request, _("Two-factor authentication is off."))
            return HttpResponseRedirect(reverse("admin:two_factor"))
        elif request.method == "POST" and action == "confirm" and new and form.is_valid():
            if verify_token(user, new.persistent_id, form.cleaned_data["code"]) is not None:
                return _confirm(request, new)
            form.add_error("code", _("This code is not right. Enter the newest code from your app."))
        if current is None and new is None:
            new = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
        context = {
            **self.each_context(request),
            "title": _("Two-factor authentication"),
            "current": current,
            "new": new,
            "secret": _readable_secret(new) if new else "",
            "form": form,
            "required": second_factor_required(user),
            "next": _next_url(request),
        }
        status = 400 if form.errors else 200
        return render(request, "registration/two_factor.html", context, status=status)

    @method_decorator(never_cache)
    @method_decorator(require_GET)
    def two_factor_qr_code(self, request: HttpRequest) -> HttpResponse:
        """The QR code of the authenticator app being set up, drawn here: the secret goes nowhere else."""
        if refusal := _refuse_two_factor_page(request):
            return refusal
        new = TOTPDevice.objects.devices_for_user(request.user, confirmed=False).order_by("-pk").first()
        if new is None:
            return HttpResponse(status=404)
        response = HttpResponse(content_type="image/svg+xml")
        # One path, on white: crisp at any size, and readable in the admin's dark theme too.
        qrcode.make(new.config_url, image_factory=SvgPathFillImage).save(response)
        response["Content-Security-Policy"] = "default-src 'none'"
        return response


class SignInView(auth_views.LoginView):
    """The login page of the back office and the app's pages, in the app's look.

    After signing in it goes to ``next`` (on this site), else to the home page. Signed in with the
    password but without the second factor the back office asks for, one signs in again with the
    code, or is sent to set up an app first.
    """

    form_class = SignInForm
    template_name = "registration/login.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        user = request.user
        if request.method == "GET" and may_use_back_office(user):
            return HttpResponseRedirect(self.get_success_url())
        if request.method == "GET" and _must_set_up(user):
            target = reverse("admin:two_factor")
            following = _next_url(request)
            return HttpResponseRedirect(
                f"{target}?{urlencode({REDIRECT_FIELD_NAME: following})}" if following else target
            )
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict:
        user = self.request.user
        needs_code = user.is_authenticated and second_factor_required(user) and not is_verified(user)
        return super().get_context_data(needs_code=needs_code, **kwargs)


def _must_set_up(user: AbstractBaseUser | AnonymousUser) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and getattr(user, "is_staff", False)
        and second_factor_required(user)
        and not is_verified(user)
        and confirmed_device(user) is None
    )


def _refuse_two_factor_page(request: HttpRequest) -> HttpResponse | None:
    """Only staff may set up an app; changing one that is in use needs a session verified with it."""
    user = request.user
    if not (user.is_authenticated and user.is_active and getattr(user, "is_staff", False)):
        return redirect_to_login(request.get_full_path())
    if confirmed_device(user) is not None and not is_verified(user):
        return redirect_to_login(request.get_full_path())
    return None


class TwoFactorForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self) -> str:
        return self.cleaned_data["code"].replace(" ", "")


def _confirm(request: HttpRequest, device: TOTPDevice) -> HttpResponse:
    """The new app replaces the old one, and this session counts as signed in with it."""
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    messages.success(
        request, _("Two-factor authentication is on. Sign-ins now ask for a code from your app.")
    )
    return HttpResponseRedirect(_next_url(request) or reverse("admin:index"))


def _next_url(request: HttpRequest) -> str:
    following = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    safe = url_has_allowed_host_and_scheme(
        following, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return following if safe else ""


def _readable_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps take it when typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[start : start + 4] for start in range(0, len(secret), 4))


# Failed sign-ins (django-axes).


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out user or address before any password is checked.

    Sign-ins without a request (the test client's ``login``, a shell) are not counted: only
    requests come from an attacker.
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class LoginAttempts(AxesDatabaseHandler):
    """Axes' database records with two limits: one per user, a larger one per client address.

    Axes compares one number with one limit (``AXES_FAILURE_LIMIT``, the per-user limit), so the
    address's failures are scaled to it: ``client * per_user // per_client`` reaches ``per_user``
    exactly when the address reaches its own limit.
    """

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        by_user, by_client = (
            attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
            for attempts in self.get_user_attempts(request, credentials)  # AXES_LOCKOUT_PARAMETERS' order
        )
        scaled = by_client * settings.LOGIN_FAILURES_PER_USER // settings.LOGIN_FAILURES_PER_CLIENT
        return max(by_user, scaled)


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The login page, saying that and for how long signing in is blocked (axes' lockout response)."""
    cool_off = settings.AXES_COOLOFF_TIME
    context = {
        "form": SignInForm(request),
        "locked_out_minutes": math.ceil(cool_off.total_seconds() / 60),
        REDIRECT_FIELD_NAME: _next_url(request),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


# Password reset by email.


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, limited per client address. Known or not, every address gets the same answer."""

    @property
    def extra_email_context(self) -> dict:  # type: ignore[override]
        # The link points at SITE_URL, whatever Host the request came with.
        site = urlsplit(settings.SITE_URL)
        return {"protocol": site.scheme, "domain": site.netloc, "site_name": site.hostname}

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wait = ratelimit.retry_after(request, "password_reset")
        if wait is None:
            return super().post(request, *args, **kwargs)
        form = self.get_form()
        form.add_error("email", _("Too many requests from your network. Wait a minute and try again."))
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(wait)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's; a new password also lifts a lockout of the account (not of the address)."""

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        reset_failed_logins(username=form.user.get_username())
        return response
