"""Absolute links to the back office's pages of answers and cases, for emails, chat posts and
webhooks (``settings.SITE_URL``, as the survey emails build theirs)."""

from django.conf import settings

from followup.models import Case
from surveys.models import Response


def response_link(response: Response) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/responses/{response.public_id}/"


def case_link(case: Case) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/cases/{case.public_id}/"
