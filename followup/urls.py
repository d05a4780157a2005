from django.urls import path
from rest_framework.routers import SimpleRouter

from followup import api, public, views

app_name = "followup"

api_router = SimpleRouter()
api_router.register("api/v1/cases", api.CaseViewSet, basename="api-case")
api_router.register("api/v1/tags", api.TagViewSet, basename="api-tag")

urlpatterns = [
    path("cases/", views.inbox, name="inbox"),
    path("cases/bulk/", views.bulk_change, name="bulk_change"),
    path("cases/<uuid:public_id>/", views.case_page, name="case"),
    path("cases/<uuid:public_id>/change/", views.change, name="change_case"),
    path("cases/<uuid:public_id>/notes/", views.add_note, name="add_note"),
    path("cases/<uuid:public_id>/reply/", views.reply, name="reply"),
    path("responses/<uuid:public_id>/case/", views.open_case, name="open_case"),
    path("r/<str:token>/", public.recheck, name="recheck"),
    path("digest/", views.digest, name="digest"),
    path("digest/unsubscribe/<str:token>/", views.unsubscribe, name="digest_unsubscribe"),
    path(
        "api/v1/cases/<uuid:public_id>/notes/",
        api.NoteViewSet.as_view({"get": "list", "post": "create"}),
        name="api-case-notes",
    ),
    path(
        "api/v1/responses/<uuid:public_id>/tags/",
        api.ResponseTagViewSet.as_view({"post": "create"}),
        name="api-response-tags",
    ),
    path(
        "api/v1/responses/<uuid:public_id>/tags/<str:name>/",
        api.ResponseTagViewSet.as_view({"delete": "destroy"}),
        name="api-response-tag",
    ),
    *api_router.urls,
]
