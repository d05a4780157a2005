"""What happens in ``surveys`` that other apps act on (webhooks), without ``surveys`` knowing them.

Each signal is sent inside the transaction of the change it reports, so that what a
receiver writes (an outbox row) commits or rolls back with the change itself. A
receiver must not do slow work (HTTP, SMTP) here; it queues it.
"""

from django.dispatch import Signal

# A response was stored (``created=True``) or changed: ``response``, ``created``; on a change,
# ``old_score``: the score before, if the change moved it, else None.
response_saved = Signal()
# An invitation's email bounced, reported the first time only: ``invitation``.
invitation_bounced = Signal()
# A contact objected to further surveys, reported the first time only: ``contact``.
contact_unsubscribed = Signal()
# The demo company was seeded (``manage.py seed_demo``): ``rng`` (its random.Random), ``surveys``
# (kind → Survey), ``touchpoints`` (slug → Touchpoint). Receivers add their part of the story and
# return what they created, as {"what": count}. Not sent inside a transaction of the answering path.
demo_seeded = Signal()
