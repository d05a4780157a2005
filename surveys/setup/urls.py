"""The staff's own set-up pages for surveys and touchpoints, beside the admin for power users."""

from django.urls import path

from surveys.setup import touchpoints

app_name = "setup"

urlpatterns: list = [
    path("touchpoints/new/", touchpoints.new_touchpoint, name="new_touchpoint"),
    path("touchpoints/<int:pk>/", touchpoints.touchpoint_page, name="touchpoint"),
]
