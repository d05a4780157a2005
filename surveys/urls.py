from django.urls import path

from surveys import views, widget

app_name = "surveys"

urlpatterns = [
    path("s/<str:token>/", views.answer, name="answer"),
    path("s/<str:token>/thanks/", views.answer_thanks, name="answer_thanks"),
    path("l/<str:key>/", views.link_survey, name="link"),
    path("l/<str:key>/thanks/", views.link_thanks, name="link_thanks"),
    path("api/v1/widget/surveys/<str:key>/", widget.widget_survey, name="widget_survey"),
    path("api/v1/widget/responses/", widget.widget_answer, name="widget_answer"),
    path(
        "api/v1/widget/responses/<uuid:public_id>/",
        widget.widget_revise,
        name="widget_revise",
    ),
]
