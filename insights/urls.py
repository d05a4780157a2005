from django.urls import path

from insights import api, views

app_name = "insights"

urlpatterns = [
    path("insights/", views.insights, name="insights"),
    path("api/v1/insights/terms/", api.terms, name="api_terms"),
    path("api/v1/insights/themes/", api.themes, name="api_themes"),
    path("api/v1/insights/tone/", api.tone, name="api_tone"),
]
