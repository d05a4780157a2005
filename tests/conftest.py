import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache


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


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "admin-password")


@pytest.fixture
def cx_manager(django_user_model):
    """Staff with the survey permissions a CX manager gets in the admin."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("manager", "manager@example.com", "manager-password")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="surveys"))
    return user


@pytest.fixture
def outsider(django_user_model):
    """A signed-up user with no staff rights."""
    return django_user_model.objects.create_user("outsider", "outsider@example.com", "outsider-password")


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

    async def handle_DATA(self, server, session, envelope) -> str:
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
