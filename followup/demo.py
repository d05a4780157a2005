"""The demo company's loop (``manage.py seed_demo``): a customer-service team, the alert rules that
open its cases, cases in every state with notes and replies, and customers won back.

Built from the seeded answers with the demo's own ``random.Random``, so a seed gives the same
story: the last four months' unhappy customers after a delivery or a support contact got a
case; most of the older cases are resolved, the newest are still open, a few are overdue; and
of the customers whose case was solved, more answered their next survey as passive or promoter
than of those nobody called back.
"""

import random
import secrets
from collections.abc import Iterator
from datetime import datetime, time, timedelta

from django.contrib.auth.models import Group, User
from django.db.models import QuerySet
from django.utils import timezone

from followup.models import (
    Alert,
    AlertRule,
    Case,
    CaseEntry,
    CaseStatus,
    Digest,
    Recheck,
    ReplyTemplate,
    ResponseTag,
    Tag,
)
from surveys import roles
from surveys.models import Invitation, Response, Survey, Team, Touchpoint

CASE_DAYS = 120  # answers this young got a case
RECHECK_DAYS = 14  # the delivery touchpoint asks "Was your issue solved?" this long after a case
REVISIT_SHARE = 0.55  # of resolved cases whose customer answers the touchpoint's survey again
WON_BACK = 0.7  # of those, as passive or promoter
TEAM = "Kundenservice"
STAFF = (
    ("lena", "Lena", "Krüger", roles.CX_MANAGER),
    ("jonas", "Jonas", "Weber", roles.AGENT),
    ("mia", "Mia", "Schulz", roles.AGENT),
)
NOTES = (
    "Kunde angerufen, Mailbox. Versuche es morgen erneut.",
    "Spedition hat die Verzögerung bestätigt, Gutschrift über 20 € angeboten.",
    "@lena bitte Kulanz freigeben, Lieferung kam beschädigt an.",
    "Rückruf vereinbart für Donnerstagvormittag.",
    "Ersatzteil ist bestellt, Kunde informiert.",
    "Ticket im Shop-System verknüpft.",
)
REPLIES = (
    "Vielen Dank, das hat geholfen. Die Gutschrift ist angekommen.",
    "Danke für den Rückruf! Der Monteur kommt am Freitag.",
    "Thanks for sorting it out so quickly.",
)
TEMPLATES = (
    (
        "Entschuldigung Lieferung",
        "de",
        "Ihre Bestellung bei {{ brand }}",
        "Guten Tag {{ contact.name }},\n\nvielen Dank für Ihre ehrliche Bewertung. Es tut uns leid, "
        "dass Ihre "
        "Lieferung nicht so geklappt hat, wie Sie es von uns erwarten dürfen. Wir kümmern uns darum "
        "und melden uns in Kürze.\n\nIhr Team von {{ brand }}",
    ),
    (
        "Entschuldigung Lieferung",
        "en",
        "Your order from {{ brand }}",
        "Hello {{ contact.name }},\n\nthank you for your honest feedback. We are sorry your delivery "
        "did not go "
        "as it should have. We are looking into it and will be in touch shortly.\n\nYour {{ brand }} team",
    ),
)


def seed_loop(
    sender: object,
    *,
    rng: random.Random,
    surveys: dict[str, Survey],
    touchpoints: dict[str, Touchpoint],
    **kwargs,
) -> dict[str, int]:
    """Create the loop on top of the seeded answers; what was created, by kind."""
    # The seeded answers end yesterday: counting from today's start gives one story per seed and day.
    now = datetime.combine(timezone.localdate(), time.min, timezone.get_current_timezone())
    team, _created = Team.objects.get_or_create(name=TEAM)
    team.surveys.set(surveys.values())
    staff = [_staff(username, first, last, role, team) for username, first, last, role in STAFF]
    tags = {name: _tag(name) for name in ("Lieferung", "Rückruf", "Montage", "Erstattung")}
    rules = _rules(surveys, touchpoints, team=team, manager=staff[0], agent=staff[2], tags=tags)
    for name, language, subject, body in TEMPLATES:
        ReplyTemplate.objects.get_or_create(
            name=name, language=language, defaults={"subject": subject, "body": body}
        )
    Digest.objects.get_or_create(user=staff[0], defaults={"frequency": Digest.Frequency.DAILY})
    cases, alerts, tagged = [], [], []
    for rule in rules[:2]:
        rule_tags = list(rule.tags.all())
        for response in _matching(rule, since=now - timedelta(days=CASE_DAYS)):
            case = _case(rng, response, rule, now=now, agents=staff[1:])
            cases.append(case)
            alerts.append(
                Alert(rule=rule, response=response, fired_at=case.created_at, notified_at=case.created_at)
            )
            tagged += [
                ResponseTag(response=response, tag=tag, rule=rule, created_at=case.created_at)
                for tag in rule_tags
            ]
    Case.objects.bulk_create(cases)
    names: dict[int | None, str] = {rule.pk: rule.name for rule in rules}
    Alert.objects.bulk_create(alerts)
    ResponseTag.objects.bulk_create(tagged)
    CaseEntry.objects.bulk_create(
        entry for case in cases for entry in _timeline(rng, case, rule_name=names[case.rule_id])
    )
    revisits = _revisits(rng, cases, now=now)
    asked = _rechecks(rng, cases, touchpoints["order-delivered"], now=now)
    return {
        "rules": len(rules),
        "cases": len(cases),
        "later answers": len(revisits),
        "questions after cases": asked,
    }


