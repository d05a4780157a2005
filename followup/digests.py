"""The daily or weekly digest: an email per subscriber at their local hour, with the numbers of the
surveys they may see, new detractor comments, their overdue cases and the alerts that waited for it.

A digest is due from its hour in its own time zone (each day, or each Monday) until it is sent;
wall-clock hours, so 08:00 stays 08:00 across daylight saving. Sending is claimed first by a
conditional update of ``last_sent_at``: however often, and however many at once, the periodic task
runs, each period's digest goes out once. A digest whose mail cannot be sent is given back, to be
tried at the next run.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation

from feedback import charts, counts
from feedback.counts import Filters
from feedback.metrics import compare, summarise
from followup.access import visible_cases
from followup.links import case_link, response_link, site_url
from followup.models import Alert, AlertRule, Case, Digest
from surveys.access import may_read_feedback, visible_surveys
from surveys.email.messages import render_email
from surveys.models import Response, Survey, Team

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "followup.digest.unsubscribe"
SURVEYS_SHOWN = 20
COMMENTS_SHOWN = 5
CASES_SHOWN = 20
ALERTS_SHOWN = 50
PERIOD_DAYS = {Digest.Frequency.DAILY: 1, Digest.Frequency.WEEKLY: 7}


def scheduled_at(digest: Digest, now: datetime) -> datetime:
    """The latest moment at or before ``now`` at which the digest falls due: its hour on its local
    day (weekly: on Monday). An hour that a spring's clock change skips falls an hour later."""
    zone = ZoneInfo(digest.time_zone)
    step = PERIOD_DAYS[Digest.Frequency(digest.frequency)]
    day = now.astimezone(zone).date()
    if step == 7:
        day -= timedelta(days=day.weekday())
    # In UTC: a local time in the skipped hour compares unequal to every other time (PEP 495).
    moment = datetime.combine(day, time(digest.hour), zone).astimezone(UTC)
    if moment > now:
        moment = datetime.combine(day - timedelta(days=step), time(digest.hour), zone).astimezone(UTC)
    return moment


def is_due(digest: Digest, scheduled: datetime) -> bool:
    """Whether the digest was not sent since it fell due, nor subscribed to after that."""
    return (digest.last_sent_at or digest.created_at) < scheduled


def claim(digest: Digest, scheduled: datetime, now: datetime) -> bool:
    """Mark the digest sent now if it still is due; False if another run did first."""
    unsent = Q(last_sent_at__isnull=True) | Q(last_sent_at__lt=scheduled)
    return bool(Digest.objects.filter(unsent, pk=digest.pk).update(last_sent_at=now))


def send_due_digests(*, now: datetime) -> int:
    """Send every digest that is due; how many were sent. Subscribers who may no longer read
    feedback, or have no address, get none (and keep their subscription)."""
    sent = 0
    for digest in Digest.objects.select_related("user").filter(user__is_active=True).exclude(user__email=""):
        scheduled = scheduled_at(digest, now)
        if not is_due(digest, scheduled) or not may_read_feedback(digest.user):
            continue
        previous = digest.last_sent_at
        if not claim(digest, scheduled, now):
            continue
        try:
            alerts = send_digest(digest, scheduled=scheduled, since=previous or digest.created_at, now=now)
        except Exception:
            logger.exception("The digest of user %s could not be sent", digest.user_id)
            Digest.objects.filter(pk=digest.pk, last_sent_at=now).update(last_sent_at=previous)
            continue
        Alert.objects.filter(pk__in=alerts, notified_at__isnull=True).update(notified_at=now)
        sent += 1
    return sent


def send_digest(digest: Digest, *, scheduled: datetime, since: datetime, now: datetime) -> list[int]:
    """Render and send one digest for the period before ``scheduled``; the ids of the alerts it told."""
    zone = ZoneInfo(digest.time_zone)
    with translation.override(digest.language), timezone.override(zone):
        content = digest_content(
            digest.user, scheduled=scheduled, frequency=digest.frequency, since=since, now=now
        )
        message = digest_email(digest, content)
        message.send()
    return [alert.pk for alert in content.alerts]


@dataclass(frozen=True)
class Headline:
    survey: Survey
    metric: str
    value: str
    interval: str
    n: int
    small_sample: bool
    change: str | None
    significance: str
    significant: bool | None


