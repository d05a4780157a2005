from django.urls import path

from feedback import api, views

app_name = "feedback"

urlpatterns = [
    path("api/v1/metrics/", api.metrics, name="api_metrics"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("verbatims/", views.verbatims, name="verbatims"),
    path("verbatims/export/", views.export_verbatims, name="export_verbatims"),
]
