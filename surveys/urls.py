from django.urls import path
from rest_framework.routers import SimpleRouter

from surveys import api_contacts, api_events, api_surveys, unsubscribe, views, widget

app_name = "surveys"

api = SimpleRouter()
api.register("api/v1/surveys", api_surveys.SurveyViewSet, basename="api-survey")
api.register("api/v1/touchpoints", api_surveys.TouchpointViewSet, basename="api-touchpoint")
api.register("api/v1/contacts", api_contacts.ContactViewSet, basename="api-contact")
api.register("api/v1/invitations", api_contacts.InvitationViewSet, basename="api-invitation")

urlpatterns = [
    path("s/<str:token>/", views.answer, name="answer"),
    path("s/<str:token>/thanks/", views.answer_thanks, name="answer_thanks"),
    path("l/<str:key>/", views.link_survey, name="link"),
    path("l/<str:key>/thanks/", views.link_thanks, name="link_thanks"),
    path("u/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/resubscribe/", unsubscribe.resubscribe, name="resubscribe"),
    path("preview/<str:key>/", views.preview, name="preview"),
    path("api/v1/widget/surveys/<str:key>/", widget.widget_survey, name="widget_survey"),
    path("api/v1/widget/responses/", widget.widget_answer, name="widget_answer"),
    path(
        "api/v1/widget/responses/<uuid:public_id>/",
        widget.widget_revise,
        name="widget_revise",
    ),
    path("api/v1/events/", api_events.post_event, name="api_events"),
    path("api/v1/events/bulk/", api_events.post_events_bulk, name="api_events_bulk"),
    *api.urls,
]
