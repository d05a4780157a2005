"""Where a person's data lives: the one list (``PLACES``) that the erasure, its confirmation and
the access export all read. A new place is one entry here; a model that belongs to a contact
(a foreign key to it) is one line, as the consent history is: ``Owned("consents", …)``.

The places, in the order the erasure visits them:

- invitations: kept for response rates and the touchpoint statistics, without contact,
  properties, message ids and errors; one not yet sent is skipped ("erased"), none can be
  answered any more;
- answers (``Response``), the contact's and those that claimed its email or external id:
  anonymised by ``privacy.scrub``'s rules (or deleted), scores and times kept, the terms of
  the comment (``Response.comment_terms``, ``Response.comment_ngrams``) following the comment that stays;
- events: kept for the touchpoint statistics, without contact and properties;
- the replies on the follow-up cases of the person's answers (``followup.replies``): what was
  written to them and what they wrote back, with the addresses; shown in the access export,
  deleted before the answers lose their contact (the cases and the staff's notes stay);
- the questions asked after those cases ("Was your issue solved?", ``followup.rechecks``):
  unanswered ones deleted, answers kept as yes or no without their comment;
- webhook messages (``webhooks.Message`` payloads, ``Delivery`` logs): about the person's
  answers, invitations and unsubscription; deleted with their log, sent or not;
- the idempotency records of the events API (``IdempotentRequest`` bodies): deleted, or in a
  bulk answer that also concerns others, the person's entries reduced to index and status;
- prepared export files (under ``MEDIA_ROOT``) of a survey and period with the person's answers:
  deleted, the record saying the file is gone; exports being written then are failed;
- the filters of export records that name the person: those values kept as keyed hashes;
- the admin's history (``LogEntry``) naming the person: the contact's own deleted, others masked;
- the consent history (``ConsentRecord``): shown in the access export, deleted;
- the contact itself, deleted last, its objection kept as keyed hashes on the suppression list.

Copies follow their source: the messages about a batch of answers or invitations and the
idempotency records of a batch of events go in the batch's own transaction, so that a copy
written together with its source (an answer and its webhook message commit together) cannot be
left behind.

Email tracking (``surveys.email.tracking``) keeps what providers report on the invitation
(status, times, the provider's message id, a refusal's text, which may quote the address) and the
contact (when it bounced, complained or unsubscribed): it is covered by those two places, and with
the message ids gone a late report about an erased invitation finds nothing.

Apps may add places of their own to ``PLACES`` when they start, before the contact's (the last).

Not here, by design: the audit log (it holds ids and counts, never a contact's data), tallies
(counts per segment), caches (a contact upload's preview lives an hour; the explorer's property
values a few minutes).
"""

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Greatest, Least, Lower, TruncDate
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.log import pseudonymise
from feedback.models import ExportRecord
from followup.models import CaseEntry, Recheck
from privacy.scrub import CONTAINED_FROM, Scrubber, text_of
from surveys.api.idempotency import KEY_LIFETIME
from surveys.models import (
    Contact,
    Event,
    EventSource,
    IdempotentRequest,
    Invitation,
    Language,
    LegalBasis,
    Response,
    Suppression,
    Survey,
    new_token,
)
from surveys.models.suppression import identity_digests
from surveys.terms import comment_fields
from webhooks.models import MESSAGE_TYPES, Delivery, EventType, Message

BATCH_SIZE = 1000


@dataclass(frozen=True)
class Person:
    """Whom a request is about: a contact (``contact_id`` None when only answers claimed the
    identity), and the identity that answers by link or widget may have claimed, unverified."""

    contact_id: int | None
    email: str = ""
    external_id: str = ""
    name: str = ""
    properties: dict = field(default_factory=dict)

    @classmethod
    def of(cls, contact: Contact) -> "Person":
        return cls(contact.pk, contact.email, contact.external_id, contact.name, dict(contact.properties))

    def scrubber(self) -> Scrubber:
        return Scrubber(
            email=self.email, external_id=self.external_id, name=self.name, properties=self.properties
        )

    def claims(self) -> Q:
        """Answers that claimed this email (any case) or external id. Each branch repeats the
        condition of its partial index, which PostgreSQL needs to use it."""
        claimed = Q(pk__in=[])
        if self.email:
            claimed |= ~Q(claimed_email="") & Q(Exact(Lower("claimed_email"), self.email.lower()))
        if self.external_id:
            claimed |= ~Q(claimed_external_id="") & Q(claimed_external_id=self.external_id)
        return claimed

    def owns(self) -> Q:
        """Rows whose ``contact`` is this person's; none without a contact."""
        return Q(contact_id=self.contact_id) if self.contact_id is not None else Q(pk__in=[])


