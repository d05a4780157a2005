"""What became of each touchpoint's events over a period: the distribution funnel.

Counted in the database, two grouped queries for all touchpoints together.
Response rate follows PRODUCT.md: answered / (sent − bounced).
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from surveys.models import Invitation, Touchpoint

Status = Invitation.Status
COUNTED = ("events", "scheduled", "sent", "delivered", "bounced", "failed", "answered")


@dataclass(frozen=True)
class Funnel:
    touchpoint: Touchpoint
    events: int = 0
    scheduled: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    answered: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def response_rate(self) -> float | None:
        return response_rate(self.answered, self.sent, self.bounced)


def response_rate(answered: int, sent: int, bounced: int) -> float | None:
    """Answered invitations among the delivered ones (sent − bounced), as a fraction in [0, 1].

    None while nothing has been delivered: a rate over no invitations is unknown, not 0.
    The one definition, for the back office's funnels and the dashboards alike.
    """
    delivered = sent - bounced
    return answered / delivered if delivered > 0 else None


def touchpoint_funnels(
    touchpoints: QuerySet[Touchpoint], *, since: datetime, until: datetime
) -> list[Funnel]:
    """One funnel per touchpoint of these for the invitations created in [since, until)."""
    period = Invitation.objects.filter(
        touchpoint__in=touchpoints, created_at__gte=since, created_at__lt=until
    )
    counts = {
        row["touchpoint"]: row
        for row in period.values("touchpoint").annotate(
            events=Count("pk", filter=Q(event__isnull=False)),
            scheduled=Count("pk", filter=Q(status__in=[Status.SCHEDULED, Status.SENDING])),
            sent=Count("pk", filter=Q(sent_at__isnull=False)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            bounced=Count("pk", filter=Q(status=Status.BOUNCED)),
            failed=Count("pk", filter=Q(status__in=[Status.FAILED, Status.REVIEW])),
            answered=Count("pk", filter=Q(answered_at__isnull=False)),
        )
    }
    skipped: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        period.filter(status=Status.SKIPPED).values("touchpoint", "skip_reason").annotate(count=Count("pk"))
    ):
        skipped[row["touchpoint"]][row["skip_reason"]] = row["count"]
    funnels = []
    for touchpoint in touchpoints.select_related("survey").order_by("name"):
        counted: Mapping[str, Any] = counts.get(touchpoint.pk, {})
        funnels.append(
            Funnel(
                touchpoint=touchpoint,
                skipped=skipped.get(touchpoint.pk, {}),
                **{name: count for name, count in counted.items() if name in COUNTED},
            )
        )
    return funnels
