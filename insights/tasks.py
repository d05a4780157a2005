"""The themes' and the tone's background work, run by the periodic schedule (``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task
from django.utils import timezone

from insights import themes, tone


@shared_task(ignore_result=True)
def match_themes() -> bool:
    """Give one batch of new and changed answers their themes and tone, match one batch of
    comments against rules that changed and give one batch of comments the tone of a newly
    learned lexicon; whether more may be due (a batch was full)."""
    now = timezone.now()
    swept = themes.sweep(now=now)
    matched = themes.match_again(now=now)
    toned = tone.tone_again(now=now)
    return swept >= themes.BATCH_SIZE or matched >= themes.BATCH_SIZE or toned >= tone.BATCH_SIZE


@shared_task(ignore_result=True)
def learn_tone() -> None:
    """Learn the tone lexicons anew from the comments scored so far; ``match_themes`` then gives
    every comment its new tone."""
    tone.learn_tone(now=timezone.now())
