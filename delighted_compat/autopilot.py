"""Autopilot: each member of a project's Autopilot is asked again every ``autopilot_days``.

Each time is a new event of the project's Autopilot touchpoint with the member's properties, so
every rule of that touchpoint applies (suppression, recontact protection, sampling, send window).
The periodic task ``delighted_compat.tasks.run_autopilot`` reports the events that are due, in
batches; members are claimed with SKIP LOCKED, so that two workers never report one member twice.
"""

from datetime import datetime

from django.db import transaction

from delighted_compat.models import AutopilotMembership
from surveys.ingest import EventIn, ingest_events

BATCH_SIZE = 500


def run_due(*, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Report one event for each member whose next survey is due, and schedule the one after; how
    many were reported."""
    with transaction.atomic():
        due = list(
            AutopilotMembership.objects.filter(next_at__lte=now, project__autopilot_touchpoint__isnull=False)
            .select_related("project__autopilot_touchpoint__survey", "contact")
            .order_by("next_at", "pk")
            .select_for_update(skip_locked=True, of=("self",))[:batch_size]
        )
        if not due:
            return 0
        ingest_events(
            [
                EventIn(
                    touchpoint=member.project.autopilot_touchpoint,  # type: ignore[arg-type]
                    occurred_at=now,
                    email=member.contact.email,
                    external_id=member.contact.external_id,
                    properties=member.properties,
                )
                for member in due
            ],
            now=now,
        )
        for member in due:
            member.next_at = max(member.next_at + member.project.autopilot_frequency, now)
            member.updated_at = now
        AutopilotMembership.objects.bulk_update(due, ["next_at", "updated_at"])
    return len(due)
