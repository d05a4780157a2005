from django.urls import path

from followup import public

app_name = "followup"

urlpatterns = [
    path("r/<str:token>/", public.recheck, name="recheck"),
]
