from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cxsurvey import probes, signin
from privacy import views as privacy_views
from surveys.email.tracking import webhook_urlpatterns

# Password reset by email, from the login page (which links to admin_password_reset).
password_reset = [
    path("admin/password_reset/", signin.PasswordResetView.as_view(), name="admin_password_reset"),
    path(
        "admin/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"
    ),
    path("reset/<uidb64>/<token>/", signin.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

urlpatterns = [
    # Answered by cxsurvey.probes.ProbeMiddleware before any other middleware; named here for reverse().
    *probes.urlpatterns,
    # Before surveys: the contacts' API addresses with erasure and the export of personal data.
    path("", include("privacy.urls")),
    path("", include("surveys.urls")),
    path("", include("feedback.urls")),
    path("", include("insights.urls")),
    path("", include("webhooks.urls")),
    path("", include("followup.urls")),
    path("delighted/v1/", include("delighted_compat.urls")),
    path("setup/", include("surveys.setup.urls")),
    path("", include("surveys.api.schema")),
    path("login/", signin.SignInView.as_view(), name="login"),
    *password_reset,
    path(
        "admin/privacy/processing/",
        admin.site.admin_view(privacy_views.processing),
        name="privacy_processing",
    ),
    path("admin/", admin.site.urls),
    # Email providers report deliveries, opens, bounces and complaints here (django-anymail).
    path("webhooks/email/", include((webhook_urlpatterns(), "anymail"))),
]

handler400 = "surveys.public.bad_request"
handler404 = "surveys.public.page_not_found"
handler500 = "surveys.public.server_error"
