"""Distinguishing terms (detractors against promoters) over a year of comments on PostgreSQL,
from the term tally, beside a plain Python count of the same comments.

    DEBUG=true .venv/bin/python bench/insights_terms.py [--comments 1000000] [--pool 50000]

1. Loads one NPS survey with ``--comments`` answers, each with a comment, spread over the last
   365 days so that the first days of the year hold exactly 100,000 of them. The comments are
   German and English (80 / 20), 5 to 40 words drawn Zipf-like from a few thousand words (common
   words of each language and made-up ones from syllables) with some words more typical of
   detractors, passives or promoters; each answer draws its comment from a pool of ``--pool``
   distinct ones, whose terms (``comment_terms``, ``comment_ngrams``) are computed once. The answers
   go in with ``COPY`` with the tallies' triggers off, then ``rebuild_tallies`` counts all tallies
   and ``TermMonth.objects.roll_up`` sums the months that have ended, as the beat does.
2. Times ``insights.compare.lowest_against_highest`` over the first 100,000 comments and over all
   1,000,000 (median and p95 of several runs after a warm-up), with production settings.
3. Beside it, the plain Python limit over the same comments: the period's detractors' and
   promoters' (score, comment_ngrams) fetched and counted with ``collections.Counter``, then the
   same ``distinguishing_terms``; checks that both give the same terms.
4. Shows where one tallied comparison spends its time (the count of both groups in the database,
   the log-odds in Python) and the plan of the count, and prints both figures against their
   targets: ≤ 1 s for 100,000 comments, ≤ 3 s for 1,000,000 (median).

It creates (and drops first) the database ``cxsurvey_bench_terms`` on the local server.
"""

import argparse
import io
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common import SERVER, bench_environment, record, recreate_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_terms"
ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)
DAYS = 365
SMALL = 100_000  # comments in the first period measured
TARGETS = {SMALL: 1.0, 1_000_000: 3.0}  # seconds, median (product brief)
RUNS, WARM_UPS = 5, 1
BASELINE_RUNS, BASELINE_ONCE = 3, 60  # a baseline run slower than this many seconds is run once
CHUNK = 200_000  # rows per COPY
LANGUAGES = (("de", 80), ("en", 20))
# Category, its share of answers, its scores with their weights.
CATEGORIES = (
    ("detractor", 25, ((0, 3), (1, 2), (2, 3), (3, 4), (4, 5), (5, 7), (6, 9))),
    ("passive", 30, ((7, 45), (8, 55))),
    ("promoter", 45, ((9, 45), (10, 55))),
)
TYPICAL_SHARE = 0.12  # of a comment's words, drawn from its category's own words
SYNTHETIC_WORDS = 3000  # made-up words per language, after the common ones
COMMON = {  # split into words where used
    "de": (
        "der die das und ist nicht ich zu sehr mit es war aber auch ein eine auf für wir sie "
        "hat haben wurde noch schon nur dann so mal wieder immer bei von im den dem mein meine "
        "Lieferung Paket Bestellung Service Kunde Ware Preis Qualität Zeit Tag Woche Mitarbeiter "
        "Versand Rechnung Produkt Artikel Karton Fahrer Termin Hotline Mail Antwort Rückgabe Geld "
        "bestellt geliefert gekommen bekommen angerufen geschrieben gewartet zurückgeschickt "
        "gut schlecht schnell langsam freundlich teuer günstig pünktlich spät einfach schwierig "
        "leider wirklich total ganz etwas viel wenig lange kurz gerne insgesamt eigentlich"
    ),
    "en": (
        "the and a to is was it not i my of for with but very on they we have had be this that "
        "again always only just so too at from in "
        "delivery parcel order service customer item price quality time day week staff shipping "
        "invoice product box driver appointment hotline email answer return money "
        "ordered delivered arrived received called wrote waited returned "
        "good bad fast slow friendly expensive cheap punctual late easy difficult "
        "unfortunately really totally quite some much little long short overall actually"
    ),
}
TYPICAL = {
    "de": {
        "detractor": "Verspätung beschädigt kaputt niemand Beschwerde Warteschleife falsch fehlt "
        "enttäuscht ärgerlich Katastrophe nie storniert unfreundlich Erstattung Reklamation",
        "passive": "okay ordentlich durchschnittlich passt akzeptabel mittelmäßig verbesserungswürdig "
        "Lieferzeit Verpackung normal",
        "promoter": "super toll prima hervorragend empfehlen zufrieden begeistert perfekt "
        "unkompliziert reibungslos Danke top klasse weiterempfehlen",
    },
    "en": {
        "detractor": "delay damaged broken nobody complaint hold wrong missing disappointed "
        "annoying disaster never cancelled rude refund",
        "passive": "okay decent average fine acceptable mediocre improve packaging normal",
        "promoter": "great excellent recommend happy delighted perfect smooth thanks awesome "
        "brilliant wonderful",
    },
}
ONSETS = "b br d f g gr h k kl l m n p pf r s sch st t w z"  # split where used
VOWELS = ("a", "e", "i", "o", "u", "ei", "au", "ie", "ä", "ö", "ü")
CODAS = ("", "", "n", "r", "l", "s", "ch", "nd", "st", "ng", "t")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=50_000, help="distinct comments to draw from")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database of an earlier run again, migrated"
    )
    options = parser.parse_args()
    if options.comments < SMALL:
        parser.error(f"--comments must be at least {SMALL:,}")

    os.environ.update(bench_environment(DATABASE, TIME_ZONE=ZONE))
    sys.path.insert(0, str(ROOT))
    if not options.reuse:
        recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    from surveys.models import Survey

    call_command("migrate", verbosity=0)
    print(
        f"CXSurvey distinguishing terms bench on PostgreSQL: {options.comments:,} comments over {DAYS} days, "
        f"drawn from {options.pool:,} distinct ones"
    )
    if options.reuse:
        survey = Survey.objects.get()
        periods = periods_of(options.comments)
    else:
        survey = Survey.objects.create(name="Nordwind NPS", kind="nps", brand="Nordwind Möbel")
        periods = load(survey, options.comments, comment_pool(options.pool))
        count_tallies()
    roll_up()

    from feedback.counts import Filters

    results = {}
    for comments, (since, until) in periods.items():
        filters = Filters(survey=survey, since=since, until=until)
        print(f"\n{comments:,} comments, {since} to {until}:")
        results[comments] = measure(filters)
        profile(filters)
    targets(results)