@dataclass
class Run:
    """One erasure under way: its options, its counts, and what later places need to know."""

    now: datetime
    person: Person
    keep_comments: bool = False
    delete_answers: bool = False
    batch_size: int = BATCH_SIZE
    final: bool = False  # the last pass, under the contact's lock
    counts: Counter = field(default_factory=Counter)
    # The local days of the person's answers, per survey: prepared exports of those days go.
    answered: dict[int, set[date]] = field(default_factory=dict)
    scrubbers: dict[str, Scrubber] = field(default_factory=dict)
    segments: dict[int, list[str]] = field(default_factory=dict)

    def scrubber(self, claimed_name: str = "") -> Scrubber:
        """The person's rules; with the name an answer claimed, if it claimed another."""
        name = claimed_name or self.person.name
        if name not in self.scrubbers:
            person = self.person
            self.scrubbers[name] = Scrubber(
                email=person.email, external_id=person.external_id, name=name, properties=person.properties
            )
        return self.scrubbers[name]


Columns = tuple[tuple[str, str | Promise], ...]


class Place:
    """One kind of row that may hold a person's data. ``columns`` name what the access export
    shows (None: not part of it); ``swept`` places are visited again under the contact's lock,
    for rows that arrived during the erasure."""

    name: str
    label: str | Promise
    columns: ClassVar[Columns | None] = None
    single: ClassVar[bool] = False  # one object in the access export, not a list
    swept: ClassVar[bool] = False
    # The labels of the codes a column holds (a status, a language), for the access export's page.
    labels: ClassVar[dict[str, dict]] = {}

    def headings(self) -> Columns | None:
        """(key, heading) of what the access export shows of each row; None: not part of it."""
        return self.columns

    def count(self, person: Person) -> int:
        raise NotImplementedError

    def export(self, person: Person) -> list[dict]:
        return []

    def erase(self, run: Run) -> None:
        raise NotImplementedError


