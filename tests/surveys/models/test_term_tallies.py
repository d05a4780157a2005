"""Every path that writes, changes or deletes a comment keeps the term tally exact (``TermTally``).

The suite checks it against a fresh count after every test (tests/conftest.py, with the score
tallies); these tests say what each count must be.
"""

import io
from datetime import datetime
from importlib import import_module
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from surveys.models import Response, Term, TermTally, rebuild_tallies, tally_drift
from surveys.models.tallies import COMMENTS
from surveys.terms import comment_fields, comment_ngrams
from tests.factories import answer_by_link, make_contact, make_invitation, make_response, make_survey

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LATE = "Die Lieferung kam zu spät"


def counted(term: str | None = None) -> dict[tuple, int]:
    """(day, category, language, term) → comments, of the rows that count something; of one term
    if given, else of every term but ``COMMENTS``."""
    rows = TermTally.objects.filter(responses__gt=0).select_related("term")
    rows = rows.filter(term__text=term) if term is not None else rows.exclude(term__text=COMMENTS)
    return {(row.day.isoformat(), row.category, row.language, row.term.text): row.responses for row in rows}


def expected(comment: str, language: str, category: str, *, day: str = "2026-11-23", times: int = 1) -> dict:
    return {(day, category, language, term): times for term in comment_ngrams(comment, language)}


@pytest.fixture
def survey():
    return make_survey(kind="nps")


def test_an_answer_counts_each_of_its_terms_once_under_its_category_and_language(survey):
    twice = f"{LATE}. {LATE}!"
    make_response(survey=survey, score=3, comment=twice, language="de", created_at=NOW)
    assert counted() == expected(twice, "de", "detractor")
    assert "lieferung" in {term for _day, _category, _language, term in counted()}


def test_answers_with_the_same_terms_add_up_and_without_a_comment_count_nothing(survey):
    for score in (2, 5):
        answer_by_link(survey, score, NOW, comment=LATE)  # in German
    answer_by_link(survey, 1, NOW)
    make_response(survey=survey, score=10, comment="Great service", language="en", created_at=NOW)
    assert counted() == expected(LATE, "de", "detractor", times=2) | expected(
        "Great service", "en", "promoter"
    )
    assert counted(COMMENTS) == {
        ("2026-11-23", "detractor", "de", COMMENTS): 2,
        ("2026-11-23", "promoter", "en", COMMENTS): 1,
    }


def test_csat_and_ces_answers_count_under_their_own_categories():
    csat, ces = make_survey(kind="csat", name="CSAT"), make_survey(kind="ces", name="CES")
    make_response(survey=csat, score=3, comment="Lieferung", language="de", created_at=NOW)
    make_response(survey=ces, score=6, comment="Lieferung", language="de", created_at=NOW)
    assert sorted(TermTally.objects.values_list("survey_id", "category").distinct()) == [
        (csat.pk, "neutral"),
        (ces.pk, "easy"),
    ]


def test_a_new_score_comment_or_language_moves_the_terms(survey):
    response = make_response(survey=survey, score=9, comment=LATE, language="de", created_at=NOW)
    response.revise(score=4, comment=None, now=NOW)
    assert counted() == expected(LATE, "de", "detractor")
    response.revise(score=None, comment="Alles bestens", now=NOW)
    assert counted() == expected("Alles bestens", "de", "detractor")
    response.revise(score=None, comment=None, language="en", now=NOW)
    assert counted() == expected("Alles bestens", "en", "detractor")


def test_deleting_an_answer_or_its_contact_counts_its_terms_out(survey):
    kept = make_response(survey=survey, score=9, comment="Sehr freundlich", language="de", created_at=NOW)
    make_response(survey=survey, score=3, comment=LATE, language="de", created_at=NOW).delete()
    contact = make_contact()
    invitation = make_invitation(survey=survey, contact=contact, now=NOW)
    invitation.record_answer(score=2, comment=LATE, language="de", now=NOW)
    contact.delete()
    assert counted() == expected(kept.comment, "de", "promoter")
    assert counted(COMMENTS) == {("2026-11-23", "promoter", "de", COMMENTS): 1}


def test_rows_written_in_sql_count_their_terms(survey):
    Response.objects.bulk_create(
        Response(
            survey=survey,
            kind="nps",
            score=9,
            channel="link",
            language="en",
            created_at=NOW,
            comment="Fast delivery",
            **comment_fields("Fast delivery", "en"),
        )
        for _ in range(3)
    )
    Response.objects.filter(survey=survey).update(score=0)
    assert counted() == expected("Fast delivery", "en", "detractor", times=3)


def test_a_day_is_the_local_day_of_the_tally_zone(survey):
    answer_by_link(survey, 9, datetime(2026, 11, 23, 23, 30, tzinfo=UTC), comment="Top")  # the 24th in Berlin
    assert counted() == expected("Top", "de", "promoter", day="2026-11-24")


def test_a_recount_gives_what_the_triggers_kept_and_drops_the_terms_nobody_uses(survey):
    make_response(survey=survey, score=3, comment=LATE, language="de", created_at=NOW)
    make_response(survey=survey, score=10, comment="Frau Krause war sehr nett", language="de", created_at=NOW)
    Response.objects.filter(score=10).delete()
    kept = counted()
    assert Term.objects.filter(text="nett").exists()  # a zero row still names it
    rebuild_tallies([survey])
    assert counted() == kept
    assert not Term.objects.filter(text="nett").exists()
    assert set(Term.objects.values_list("text", flat=True)) == {COMMENTS, *comment_ngrams(LATE, "de")}


def test_check_tallies_reports_a_drifting_term_count_and_repairs_it(survey):
    make_response(survey=survey, score=3, comment="Lieferung", language="de", created_at=NOW)
    TermTally.objects.update(responses=5)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_tallies", stdout=out)
    assert "  terms 2026-11-23 detractor de lieferung: 5 in the tally, 1 counted afresh" in out.getvalue()
    call_command("check_tallies", "--repair", stdout=out)
    assert tally_drift() == []
    assert counted() == expected("Lieferung", "de", "detractor")


def test_the_migration_counts_the_comments_already_there_once(survey):
    """Migration 0018 fills the terms of earlier comments, then creates the triggers and counts."""
    migration = import_module("surveys.migrations.0018_terms_of_comments_tallied")
    make_response(survey=survey, score=3, comment=LATE, language="de", created_at=NOW)
    make_response(survey=survey, score=9, comment="Schnelle Lieferung", language="de", created_at=NOW)
    before = counted()
    # The editor is only asked for its connection: SQLite cannot enter it inside a test's transaction.
    editor = connection.schema_editor()
    migration.uncount_terms(apps, editor)
    Response.objects.update(comment_ngrams=[])
    migration.fill_ngrams(apps, editor)
    migration.count_terms(apps, editor)
    assert counted() == before
    assert not tally_drift()
