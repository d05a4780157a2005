"""The themes' background work, run by the periodic schedule (``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task
from django.utils import timezone

from insights import themes


@shared_task(ignore_result=True)
def match_themes() -> bool:
    """Give one batch of new and changed answers their themes, and match one batch of comments
    against rules that changed; whether more may be due (a batch was full)."""
    now = timezone.now()
    swept = themes.sweep(now=now)
    matched = themes.match_again(now=now)
    return swept >= themes.BATCH_SIZE or matched >= themes.BATCH_SIZE
