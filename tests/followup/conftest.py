"""The follow-up's cast: team A's survey with the cases of its answers, worked on by an agent of
team A; team B's survey with a case of its own, which team A's people must never see; and a
receiver of chat posts."""

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone, translation

from followup.cases import open_case
from followup.models import Case
from surveys import roles
from surveys.models import Contact, LegalBasis, Response, Survey, Team
from tests.factories import make_contact, make_invitation, make_staff, make_survey, make_team, make_touchpoint

INBOUND_WEBHOOK = "/webhooks/email/postmark/inbound/"
INBOUND_SECRET = "postmark:s3cret-w3bhook"


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


@pytest.fixture(autouse=True)
def _english(client):
    """The tests read English messages; the installation's default language is German."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@dataclass
class ChatReceiver:
    """A real HTTP server on loopback that takes posts as Slack's and Teams' incoming webhooks do:
    it answers 500 to the first ``failures`` posts, then 200 "ok"."""

    port: int = 0
    failures: int = 0
    posts: list[tuple[str, dict]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"


@pytest.fixture
def chat_receiver(settings):
    receiver = ChatReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.posts.append((self.path, json.loads(body)))
            status, answer = (500, b"oops") if len(receiver.posts) <= receiver.failures else (200, b"ok")
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    # Development's set-up: the receiver on this machine is let through by name.
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    yield receiver
    server.shutdown()
    server.server_close()


def inbound(*, to: str, in_reply_to: str = "", text: str = "Thanks, it arrived today.") -> dict:
    """Postmark's inbound JSON as its documentation shows it."""
    headers = [
        {"Name": "Return-Path", "Value": "<erika@example.com>"},
        {"Name": "Message-ID", "Value": "<CAJ9z4+answer@mail.example.com>"},
        {"Name": "X-Spam-Status", "Value": "No"},
    ]
    if in_reply_to:
        headers += [
            {"Name": "In-Reply-To", "Value": in_reply_to},
            {"Name": "References", "Value": in_reply_to},
        ]
    return {
        "FromName": "Erika Muster",
        "MessageStream": "inbound",
        "From": "erika@example.com",
        "FromFull": {"Email": "erika@example.com", "Name": "Erika Muster", "MailboxHash": ""},
        "To": to,
        "ToFull": [{"Email": to, "Name": "", "MailboxHash": to.partition("+")[2].partition("@")[0]}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": to,
        "Subject": "Re: Your rating",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": to.partition("+")[2].partition("@")[0],
        "Date": "Fri, 1 Aug 2026 16:45:32 -04:00",
        "TextBody": f"{text}\n\nOn Fri, 1 Aug 2026 at 10:00, Acme wrote:\n> Sorry!\n",
        "HtmlBody": f"<p>{text}</p>",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": headers,
        "Attachments": [],
    }


def post_inbound(client, payload: dict, secret: str = INBOUND_SECRET):
    """Deliver the payload to the inbound webhook as Postmark does, with the shared secret."""
    auth = {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
    return client.post(INBOUND_WEBHOOK, payload, content_type="application/json", headers=auth)
