import asyncio
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache

from surveys import roles
from tests.factories import make_staff


def pytest_configure(config):
    from django.conf import settings

    # Tests create users by the hundred; a slow password hash buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters must not leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tallies_equal_a_fresh_count(request):
    """After every test that uses the database, the dashboards' tallies equal a fresh count of the
    responses: no write path, deletes included, may leave them drifting. A test that sets a tally
    by hand says so with ``@pytest.mark.drifts_tallies``."""
    uses_database = (
        request.node.get_closest_marker("django_db") or "_django_db_helper" in request.fixturenames
    )
    if not uses_database or request.node.get_closest_marker("drifts_tallies"):
        yield
        return
    request.getfixturevalue("db")  # torn down after this fixture: the check sees the test's rows
    yield
    from surveys.models import tally_drift

    drift = tally_drift()
    assert not drift, f"the tallies differ from a fresh count in {len(drift)} rows, e.g. {drift[:3]}"


@pytest.fixture(autouse=True)
def _comment_terms_equal_a_fresh_lemmatisation(request):
    """After every test that uses the database, each response's search terms are what its comment
    and language give now: no write path, erasure and retention included, may leave them stale.
    tests/surveys/test_comment_terms.py names each path."""
    if not (request.node.get_closest_marker("django_db") or "_django_db_helper" in request.fixturenames):
        yield
        return
    request.getfixturevalue("db")
    yield
    from tests.terms import stale_comment_terms

    stale = stale_comment_terms()
    assert not stale, (
        f"the terms of {len(stale)} comments differ from a fresh lemmatisation, e.g. {stale[:3]}"
    )


@pytest.fixture(autouse=True)
def _tallies_count_when_written(request):
    """On PostgreSQL the tallies count a response when its transaction commits (migration 0010).
    A test runs in one transaction that never commits, and reads the tallies before its end:
    there they count each change as it is written. Tests marked ``transaction=True`` commit, and
    count at the commit as production does."""
    if not (request.node.get_closest_marker("django_db") or "_django_db_helper" in request.fixturenames):
        return
    request.getfixturevalue("db")
    from django.db import connection

    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(
                "SET CONSTRAINTS surveys_response_tally, surveys_response_retally, "
                "surveys_response_term_tally, surveys_response_term_retally IMMEDIATE"
            )


# The cast: one person of each role, each a distinct user, for every view's and endpoint's tests.


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "admin-password")


@pytest.fixture
def cx_manager(db):
    """Staff in the CX manager role: surveys, touchpoints, sending, dashboards, comments, exports."""
    return make_staff("manager", roles.CX_MANAGER)


@pytest.fixture
def analyst(db):
    """Staff of the product team (Analyst role): dashboards, comments, exports; never who answered."""
    return make_staff("analyst", roles.ANALYST)


@pytest.fixture
def agent(db):
    """Staff in the Agent role: read-only dashboards of their surveys."""
    return make_staff("agent", roles.AGENT)


@pytest.fixture
def outsider(db):
    """Staff without any role or permission: signed in to the back office, allowed nothing."""
    return make_staff("outsider")


@pytest.fixture
def non_staff(django_user_model):
    """A signed-up user without staff rights, who has no business in the back office at all."""
    return django_user_model.objects.create_user("visitor", "visitor@example.com", "visitor-password")


@dataclass
class SmtpServer:
    """A real SMTP server on loopback; ``messages`` are the mails it received, parsed."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    # Recipient → SMTP reply, e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user".
    replies: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    # Seconds the server takes over each message, as a slow or distant one would.
    delay: float = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    server = SmtpServer(host="127.0.0.1", port=_free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def smtp(settings, smtp_server):
    """The SMTP server on loopback as the installation's mail server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return smtp_server
