"""What the clients of ``bench/load.py`` do, one class per flow; ``bench/load.py`` runs locust
with this file and one class at a time. It passes what the flows need in ``LOAD_FIXTURE``: a
JSON file with the invitation tokens, the survey's key and identity secret, the contacts'
addresses, the touchpoint's slug and an API token."""

import base64
import hashlib
import hmac
import json
import os
import re
from itertools import count

from locust import FastHttpUser, constant, task

FIXTURE = json.loads(open(os.environ["LOAD_FIXTURE"]).read())  # noqa: SIM115 - read once at start
ORIGIN = FIXTURE["origin"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
tokens = iter(FIXTURE["tokens"])
numbers = count()


def contact_email() -> str:
    """One of the contacts, round-robin; every fifth is new to the database."""
    number = next(numbers)
    if number % 5 == 4:
        return f"new{number}-{os.getpid()}@example.org"
    return FIXTURE["emails"][number % len(FIXTURE["emails"])]


class Load(FastHttpUser):
    abstract = True
    wait_time = constant(0)


class Trivial(Load):
    """The same server's cheapest dynamic answer: a page that is not there."""

    @task
    def not_found(self):
        with self.client.get("/no-such-page/", name="404 page", catch_response=True) as answer:
            if answer.status_code == 404:
                answer.success()


class Static(Load):
    """A static file, served by the app (whitenoise)."""

    @task
    def stylesheet(self):
        self.client.get(FIXTURE["static"], name="static file")


class Answering(Load):
    """An invited customer: opens the email's score link, the page posts the score, then the
    customer adds a comment. Each flow answers another invitation."""

    @task
    def answer(self):
        token = next(tokens)
        page = self.client.get(f"/s/{token}/?score=9", name="answer: GET page")
        match = CSRF.search(page.text or "")
        if not match:
            return
        headers = {"Accept": "application/json", "Referer": f"{self.host}/s/{token}/"}
        form = {"csrfmiddlewaretoken": match.group(1), "score": "9"}
        self.client.post(f"/s/{token}/", data=form, headers=headers, name="answer: POST score")
        form["comment"] = "Schnelle Lieferung, freundlicher Fahrer."
        self.client.post(f"/s/{token}/", data=form, headers=headers, name="answer: POST comment")


class Widget(Load):
    """An anonymous answer from the website's widget."""

    @task
    def answer(self):
        self.client.post(
            "/api/v1/widget/responses/",
            json={"key": FIXTURE["key"], "score": 8, "comment": "Gut"},
            headers={"Origin": ORIGIN},
            name="widget: POST answer",
        )


class WidgetWithEmail(Load):
    """A signed-in shop customer's answer from the widget: a signed identity, so the answer
    belongs to the contact with that address (found, or created for a new address)."""

    @task
    def answer(self):
        email = contact_email()
        message = f"{email}\n".encode()
        signature = hmac.new(FIXTURE["identity_secret"].encode(), message, hashlib.sha256).hexdigest()
        self.client.post(
            "/api/v1/widget/responses/",
            json={"key": FIXTURE["key"], "score": 8, "contact": {"email": email, "signature": signature}},
            headers={"Origin": ORIGIN},
            name="widget with email: POST answer",
        )


class Event(Load):
    """The shop's backend reports one touchpoint event at a time."""

    @task
    def event(self):
        self.client.post(
            "/api/v1/events/",
            json={
                "touchpoint": FIXTURE["touchpoint"],
                "email": contact_email(),
                "properties": {"carrier": "DHL"},
            },
            headers={"Authorization": f"Bearer {FIXTURE['api_token']}"},
            name="events: POST one",
        )


class BulkEvents(Load):
    """The shop's backend reports 100 events at once."""

    @task
    def events(self):
        events = [{"touchpoint": FIXTURE["touchpoint"], "email": contact_email()} for _ in range(100)]
        self.client.post(
            "/api/v1/events/bulk/",
            json={"events": events},
            headers={"Authorization": f"Bearer {FIXTURE['api_token']}"},
            name="events: POST 100",
        )


class DelightedPeople(Load):
    """A Delighted integration, pointed here, asks after each touchpoint: one person at a time."""

    @task
    def person(self):
        key = base64.b64encode(f"{FIXTURE['api_token']}:".encode()).decode()
        self.client.post(
            "/delighted/v1/people.json",
            json={"email": contact_email(), "properties": {"carrier": "DHL"}},
            headers={"Authorization": f"Basic {key}"},
            name="delighted: POST person",
        )


class Dashboard(Load):
    """A CX manager's dashboard data through the metrics API: the last 30 days by day."""

    @task
    def metrics(self):
        self.client.get(
            f"/api/v1/metrics/?survey={FIXTURE['survey']}&range=30d&interval=day",
            headers={"Authorization": f"Bearer {FIXTURE['api_token']}"},
            name="metrics API",
        )
