"""Figures for Prometheus at ``/metrics``, read from the database when Prometheus asks.

Several gunicorn workers and Celery processes do the work, so counters kept in one process would
not add up; the database knows the totals. Every figure comes from an index or a tally, except the
invitations by status: counting them reads the whole table (half a second at two million rows), so
that count is shared through the cache and made afresh at most every ``TOTALS_SECONDS``.
"""

import secrets
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, QuerySet, Sum
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseNotFound,
)
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from surveys.models import DailyScore, Invitation, Survey
from webhooks.models import Message

TOTALS_SECONDS = 300
TOTALS_KEY = "metrics:invitation-totals"


def invitation_totals() -> dict[str, int]:
    """Invitations by status, every status named (0 for none), as counted at most TOTALS_SECONDS ago."""
    totals = cache.get(TOTALS_KEY)
    if totals is None:
        counted = dict(Invitation.objects.order_by().values_list("status").annotate(Count("id")))
        totals = {status: counted.get(status, 0) for status in Invitation.Status.values}
        cache.set(TOTALS_KEY, totals, TOTALS_SECONDS)
    return totals


class DatabaseCollector:
    """The product's figures, asked of the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        now = timezone.now()
        yield _labelled(
            "cxsurvey_invitations",
            f"Invitations by status, counted at most {TOTALS_SECONDS} seconds ago.",
            "status",
            invitation_totals(),
        )
        answers = dict(DailyScore.objects.order_by().values_list("survey__kind").annotate(Sum("responses")))
        yield _labelled(
            "cxsurvey_answers",
            "Answers stored, by kind of survey (from the daily tallies).",
            "kind",
            {kind: answers.get(kind) or 0 for kind in Survey.Kind.values},
        )

        # The dispatcher's queue (invitation_due_idx, invitation_sending_idx) and the webhooks'
        # (webhook_message_due_idx, webhook_message_sending_idx).
        yield from _queue(
            "invitations",
            Invitation.objects.filter(status=Invitation.Status.SCHEDULED, scheduled_for__lte=now),
            "scheduled_for",
            Invitation.objects.filter(status=Invitation.Status.SENDING),
            now=now,
        )
        yield from _queue(
            "webhook_messages",
            Message.objects.due(now).order_by(),
            "next_attempt_at",
            Message.objects.filter(status=Message.Status.SENDING),
            now=now,
        )

        yield _gauge(
            "cxsurvey_metrics_collect_seconds",
            "Seconds the database took for these figures.",
            time.monotonic() - started,
        )


def _queue(what: str, due: QuerySet, due_since: str, sending: QuerySet, *, now) -> Iterator[Metric]:
    """How many of ``what`` are due, how long the one due longest has waited, how many are claimed."""
    label = what.replace("_", " ")
    figures = due.aggregate(count=Count("id"), oldest=Min(due_since))
    yield _gauge(f"cxsurvey_{what}_due", f"{label.capitalize()} due and not yet sent.", figures["count"])
    yield _gauge(
        f"cxsurvey_{what}_oldest_due_seconds",
        f"How long the {label[:-1]} due longest has waited (0 when none is due).",
        _age(figures["oldest"], now),
    )
    yield _gauge(f"cxsurvey_{what}_sending", f"{label.capitalize()} a sender has claimed.", sending.count())


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(name: str, documentation: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _age(since, now) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


registry = CollectorRegistry()
registry.register(DatabaseCollector())


@never_cache
def metrics(request: HttpRequest) -> HttpResponseBase:
    """The figures in Prometheus' text format, for a request with ``Authorization: Bearer <METRICS_TOKEN>``.

    404 while no token is configured, 401 for a missing or wrong token, 405 for a method other than
    GET or HEAD (only once the token is right, so that nobody learns more than that the URL exists).
    """
    if not settings.METRICS_TOKEN:
        return HttpResponseNotFound()
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.strip().encode(), settings.METRICS_TOKEN.encode()
    ):
        return HttpResponse(status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
