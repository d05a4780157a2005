"""What became of each touchpoint's events over a period: the distribution funnel, adding up.

Every event gets its one invitation in the transaction that stores it (``surveys.ingest``):
skipped with its reason, or created to be sent. So, per touchpoint, over a period:

    events received + invitations created without an event
        = skipped (by reason) + invited + events whose invitation was deleted
    invited = waiting + sent + not sent (failed, or to review)

and of the sent: delivered, opened, bounced, answered. Only an email provider's tracking webhook
(``surveys.email.tracking``) reports deliveries, opens and bounces: without one, or while it has
reported none of a kind in the period, that figure is unknown (None), never 0.

Counted in the database: one grouped query over the events and one over the invitations, for all
touchpoints together. Response rate follows PRODUCT.md: answered / (sent − bounced).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from surveys.email.tracking import tracking_webhooks_on
from surveys.models import Event, Invitation, Touchpoint

Status = Invitation.Status
# The invitations' states; together with the skipped ones they cover every status once.
WAITING = Q(status__in=[Status.SCHEDULED, Status.SENDING])
# Handed to the mail server, or reported by the provider (a send "to review" may be reported later).
SENT = Q(sent_at__isnull=False) | Q(
    status__in=[Status.DELIVERED, Status.OPENED, Status.BOUNCED, Status.COMPLAINED]
)
NOT_SENT = Q(status__in=[Status.FAILED, Status.REVIEW], sent_at__isnull=True)
# An opened email was delivered, even when the provider's delivery report is missing.
DELIVERED = (Q(delivered_at__isnull=False) | Q(opened_at__isnull=False)) & ~Q(
    status__in=[Status.BOUNCED, Status.FAILED]
)
UNTRACKED = ("waiting", "sent", "not_sent", "answered")
TRACKED = ("delivered", "opened", "bounced")  # reported by the provider only
TRACKED_LABELS = {"delivered": _("delivered"), "opened": _("opened"), "bounced": _("bounced")}
NO_WEBHOOK = _("unknown without a provider webhook")
NO_REPORTS = _("unknown: the provider reported none in this period")


@dataclass(frozen=True)
class Funnel:
    touchpoint: Touchpoint
    events_by_source: dict[str, int] = field(default_factory=dict)  # Event.Source → events received
    without_event: int = 0  # invitations created directly, not from an event
    unlinked: int = 0  # events whose invitation was deleted
    skipped: dict[str, int] = field(default_factory=dict)  # Invitation.SkipReason → invitations
    waiting: int = 0
    sent: int = 0
    not_sent: int = 0
    answered: int = 0
    # None: unknown (see ``unknown``), as no provider reported any in the period.
    delivered: int | None = None
    opened: int | None = None
    bounced: int | None = None
    webhook: bool = False  # the provider's tracking webhooks are on

    @property
    def events(self) -> int:
        return sum(self.events_by_source.values())

    @property
    def received(self) -> int:
        """Events and invitations created without one: what the funnel starts from."""
        return self.events + self.without_event

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def invited(self) -> int:
        return self.waiting + self.sent + self.not_sent

    @property
    def adds_up(self) -> bool:
        return self.received == self.skipped_total + self.invited + self.unlinked

    def sources(self) -> list[tuple[str, str, int]]:
        """(source, its label, events) in the order of ``Event.Source``."""
        return [
            (source.value, str(source.label), self.events_by_source[source])
            for source in Event.Source
            if source in self.events_by_source
        ]

    def skip_reasons(self) -> list[tuple[str, str, int]]:
        """(reason, its label, invitations), the most frequent first."""
        reasons = sorted(self.skipped.items(), key=lambda item: (-item[1], item[0]))
        return [(reason, str(Invitation.SkipReason(reason).label), count) for reason, count in reasons]

    def tracked(self) -> list[tuple[str, Promise, int | None]]:
        """(figure, its label, count or None when unknown) of what the provider reports."""
        return [(name, TRACKED_LABELS[name], getattr(self, name)) for name in TRACKED]

    @property
    def unknown(self) -> Promise:
        """Why delivered, opened or bounced is None."""
        return NO_REPORTS if self.webhook else NO_WEBHOOK

    @property
    def response_rate(self) -> float | None:
        """Unknown bounces count as delivered: the rate is then a lower bound."""
        return response_rate(self.answered, self.sent, self.bounced or 0)


def response_rate(answered: int, sent: int, bounced: int) -> float | None:
    """Answered invitations among the delivered ones (sent − bounced), as a fraction in [0, 1].

    None while nothing has been delivered: a rate over no invitations is unknown, not 0.
    The one definition, for the back office's funnels and the dashboards alike.
    """
    delivered = sent - bounced
    return answered / delivered if delivered > 0 else None


STATISTICS_DAYS = 30  # the period the statistics show unless one is chosen


def whole_days(since: date, until: date) -> tuple[datetime, datetime]:
    """[since, until] as whole local days: from the start of ``since`` to the end of ``until``."""
    zone = timezone.get_current_timezone()
    return datetime.combine(since, time.min, zone), datetime.combine(
        until + timedelta(days=1), time.min, zone
    )


def touchpoint_funnels(
    touchpoints: QuerySet[Touchpoint], *, since: datetime, until: datetime
) -> list[Funnel]:
    """One funnel per touchpoint of these, by name, for the events received and the invitations
    created in [since, until); three queries whatever the number of touchpoints and invitations.

    A figure the provider reports is known once it reported one of its kind for any of these
    touchpoints in the period (bounces: also once its webhooks are on)."""
    events, unlinked = _count_events(touchpoints, since=since, until=until)
    invitations, skipped = _count_invitations(touchpoints, since=since, until=until)
    webhook = tracking_webhooks_on()
    reported = {name: any(counts[name] for counts in invitations.values()) for name in TRACKED}
    reported["bounced"] = reported["bounced"] or webhook

    def tracked(counts: Counter[str], name: str) -> int | None:
        return counts[name] if reported[name] else None

    funnels = []
    for touchpoint in touchpoints.select_related("survey").order_by("name", "pk"):
        counts = invitations[touchpoint.pk]
        funnels.append(
            Funnel(
                touchpoint=touchpoint,
                events_by_source=events[touchpoint.pk],
                without_event=counts["without_event"],
                unlinked=unlinked[touchpoint.pk],
                skipped=skipped[touchpoint.pk],
                waiting=counts["waiting"],
                sent=counts["sent"],
                not_sent=counts["not_sent"],
                answered=counts["answered"],
                delivered=tracked(counts, "delivered"),
                opened=tracked(counts, "opened"),
                bounced=tracked(counts, "bounced"),
                webhook=webhook,
            )
        )
    return funnels


def _count_events(
    touchpoints: QuerySet[Touchpoint], *, since: datetime, until: datetime
) -> tuple[defaultdict[int, dict[str, int]], Counter[int]]:
    """Per touchpoint: its events by source, and how many of them lost their invitation."""
    events: defaultdict[int, dict[str, int]] = defaultdict(dict)
    unlinked: Counter[int] = Counter()
    for row in (
        Event.objects.filter(touchpoint__in=touchpoints, received_at__gte=since, received_at__lt=until)
        .values("touchpoint", "source")
        .annotate(count=Count("pk"), unlinked=Count("pk", filter=Q(invitation__isnull=True)))
    ):
        events[row["touchpoint"]][row["source"]] = row["count"]
        unlinked[row["touchpoint"]] += row["unlinked"]
    return events, unlinked


def _count_invitations(
    touchpoints: QuerySet[Touchpoint], *, since: datetime, until: datetime
) -> tuple[defaultdict[int, Counter[str]], defaultdict[int, dict[str, int]]]:
    """Per touchpoint: the invitations' figures, and the skipped ones by reason."""
    invitations: defaultdict[int, Counter[str]] = defaultdict(Counter)
    skipped: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Invitation.objects.filter(touchpoint__in=touchpoints, created_at__gte=since, created_at__lt=until)
        .values("touchpoint", "skip_reason")
        .annotate(
            count=Count("pk"),
            without_event=Count("pk", filter=Q(event__isnull=True)),
            waiting=Count("pk", filter=WAITING),
            sent=Count("pk", filter=SENT),
            not_sent=Count("pk", filter=NOT_SENT),
            answered=Count("pk", filter=SENT & Q(answered_at__isnull=False)),
            delivered=Count("pk", filter=SENT & DELIVERED),
            opened=Count("pk", filter=SENT & Q(opened_at__isnull=False)),
            bounced=Count("pk", filter=Q(status=Status.BOUNCED)),
        )
    ):
        counts = invitations[row["touchpoint"]]
        counts["without_event"] += row["without_event"]
        if row["skip_reason"]:
            skipped[row["touchpoint"]][row["skip_reason"]] = row["count"]
        else:
            counts.update({name: count for name, count in row.items() if name in UNTRACKED + TRACKED})
    return invitations, skipped
