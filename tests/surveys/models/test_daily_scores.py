import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from surveys.models import DailyScore, Response
from tests.factories import answer_by_link, make_invitation, make_survey, make_touchpoint
from tests.threads import at_once

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def tally() -> dict[tuple, int]:
    return {
        (row.survey_id, row.touchpoint_key, row.day.isoformat(), row.score): row.responses
        for row in DailyScore.objects.filter(responses__gt=0)
    }


def answer_link(survey, score, now):
    return answer_by_link(survey, score, now)


def test_an_answer_counts_on_its_local_day():
    invitation = make_invitation(survey=make_survey(kind="nps"))
    late_evening = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 on the 29th in Berlin
    invitation.record_answer(score=9, comment=None, language="de", now=late_evening)
    assert tally() == {(invitation.survey_id, invitation.touchpoint_id, "2026-03-29", 9): 1}


def test_a_changed_score_moves_and_a_comment_does_not():
    invitation = make_invitation(survey=make_survey(kind="nps"))
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    invitation.record_answer(score=9, comment=None, language="de", now=now)
    invitation.record_answer(score=3, comment=None, language="de", now=now + timedelta(hours=1))
    invitation.record_answer(score=3, comment="Zu spät", language="de", now=now + timedelta(hours=2))
    key = (invitation.survey_id, invitation.touchpoint_id, "2026-11-23")
    assert tally() == {(*key, 3): 1}
    assert DailyScore.objects.get(score=9).responses == 0


def test_answers_without_a_touchpoint_count_under_none():
    survey = make_survey(kind="csat")
    response = answer_link(survey, 4, datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    response.revise(score=5, comment=None, now=datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert tally() == {(survey.pk, 0, "2026-11-23", 5): 1}


def test_the_tally_always_equals_a_fresh_count():
    rng = random.Random(4)
    surveys = [make_survey(kind="nps"), make_survey(kind="ces")]
    touchpoints = [make_touchpoint(survey=survey) for survey in surveys]
    start = datetime(2026, 3, 20, tzinfo=UTC)  # across the spring change
    answered = []
    for step in range(200):
        survey_number = rng.randrange(2)
        survey, scale = surveys[survey_number], surveys[survey_number].scale
        now = start + timedelta(hours=step * 2 + rng.random())
        action = rng.random()
        if action < 0.4:
            invitation = make_invitation(survey=survey, touchpoint=touchpoints[survey_number], now=now)
            invitation.record_answer(score=rng.choice(scale.points), comment=None, language="de", now=now)
            answered.append(invitation)
        elif action < 0.7 or not answered:
            answer_link(survey, rng.choice(scale.points), now)
        else:
            invitation = rng.choice(answered)
            points = invitation.survey.scale.points
            invitation.record_answer(score=rng.choice(points), comment="x", language="de", now=now)
    counted = tally()
    DailyScore.objects.rebuild()
    assert counted == tally()
    assert sum(counted.values()) == Response.objects.count()


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_answer_keep_the_tally_exact():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers")
    invitation = make_invitation(survey=make_survey(kind="nps"))
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    response = invitation.record_answer(score=5, comment=None, language="de", now=now)
    at_once(
        lambda score: Response.objects.get(pk=response.pk).revise(score=score, comment=None, now=now),
        (6, 7, 8, 9),
    )
    final = Response.objects.get(pk=response.pk).score
    assert tally() == {(invitation.survey_id, invitation.touchpoint_id, "2026-11-23", final): 1}
