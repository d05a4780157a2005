from django.urls import path
from rest_framework.routers import SimpleRouter

from surveys.answering import pages, widget
from surveys.api import contacts, events
from surveys.api import surveys as surveys_and_touchpoints
from surveys.email import unsubscribe

app_name = "surveys"

api = SimpleRouter()
api.register("api/v1/surveys", surveys_and_touchpoints.SurveyViewSet, basename="api-survey")
api.register("api/v1/touchpoints", surveys_and_touchpoints.TouchpointViewSet, basename="api-touchpoint")
# The contacts (contacts.ContactViewSet) are routed by privacy, whose view set adds their erasure.
api.register("api/v1/invitations", contacts.InvitationViewSet, basename="api-invitation")

urlpatterns = [
    path("s/<str:token>/", pages.answer, name="answer"),
    path("s/<str:token>/thanks/", pages.answer_thanks, name="answer_thanks"),
    path("l/<str:key>/", pages.link_survey, name="link"),
    path("l/<str:key>/thanks/", pages.link_thanks, name="link_thanks"),
    path("u/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("u/<str:token>/resubscribe/", unsubscribe.resubscribe, name="resubscribe"),
    path("preview/<str:key>/", pages.preview, name="preview"),
    path("api/v1/widget/surveys/<str:key>/", widget.widget_survey, name="widget_survey"),
    path("api/v1/widget/responses/", widget.widget_answer, name="widget_answer"),
    path(
        "api/v1/widget/responses/<uuid:public_id>/",
        widget.widget_revise,
        name="widget_revise",
    ),
    path("api/v1/events/", events.post_event, name="api_events"),
    path("api/v1/events/bulk/", events.post_events_bulk, name="api_events_bulk"),
    *api.urls,
]
