from django.contrib import admin
from django.urls import include, path

from surveys.email.tracking import webhook_urlpatterns

urlpatterns = [
    path("", include("surveys.urls")),
    path("", include("feedback.urls")),
    path("", include("webhooks.urls")),
    path("", include("surveys.api.schema")),
    path("admin/", admin.site.urls),
    # Email providers report deliveries, opens, bounces and complaints here (django-anymail).
    path("webhooks/email/", include((webhook_urlpatterns(), "anymail"))),
]

handler400 = "surveys.public.bad_request"
handler404 = "surveys.public.page_not_found"
handler500 = "surveys.public.server_error"
