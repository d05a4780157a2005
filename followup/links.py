"""Absolute links to the app's pages, for emails, chat posts and webhooks (``settings.SITE_URL``,
as the survey emails build theirs)."""

from django.conf import settings
from django.urls import reverse

from followup.models import Case
from surveys.models import Response


def site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def response_link(response: Response) -> str:
    return site_url(reverse("feedback:response", args=[response.public_id]))


def case_link(case: Case) -> str:
    return site_url(case.get_absolute_url())
