"""What the themes' background work tells other apps, sent inside the batch's transaction like
``surveys.signals``: a receiver queues, it does no slow work."""

from django.dispatch import Signal

# New and changed answers got their themes (a batch of ``insights.themes.sweep``): ``response_ids``.
themes_given = Signal()
