import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection

from feedback import verbatims
from feedback.counts import Filters
from feedback.verbatims import VerbatimQuery, find_verbatims, highlighted
from surveys.models import Response
from surveys.terms import lemma
from tests.factories import answer_by_link, make_survey

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 2, 9, 0, tzinfo=BERLIN)


@pytest.fixture
def survey():
    return make_survey(kind="nps")


@pytest.fixture
def period(survey):
    return Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))


def answer(survey, score, comment, *, language="de", hours=0):
    return answer_by_link(survey, score, START + timedelta(hours=hours), comment=comment, language=language)


def comments(query):
    return [response.comment for response in find_verbatims(query)]


def test_comments_come_newest_first_and_filter_by_category_and_score(survey, period):
    answer(survey, 2, "Viel zu spät", hours=1)
    answer(survey, 9, "Alles bestens", hours=2)
    answer(survey, 7, "", hours=3)
    answer(survey, 10, "Sehr schnell", hours=4)
    assert comments(VerbatimQuery(period)) == ["Sehr schnell", "Alles bestens", "Viel zu spät"]
    assert comments(VerbatimQuery(period, category="promoter")) == ["Sehr schnell", "Alles bestens"]
    assert comments(VerbatimQuery(period, score=2)) == ["Viel zu spät"]
    assert comments(VerbatimQuery(period, with_comment=False)) == [""]
    assert len(comments(VerbatimQuery(period, with_comment=None))) == 4


def test_search_finds_words_and_marks_them_after_escaping(survey, period):
    answer(survey, 3, "<b>Lieferung</b> kam zwei Wochen zu spät")
    answer(survey, 9, "Freundlicher Kundendienst", hours=1)
    query = VerbatimQuery(period, text="Lieferung")
    [found] = find_verbatims(query)
    html = highlighted(found, query.text)
    assert "&lt;b&gt;<mark>Lieferung</mark>&lt;/b&gt;" in html
    assert "<b>" not in html


def test_a_word_finds_its_other_forms_in_the_comments_own_language(survey, period):
    answer(survey, 3, "Die Lieferungen waren beschädigt")
    answer(survey, 4, "Both deliveries were late", language="en", hours=1)
    answer(survey, 9, "Schnell und freundlich", hours=2)
    assert comments(VerbatimQuery(period, text="Lieferung")) == ["Die Lieferungen waren beschädigt"]
    [english] = find_verbatims(VerbatimQuery(period, text="delivery"))
    assert highlighted(english, "delivery") == "Both <mark>deliveries</mark> were late"


@pytest.mark.parametrize(
    ("searched", "found"),
    [
        ("Lieferung", ["Ihre Lieferung war gut", "Zwei Lieferungen fehlen"]),
        ("LIEFERUNGEN", ["Ihre Lieferung war gut", "Zwei Lieferungen fehlen"]),
        ("geliefert", ["Pünktlich geliefert", "Sie lieferten nie", "Wir liefern morgen"]),
        ("lieferte", ["Pünktlich geliefert", "Sie lieferten nie", "Wir liefern morgen"]),
        ("delivery", ["One delivery", "Two deliveries"]),
        ("delivered", ["It was delivered", "They keep delivering"]),
    ],
)
def test_inflections_match_and_a_verb_does_not_find_its_noun(survey, period, searched, found):
    texts = [
        ("Ihre Lieferung war gut", "de"),
        ("Zwei Lieferungen fehlen", "de"),
        ("Pünktlich geliefert", "de"),
        ("Sie lieferten nie", "de"),
        ("Wir liefern morgen", "de"),
        ("One delivery", "en"),
        ("Two deliveries", "en"),
        ("It was delivered", "en"),
        ("They keep delivering", "en"),
    ]
    for hours, (text, language) in enumerate(texts):
        answer(survey, 5, text, language=language, hours=hours)
    assert sorted(comments(VerbatimQuery(period, text=searched))) == found


def test_every_word_must_match(survey, period):
    answer(survey, 2, "Die Lieferung kam zu spät")
    answer(survey, 3, "Die Lieferung war beschädigt", hours=1)
    assert comments(VerbatimQuery(period, text="Lieferungen später")) == ["Die Lieferung kam zu spät"]
    assert comments(VerbatimQuery(period, text="Lieferung Kaffeemaschine")) == []


def test_a_phrase_in_quotes_matches_as_typed_in_any_case_and_spacing(survey, period):
    answer(survey, 2, "Viel ZU  SPÄT geliefert")
    answer(survey, 3, "Über die Lieferung: zu spät!", hours=1)
    answer(survey, 4, "Dazu später mehr", hours=2)
    answer(survey, 5, "Spät, zu spät", hours=3)
    answer(survey, 6, "Leider spät zu Hause", hours=4)
    assert comments(VerbatimQuery(period, text='"zu spät"')) == [
        "Spät, zu spät",
        "Über die Lieferung: zu spät!",
        "Viel ZU  SPÄT geliefert",
    ]
    assert comments(VerbatimQuery(period, text='"über"')) == ["Über die Lieferung: zu spät!"]
    # A phrase and a word: both must match, the word in any of its forms.
    assert comments(VerbatimQuery(period, text='"zu spät" liefern')) == ["Viel ZU  SPÄT geliefert"]
    assert comments(VerbatimQuery(period, text='Lieferungen "zu spät"')) == ["Über die Lieferung: zu spät!"]


