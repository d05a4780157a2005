"""What every endpoint shares: cursor pages that refuse forged cursors on every list of the API."""

import base64
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from followup.cases import open_case
from tests.factories import make_api_token, make_response, make_subscription

pytestmark = pytest.mark.django_db

# Every list of the API, by URL name, with a well-formed position of the column it is ordered by.
LISTS = {
    "surveys:api-survey-list": "1",
    "surveys:api-touchpoint-list": "1",
    "privacy:api-contact-list": "1",
    "surveys:api-invitation-list": "1",
    "feedback:api-response-list": "2026-11-10 09:00:00+00:00",
    "feedback:api-export-list": "1",
    "webhooks:api-webhook-list": "1",
    "webhooks:api-webhook-deliveries": "1",
    "followup:api-case-list": "1",
    "followup:api-case-notes": "1",
    "followup:api-tag-list": "1",
}
# Cursors that decode but were never made here: none is a position of an id or of a time.
FORGED = {
    "no number": {"p": "abc"},
    "empty position": {"p": ""},
    "fraction": {"p": "1.5"},
    "beyond the database's ids": {"p": str(2**63)},
    "far beyond them": {"p": "9" * 40},
    "negative offset": {"o": "-5"},
    "offset past ours": {"o": "1001"},
    "huge offset": {"o": "9" * 40},
    "direction no number": {"r": "x"},
    "30 February": {"p": "2026-02-30 10:00:00+00:00"},
    "a time without offset": {"p": "2026-11-10 10:00:00"},
    "a time before the year 1 in UTC": {"p": "0001-01-01 00:00:00+14:00"},
    "not base64 at all": None,
}


def list_url_names() -> set[str]:
    """The API's lists as the URL resolver knows them: views whose GET lists, or that page."""

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            else:
                yield f"{namespace}{pattern.name}", pattern

    return {
        name
        for name, pattern in walk(get_resolver().url_patterns)
        if (actions := getattr(pattern.callback, "actions", None))
        and (actions.get("get") == "list" or "pagination_class" in pattern.callback.initkwargs)
    }


def cursor(tokens: dict | None) -> str:
    """A cursor as DRF encodes one: base64 of a query string."""
    return "abc" if tokens is None else base64.b64encode(urlencode(tokens).encode()).decode()


@pytest.fixture
def call(client, cx_manager):
    cx_manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    token = make_api_token(user=cx_manager)
    subscription = make_subscription(owner=cx_manager)
    case, _opened = open_case(response=make_response(), now=timezone.now())
    path_arguments = {
        "webhooks:api-webhook-deliveries": {"pk": subscription.pk},
        "followup:api-case-notes": {"public_id": case.public_id},
    }

    def get(name: str, tokens: dict | None):
        kwargs = path_arguments.get(name, {})
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
        return client.get(reverse(name, kwargs=kwargs), {"cursor": cursor(tokens)}, headers=headers)

    return get


def test_every_list_of_the_api_is_checked_here():
    assert list_url_names() == set(LISTS)


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("tokens", FORGED.values(), ids=FORGED.keys())
def test_a_forged_cursor_is_a_bad_parameter_on_every_list(call, name, tokens):
    refused = call(name, tokens)
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "invalid",
        "message": "cursor: This cursor is not valid.",
        "fields": {"cursor": ["This cursor is not valid."]},
    }


@pytest.mark.parametrize("name", LISTS)
def test_a_well_formed_cursor_pages_on_every_list(call, name):
    for tokens in ({"p": LISTS[name]}, {"r": "1", "p": LISTS[name]}, {"o": "1000", "p": LISTS[name]}):
        answer = call(name, tokens)
        assert answer.status_code == 200, answer.content
        assert isinstance(answer.json()["results"], list)


def test_a_list_ordered_by_time_refuses_an_id_for_a_position(call):
    assert call("feedback:api-response-list", {"p": "42"}).status_code == 400
