"""The Celery app. Workers start with ``celery -A cxsurvey worker``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxsurvey.settings")

app = Celery("cxsurvey")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