def comment_pool(size: int) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """``size`` distinct comments by (language, category), each with its search terms and its terms
    for insights as COPY text."""
    from surveys.terms import comment_fields

    rng = random.Random(2026)
    started = time.perf_counter()
    vocabularies = {language: vocabulary(rng, language) for language, _ in LANGUAGES}
    texts: dict[tuple[str, str], list[str]] = {}
    seen: set[str] = set()
    for language, language_share in LANGUAGES:
        for category, category_share, _scores in CATEGORIES:
            wanted = round(size * language_share / 100 * category_share / 100)
            drawn = texts[(language, category)] = []
            while len(drawn) < wanted:
                text = compose(rng, vocabularies[language], category)
                if text not in seen:
                    seen.add(text)
                    drawn.append(text)
    generated = time.perf_counter() - started
    pool = {}
    for (language, category), drawn in texts.items():
        rows = []
        for text in drawn:
            fields = comment_fields(text, language)
            ngrams = json.dumps(fields["comment_ngrams"], ensure_ascii=False)
            rows.append((text, str(fields["comment_terms"]), ngrams.replace("\\", "\\\\")))
        pool[(language, category)] = rows
    elapsed = time.perf_counter() - started
    terms = len({term for rows in pool.values() for _, _, ngrams in rows for term in json.loads(ngrams)})
    print(
        f"  generated {len(seen):,} distinct comments in {generated:.1f} s and their terms in "
        f"{elapsed - generated:.1f} s ({terms:,} distinct terms)"
    )
    return pool