@pytest.mark.parametrize(
    ("searched", "count"),
    [
        ('"zu spät', 3),  # an open quotation mark quotes nothing: two words
        ('zu spät"', 3),
        ('"zu" "spät" "', 3),
        ('""', 0),  # nothing to search for finds nothing
        ("?!", 0),
        ('"(zu) spät.*"', 0),  # a phrase's punctuation is taken as typed, never as a pattern
    ],
)
def test_unbalanced_quotes_and_punctuation_are_searched_without_error(survey, period, searched, count):
    answer(survey, 2, "Viel zu spät")
    answer(survey, 3, "Zu spät, leider", hours=1)
    answer(survey, 4, "Spät kam es zu mir", hours=2)
    assert len(comments(VerbatimQuery(period, text=searched))) == count


def test_matches_are_marked_after_escaping_words_and_phrases_alike(survey, period):
    answer(survey, 2, '<i>Lieferungen</i> kamen "zu spät" & kaputt')
    [found] = find_verbatims(VerbatimQuery(period, text='lieferung "zu spät"'))
    html = highlighted(found, 'lieferung "zu spät"')
    assert (
        html
        == "&lt;i&gt;<mark>Lieferungen</mark>&lt;/i&gt; kamen &quot;<mark>zu spät</mark>&quot; &amp; kaputt"
    )


def test_marks_survive_letters_that_change_length_when_lowered(survey, period):
    response = answer(survey, 3, "İstanbul: Lieferung fehlt, lieferung!")
    assert highlighted(response, "LIEFERUNG") == (
        "İstanbul: <mark>Lieferung</mark> fehlt, <mark>lieferung</mark>!"
    )


def test_postgresql_also_finds_the_stems_of_words_the_dictionaries_do_not_know(survey, period):
    """The dictionaries know "Lieferfenster" but not its dative plural; Snowball stems both alike."""
    answer(survey, 3, "In beiden Lieferfenstern kam niemand")
    found = find_verbatims(VerbatimQuery(period, text="Lieferfenster"))
    if connection.vendor != "postgresql":
        assert not found.exists()
        return
    assert highlighted(found.get(), "Lieferfenster") == "In beiden <mark>Lieferfenstern</mark> kam niemand"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the indexes are PostgreSQL's")
def test_the_search_uses_the_language_indexes_and_the_terms_index(survey):
    answer(survey, 3, "Die Lieferung war beschädigt")
    queryset = verbatims.search(Response.objects.all(), "Lieferung")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "response_comment_fts_de" in plan
    assert "response_comment_fts_en" in plan
    assert "response_comment_terms_idx" in plan


def test_sqlite_and_postgresql_both_find_a_word_in_any_case(survey, period):
    answer(survey, 3, "Kundendienst war UNFREUNDLICH")
    assert comments(VerbatimQuery(period, text="unfreundlich")) == ["Kundendienst war UNFREUNDLICH"]


# The searches of the issue on the demo data, with the phrases the demo's comments hold.
DEMO_SEARCHES = [
    "Lieferung",
    "Lieferungen",
    "geliefert",
    "liefern",
    "später",
    "delivery",
    "deliveries",
    "delivered",
    '"viel zu groß"',
    '"zu spät"',
    'Lieferung "zwei Wochen"',
]


def test_sqlite_and_postgresql_find_the_same_demo_answers(settings):
    """What SQLite finds by the terms alone, computed here in Python, is what either database
    finds: PostgreSQL's stems add nothing on the demo data."""
    settings.DEBUG = True
    call_command("seed_demo", contacts=100, responses=600, stdout=io.StringIO())
    rows = list(
        Response.objects.exclude(comment="").values_list("pk", "comment", "language", "comment_terms")
    )
    found = {}
    for text in DEMO_SEARCHES:
        wanted = verbatims.parse_search(text)
        expected = {
            pk
            for pk, comment, language, terms in rows
            if all(lemma(word, language) in terms.split() for word in wanted.words)
            and all(
                re.search(rf"\b{re.escape(phrase)}\b", comment, re.IGNORECASE) for phrase in wanted.phrases
            )
        }
        found[text] = set(verbatims.search(Response.objects.all(), text).values_list("pk", flat=True))
        assert found[text] == expected, text
    assert found["Lieferung"] == found["Lieferungen"] != set()
    assert found["delivery"] == found["deliveries"] != set()
    assert found['"viel zu groß"']
    assert found['Lieferung "zwei Wochen"'] and found['Lieferung "zwei Wochen"'] < found["Lieferung"]
    # The demo's comments have no verb of delivering: the noun is not found by it.
    assert found["geliefert"] == found["liefern"] == found["delivered"] == set()
