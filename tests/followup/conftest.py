"""Team A's survey with the cases of its answers, worked on by an agent of team A; team B's survey
with a case of its own, which team A's people must never see."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from followup.cases import open_case
from followup.models import Case
from surveys import roles
from surveys.models import Contact, LegalBasis, Response, Survey, Team
from tests.factories import make_contact, make_invitation, make_staff, make_survey, make_team, make_touchpoint


@dataclass
class Loop:
    survey: Survey
    other: Survey
    team: Team
    other_team: Team
    agent: object
    colleague: object
    manager: object
    foreigner: object


@pytest.fixture
def loop(db) -> Loop:
    survey = make_survey(name="Lieferung", brand="Acme", sender_name="Acme Service")
    other = make_survey(name="Team B survey")
    agent = make_staff("agnes", roles.AGENT)
    colleague = make_staff("bert", roles.AGENT)
    manager = make_staff("carla", roles.CX_MANAGER)
    foreigner = make_staff("frank", roles.CX_MANAGER)
    team = make_team("Service", surveys=[survey], members=[agent, colleague, manager])
    other_team = make_team("Elsewhere", surveys=[other], members=[foreigner])
    return Loop(survey, other, team, other_team, agent, colleague, manager, foreigner)


def answer(
    survey: Survey,
    score: int = 2,
    comment: str = "Die Lieferung kam zu spät",
    *,
    contact: Contact | None = None,
    language: str = "de",
) -> Response:
    """An answer to an invitation of a contact who is a customer (a legal basis to write to)."""
    contact = contact or make_contact(name="Erika Muster", language="en", legal_basis=LegalBasis.CUSTOMER)
    touchpoint = make_touchpoint(survey=survey, name="Zustellung")
    invitation = make_invitation(survey=survey, touchpoint=touchpoint, contact=contact)
    return invitation.record_answer(score=score, comment=comment, language=language, now=timezone.now())


def case_for(response: Response, *, hours: int | None = 48, **fields) -> Case:
    return open_case(response=response, now=timezone.now(), sla_hours=hours, **fields)[0]


def overdue(case: Case) -> Case:
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - timedelta(hours=1))
    case.refresh_from_db()
    return case