def _staff(username: str, first: str, last: str, role: str, team: Team) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@nordwind.example", "first_name": first, "last_name": last},
    )
    if created:
        user.is_staff = True
        user.set_unusable_password()  # colleagues to assign cases to; the demo user signs in
        user.save()
    user.groups.add(Group.objects.get(name=role))
    team.members.add(user)
    return user


def _tag(name: str) -> Tag:
    return Tag.objects.filter(name__iexact=name).first() or Tag.objects.create(name=name)


def _rules(surveys, touchpoints, *, team: Team, manager: User, agent: User, tags: dict) -> list[AlertRule]:
    delivery = AlertRule.objects.create(
        survey=surveys["nps"],
        name="Detraktoren nach der Lieferung",
        active=True,
        categories=["detractor"],
        team=team,
        sla_hours=48,
        slack_url="",
    )
    delivery.touchpoints.set([touchpoints["order-delivered"]])
    delivery.notify.set([manager])
    delivery.tags.set([tags["Lieferung"]])
    support = AlertRule.objects.create(
        survey=surveys["csat"],
        name="Unzufrieden mit dem Support",
        active=True,
        score_max=2,
        assignee=agent,
        sla_hours=24,
    )
    support.touchpoints.set([touchpoints["support-ticket-closed"]])
    support.tags.set([tags["Rückruf"]])
    refund = AlertRule.objects.create(
        survey=surveys["nps"],
        name="Erstattung erwähnt",
        active=True,
        words="Erstattung\nGeld zurück\nrefund",
        open_case=False,
        delivery=AlertRule.Delivery.DIGEST,
    )
    refund.notify.set([manager])
    refund.tags.set([tags["Erstattung"]])
    return [delivery, support, refund]


def _matching(rule: AlertRule, *, since: datetime) -> QuerySet[Response]:
    """The rule's answers with a contact since ``since``, as the rule's conditions select them."""
    answers = Response.objects.filter(
        survey=rule.survey,
        touchpoint__in=rule.touchpoints.all(),
        contact__isnull=False,
        created_at__gte=since,
    ).select_related("contact", "touchpoint")
    for category in rule.categories:
        answers = answers.in_category(category)
    if rule.score_max is not None:
        answers = answers.filter(score__lte=rule.score_max)
    return answers


def _case(
    rng: random.Random, response: Response, rule: AlertRule, *, now: datetime, agents: list[User]
) -> Case:
    """A case as far along as its age makes likely: old ones mostly closed, new ones open."""
    opened = response.created_at + timedelta(minutes=rng.randint(1, 20))
    age = (now - opened).days
    if age > 14:
        status = rng.choices(list(CaseStatus), weights=[2, 5, 4, 76, 13])[0]
    elif age > 2:
        status = rng.choices(list(CaseStatus), weights=[15, 35, 25, 20, 5])[0]
    else:
        status = rng.choices(list(CaseStatus), weights=[70, 25, 5, 0, 0])[0]
    case = Case(
        response=response,
        survey_id=response.survey_id,
        touchpoint_id=response.touchpoint_id,
        rule=rule,
        status=status,
        assignee=rule.assignee or rng.choice(agents),
        team=rule.team,
        opening_score=response.score,
        due_at=opened + timedelta(hours=rule.sla_hours),
        created_at=opened,
        updated_at=opened,
    )
    if status == CaseStatus.NEW:
        return case
    # Most are taken up within the day; a tail misses the SLA.
    first_response = min(opened + timedelta(hours=rng.expovariate(1 / 20)), now)
    case.first_response_at = case.updated_at = first_response
    if status in (CaseStatus.RESOLVED, CaseStatus.NO_ACTION):
        case.resolved_at = min(first_response + timedelta(hours=rng.expovariate(1 / 60)), now)
        case.updated_at = case.resolved_at
        case.resolution = (
            rng.choice(["solved", "solved", "compensated", "explained"])
            if status == CaseStatus.RESOLVED
            else ""
        )
    return case


