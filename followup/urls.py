from django.urls import path

from followup import views

app_name = "followup"

urlpatterns = [
    path("cases/", views.inbox, name="inbox"),
    path("cases/bulk/", views.bulk_change, name="bulk_change"),
    path("cases/<uuid:public_id>/", views.case_page, name="case"),
    path("cases/<uuid:public_id>/change/", views.change, name="change_case"),
    path("cases/<uuid:public_id>/notes/", views.add_note, name="add_note"),
    path("cases/<uuid:public_id>/reply/", views.reply, name="reply"),
    path("responses/<uuid:public_id>/case/", views.open_case, name="open_case"),
]
