"""Delighted's API v1 under ``/delighted/v1/``: each path with or without ``.json``, as its
clients called them."""

from django.urls import re_path

from delighted_compat.api import autopilot, lists, metrics, people, responses

app_name = "delighted_compat"


def json_path(route: str, view, name: str):
    return re_path(rf"^{route}(?:\.json)?$", view.as_view(), name=name)


urlpatterns = [
    json_path("people", people.People, "people"),
    json_path(r"people/(?P<email>[^/]+)/survey_requests/pending", people.PendingSurveyRequests, "pending"),
    json_path(r"people/(?P<identifier>[^/]+?)", people.Person, "person"),
    json_path("survey_responses", responses.SurveyResponses, "survey_responses"),
    json_path(r"survey_responses/(?P<response_id>[^/]+?)", responses.SurveyResponse, "survey_response"),
    json_path("metrics", metrics.Metrics, "metrics"),
    json_path("unsubscribes", lists.Unsubscribes, "unsubscribes"),
    json_path("bounces", lists.Bounces, "bounces"),
    json_path(r"autopilot/(?P<platform>[a-z]+)", autopilot.Configuration, "autopilot"),
    json_path(r"autopilot/(?P<platform>[a-z]+)/memberships", autopilot.Memberships, "autopilot_memberships"),
]