def vocabulary(rng: random.Random, language: str) -> dict:
    """A language's words, most frequent first, with cumulative Zipf weights for ``random.choices``;
    and each category's typical words, likewise."""
    words, onsets = COMMON[language].split(), ONSETS.split()
    known, size = set(words), len(words) + SYNTHETIC_WORDS
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 3))
        word = "".join(rng.choice(onsets) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
        if word not in known:
            known.add(word)
            # German nouns are written capitalised: a third of the made-up German words are nouns.
            words.append(word.capitalize() if language == "de" and rng.random() < 0.33 else word)
    typical = {category: TYPICAL[language][category].split() for category, _, _ in CATEGORIES}
    return {
        "words": words,
        "weights": zipf(len(words)),
        "typical": {category: (own, zipf(len(own))) for category, own in typical.items()},
    }


def zipf(size: int, exponent: float = 1.05) -> list[float]:
    return list(accumulate(1 / rank**exponent for rank in range(1, size + 1)))


def compose(rng: random.Random, words: dict, category: str) -> str:
    """One comment of 5 to 40 words (short ones more often), in sentences of a few words."""
    length = min(40, 5 + int(rng.expovariate(1 / 12)))
    typical, typical_weights = words["typical"][category]
    drawn = rng.choices(words["words"], cum_weights=words["weights"], k=length)
    for position in range(length):
        if rng.random() < TYPICAL_SHARE:
            drawn[position] = rng.choices(typical, cum_weights=typical_weights)[0]
    sentences, start = [], 0
    while start < length:
        end = min(length, start + rng.randint(4, 12))
        sentence = drawn[start:end]
        sentences.append(" ".join([sentence[0][:1].upper() + sentence[0][1:], *sentence[1:]]) + ".")
        start = end
    return " ".join(sentences)


def day_counts(total: int) -> tuple[list[date], list[int], int]:
    """The year's days (ending yesterday), how many answers each gets (fewer at weekends) and how
    many of the first days hold exactly ``SMALL`` of them."""
    today = datetime.now(BERLIN).date()
    days = [today - timedelta(days=DAYS - number) for number in range(DAYS)]
    weights = [(1.15, 1.1, 1.05, 1.0, 0.95, 0.6, 0.5)[day.weekday()] for day in days]
    first = max(1, round(DAYS * SMALL / total))
    return days, spread(SMALL, weights[:first]) + spread(total - SMALL, weights[first:]), first


def spread(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), summing to ``total`` exactly."""
    if not weights:
        return []
    shares = [total * weight / sum(weights) for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda n: counts[n] - shares[n])
    for number in by_remainder[: total - sum(counts)]:
        counts[number] += 1
    return counts


def load(survey, total: int, pool: dict) -> dict[int, tuple[date, date]]:
    """COPY ``total`` answers into surveys_response with the tallies' triggers off, generating the
    next chunk while one loads; the periods measured, by their number of comments."""
    import psycopg2

    days, counts, _first = day_counts(total)
    columns = (
        "public_id, survey_id, kind, channel, score, comment, comment_terms, comment_ngrams, language, "
        "contact_properties, event_properties, created_at, updated_at"
    )
    chunks: queue.Queue = queue.Queue(maxsize=2)

    def produce() -> None:
        try:
            generate(survey.pk, days, counts, pool, chunks)
        except BaseException as error:
            chunks.put(error)  # rather than leave the loader waiting for ever
            raise

    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    started = time.perf_counter()
    threading.Thread(target=produce, daemon=True).start()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("ALTER TABLE surveys_response DISABLE TRIGGER USER")
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise RuntimeError("generating the answers failed") from chunk
            cursor.copy_expert(f"COPY surveys_response ({columns}) FROM STDIN", io.StringIO(chunk))
            connection.commit()
        cursor.execute("ALTER TABLE surveys_response ENABLE TRIGGER USER")
        connection.commit()
    connection.close()
    elapsed = time.perf_counter() - started
    print(
        f"  loaded {total:,} answers with comments with COPY in {elapsed:.1f} s "
        f"({total / elapsed:,.0f} rows/s)"
    )
    return periods_of(total)


def periods_of(total: int) -> dict[int, tuple[date, date]]:
    """The periods measured, first and last day, by their number of comments."""
    days, _counts, first = day_counts(total)
    return {SMALL: (days[0], days[first - 1]), total: (days[0], days[-1])}


def generate(survey_id: int, days: list[date], counts: list[int], pool: dict, chunks: queue.Queue) -> None:
    """COPY text for the answers of each day in the order they arrived, ``CHUNK`` rows at a time,
    then None. Answers come between 6:00 and 23:00 local time, so that the offset at noon is theirs
    on the days the clocks change too."""
    rng = random.Random(7)
    languages, language_weights = [language for language, _ in LANGUAGES], [share for _, share in LANGUAGES]
    categories = [category for category, _, _ in CATEGORIES]
    category_weights = [share for _, share, _ in CATEGORIES]
    scores = {
        category: ([score for score, _ in weighted], [weight for _, weight in weighted])
        for category, _, weighted in CATEGORIES
    }
    version = 0x4000 << 64 | 0x8000 << 48  # a version 4, RFC 4122 variant UUID
    mask = ~(0xF000 << 64 | 0xC000 << 48)
    lines: list[str] = []
    for day, count in zip(days, counts, strict=True):
        stamp = f"{day.isoformat()} %s{datetime.combine(day, clock(12), BERLIN):%z}"
        seconds = sorted(rng.randrange(6 * 3600, 23 * 3600) for _ in range(count))
        for second, language, category in zip(
            seconds,
            rng.choices(languages, language_weights, k=count),
            rng.choices(categories, category_weights, k=count),
            strict=True,
        ):
            points, weights = scores[category]
            comment, terms, ngrams = rng.choice(pool[(language, category)])
            moment = stamp % f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            lines.append(
                f"{rng.getrandbits(128) & mask | version:032x}\t{survey_id}\tnps\tlink\t"
                f"{rng.choices(points, weights)[0]}\t{comment}\t{terms}\t{ngrams}\t{language}\t{{}}\t{{}}\t"
                f"{moment}\t{moment}\n"
            )
            if len(lines) == CHUNK:
                chunks.put("".join(lines))
                lines = []
    chunks.put("".join(lines))
    chunks.put(None)


def count_tallies() -> None:
    """All tallies counted afresh in SQL, then vacuumed and analysed as autovacuum would."""
    import psycopg2

    from surveys.models import Term, TermTally
    from surveys.models.tallies import rebuild_tallies

    started = time.perf_counter()
    rebuild_tallies()
    elapsed = time.perf_counter() - started
    print(
        f"  counted the tallies with rebuild_tallies in {elapsed:.1f} s: {TermTally.objects.count():,} "
        f"term tally rows, {Term.objects.count():,} terms"
    )
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    connection.autocommit = True
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("surveys_response", "surveys_termtally", "surveys_term"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    connection.close()
    print(f"  VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")


def roll_up() -> None:
    """The months that have ended summed into the month tally, as the beat's ``roll-up-terms``
    does (nothing when an earlier run did), then analysed."""
    import psycopg2

    from surveys.models import TermMonth

    started = time.perf_counter()
    written = TermMonth.objects.roll_up()
    print(
        f"  rolled the ended months up in {time.perf_counter() - started:.1f} s: {written:,} rows written, "
        f"{TermMonth.objects.count():,} month rows"
    )
    connection = psycopg2.connect(f"{SERVER}/{DATABASE}")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) surveys_termmonth")
    connection.close()


def timed(function, runs: int = RUNS, warm_ups: int = WARM_UPS) -> tuple[list[float], Any]:
    """Seconds of each of ``runs`` calls after ``warm_ups`` untimed ones, and the last result."""
    for _ in range(warm_ups):
        function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def measure(filters) -> dict[str, list[float]]:
    """Seconds per run of the tallied comparison and of the plain Python one; SystemExit if their
    terms differ."""
    from insights.compare import lowest_against_highest

    tallied, comparison = timed(lambda: lowest_against_highest(filters))
    started = time.perf_counter()
    baseline_terms = plain_python(filters)
    first = time.perf_counter() - started
    if first > BASELINE_ONCE:
        baseline = [first]
    else:
        baseline, baseline_terms = timed(lambda: plain_python(filters), runs=BASELINE_RUNS, warm_ups=0)
    counted = comparison.counts_a.comments + comparison.counts_b.comments
    print(
        f"  lowest_against_highest (term tally): median {milliseconds(tallied)}, "
        f"p95 {milliseconds([p95(tallied)])} "
        f"({RUNS} runs after {WARM_UPS} warm-up; {counted:,} detractors' and promoters' comments, "
        f"{len(comparison.counts_a.terms) + len(comparison.counts_b.terms):,} term counts sent back)"
    )
    print(
        f"  plain Python (fetch, Counter, distinguishing_terms): median {milliseconds(baseline)} "
        f"of {len(baseline)} run{'s' if len(baseline) > 1 else ''}"
    )
    print(f"  plain Python / term tally: {statistics.median(baseline) / statistics.median(tallied):.1f}×")
    if baseline_terms != comparison.terms:
        raise SystemExit("NOT EXACT: the plain Python count gives other distinguishing terms")
    shown = ", ".join(score.term for score in comparison.terms.a[:5])
    print(f"  same terms both ways; most typical of detractors: {shown}")
    return {"tallied": tallied, "baseline": baseline}


def plain_python(filters):
    """The period's detractors' and promoters' terms fetched and counted in Python."""
    from insights.logodds import distinguishing_terms
    from surveys.models import Response

    counts = {"detractor": Counter(), "promoter": Counter()}
    comments = Counter()
    rows = (
        Response.objects.filter(survey=filters.survey)
        .in_period(*filters.bounds())
        .in_category("detractor", "promoter")
        .values_list("score", "comment_ngrams")
        .order_by()
    )
    for score, ngrams in rows.iterator(chunk_size=10_000):
        if ngrams:
            group = "detractor" if score <= 6 else "promoter"
            counts[group].update(ngrams)
            comments[group] += 1
    return distinguishing_terms(
        counts["detractor"],
        counts["promoter"],
        comments_a=comments["detractor"],
        comments_b=comments["promoter"],
    )


def profile(filters) -> None:
    """Where one tallied comparison spends its time, and the plan of its count."""
    from django.db import connection, transaction

    from feedback.metrics import Z_95
    from insights.counts import Group, pair_counts
    from insights.logodds import MIN_COUNT, distinguishing_terms

    groups = (Group(filters, categories=("detractor",)), Group(filters, categories=("promoter",)))
    started = time.perf_counter()
    detractors, promoters = pair_counts(*groups, min_count=MIN_COUNT, threshold=Z_95)
    counted = time.perf_counter() - started
    started = time.perf_counter()
    distinguishing_terms(
        detractors.terms,
        promoters.terms,
        comments_a=detractors.comments,
        comments_b=promoters.comments,
        totals=(detractors.total, promoters.total),
    )
    weighed = time.perf_counter() - started
    print(
        f"  one comparison: both groups' terms counted in the database in {counted * 1000:,.0f} ms "
        f"({len(detractors.terms.keys() | promoters.terms.keys()):,} terms in {MIN_COUNT} comments or more "
        f"and beyond |z| {Z_95} sent back), log-odds in Python {weighed * 1000:,.0f} ms"
    )
    queries = []

    def keep(execute, sql, params, many, context):
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        pair_counts(*groups, min_count=MIN_COUNT, threshold=Z_95)
    *settings, (sql, params) = queries  # the count's transaction and settings, then the count
    with transaction.atomic(), connection.cursor() as cursor:
        for statement, parameters in settings:
            if not statement.startswith(("SAVEPOINT", "RELEASE")):
                cursor.execute(statement, parameters)
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        plan = [line for (line,) in cursor.fetchall()]
    print("  plan of the count:")
    for line in plan:
        print(f"    {line}")


def milliseconds(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:,.0f} ms"


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def targets(results: dict) -> None:
    print("\nTargets (median of lowest_against_highest from the term tally):")
    for comments, times in results.items():
        target = TARGETS.get(comments, TARGETS[1_000_000])
        median, baseline = statistics.median(times["tallied"]), statistics.median(times["baseline"])
        verdict = "PASS" if median <= target else "MISS"
        print(
            f"  {verdict}  {comments:,} comments: {median * 1000:,.0f} ms (target ≤ {target * 1000:,.0f} ms; "
            f"plain Python {baseline * 1000:,.0f} ms, {baseline / median:.1f}×)"
        )
        record(
            f"distinguishing terms, {comments:,} comments",
            median * 1000,
            "ms",
            target=target * 1000,
            limit=baseline * 1000,
            limit_name="plain Python",
            lower_is_better=True,
        )


if __name__ == "__main__":
    main()
