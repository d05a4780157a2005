"""Retention: what customers said and sent is kept only as long as the installation and each
survey say (Art. 5(1)(e) GDPR), then anonymised where it lies.

Each kind of data has an installation setting (``RETENTION_*_DAYS``, 0: always) that a survey may
override (``Survey.*_retention_days``). A run clears what is older, kind by kind and survey by
survey, in batches of rows claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (rows an answer or a
sender holds are left to the next run); rows once cleared no longer match, so a run can be
repeated or broken off at any point. Scores, times and everything the dashboards count stay: the
numbers do not move. A dry run counts what a run would clear and changes nothing.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from audit.log import Action, record
from privacy.erasure import erase_contact
from surveys.models import Contact, Event, Invitation, Response, Survey, TermTally
from surveys.terms import comment_fields

logger = logging.getLogger(__name__)
BATCH_SIZE = 1000


@dataclass(frozen=True)
class Kind:
    name: str
    label: str | Promise
    setting: str  # the installation's days
    survey_field: str  # a survey's own days
    # The rows of a survey older than the cut-off that still hold what goes.
    stale: Callable[[Survey, datetime], QuerySet]
    cleared: Callable[[datetime], dict]  # the values that replace it

    def days(self, survey: Survey) -> int:
        own = getattr(survey, self.survey_field)
        return getattr(settings, self.setting) if own is None else own


KINDS = [
    Kind(
        "comments",
        _("comments"),
        "RETENTION_COMMENT_DAYS",
        "comment_retention_days",
        lambda survey, cutoff: Response.objects.filter(survey=survey, created_at__lt=cutoff).exclude(
            comment=""
        ),
        lambda now: {"comment": "", **comment_fields("", ""), "updated_at": now},
    ),
    Kind(
        "invitation_details",
        _("invitation details"),
        "RETENTION_INVITATION_DAYS",
        "invitation_retention_days",
        # Not those still to be sent: their properties fill the email.
        lambda survey, cutoff: (
            Invitation.objects.filter(survey=survey, created_at__lt=cutoff)
            .exclude(status__in=[Invitation.Status.SCHEDULED, Invitation.Status.SENDING])
            .filter(~Q(properties={}) | ~Q(message_id="") | ~Q(provider_message_id="") | ~Q(last_error=""))
        ),
        lambda now: {"properties": {}, "message_id": "", "provider_message_id": "", "last_error": ""},
    ),
    Kind(
        "event_properties",
        _("event properties"),
        "RETENTION_EVENT_DAYS",
        "event_retention_days",
        lambda survey, cutoff: Event.objects.filter(
            touchpoint__survey=survey, received_at__lt=cutoff
        ).exclude(properties={}),
        lambda now: {"properties": {}},
    ),
]


# What a run reports, by name: the kinds cleared survey by survey, and the contacts erased.
INACTIVE_CONTACTS = "inactive_contacts"
LABELS = {kind.name: kind.label for kind in KINDS} | {INACTIVE_CONTACTS: _("contacts without activity")}


def apply_retention(*, now: datetime, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> Counter:
    """Clear what is past its retention; how many rows of each kind (would have been) cleared.

    A real run is recorded in the audit log with its counts, and logged."""
    report: Counter = Counter(dict.fromkeys(LABELS, 0))
    for survey in Survey.objects.order_by("pk"):
        for kind in KINDS:
            if days := kind.days(survey):
                stale = kind.stale(survey, now - timedelta(days=days))
                report[kind.name] += (
                    stale.count() if dry_run else _clear(stale, kind.cleared(now), batch_size)
                )
    if days := settings.RETENTION_CONTACT_DAYS:
        inactive = inactive_contacts(since=now - timedelta(days=days))
        report[INACTIVE_CONTACTS] = inactive.count() if dry_run else _erase(inactive, now=now)
    if not dry_run:
        TermTally.objects.prune()  # the words of the comments cleared above
        record(Action.RETENTION_RUN, details={"cleared": dict(report)})
        logger.info("Retention cleared %s", ", ".join(f"{count} {name}" for name, count in report.items()))
    return report


def inactive_contacts(*, since: datetime) -> QuerySet[Contact]:
    """Contacts that nothing has happened to since ``since``: not changed, invited, answering or
    reported in an event."""
    return Contact.objects.filter(created_at__lt=since, updated_at__lt=since).exclude(
        Q(Exists(Invitation.objects.filter(contact=OuterRef("pk"), created_at__gte=since)))
        | Q(Exists(Response.objects.filter(contact=OuterRef("pk"), created_at__gte=since)))
        | Q(Exists(Event.objects.filter(contact=OuterRef("pk"), received_at__gte=since)))
    )


def _erase(contacts: QuerySet[Contact], *, now: datetime) -> int:
    """Erase these contacts one by one, as a request to be erased would (``erase_contact``): their
    answers stay anonymised, the dashboards unchanged. How many."""
    erased = 0
    for contact_id in contacts.order_by("pk").values_list("pk", flat=True).iterator():
        erased += erase_contact(contact_id=contact_id, now=now) is not None
    return erased


def _clear(stale: QuerySet, values: dict, batch_size: int) -> int:
    """Clear the rows in batches by id, each from where the last ended: cleared rows are not read
    again, and rows held elsewhere (skipped) are left to the next run."""
    cleared, last = 0, 0
    while True:
        with transaction.atomic():
            claimed = (
                stale.filter(pk__gt=last).select_for_update(skip_locked=True, of=("self",)).order_by("pk")
            )
            ids = list(claimed.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return cleared
            cleared += stale.model.objects.filter(pk__in=ids).update(**values)
            last = ids[-1]
