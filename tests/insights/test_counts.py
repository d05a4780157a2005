"""The comments of a group that use each term, from the term tally or from the responses alike."""

from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from feedback.counts import Filters
from insights.counts import Group, TermCounts, pair_counts, term_counts
from insights.logodds import score_terms
from surveys.models import NO_TOUCHPOINT
from tests.factories import answer_by_link, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
DAY = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def survey():
    survey = make_survey(kind="nps")
    touchpoint = make_touchpoint(survey=survey)
    for score, comment, language in (
        (2, "Die Lieferung kam zu spät", "de"),
        (3, "Lieferungen immer zu spät", "de"),
        (5, "", "de"),
        (9, "Schnelle Lieferung", "de"),
        (10, "Fast delivery", "en"),
    ):
        answer_by_link(survey, score, DAY, comment=comment, language=language)
    invitation = make_invitation(survey=survey, touchpoint=touchpoint, now=DAY)
    invitation.record_answer(score=1, comment="Lieferung zu spät", language="de", now=DAY)
    answer_by_link(survey, 1, datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN), comment="Lieferung fehlt")
    survey.touchpoint = touchpoint
    return survey


def counts(survey, *, touchpoints=(), categories=(), language="") -> TermCounts:
    filters = Filters(
        survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30), touchpoints=touchpoints
    )
    return term_counts(Group(filters=filters, categories=categories, language=language))


def test_detractors_terms_count_each_comment_once(survey):
    detractors = counts(survey, categories=("detractor",))
    assert detractors.comments == 3  # the answer without a comment and December's are not in it
    assert detractors.terms["lieferung"] == 3
    assert detractors.terms["spät"] == 3
    assert "schnell" not in detractors.terms


def test_categories_and_a_language_narrow_the_group(survey):
    promoters = counts(survey, categories=("promoter",))
    assert promoters.comments == 2
    assert counts(survey, categories=("promoter",), language="en").terms == {
        "delivery": 1,
        "fast": 1,
        "fast delivery": 1,
    }
    everyone = counts(survey)
    assert everyone.comments == 5
    assert everyone.terms["lieferung"] == 4


def test_the_responses_count_as_the_tally_does(survey):
    """A filter on touchpoints reads the responses: every touchpoint together counts as no filter."""
    every_touchpoint = (survey.touchpoint.pk, NO_TOUCHPOINT)
    for categories in ((), ("detractor",), ("promoter", "passive")):
        assert counts(survey, touchpoints=every_touchpoint, categories=categories) == counts(
            survey, categories=categories
        )
    by_email = counts(survey, touchpoints=(survey.touchpoint.pk,), categories=("detractor",))
    assert by_email.comments == 1
    assert by_email.terms["lieferung"] == 1


def test_a_group_without_comments_counts_nothing():
    assert counts(make_survey(kind="csat")) == TermCounts(terms={}, comments=0, total=0)


def test_a_pair_counted_together_keeps_the_frequent_terms_and_every_total(survey):
    """Two groups summed in one pass over the tally: the terms counted at least twice in both
    together, each group's count of them, and the totals of every term, those left out too."""
    november = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    detractors = Group(november, categories=("detractor",))
    promoters = Group(november, categories=("promoter",))
    alone_a, alone_b = term_counts(detractors), term_counts(promoters)
    pair_a, pair_b = pair_counts(detractors, promoters, min_count=2)
    assert (pair_a.comments, pair_b.comments) == (3, 2)
    assert (pair_a.total, pair_b.total) == (alone_a.total, alone_b.total)
    assert pair_a.total == sum(alone_a.terms.values()) > sum(pair_a.terms.values())
    assert pair_a.terms == {"lieferung": 3, "spät": 3}  # "kommen" and the rest are in one comment
    assert pair_b.terms == {"lieferung": 1}  # "schnell" is in one comment too


def test_a_pair_of_periods_or_of_other_filters_counts_as_each_group_alone(survey):
    """November against the days before it, in German; and a touchpoint (read from the responses)
    against every answer."""
    november = Filters(survey=survey, since=date(2026, 11, 15), until=date(2026, 12, 14))
    pairs = (
        (Group(november, language="de"), Group(november.previous(), language="de")),
        (Group(november), Group(november.previous())),
        (Group(replace(november, touchpoints=(survey.touchpoint.pk,))), Group(november)),
    )
    for a, b in pairs:
        pair_a, pair_b = pair_counts(a, b, min_count=1)
        assert (pair_a, pair_b) == (term_counts(a), term_counts(b))
    assert pair_counts(*pairs[0], min_count=1)[0].comments == 5


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
def test_a_pair_weighed_in_the_database_keeps_the_terms_beyond_the_threshold(survey, threshold):
    """The database keeps the terms whose |z| Python finds above the threshold, and no other."""
    for score, comment in [(1, "Lieferung zu spät"), (2, "Hotline nicht erreichbar")] * 3 + [
        (10, "Schnelle Lieferung"),
        (9, "Hotline sehr freundlich"),
    ] * 4:
        answer_by_link(survey, score, DAY, comment=comment)
    november = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    groups = Group(november, categories=("detractor",)), Group(november, categories=("promoter",))
    every_a, every_b = term_counts(groups[0]), term_counts(groups[1])
    beyond = {
        score.term
        for score in score_terms(every_a.terms, every_b.terms, min_count=2)
        if abs(score.z) > threshold
    }
    kept_a, kept_b = pair_counts(*groups, min_count=2, threshold=threshold)
    assert kept_a.terms.keys() | kept_b.terms.keys() == beyond
    assert (kept_a.total, kept_b.total, kept_a.comments) == (every_a.total, every_b.total, every_a.comments)
    assert 0 < len(beyond) < len(every_a.terms.keys() | every_b.terms.keys())
