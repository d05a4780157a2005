"""Celery tasks of privacy: thin triggers of ``privacy.retention``."""

from celery import shared_task
from django.utils import timezone

from audit.log import acting_as
from privacy.retention import apply_retention as apply


@shared_task(ignore_result=True)
def apply_retention() -> None:
    with acting_as("task"):
        apply(now=timezone.now())
