from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("surveys.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "surveys.views.bad_request"
handler404 = "surveys.views.page_not_found"