@dataclass(frozen=True)
class Content:
    since: date
    until: date
    headlines: list[Headline]
    comments: list[tuple[Response, str]]  # with the link to its page
    cases: list[tuple[Case, str]]
    alerts: list[Alert]


def digest_content(
    user: User, *, scheduled: datetime, frequency: str, since: datetime, now: datetime
) -> Content:
    """What the user's digest says, for the local days before ``scheduled`` (one, or the seven of the
    week), in the active time zone and language. ``since``: the previous digest (or the
    subscription), whose alerts this one does not repeat."""
    until = scheduled.astimezone(timezone.get_current_timezone()).date() - timedelta(days=1)
    first = until - timedelta(days=PERIOD_DAYS[Digest.Frequency(frequency)] - 1)
    surveys = visible_surveys(user).filter(active=True).order_by("name")[:SURVEYS_SHOWN]
    headlines = [_headline(Filters(survey=survey, since=first, until=until)) for survey in surveys]
    zone = timezone.get_current_timezone()
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(until + timedelta(days=1), time.min, zone)
    return Content(
        since=first,
        until=until,
        headlines=headlines,
        comments=[(response, response_link(response)) for response in _detractor_comments(user, start, end)],
        cases=[(case, case_link(case)) for case in _overdue_cases(user, now)],
        alerts=_waiting_alerts(user, since),
    )


def _headline(filters: Filters) -> Headline:
    kind = filters.survey.kind
    counted = counts.panels(filters, "day")
    summary, previous = summarise(kind, counted.histogram), summarise(kind, counted.previous)
    change = compare(summary, previous)
    return Headline(
        survey=filters.survey,
        metric=charts.METRIC_NAMES[kind],
        value=charts.metric_text(kind, summary.value),
        interval=charts.interval_text(kind, summary.interval),
        n=summary.n,
        small_sample=summary.small_sample,
        change=charts.change_text(kind, change),
        significance=charts.significance_text(change),
        significant=change.significant,
    )


def _detractor_comments(user: User, start: datetime, end: datetime) -> list[Response]:
    """The newest comments of the period in the lowest category of their scale."""
    comments = (
        Response.objects.filter(survey__in=visible_surveys(user))
        .in_lowest_category()
        .in_period(start, end)
        .with_comment()
        .select_related("survey")
        .order_by("-created_at")
    )
    return list(comments[:COMMENTS_SHOWN])


def _overdue_cases(user: User, now: datetime) -> list[Case]:
    """The user's open cases past their due time: assigned to them or to one of their teams."""
    mine = Q(assignee=user) | Q(team__in=Team.objects.filter(members=user))
    cases = visible_cases(user).overdue(now).filter(mine).select_related("survey", "response")
    return list(cases.order_by("due_at")[:CASES_SHOWN])


def _waiting_alerts(user: User, since: datetime) -> list[Alert]:
    """Alerts of rules that tell this user in the digest: those nobody was told of yet, and those
    fired since the user's previous digest or subscription (another subscriber's digest may have
    told of them)."""
    alerts = Alert.objects.filter(
        Q(notified_at__isnull=True) | Q(fired_at__gt=since),
        rule__delivery=AlertRule.Delivery.DIGEST,
        rule__notify=user,
        rule__survey__in=visible_surveys(user),
    ).select_related("rule", "rule__survey", "response")
    return list(alerts.order_by("-fired_at")[:ALERTS_SHOWN])


def unsubscribe_token(digest: Digest) -> str:
    return signing.dumps({"user": digest.user_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> int | None:
    """The user id an unsubscribe token was made for; None for a token not made here."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user = data.get("user") if isinstance(data, dict) else None
    return user if isinstance(user, int) else None


def digest_email(digest: Digest, content: Content) -> EmailMultiAlternatives:
    unsubscribe = site_url(reverse("followup:digest_unsubscribe", args=[unsubscribe_token(digest)]))
    context = {
        "content": content,
        "weekly": digest.frequency == Digest.Frequency.WEEKLY,
        "unsubscribe": unsubscribe,
        "settings_link": site_url(reverse("followup:digest")),
        "dashboard_link": site_url(reverse("feedback:dashboard")),
    }
    return render_email(
        "followup/email/digest",
        context,
        language=digest.language,
        to=[digest.user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
