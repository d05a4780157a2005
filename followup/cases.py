"""The life of a follow-up case: opened for an answer, taken up, noted, changed, closed.

Every change is one conditional write in a transaction that also appends its line to the
case's timeline (``CaseEntry``) and tells subscribers (``followup.signals.case_saved``), so
the timeline, the webhooks and the case never disagree.
"""

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from followup.links import case_link
from followup.models import (
    OPEN_STATUSES,
    AlertRule,
    Case,
    CaseEntry,
    CaseStatus,
    Recheck,
    RecheckStatus,
    Team,
)
from followup.signals import case_saved
from surveys.access import visible_surveys
from surveys.email.messages import render_email
from surveys.models import Response, Survey
from surveys.scales import LANGUAGES

logger = logging.getLogger(__name__)

Status = CaseStatus
Kind = CaseEntry.Kind


class Keep(Enum):
    """Leave a field of ``change_case`` as it is (None would clear it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def open_case(
    *,
    response: Response,
    now: datetime,
    rule: AlertRule | None = None,
    assignee: User | None = None,
    team: Team | None = None,
    sla_hours: int | None = None,
    author: User | None = None,
) -> tuple[Case, bool]:
    """The answer's case, opened now if it has none: (case, whether it was opened now).

    An answer has at most one case (the database's unique key): of two rules, or a rule and a
    person, opening one at once, the second gets the first's case."""
    existing = Case.objects.filter(response=response).first()
    if existing is not None:
        return existing, False
    case = Case(
        response=response,
        survey_id=response.survey_id,
        touchpoint_id=response.touchpoint_id,
        rule=rule,
        assignee=assignee,
        team=team,
        opening_score=response.score,
        # Hours of the clock, not of the calendar: counted in UTC, a due time across a change to or
        # from summer time is as many hours away as the SLA says.
        due_at=now.astimezone(UTC) + timedelta(hours=sla_hours) if sla_hours else None,
        created_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            case.save()
            CaseEntry.objects.create(
                case=case,
                kind=Kind.OPENED,
                author=author,
                details={"rule": rule.name} if rule else {},
                created_at=now,
            )
            case_saved.send(sender=Case, case=case, created=True, changes={})
    except IntegrityError:
        if (existing := Case.objects.filter(response=response).first()) is None:
            raise
        return existing, False
    return case, True


def change_case(
    case: Case,
    *,
    by: User | None,
    now: datetime,
    status: str | None = None,
    assignee: User | Keep | None = KEEP,
    team: Team | Keep | None = KEEP,
    resolution: str | None = None,
    due_at: datetime | Keep | None = KEEP,
) -> dict[str, tuple]:
    """Change what is given (``KEEP``, or None for status and resolution, leaves a field alone;
    ``assignee=None`` unassigns);
    the changes made, field → (old, new), empty if nothing changed.

    Closing sets ``resolved_at``, reopening clears it; leaving "new" for work counts as the first
    response if none was recorded. The row is locked while it is read and written, so two people
    changing one case at once both land, one after the other."""
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        wanted: dict[str, object] = {}
        if status is not None:
            wanted["status"] = status
        if not isinstance(assignee, Keep):
            wanted["assignee_id"] = assignee.pk if assignee else None
        if not isinstance(team, Keep):
            wanted["team_id"] = team.pk if team else None
        if resolution is not None:
            wanted["resolution"] = resolution
        if not isinstance(due_at, Keep):
            wanted["due_at"] = due_at
        changes = {
            field: (getattr(locked, field), value)
            for field, value in wanted.items()
            if getattr(locked, field) != value
        }
        if not changes:
            return {}
        for field, (_old, new) in changes.items():
            setattr(locked, field, new)
        if "status" in changes:
            if locked.status == Status.RESOLVED:
                schedule_recheck(locked, now=now)
            else:
                cancel_recheck(locked)
            if locked.status in OPEN_STATUSES:
                locked.resolved_at = None
                locked.resolution = "" if "resolution" not in changes else locked.resolution
            elif locked.resolved_at is None:
                locked.resolved_at = now
            if locked.status != Status.NEW and locked.first_response_at is None:
                locked.first_response_at = now
        locked.updated_at = now
        locked.save()
        _log_changes(locked, changes, by=by, now=now)
        case_saved.send(sender=Case, case=locked, created=False, changes=changes)
    for field in (
        "status",
        "assignee_id",
        "team_id",
        "resolution",
        "due_at",
        "resolved_at",
        "first_response_at",
    ):
        setattr(case, field, getattr(locked, field))
    case.updated_at = now
    return changes


def schedule_recheck(case: Case, *, now: datetime) -> Recheck | None:
    """The question for a case resolved now, due after its touchpoint's days; None if the touchpoint
    does not ask again, the case ended without a fix ("no action needed"), or nobody is known to
    ask. A case resolved a second time moves its unsent question to the new due time; an answered
    or sent one stays as it was."""
    touchpoint = case.touchpoint
    response = case.response
    if case.status != CaseStatus.RESOLVED or touchpoint is None or not touchpoint.recheck_after_days:
        return None
    if response.contact_id is None:
        return None
    due_at = now + timedelta(days=touchpoint.recheck_after_days)
    language = response.language if response.language in LANGUAGES else settings.LANGUAGE_CODE
    recheck, created = Recheck.objects.get_or_create(
        case=case, defaults={"due_at": due_at, "language": language}
    )
    if not created and recheck.status == RecheckStatus.SCHEDULED:
        Recheck.objects.filter(pk=recheck.pk, status=RecheckStatus.SCHEDULED).update(due_at=due_at)
        recheck.due_at = due_at
    return recheck


def cancel_recheck(case: Case) -> None:
    """A case opened again does not ask whether it was solved: its unsent question goes."""
    Recheck.objects.filter(case=case, status=RecheckStatus.SCHEDULED).delete()


def _log_changes(case: Case, changes: dict[str, tuple], *, by: User | None, now: datetime) -> None:
    entries = []
    if "status" in changes or "resolution" in changes:
        old, new = changes.get("status", (case.status, case.status))
        details = {"from": old, "to": new}
        if case.resolution:
            details["resolution"] = case.resolution
        entries.append(CaseEntry(case=case, kind=Kind.STATUS, author=by, details=details, created_at=now))
    for field in ("assignee_id", "team_id"):
        if field in changes:
            old, new = changes[field]
            details = {"field": field.removesuffix("_id"), "from": old, "to": new}
            entries.append(
                CaseEntry(case=case, kind=Kind.ASSIGNED, author=by, details=details, created_at=now)
            )
    CaseEntry.objects.bulk_create(entries)


def add_note(case: Case, *, by: User, text: str, now: datetime, mentions: Sequence[User] = ()) -> CaseEntry:
    """An internal note on the case; the users it mentions are linked to it (and told by whoever
    watches ``CaseEntry.mentions``)."""
    with transaction.atomic():
        entry = CaseEntry.objects.create(case=case, kind=Kind.NOTE, author=by, text=text, created_at=now)
        if mentions:
            entry.mentions.set(mentions)
        Case.objects.filter(pk=case.pk).update(updated_at=now)
    return entry


def record_first_response(case: Case, *, now: datetime) -> None:
    """The customer was answered now (a reply was sent): the first time counts."""
    if Case.objects.filter(pk=case.pk, first_response_at__isnull=True).update(first_response_at=now):
        case.first_response_at = now


def record_revised_answer(response: Response, *, old_score: int, now: datetime) -> CaseEntry | None:
    """The customer changed the answer's score (3 to 8): a line on the answer's case, if it has one."""
    case = Case.objects.filter(response=response).first()
    if case is None or old_score == response.score:
        return None
    return CaseEntry.objects.create(
        case=case, kind=Kind.SCORE_CHANGED, details={"from": old_score, "to": response.score}, created_at=now
    )


# "@anna", "@anna.berg", "@a.b@example.com": Django's usernames, without a trailing full stop;
# not an address's domain ("x@example.com" mentions nobody).
_MENTION = re.compile(r"(?<![\w@])@([\w.@+-]*\w)")


def mentioned_users(text: str, survey: Survey) -> list[User]:
    """The active staff named as ``@username`` in the text who may see the survey's cases; other
    names are left as they are written."""
    names = set(_MENTION.findall(text))
    if not names:
        return []
    candidates = User.objects.filter(username__in=names, is_active=True, is_staff=True).order_by("username")
    return [
        user
        for user in candidates
        if user.has_perm("followup.view_case") and visible_surveys(user).filter(pk=survey.pk).exists()
    ]


def write_note(case: Case, *, by: User, text: str, now: datetime) -> CaseEntry:
    """A note with its mentions (``mentioned_users``); each mentioned user but the author gets an
    email with a link to the case once the note is committed."""
    mentions = mentioned_users(text, case.survey)
    entry = add_note(case, by=by, text=text, now=now, mentions=mentions)
    told = [user.pk for user in mentions if user.pk != by.pk and user.email]
    if told:
        transaction.on_commit(lambda: tell_mentioned(entry.pk, told), robust=True)
    return entry


def tell_mentioned(entry_id: int, user_ids: list[int]) -> None:
    """One email to each user: who mentioned them, the note, and the link to the case."""
    entry = CaseEntry.objects.select_related("case__survey", "author").get(pk=entry_id)
    case = entry.case
    context = {
        "author": (entry.author.get_full_name() or entry.author.get_username()) if entry.author else "",
        "survey": case.survey.name,
        "note": entry.text,
        "url": case_link(case),
    }
    for user in User.objects.filter(pk__in=user_ids):
        render_email(
            "followup/email/mention", context, language=settings.LANGUAGE_CODE, to=[user.email]
        ).send()
