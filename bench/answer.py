"""What alert rules cost the answering request: the answering flow without rules and with 20 active
rules on the survey, in the same run, beside the hand-written limit of the same writes.

    DEBUG=true .venv/bin/python bench/answer.py [--contacts 2000] [--users 8] [--seconds 15]
                                               [--rounds 2] [--workers 2]

1. Creates (and drops first) the database ``cxsurvey_bench_answer`` on the local server with two
   NPS surveys alike, one of them with 20 active rules (categories, scores, drops, touchpoints,
   properties, words; cases and tags, a digest), and enough sent invitations to both; collects
   the static files.
2. Serves the app with gunicorn (``--workers`` sync workers) and production settings, and drives
   it with locust's answering flow (``bench/locustfile.py``: GET the email's score link, POST the
   score, POST a comment) on one survey, then on the other, ``--rounds`` times in turn.
3. The limit: the same rows written by hand over as many connections as clients, per answer
   the response and the invitation's answered time in one transaction, the comment in another.
4. Prints the answers per second without and with rules, their ratio, each against the limit,
   and how fast a worker then evaluates the answers the rules queued. The target: the rules cost
   the answering flow at most 15 % (they are evaluated after the commit, by workers).

Locust comes from ``bench/requirements.txt`` (``make bench`` installs it).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import UNLIMITED, bench_environment, record, recreate_database
from load import Server, drive, insert_contacts, send_invitations

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "cxsurvey_bench_answer"
WARM_UP_SECONDS = 5
RULES = 20
TARGET_RATIO = 0.85  # answers/s with 20 rules against without


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()

    environment = bench_environment(DATABASE, **UNLIMITED, RECONTACT_MINIMUM_DAYS="0")
    os.environ.update(environment)
    sys.path.insert(0, str(ROOT))
    recreate_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    invitations = (options.rounds * options.seconds + WARM_UP_SECONDS) * 400
    surveys = set_up(options.contacts, invitations)
    print(
        f"CXSurvey answering bench: gunicorn with {options.workers} sync workers, PostgreSQL, "
        f"{options.users} clients, {options.rounds} rounds of {options.seconds} s, {RULES} rules"
    )
    rates: dict[str, list[float]] = {"none": [], "rules": []}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        fixtures = {}
        for name in ("none", "rules"):
            tokens = surveys[name]
            fixtures[name] = scratch / f"{name}.json"
            fixtures[name].write_text(json.dumps({"tokens": tokens, "origin": "", "emails": []}))
        with Server(environment, options.workers) as server:
            for name in ("none", "rules"):  # every worker loads what the flow needs
                drive(server, "answering", options.users, WARM_UP_SECONDS, fixtures[name], scratch)
            for _round in range(options.rounds):
                for name in ("none", "rules"):
                    # locust reads its tokens from the start of the file: skip those already answered
                    fixtures[name].write_text(
                        json.dumps({"tokens": unanswered(name), "origin": "", "emails": []})
                    )
                    result = drive(
                        server, "answering", options.users, options.seconds, fixtures[name], scratch
                    )
                    if result.failures:
                        raise RuntimeError(f"{result.failures} requests failed ({name})")
                    rates[name].append(result.rate)
    limit = hand_written(options.users, options.seconds)
    report(rates, limit, options.users)


def set_up(contacts: int, invitations: int) -> dict[str, list[str]]:
    """The two surveys, the rules on one, the contacts, the invitations; the tokens per survey."""
    from django.contrib.auth import get_user_model

    from followup.models import AlertRule, Tag
    from surveys.models import Invitation, Survey, Touchpoint

    user = get_user_model().objects.create_user("bench", email="bench@example.com", is_staff=True)
    first = insert_contacts(contacts, {"region": "Nord"})
    tokens = {}
    for name in ("none", "rules", "limit"):
        survey = Survey.objects.create(name=f"Lieferung ({name})", kind="nps", brand="Nordwind Möbel")
        touchpoint = Touchpoint.objects.create(survey=survey, slug=f"delivery-{name}", name="Lieferung")
        send_invitations(survey, touchpoint, first=first, contacts=contacts, count=invitations)
        tokens[name] = list(Invitation.objects.filter(survey=survey).values_list("token", flat=True))
        if name == "rules":
            tag = Tag.objects.create(name="Lieferung")
            for number in range(RULES):
                rule = AlertRule.objects.create(survey=survey, active=True, **rule_fields(number, user))
                rule.touchpoints.set([touchpoint] if number % 5 == 3 else [])
                rule.tags.set([tag] if number % 2 else [])
                rule.notify.set([user] if number % 4 == 0 else [])
    return tokens


def rule_fields(number: int, user) -> dict:
    """Twenty rules of every kind of condition; a few of them fire for the flow's answers (9, with
    a comment on the delivery), most do not."""
    kinds: list[dict] = [
        {"categories": ["detractor"]},
        {"score_max": 4, "open_case": True},
        {"score_drop": 3},
        {"categories": ["promoter"], "words": "Lieferung\nfreundlich", "open_case": number < 10},
        {"properties": {"region": ["Süd", "West"]}},
    ]
    return {
        "name": f"Rule {number}",
        "open_case": False,
        "delivery": "digest",
        "assignee": user if number % 3 == 0 else None,
        **kinds[number % len(kinds)],
    }


def unanswered(name: str) -> list[str]:
    """The survey's tokens not answered yet, oldest first, as locust will take them."""
    from surveys.models import Invitation

    invitations = Invitation.objects.filter(survey__name=f"Lieferung ({name})", answered_at__isnull=True)
    return list(invitations.order_by("pk").values_list("token", flat=True))


