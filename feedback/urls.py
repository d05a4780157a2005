from django.urls import path

from feedback import api

app_name = "feedback"

urlpatterns = [
    path("api/v1/metrics/", api.metrics, name="api_metrics"),
]
