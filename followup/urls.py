from django.urls import path

from followup import views

app_name = "followup"

urlpatterns: list = [
    path("digest/", views.digest, name="digest"),
    path("digest/unsubscribe/<str:token>/", views.unsubscribe, name="digest_unsubscribe"),
]
