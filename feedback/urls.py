from django.urls import path
from rest_framework.routers import SimpleRouter

from feedback import api, api_responses, views

app_name = "feedback"

api_router = SimpleRouter()
api_router.register("api/v1/responses", api_responses.ResponseViewSet, basename="api-response")

urlpatterns = [
    path("api/v1/metrics/", api.metrics, name="api_metrics"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("verbatims/", views.verbatims, name="verbatims"),
    path("verbatims/export/", views.export_verbatims, name="export_verbatims"),
    *api_router.urls,
]
