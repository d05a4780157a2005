from django.urls import path
from rest_framework.routers import SimpleRouter

from feedback import answers, views
from feedback.api import exports, metrics, responses

app_name = "feedback"

api_router = SimpleRouter()
api_router.register("api/v1/responses", responses.ResponseViewSet, basename="api-response")
api_router.register("api/v1/exports", exports.ExportViewSet, basename="api-export")

urlpatterns = [
    path("api/v1/metrics/", metrics.metrics, name="api_metrics"),
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("verbatims/", views.verbatims, name="verbatims"),
    path("verbatims/export/", views.export_verbatims, name="export_verbatims"),
    path("verbatims/export/prepare/", views.prepare_export, name="prepare_export"),
    path("responses/<uuid:public_id>/", answers.response_page, name="response"),
    path("responses/<uuid:public_id>/tags/", answers.add_tag, name="add_tag"),
    path("responses/<uuid:public_id>/tags/remove/", answers.remove_tag, name="remove_tag"),
    path("exports/", views.my_exports, name="exports"),
    path("exports/<uuid:public_id>/", views.export_page, name="export"),
    path("exports/<uuid:public_id>/status/", views.export_status, name="export_status"),
    path("exports/<uuid:public_id>/download/", views.download_export, name="download_export"),
    *api_router.urls,
]