def _timeline(rng: random.Random, case: Case, *, rule_name: str) -> Iterator[CaseEntry]:
    yield CaseEntry(
        case=case, kind=CaseEntry.Kind.OPENED, details={"rule": rule_name}, created_at=case.created_at
    )
    if case.first_response_at is None:
        return
    by = case.assignee
    yield CaseEntry(
        case=case,
        kind=CaseEntry.Kind.STATUS,
        author=by,
        created_at=case.first_response_at,
        details={"from": CaseStatus.NEW, "to": CaseStatus.IN_PROGRESS},
    )
    if rng.random() < 0.6:
        yield CaseEntry(
            case=case,
            kind=CaseEntry.Kind.NOTE,
            author=by,
            text=rng.choice(NOTES),
            created_at=case.first_response_at + timedelta(minutes=5),
        )
    if rng.random() < 0.6:
        sent = CaseEntry(
            case=case,
            kind=CaseEntry.Kind.REPLY_SENT,
            author=by,
            created_at=case.first_response_at,
            text=_filled(TEMPLATES[0][3], name=case.response.contact.name),  # type: ignore[union-attr]
            details={"subject": _filled(TEMPLATES[0][2], name=""), "status": "sent"},
            message_id=f"<{secrets.token_hex(16)}@nordwind.example>",
        )
        yield sent
        if rng.random() < 0.5:
            yield CaseEntry(
                case=case,
                kind=CaseEntry.Kind.REPLY_RECEIVED,
                text=rng.choice(REPLIES),
                created_at=case.first_response_at + timedelta(hours=rng.uniform(1, 30)),
                details={"subject": f"Re: {sent.details['subject']}"},
                message_id=f"<{secrets.token_hex(16)}@mail.example>",
                in_reply_to=sent.message_id,
            )
    if case.resolved_at is not None:
        yield CaseEntry(
            case=case,
            kind=CaseEntry.Kind.STATUS,
            author=by,
            created_at=case.resolved_at,
            details={"from": CaseStatus.IN_PROGRESS, "to": case.status, "resolution": case.resolution},
        )


def _revisits(rng: random.Random, cases: list[Case], *, now: datetime) -> list[Response]:
    """Later answers of customers whose case was solved, at the same touchpoint; most of them won back."""
    answers = []
    for case in cases:
        if case.resolved_at is None or case.resolution not in ("solved", "compensated"):
            continue
        if rng.random() >= REVISIT_SHARE:
            continue
        moment = case.resolved_at + timedelta(days=rng.randint(10, 60), hours=rng.randint(0, 8))
        if moment >= now:
            continue
        scale = case.survey.scale
        won_back = rng.random() < WON_BACK
        low, high = scale.category_range(scale.categories[1 if won_back else 0].code)  # type: ignore[misc]
        if won_back and rng.random() < 0.5:
            low, high = scale.category_range(scale.categories[2].code)  # type: ignore[misc]
        answers.append(_later_answer(case.response, score=rng.randint(low, high), at=moment))
    Invitation.objects.bulk_create(answer.invitation for answer in answers)  # type: ignore[misc]
    Response.objects.bulk_create(answers)
    return answers


def _rechecks(rng: random.Random, cases: list[Case], touchpoint: Touchpoint, *, now: datetime) -> int:
    """ "Was your issue solved?" two weeks after the delivery cases were resolved; most say yes."""
    touchpoint.recheck_after_days = RECHECK_DAYS
    touchpoint.save(update_fields=["recheck_after_days"])
    questions = []
    for case in cases:
        if (
            case.touchpoint_id != touchpoint.pk
            or case.status != CaseStatus.RESOLVED
            or case.resolved_at is None
        ):
            continue
        due = case.resolved_at + timedelta(days=RECHECK_DAYS)
        question = Recheck(case=case, due_at=due, language=case.response.language)
        if due < now:
            question.status, question.sent_at = Recheck.Status.SENT, due
            if rng.random() < 0.6:
                question.answered_at = due + timedelta(hours=rng.uniform(1, 48))
                question.solved = rng.random() < 0.75
        questions.append(question)
    Recheck.objects.bulk_create(questions)
    CaseEntry.objects.bulk_create(
        CaseEntry(
            case=question.case,
            kind=CaseEntry.Kind.RECHECKED,
            details={"solved": question.solved},
            created_at=question.answered_at,
        )
        for question in questions
        if question.answered_at is not None
    )
    return len(questions)


def _later_answer(first: Response, *, score: int, at: datetime) -> Response:
    invitation = Invitation(
        survey_id=first.survey_id,
        touchpoint=first.touchpoint,
        contact_id=first.contact_id,
        status=Invitation.Status.SENT,
        created_at=at - timedelta(hours=3),
        sent_at=at - timedelta(hours=2),
        expires_at=at + timedelta(days=14),
        answered_at=at,
    )
    return Response(
        survey_id=first.survey_id,
        kind=first.kind,
        touchpoint_id=first.touchpoint_id,
        invitation=invitation,
        contact_id=first.contact_id,
        channel=Response.Channel.EMAIL,
        score=score,
        comment="",
        language=first.language,
        contact_properties=first.contact_properties,
        created_at=at,
        updated_at=at,
    )


def _filled(text: str, *, name: str) -> str:
    """A reply template's text as the demo's customer got it (the demo's brand and the contact's name)."""
    return text.replace("{{ brand }}", "Nordwind Möbel").replace("{{ contact.name }}", name)