def _time(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment else None


def _batches(rows: QuerySet, run: Run, *fields: str) -> Iterator[list[tuple]]:
    """The rows (``fields``, the id first) a batch at a time, each locked in a transaction of its
    own that stays open while the caller changes them: ``for batch in …`` runs inside it. Rows
    once changed no longer match, and batches follow the ids, so nothing is read twice."""
    last = 0
    while True:
        with transaction.atomic():
            locked = rows.filter(pk__gt=last).order_by("pk").select_for_update(of=("self",))
            batch = list(locked.values_list("pk", *fields)[: run.batch_size])
            if not batch:
                return
            yield batch
        last = batch[-1][0]


# Copies


RESPONSE_EVENTS = [EventType.RESPONSE_CREATED, EventType.RESPONSE_UPDATED]
# Events about an answer's alerts and case name it as ``response_id``.
FOLLOW_UP_EVENTS = [
    EventType.ALERT_FIRED,
    EventType.CASE_CREATED,
    EventType.CASE_UPDATED,
    EventType.CASE_RESOLVED,
]


class WebhookMessages(Place):
    name = "webhook_messages"
    label = _("webhook messages")
    labels: ClassVar[dict[str, dict]] = {
        "type": dict(MESSAGE_TYPES),
        "status": dict(Message.Status.choices),
    }
    columns = (
        ("type", _("event")),
        ("recipient", _("recipient")),
        ("personal_data", _("with personal data")),
        ("status", _("status")),
        ("created_at", _("created")),
    )

    @staticmethod
    def about(
        *,
        responses: Sequence[str] = (),
        invitations: Sequence[int] = (),
        contact: int | None = None,
        since: datetime | None = None,
    ) -> Q:
        """Messages that report these answers (by public id), invitations or contact. A message is
        written after what it reports: ``since``, the oldest of those, lets the index on the
        messages' time pass over older ones (answers older than the messages' retention have none)."""
        if since is not None:
            return Q(created_at__gte=since) & WebhookMessages.about(
                responses=responses, invitations=invitations, contact=contact
            )
        about = Q(pk__in=[])
        if responses:
            about |= Q(type__in=RESPONSE_EVENTS, payload__data__id__in=list(responses))
            about |= Q(type__in=FOLLOW_UP_EVENTS, payload__data__response_id__in=list(responses))
        if invitations:
            about |= Q(type=EventType.INVITATION_BOUNCED, payload__data__id__in=list(invitations))
        if contact is not None:
            about |= Q(type=EventType.CONTACT_UNSUBSCRIBED, payload__data__id=contact)
        return about

    def _chunks(self, person: Person) -> Iterator[Q]:
        yield self.about(contact=person.contact_id)
        for public_ids in _keys(Response.objects.filter(person.owns() | person.claims()), "public_id"):
            yield self.about(responses=[str(public_id) for public_id in public_ids])
        for ids in _keys(Invitation.objects.filter(person.owns()), "pk"):
            yield self.about(invitations=ids)

    def count(self, person: Person) -> int:
        return sum(Message.objects.filter(about).count() for about in self._chunks(person))

    def export(self, person: Person) -> list[dict]:
        found = []
        for about in self._chunks(person):
            for message in Message.objects.filter(about).select_related("subscription").order_by("pk"):
                subscription = message.subscription
                found.append(
                    {
                        "type": message.type,
                        "recipient": subscription.description or urlsplit(subscription.url).hostname,
                        "personal_data": "contact" in message.payload.get("data", {}),
                        "status": message.status,
                        "created_at": _time(message.created_at),
                    }
                )
        return found

    def erase(self, run: Run) -> None:
        """The message of the contact's unsubscription; those about answers and invitations go
        with them (``erase_about``)."""
        if run.person.contact_id is not None:
            self.erase_about(run, self.about(contact=run.person.contact_id))

    def erase_about(self, run: Run, about: Q) -> None:
        """Delete the messages, sent or not, with their delivery log. Locked first: a worker that
        is sending one logs its attempt only while the message is there (``webhooks.delivery``)."""
        with transaction.atomic():
            ids = list(Message.objects.filter(about).select_for_update().values_list("pk", flat=True))
            if ids:
                Delivery.objects.filter(message_id__in=ids).delete()
                Message.objects.filter(pk__in=ids).only("pk").delete()  # the payloads need not be read
        run.counts[self.name] += len(ids)


def _keys(rows: QuerySet, key: str, size: int = BATCH_SIZE) -> Iterator[list]:
    """The values of ``key`` of the rows, a batch at a time by id."""
    last = 0
    while batch := list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", key)[:size]):
        yield [value for _pk, value in batch]
        last = batch[-1][0]


class IdempotencyRecords(Place):
    """The stored answers of the events API, replayed to retries for 24 hours. Each names the
    events it created; such a record was written with the same moment as its events."""

    name = "idempotency_records"
    label = _("stored answers of the events API")

    def count(self, person: Person) -> int:
        recent = Event.objects.filter(person.owns(), received_at__gt=timezone.now() - KEY_LIFETIME)
        events = dict(recent.values_list("pk", "received_at"))
        records = IdempotentRequest.objects.filter(created_at__in=set(events.values()))
        return sum(1 for body in records.values_list("body", flat=True) if _without(body, set(events))[1])

    def erase(self, run: Run) -> None:
        """Nothing of its own: the records go with their events (``erase_about``)."""

    def erase_about(self, run: Run, events: list[tuple[int, datetime]]) -> None:
        recent = {pk: at for pk, at in events if at > run.now - KEY_LIFETIME}
        if not recent:
            return
        records = IdempotentRequest.objects.filter(created_at__in=set(recent.values())).select_for_update()
        for pk, body in records.values_list("pk", "body"):
            kept, touched = _without(body, set(recent))
            if not touched:
                continue
            if kept is None:
                IdempotentRequest.objects.filter(pk=pk).delete()
            else:
                IdempotentRequest.objects.filter(pk=pk).update(body=kept)
            run.counts[self.name] += 1


def _without(body: Any, events: set[int]) -> tuple[Any, bool]:
    """A stored answer without the person's events: (what stays, None if nothing; whether it
    named one). A bulk answer keeps the index and status of the person's entries, so that its
    replay still answers each event, and the others' retries stay protected."""
    if not isinstance(body, dict):
        return body, False
    if body.get("event_id") in events:
        return None, True
    results = body.get("results")
    if not isinstance(results, list):
        return body, False
    mine = [isinstance(item, dict) and item.get("event_id") in events for item in results]
    if not any(mine):
        return body, False
    if all(
        mine[index] for index, item in enumerate(results) if isinstance(item, dict) and "event_id" in item
    ):
        return None, True
    kept = [
        {"index": item.get("index"), "status": item.get("status")} if gone else item
        for item, gone in zip(results, mine, strict=True)
    ]
    return {**body, "results": kept}, True


# Sources


class Invitations(Place):
    name = "invitations"
    label = _("invitations")
    swept = True
    labels: ClassVar[dict[str, dict]] = {
        "status": dict(Invitation.Status.choices),
        "skip_reason": dict(Invitation.SkipReason.choices),
    }
    columns = (
        ("id", _("id")),
        ("survey", _("survey")),
        ("touchpoint", _("touchpoint")),
        ("status", _("status")),
        ("skip_reason", _("skipped because")),
        ("properties", _("event properties")),
        ("created_at", _("created")),
        ("scheduled_for", _("due")),
        ("sent_at", _("sent")),
        ("delivered_at", _("delivered")),
        ("opened_at", _("opened")),
        ("reminder_sent_at", _("reminder sent")),
        ("expires_at", _("answerable until")),
        ("answered_at", _("first answered")),
    )

    def count(self, person: Person) -> int:
        return Invitation.objects.filter(person.owns()).count()

    def export(self, person: Person) -> list[dict]:
        rows = Invitation.objects.filter(person.owns()).select_related("survey", "touchpoint").order_by("pk")
        return [
            {
                "id": invitation.pk,
                "survey": invitation.survey.name,
                "touchpoint": invitation.touchpoint.name,
                "status": invitation.status,
                "skip_reason": invitation.skip_reason,
                "properties": invitation.properties,
                **{
                    name: _time(getattr(invitation, name))
                    for name in (
                        "created_at",
                        "scheduled_for",
                        "sent_at",
                        "delivered_at",
                        "opened_at",
                        "reminder_sent_at",
                        "expires_at",
                        "answered_at",
                    )
                },
            }
            for invitation in rows.iterator(chunk_size=BATCH_SIZE)
        ]

    def erase(self, run: Run) -> None:
        """Without contact, properties, message ids and errors, and closed: one not yet handed to
        the mail server is skipped (a sender that claimed it then finds it gone), none is reminded
        or answered any more. Status, times and the answer's time stay for the statistics."""
        unsent = Q(status=Invitation.Status.SCHEDULED) | Q(
            status=Invitation.Status.SENDING, send_started_at__isnull=True
        )
        for batch in _batches(Invitation.objects.filter(run.person.owns()), run, "created_at"):
            ids = [pk for pk, _created in batch]
            Invitation.objects.filter(pk__in=ids).update(
                contact=None,
                properties={},
                message_id="",
                provider_message_id="",
                last_error="",
                reminder_due_at=None,
                expires_at=Least(F("expires_at"), Value(run.now)),
                status=Case(When(unsent, then=Value(Invitation.Status.SKIPPED)), default=F("status")),
                skip_reason=Case(
                    When(unsent, then=Value(Invitation.SkipReason.ERASED)), default=F("skip_reason")
                ),
                claimed_at=Case(
                    When(unsent, then=Value(None, output_field=models.DateTimeField())),
                    default=F("claimed_at"),
                ),
            )
            run.counts[self.name] += len(ids)
            since = min(created for _pk, created in batch)
            MESSAGES.erase_about(run, MESSAGES.about(invitations=ids, since=since))


class CaseReplies(Place):
    """Replies sent to the person from the cases of their answers, and their answers to them.
    Found through the answers, so visited before the answers lose their contact."""

    name = "case_replies"
    label = _("replies on follow-up cases")
    swept = True
    labels: ClassVar[dict[str, dict]] = {"kind": dict(CaseEntry.Kind.choices)}
    columns = (
        ("kind", _("kind")),
        ("subject", _("subject")),
        ("text", _("text")),
        ("address", _("address")),
        ("created_at", _("created")),
    )
    KINDS = (CaseEntry.Kind.REPLY_SENT, CaseEntry.Kind.REPLY_RECEIVED)

    def rows(self, person: Person) -> QuerySet[CaseEntry]:
        answers = Response.objects.filter(person.owns() | person.claims())
        return CaseEntry.objects.filter(kind__in=self.KINDS, case__response__in=answers)

    def count(self, person: Person) -> int:
        return self.rows(person).count()

    def export(self, person: Person) -> list[dict]:
        return [
            {
                "kind": entry.kind,
                "subject": entry.details.get("subject", ""),
                "text": entry.text,
                "address": entry.details.get("to") or entry.details.get("from") or "",
                "created_at": _time(entry.created_at),
            }
            for entry in self.rows(person).order_by("pk").iterator(chunk_size=BATCH_SIZE)
        ]

    def erase(self, run: Run) -> None:
        for batch in _batches(self.rows(run.person), run):
            CaseEntry.objects.filter(pk__in=[pk for (pk,) in batch]).delete()
            run.counts[self.name] += len(batch)


class QuestionsAfterCases(Place):
    """ "Was your issue solved?" asked after the cases of the person's answers (``followup.rechecks``).
    Those not answered go; an answer keeps its yes or no for the loop's figures, without its comment
    and with a new token, so that the old link answers nothing. Visited before the answers lose
    their contact."""

    name = "questions_after_cases"
    label = _("questions after follow-up cases")
    swept = True
    columns = (
        ("sent_at", _("sent")),
        ("answered_at", _("answered")),
        ("solved", _("issue solved")),
        ("comment", _("comment")),
    )

    def rows(self, person: Person) -> QuerySet[Recheck]:
        return Recheck.objects.filter(
            case__response__in=Response.objects.filter(person.owns() | person.claims())
        )

    def count(self, person: Person) -> int:
        return self.rows(person).count()

    def export(self, person: Person) -> list[dict]:
        return [
            {
                "sent_at": _time(question.sent_at),
                "answered_at": _time(question.answered_at),
                "solved": question.solved,
                "comment": question.comment,
            }
            for question in self.rows(person).order_by("pk").iterator(chunk_size=BATCH_SIZE)
        ]

    def erase(self, run: Run) -> None:
        for batch in _batches(self.rows(run.person), run, "answered_at", "case_id"):
            Recheck.objects.filter(
                pk__in=[pk for pk, answered_at, _case in batch if answered_at is None]
            ).delete()
            for pk, answered_at, _case in batch:
                if answered_at is not None:
                    Recheck.objects.filter(pk=pk).update(comment="", token=new_token())
            CaseEntry.objects.filter(
                case_id__in=[case for _pk, _answered, case in batch], kind=CaseEntry.Kind.RECHECKED
            ).update(text="")
            run.counts[self.name] += len(batch)


class Answers(Place):
    name = "responses"
    label = _("answers")
    swept = True
    labels: ClassVar[dict[str, dict]] = {
        "channel": dict(Response.Channel.choices),
        "language": dict(Language.choices),
    }
    columns = (
        ("id", _("id")),
        ("survey", _("survey")),
        ("touchpoint", _("touchpoint")),
        ("channel", _("channel")),
        ("score", _("score")),
        ("category", _("category")),
        ("comment", _("comment")),
        ("language", _("language")),
        ("contact_properties", _("contact properties")),
        ("event_properties", _("event properties")),
        ("claimed_identity", _("claimed identity (unverified)")),
        ("created_at", _("created")),
        ("updated_at", _("updated")),
    )

    def rows(self, person: Person) -> QuerySet[Response]:
        return Response.objects.filter(person.owns() | person.claims())

    def count(self, person: Person) -> int:
        return self.rows(person).count()

    def export(self, person: Person) -> list[dict]:
        rows = self.rows(person).select_related("survey", "touchpoint").order_by("pk")
        return [
            {
                "id": str(response.public_id),
                "survey": response.survey.name,
                "touchpoint": response.touchpoint.name if response.touchpoint else None,
                "channel": response.channel,
                "score": response.score,
                "category": response.category,
                "comment": response.comment,
                "language": response.language,
                "contact_properties": response.contact_properties,
                "event_properties": response.event_properties,
                "claimed_identity": {
                    "email": response.claimed_email,
                    "external_id": response.claimed_external_id,
                    "name": response.claimed_name,
                }
                if response.contact_id is None
                else None,
                "created_at": _time(response.created_at),
                "updated_at": _time(response.updated_at),
            }
            for response in rows.iterator(chunk_size=BATCH_SIZE)
        ]

    def erase(self, run: Run) -> None:
        """Anonymised, or deleted with ``delete_answers``; either way the database's triggers keep
        the tallies exact. Kept are the survey, touchpoint, score, channel, language and times,
        and what ``privacy.scrub`` lets stay of the comment and the properties."""
        fields = ("public_id", "survey_id", "created_at", "comment", "contact_properties", "event_properties")
        zone = timezone.get_current_timezone()
        for batch in _batches(self.rows(run.person), run, *fields, "claimed_name", "language"):
            for _pk, _public_id, survey_id, created_at, *_rest in batch:
                run.answered.setdefault(survey_id, set()).add(timezone.localtime(created_at, zone).date())
            ids = [row[0] for row in batch]
            if run.delete_answers:
                Response.objects.filter(pk__in=ids).delete()
            else:
                self._anonymise(run, batch)
            run.counts[self.name] += len(ids)
            since = min(row[3] for row in batch)
            MESSAGES.erase_about(run, MESSAGES.about(responses=[str(row[1]) for row in batch], since=since))

    def _anonymise(self, run: Run, batch: list[tuple]) -> None:
        """One UPDATE for what every answer loses; then, field by field, the comments and
        properties that change, one UPDATE per value they change to (an answer's snapshot of the
        contact is mostly the same for all), or one statement for all when they differ a lot."""
        uniform: dict = {"comment": "", **comment_fields("", "")} if not run.keep_comments else {}
        Response.objects.filter(pk__in=[row[0] for row in batch]).update(
            contact=None,
            claimed_email="",
            claimed_external_id="",
            claimed_name="",
            updated_at=Greatest(F("created_at"), Value(run.now)),
            **uniform,
        )
        self._load_segments(run, {row[2] for row in batch})
        changes: dict[str, dict[int, object]] = {name: {} for name in (*KEPT_FIELDS, *comment_fields("", ""))}
        for pk, _public_id, survey_id, _created, comment, contact, event, claimed_name, language in batch:
            kept = run.scrubber(claimed_name).answer(
                comment=comment,
                contact=contact,
                event=event,
                segments=run.segments[survey_id],
                keep_comment=run.keep_comments,
            )
            for name, old, new in zip(KEPT_FIELDS, (comment, contact, event), kept, strict=True):
                if new != old and name not in uniform:
                    changes[name][pk] = new
            if pk in changes["comment"]:  # the masks' words are no terms to find the answer by
                for name, value in comment_fields(kept[0], language).items():
                    changes[name][pk] = value
        for name, values in changes.items():
            _write(name, values)

    @staticmethod
    def _load_segments(run: Run, survey_ids: set[int]) -> None:
        if missing := survey_ids - run.segments.keys():
            run.segments.update(
                Survey.objects.filter(pk__in=missing).values_list("pk", "dashboard_properties")
            )


KEPT_FIELDS = ("comment", "contact_properties", "event_properties")
# Answers whose field changes to the same value share an UPDATE; past this many values one
# statement with a CASE on the id is cheaper.
MAX_GROUPS = 20


def _write(name: str, values: dict[int, object]) -> None:
    """Set the field ``name`` of each answer (by id) to its value."""
    groups: dict[str, list[int]] = {}
    for pk, value in values.items():
        groups.setdefault(json.dumps(value, sort_keys=True), []).append(pk)
    if len(groups) > MAX_GROUPS:
        rows = [Response(pk=pk, **{name: value}) for pk, value in values.items()]
        Response.objects.bulk_update(rows, [name])
        return
    for value, pks in groups.items():
        Response.objects.filter(pk__in=pks).update(**{name: json.loads(value)})


class Events(Place):
    name = "events"
    label = _("events")
    swept = True
    labels: ClassVar[dict[str, dict]] = {"source": dict(EventSource.choices)}
    columns = (
        ("id", _("id")),
        ("touchpoint", _("touchpoint")),
        ("properties", _("event properties")),
        ("occurred_at", _("occurred")),
        ("received_at", _("received")),
        ("source", _("source")),
    )

    def count(self, person: Person) -> int:
        return Event.objects.filter(person.owns()).count()

    def export(self, person: Person) -> list[dict]:
        rows = Event.objects.filter(person.owns()).select_related("touchpoint").order_by("pk")
        return [
            {
                "id": event.pk,
                "touchpoint": event.touchpoint.name,
                "properties": event.properties,
                "occurred_at": _time(event.occurred_at),
                "received_at": _time(event.received_at),
                "source": event.source,
            }
            for event in rows.iterator(chunk_size=BATCH_SIZE)
        ]

    def erase(self, run: Run) -> None:
        """Without contact and properties: the event still counts in the touchpoint's statistics."""
        for batch in _batches(Event.objects.filter(run.person.owns()), run, "received_at"):
            Event.objects.filter(pk__in=[pk for pk, _at in batch]).update(contact=None, properties={})
            run.counts[self.name] += len(batch)
            IDEMPOTENCY.erase_about(run, batch)


# Where the staff's work keeps traces


class PreparedExports(Place):
    """Files of exports prepared in the background: a file of a survey whose period holds one of
    the person's answers may hold the person's row, and is deleted (not written again: its reader
    exports afresh). An export being written is failed; its worker then deletes its file."""

    name = "export_files"
    label = _("prepared export files")
    swept = True  # an export that started meanwhile may have read an answer that arrived meanwhile

    def _affected(self, answered: dict[int, set[date]]) -> Iterator[ExportRecord]:
        running_or_kept = Q(status=ExportRecord.Status.RUNNING) | ~Q(file="")
        for record in ExportRecord.objects.prepared().filter(running_or_kept).order_by("pk"):
            survey, since, until = _period(record.filters)
            days = answered.get(survey or 0, set())
            if any((since is None or since <= day) and (until is None or day <= until) for day in days):
                yield record

    def count(self, person: Person) -> int:
        return sum(1 for _record in self._affected(_answered_days(person)))

    def erase(self, run: Run) -> None:
        for record in self._affected(run.answered):
            if record.status == ExportRecord.Status.RUNNING:
                ExportRecord.objects.filter(pk=record.pk, status=ExportRecord.Status.RUNNING).update(
                    status=ExportRecord.Status.FAILED,
                    error=gettext(
                        "A person whose answers this export holds was erased meanwhile. Export again."
                    ),
                    finished_at=run.now,
                )
            elif record.file and record.file.name:
                default_storage.delete(record.file.name)
                # The download says the file was deleted (on this day): export again.
                ExportRecord.objects.filter(pk=record.pk, file=record.file.name).update(
                    file="", expires_at=run.now
                )
            run.counts[self.name] += 1


def _period(filters: object) -> tuple[int | None, date | None, date | None]:
    """The survey and the days a prepared export's filters pinned (``feedback.exports.prepared_record``)."""

    def first(name: str) -> str:
        values = filters.get(name) if isinstance(filters, dict) else None
        return str(values[0]) if isinstance(values, list) and values else ""

    survey = first("survey")
    return (int(survey) if survey.isdigit() else None, parse_date(first("since")), parse_date(first("until")))


def _answered_days(person: Person) -> dict[int, set[date]]:
    days = (
        Answers()
        .rows(person)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list("survey_id", "day")
        .distinct()
    )
    answered: dict[int, set[date]] = {}
    for survey_id, day in days:
        answered.setdefault(survey_id, set()).add(day)
    return answered


def _search_terms(person: Person) -> list[str]:
    """What identifies the person in a free text: email, external id, name and its words, and
    property values long enough to be found inside other texts."""
    values = {text_of(value) for value in person.properties.values()}
    long_values = {value for value in values if value and len(value) >= CONTAINED_FROM}
    words = person.scrubber().name_words
    return sorted(
        {term for term in (person.email, person.external_id, person.name, *words, *long_values) if term}
    )


def _mentioning(field_name: str, terms: list[str]) -> Q:
    """Rows whose text (or JSON) field holds one of the terms, in any case. JSON that SQLite
    stores escapes what is not ASCII, so the escaped spelling is searched too."""
    found = Q(pk__in=[])
    for term in terms:
        for spelling in {term, json.dumps(term)[1:-1]}:
            found |= Q(**{f"{field_name}__icontains": spelling})
    return found


class ExportFilters(Place):
    """What an export was filtered by is kept to say who took which answers out; a filter value
    that names the person (a search for their name, a property value) stays as a keyed hash, as
    the audit log keeps it."""

    name = "export_records"
    label = _("export records whose filters name the person")

    def _changes(self, person: Person) -> Iterator[tuple[int, dict]]:
        """(id, filters as they stay) of the records whose filters name the person."""
        terms = _search_terms(person)
        if not terms:
            return
        scrubber = person.scrubber()
        values = scrubber.values()
        for pk, filters in ExportRecord.objects.filter(_mentioning("filters", terms)).values_list(
            "pk", "filters"
        ):
            kept = {
                name: [
                    value
                    if not isinstance(value, str) or scrubber.keeps("filter", value, values=values)
                    else pseudonymise(value, purpose="filter")
                    for value in values_of_name
                ]
                if isinstance(values_of_name, list)
                else values_of_name
                for name, values_of_name in filters.items()
            }
            if kept != filters:
                yield pk, kept

    def count(self, person: Person) -> int:
        return sum(1 for _change in self._changes(person))

    def erase(self, run: Run) -> None:
        for pk, filters in list(self._changes(run.person)):
            ExportRecord.objects.filter(pk=pk).update(filters=filters)
            run.counts[self.name] += 1


class AdminHistory(Place):
    """The back office's history of changes (Django's ``LogEntry``) names objects as they were
    called: a contact by its address, an invitation by its contact's. The contact's own history
    goes with it; any other entry naming the person is masked."""

    name = "admin_history"
    label = _("entries of the back office's history")

    def _entries(self, person: Person) -> QuerySet[LogEntry]:
        entries = LogEntry.objects.none()
        if person.contact_id is not None:
            contact_type = ContentType.objects.get_for_model(Contact)
            entries = LogEntry.objects.filter(content_type=contact_type, object_id=str(person.contact_id))
        terms = [term for term in (person.email, person.external_id, person.name) if term]
        return entries | LogEntry.objects.filter(_mentioning("object_repr", terms)) if terms else entries

    def count(self, person: Person) -> int:
        return self._entries(person).count()

    def erase(self, run: Run) -> None:
        contact_type = ContentType.objects.get_for_model(Contact)
        scrubber = run.scrubber()
        for entry in self._entries(run.person).only("pk", "content_type_id", "object_id", "object_repr"):
            if entry.content_type_id == contact_type.pk and entry.object_id == str(run.person.contact_id):
                LogEntry.objects.filter(pk=entry.pk).delete()
            elif (masked := scrubber.masked(entry.object_repr, values=frozenset())) != entry.object_repr:
                LogEntry.objects.filter(pk=entry.pk).update(object_repr=masked)
            else:
                continue
            run.counts[self.name] += 1


class Owned(Place):
    """Rows of another model that belong to the contact (a foreign key ``contact``): shown in the
    access export with ``columns``, deleted before the contact."""

    swept = True

    def __init__(self, name: str, label: str | Promise, model: str, fields: tuple[str, ...]) -> None:
        self.name, self.label, self.model, self.fields = name, label, model, fields

    def headings(self) -> Columns:
        options = apps.get_model(self.model)._meta
        return tuple((name, options.get_field(name).verbose_name) for name in self.fields)

    def _rows(self, person: Person) -> QuerySet:
        return apps.get_model(self.model).objects.filter(person.owns())

    def count(self, person: Person) -> int:
        return self._rows(person).count()

    def export(self, person: Person) -> list[dict]:
        return [
            {name: _plain(value) for name, value in row.items()}
            for row in self._rows(person).order_by("pk").values(*self.fields)
        ]

    def erase(self, run: Run) -> None:
        for batch in _batches(self._rows(run.person), run):
            apps.get_model(self.model).objects.filter(pk__in=[pk for (pk,) in batch]).delete()
            run.counts[self.name] += len(batch)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class ContactRow(Place):
    """The contact: deleted last, under its lock, with what arrived meanwhile already swept. If
    it had objected (unsubscribed, complained or bounced), its email and external id stay on the
    suppression list as keyed hashes."""

    name = "contact"
    label = _("contact")
    single = True
    swept = True
    labels: ClassVar[dict[str, dict]] = {
        "language": dict(Language.choices),
        "legal_basis": dict(LegalBasis.choices),
    }
    columns = (
        ("id", _("id")),
        ("email", _("email")),
        ("external_id", _("external id")),
        ("name", _("name")),
        ("language", _("language")),
        ("legal_basis", _("legal basis for asking")),
        ("properties", _("properties")),
        ("unsubscribed_at", _("unsubscribed")),
        ("bounced_at", _("bounced")),
        ("complained_at", _("marked as spam")),
        ("suppressed", _("on the suppression list")),
        ("created_at", _("created")),
        ("updated_at", _("updated")),
    )

    def count(self, person: Person) -> int:
        return int(person.contact_id is not None and Contact.objects.filter(pk=person.contact_id).exists())

    def export(self, person: Person) -> list[dict]:
        contact = Contact.objects.filter(pk=person.contact_id).first() if person.contact_id else None
        if contact is None:
            probe = Contact(email=person.email, external_id=person.external_id)
            return [
                {"suppressed": bool(Suppression.objects.filter(digest__in=identity_digests(probe)).exists())}
            ]
        return [
            {
                "id": contact.pk,
                "email": contact.email,
                "external_id": contact.external_id,
                "name": contact.name,
                "language": contact.language,
                "legal_basis": contact.legal_basis,
                "properties": contact.properties,
                "unsubscribed_at": _time(contact.unsubscribed_at),
                "bounced_at": _time(contact.bounced_at),
                "complained_at": _time(contact.complained_at),
                "suppressed": bool(Suppression.objects.reasons_for([contact])),
                "created_at": _time(contact.created_at),
                "updated_at": _time(contact.updated_at),
            }
        ]

    def erase(self, run: Run) -> None:
        if not run.final or run.person.contact_id is None:
            return
        contact = Contact.objects.select_for_update().filter(pk=run.person.contact_id).first()
        if contact is None:
            return
        if reason := contact.suppression:
            Suppression.objects.add(contact, reason=reason)
            run.counts["suppressed"] = 1
        Contact.objects.filter(pk=contact.pk).delete()
        run.counts[self.name] += 1


MESSAGES = WebhookMessages()
IDEMPOTENCY = IdempotencyRecords()

# The order is the erasure's (see above): the sources, then the copies of them that the sources'
# batches have not already taken with them, what the staff's work made of them, the contact last.
PLACES: list[Place] = [
    Invitations(),
    CaseReplies(),
    QuestionsAfterCases(),
    Answers(),
    Events(),
    MESSAGES,
    IDEMPOTENCY,
    PreparedExports(),
    ExportFilters(),
    AdminHistory(),
    Owned(
        "consents",
        _("consent history"),
        "surveys.ConsentRecord",
        ("legal_basis", "text", "language", "given_at", "source", "recorded_at"),
    ),
    ContactRow(),
]


def counts(person: Person) -> dict[str, int]:
    """How many rows of each place hold the person's data now (the erasure's confirmation)."""
    return {entry.name: entry.count(person) for entry in PLACES}
