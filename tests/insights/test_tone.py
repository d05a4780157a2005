"""The tone of comments: a lexicon learned from the scored comments of the training part, its
agreement on the held-out part, the thresholds, and the background work that gives answers their
tone (never on the answering path)."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from feedback.metrics import proportion_interval
from insights import themes, tone
from insights.logodds import TermScore
from insights.models import ResponseTone, ThemeSweep, ToneLexicon
from insights.tasks import learn_tone, match_themes
from insights.tone import Tone, tone_label, tone_of
from surveys.models import Response
from tests.factories import answer_by_link, make_survey

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
LATER = NOW + themes.LAG + timedelta(seconds=1)


# The thresholds and the arithmetic, without a database


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0.51, Tone.POSITIVE),
        (0.5, Tone.NEUTRAL),
        (0.0, Tone.NEUTRAL),
        (-0.5, Tone.NEUTRAL),
        (-0.51, Tone.NEGATIVE),
    ],
)
def test_a_tone_beyond_half_a_unit_is_positive_or_negative_and_the_bounds_are_neutral(value, label):
    assert tone_label(value) == label


def test_the_tone_is_the_mean_weight_of_the_terms_that_have_one():
    weights = {"kaputt": -1.5, "prima": 2.0, "spät": -0.7}
    assert tone_of(["kaputt", "paket", "spät"], weights) == pytest.approx(-1.1)
    assert tone_of(["kaputt", "prima"], weights) == pytest.approx(0.25)
    assert tone_of(["paket"], weights) == 0.0
    assert tone_of([], weights) == 0.0


def test_weights_are_the_clipped_log_odds_of_the_significant_terms():
    scores = [
        TermScore("großartig", 4.2, 6.0, 40, 0, None, None),
        TermScore("prima", 1.1, 2.5, 20, 3, None, None),
        TermScore("paket", 0.3, 1.2, 50, 40, None, None),  # |z| ≤ 1.96: no weight
        TermScore("kaputt", -0.9, -2.0, 2, 15, None, None),
        TermScore("betrug", -3.7, -5.0, 0, 30, None, None),
    ]
    assert tone.lexicon_weights(scores) == {"großartig": 3.0, "prima": 1.1, "kaputt": -0.9, "betrug": -3.0}


# Learning, on a small hand-made corpus


def answer(survey, score, comment, *, held_out=False, language="de", at=NOW):
    """An answer in the training part, or with ``held_out`` in the held-out part (id ≡ 0 mod 5)."""
    while True:
        response = answer_by_link(survey, score, at, comment=comment, language=language)
        if (response.pk % tone.HOLD_OUT == 0) == held_out:
            return response
        response.delete()


@pytest.fixture
def corpus(db):
    """Training: 30 detractors write "Paket kaputt", 30 promoters "Paket prima", 10 passives
    "Hotline besetzt", 30 dissatisfied CSAT answers "Rechnung falsch"; only held-out detractors
    write "geheim"."""
    nps, csat = make_survey(kind="nps"), make_survey(kind="csat")
    for _ in range(30):
        answer(nps, 2, "Paket kaputt")
        answer(nps, 10, "Paket prima")
    for _ in range(30):
        answer(csat, 1, "Rechnung falsch")
    for _ in range(10):
        answer(nps, 7, "Hotline besetzt")
    for _ in range(6):
        answer(nps, 3, "Paket geheim", held_out=True)
    return nps


def weights(language="de") -> dict[str, float]:
    return dict(ToneLexicon.objects.get(language=language).weights.values_list("term", "weight"))


def test_a_word_of_the_lowest_category_weighs_negative_one_of_the_highest_positive_one_of_both_nothing(
    corpus,
):
    [german, english] = tone.learn_tone(now=NOW)
    learned = weights()
    assert learned["kaputt"] < -0.5
    assert learned["prima"] > 0.5
    assert learned["rechnung"] < 0  # dissatisfied CSAT answers are the lowest category too
    assert "paket" not in learned  # as often in both
    assert "hotline" not in learned  # passives are neither
    assert "geheim" not in learned  # held out: six comments, none learned from
    assert all(-tone.MAX_WEIGHT <= weight <= tone.MAX_WEIGHT for weight in learned.values())
    assert (german.language, german.comments, german.learned_at) == ("de", 90, NOW)
    assert (english.comments, english.weights.count()) == (0, 0)


def test_agreement_on_the_held_out_comments_of_the_lowest_and_highest_category(corpus):
    for score, comment in [(2, "Paket kaputt"), (1, "Paket kaputt"), (0, "Paket prima")]:
        answer(corpus, score, comment, held_out=True)  # two agree, one praises
    for score, comment in [(9, "Paket prima"), (10, "Paket prima"), (10, "Paket kaputt")]:
        answer(corpus, score, comment, held_out=True)  # two agree, one complains
    answer(corpus, 8, "Paket kaputt", held_out=True)  # a passive: neither agrees nor disagrees
    answer(corpus, 2, "", held_out=True)  # no comment
    german = ToneLexicon.objects.get(pk=tone.learn_tone(now=NOW)[0].pk)
    # 6 "Paket geheim" (no weighted term: neutral) + 3 detractors + 3 promoters with a comment
    assert (german.held_out, german.agreeing, german.neutral) == (12, 4, 6)
    figures = tone.agreement(german)
    assert figures.share == pytest.approx(100 * 4 / 12)
    assert figures.interval == proportion_interval(4, 12)
    assert figures.neutral == 50
    assert figures.n == 12


def test_learning_again_replaces_the_lexicon_whole(corpus):
    [first, _english] = tone.learn_tone(now=NOW)
    old = set(first.weights.values_list("pk", flat=True))
    for _ in range(30):
        answer(corpus, 10, "Paket kaputt")  # now promoters complain as often as detractors
    tone.learn_tone(now=LATER)
    german = ToneLexicon.objects.get(language="de")
    assert (german.learned_at, german.comments) == (LATER, 120)
    assert ToneLexicon.objects.count() == 2
    assert not set(german.weights.values_list("pk", flat=True)) & old
    assert "kaputt" not in weights()
    assert weights()["prima"] > 0.5


# The background work


def toned() -> dict[str, float]:
    return dict(ResponseTone.objects.values_list("response__comment", "value"))


def test_a_new_answer_gets_no_tone_while_answering_and_its_tone_at_the_next_sweep(corpus):
    tone.learn_tone(now=NOW)
    while themes.sweep(now=LATER):  # the corpus
        pass
    ResponseTone.objects.all().delete()
    late = NOW + timedelta(minutes=5)
    complaint = answer_by_link(corpus, 9, late, comment="Leider kaputt")
    answer_by_link(corpus, 9, late, comment="")
    answer_by_link(corpus, 9, late, comment="Chair arrived", language="en")  # no English weights: tone 0
    assert not ResponseTone.objects.exists()  # the answering path wrote none
    assert themes.sweep(now=late) == 0  # too fresh: its transaction may not have committed
    assert themes.sweep(now=late + themes.LAG) == 3
    assert toned() == {"Leider kaputt": weights()["kaputt"], "Chair arrived": 0.0}
    assert tone_label(complaint.tone.value) == Tone.NEGATIVE


def test_a_changed_comment_gets_its_new_tone_and_an_erased_one_loses_it(corpus):
    tone.learn_tone(now=NOW)
    late = NOW + timedelta(minutes=5)
    first = answer_by_link(corpus, 9, late, comment="Paket kaputt")
    second = answer_by_link(corpus, 9, late, comment="Paket prima")
    themes.sweep(now=late + themes.LAG)
    first.revise(score=None, comment="Alles prima", now=late + timedelta(minutes=1))
    second.revise(score=None, comment="", now=late + timedelta(minutes=1))
    themes.sweep(now=late + timedelta(minutes=2))
    assert ResponseTone.objects.get(response=first).value == weights()["prima"]
    assert not ResponseTone.objects.filter(response=second).exists()


def test_after_learning_every_comment_gets_its_tone_again_batch_by_batch_with_progress(corpus):
    german, _english = tone.learn_tone(now=NOW)
    comments = Response.objects.filter(language="de").exclude(comment="").count()
    assert (german.to_tone, german.toned, german.toning_after) == (comments, 0, 0)
    assert tone.tone_again(now=NOW, batch_size=25) == 25
    german.refresh_from_db()
    assert (german.toned, german.to_tone) == (25, comments)
    first = set(ResponseTone.objects.values_list("response_id", flat=True))
    assert first == set(Response.objects.exclude(comment="").order_by("pk").values_list("pk", flat=True)[:25])
    while tone.tone_again(now=NOW, batch_size=25):
        german.refresh_from_db()
        assert german.toned <= german.to_tone
    german.refresh_from_db()
    assert (german.toned, german.to_tone, german.toning_after) == (comments, comments, None)
    learned = weights()
    for response in Response.objects.exclude(comment="").select_related("tone"):
        assert response.tone.value == pytest.approx(tone_of(response.comment_ngrams, learned))
    # A comment with praise keeps its old tone until its batch comes after the next learning.
    ResponseTone.objects.update(value=0.0)
    tone.learn_tone(now=LATER)
    tone.tone_again(now=LATER, batch_size=25)
    assert ResponseTone.objects.filter(value=0.0).count() == comments - 25
    assert tone.tone_again(now=LATER, batch_size=1000) == comments - 25
    assert not ResponseTone.objects.filter(value=0.0, response__comment="Paket prima").exists()


def test_the_periodic_tasks_learn_and_give_tones_and_say_whether_more_is_due(corpus):
    learn_tone()
    assert set(ToneLexicon.objects.values_list("language", flat=True)) == {"de", "en"}
    assert match_themes() is False  # the German comments: less than a batch
    assert match_themes() is False  # the English lexicon, without comments
    assert ResponseTone.objects.count() == Response.objects.exclude(comment="").count()
    assert not ToneLexicon.objects.filter(toning_after__isnull=False).exists()
    assert ThemeSweep.objects.get().updated_at is not None


def test_without_lexicon_or_themes_nothing_gets_a_tone(corpus):
    assert themes.sweep(now=LATER) == 0
    assert tone.tone_again(now=LATER) == 0
    assert not ResponseTone.objects.exists()


def test_the_command_learns_and_says_how_far_to_trust_it(corpus):
    answer(corpus, 2, "Paket kaputt", held_out=True)
    out = io.StringIO()
    call_command("learn_tone", stdout=out)
    lines = out.getvalue().splitlines()
    german = ToneLexicon.objects.get(language="de")
    assert lines[0].startswith(f"de: {german.weights.count()} weighted terms from 90 comments; agrees with")
    assert "of 7 held-out comments, 86 % neutral." in lines[0]  # 1 of 7 agrees
    assert lines[1] == "en: 0 weighted terms from 0 comments; no held-out comments to check it on."