def hand_written(users: int, seconds: int) -> float:
    """Answers per second when ``users`` connections write the flow's rows by hand: the response and
    the invitation's answered time in one transaction, the comment in another."""
    import psycopg2
    from django.conf import settings

    from surveys.models import Invitation

    db = settings.DATABASES["default"]
    rows = list(
        Invitation.objects.filter(survey__name="Lieferung (limit)")
        .order_by("pk")
        .values_list("pk", "survey_id", "touchpoint_id", "contact_id")
    )
    lock, done = threading.Lock(), [0]
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"])
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                with lock:
                    if not rows:
                        break
                    invitation, survey, touchpoint, contact = rows.pop()
                cursor.execute(
                    "INSERT INTO surveys_response (public_id, survey_id, kind, touchpoint_id, invitation_id, "
                    "contact_id, channel, score, comment, language, contact_properties, event_properties, "
                    "created_at, updated_at) VALUES (gen_random_uuid(), %s, 'nps', %s, %s, %s, 'email', 9, "
                    "'', 'de', '{}', '{}', now(), now()) RETURNING id",
                    [survey, touchpoint, invitation, contact],
                )
                (response,) = cursor.fetchone() or (None,)
                cursor.execute(
                    "UPDATE surveys_invitation SET answered_at = now() WHERE id = %s", [invitation]
                )
                connection.commit()
                cursor.execute(
                    "UPDATE surveys_response SET comment = %s, updated_at = now() WHERE id = %s",
                    ["Schnelle Lieferung, freundlicher Fahrer.", response],
                )
                connection.commit()
                with lock:
                    done[0] += 1
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.monotonic() - started)


def evaluate_backlog() -> tuple[int, float]:
    """Evaluate the answers the rules queued, as one worker does; how many, and how many a second."""
    from followup import alerts
    from followup.models import Evaluation

    queued = Evaluation.objects.count()
    started = time.monotonic()
    while alerts.evaluate_due(batch_size=100):
        pass
    return queued, queued / max(time.monotonic() - started, 1e-9)


def report(rates: dict[str, list[float]], limit: float, users: int) -> None:
    from followup.models import Alert, Case

    none, rules = (sum(rates[name]) / len(rates[name]) for name in ("none", "rules"))
    ratio = rules / none if none else 0.0
    print(f"\nAnswering flow at {users} clients (answers/s, each round):")
    print(f"  no rules        {none:8.1f}   ({', '.join(f'{rate:.1f}' for rate in rates['none'])})")
    print(f"  {RULES} rules        {rules:8.1f}   ({', '.join(f'{rate:.1f}' for rate in rates['rules'])})")
    print(f"  hand-written    {limit:8.1f}   (the same rows over {users} connections)")
    verdict = "pass" if ratio >= TARGET_RATIO else "short"
    print(f"  with rules / without: {ratio:.2f} (≥ {TARGET_RATIO:.2f}: {verdict})")
    print(f"  against the limit: no rules {none / limit:.2f}, {RULES} rules {rules / limit:.2f}")
    queued, speed = evaluate_backlog()
    print(
        f"\nOne worker evaluated the {queued:,} queued answers at {speed:.0f}/s: "
        f"{Alert.objects.count():,} alerts, {Case.objects.count():,} cases"
    )
    record(
        f"answering with {RULES} rules, {users} clients",
        rules,
        "answers/s",
        target=None,
        limit=limit,
        limit_name="hand-written writes",
    )
    record(
        f"answering with {RULES} rules against none",
        ratio * 100,
        "%",
        target=TARGET_RATIO * 100,
        limit=None,
        limit_name="",
    )


if __name__ == "__main__":
    if not shutil.which("locust", path=str(ROOT / ".venv/bin")):
        sys.exit("locust is missing: pip install -r bench/requirements.txt (make bench does)")
    main()
