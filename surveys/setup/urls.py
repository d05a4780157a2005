"""The staff's own set-up pages for surveys and touchpoints, beside the admin for power users."""

from django.urls import path

from surveys.setup import pages, surveys, touchpoints

app_name = "setup"

urlpatterns: list = [
    path("", pages.index, name="index"),
    path("surveys/new/", surveys.new_survey, name="new_survey"),
    path("surveys/new/preview/", surveys.preview_new_survey, name="new_survey_preview"),
    path("surveys/<int:pk>/", surveys.edit_survey, name="survey"),
    path("surveys/<int:pk>/preview/", surveys.preview_survey, name="survey_preview"),
    path("surveys/<int:pk>/test-email/", surveys.send_test_email, name="test_email"),
    path("touchpoints/new/", touchpoints.new_touchpoint, name="new_touchpoint"),
    path("touchpoints/<int:pk>/", touchpoints.touchpoint_page, name="touchpoint"),
]
