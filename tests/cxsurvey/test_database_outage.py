"""A database that cannot be reached, or that dropped the connections, answers 503 with
Retry-After (the API's error shape for programs, a page in the respondent's language for people),
and the next request after it is back succeeds without a restart."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from surveys.public import DATABASE_RETRY_AFTER
from tests.factories import make_api_token, make_survey
from tests.legal import GERMAN, legal_footers, set_legal_information
from tests.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("a database server whose connections can be cut")


@pytest.fixture
def unreachable():
    """The database at a port where nothing listens, until the block ends."""

    class Outage:
        def __enter__(self):
            with socket.create_server(("127.0.0.1", 0)) as closed:
                self.port = closed.getsockname()[1]
            self.saved = connection.settings_dict["PORT"]
            connection.close()
            connection.settings_dict["PORT"] = self.port
            return self

        def __exit__(self, *exc):
            connection.close()
            connection.settings_dict["PORT"] = self.saved

    return Outage()


@pytest.fixture
def client(client):
    client.raise_request_exception = False  # as a server does: Django's handler answers
    return client


def test_the_api_answers_503_in_its_error_shape_and_recovers(client, admin_user, unreachable):
    token = make_api_token(user=admin_user)
    headers = {"authorization": f"Bearer {token}", "accept-language": "en"}
    with unreachable:
        down = client.get("/api/v1/surveys/", headers=headers)
    assert down.status_code == 503
    assert down["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert down.json()["error"]["code"] == "unavailable"
    assert "database" in down.json()["error"]["message"]
    assert client.get("/api/v1/surveys/", headers=headers).status_code == 200


def test_a_respondent_gets_a_page_in_their_language_and_can_answer_afterwards(client, unreachable):
    survey = make_survey()
    page = reverse("surveys:link", args=[survey.public_key])
    with unreachable:
        down = client.get(page, headers={"accept-language": "de"})
    assert down.status_code == 503
    assert down["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert down["Content-Type"].startswith("text/html")
    assert "Datenbank" in down.content.decode()
    assert client.get(page).status_code == 200


def test_the_respondents_page_names_the_legal_information_read_before_the_outage(client, unreachable):
    set_legal_information(**GERMAN)
    survey = make_survey()
    page = reverse("surveys:link", args=[survey.public_key])
    assert client.get(page).status_code == 200
    with unreachable:
        down = client.get(page, headers={"accept-language": "de"})
    assert down.status_code == 503
    [footer] = legal_footers(down.content.decode())
    assert footer.links["impressum"]["href"] == GERMAN["impressum_url_de"]


def test_a_server_whose_connections_are_cut_answers_200_or_503_and_recovers(admin_user, tmp_path):
    """gunicorn with production settings and kept connections, while another session terminates
    every connection to the database again and again: never a 500, and all well afterwards."""
    make_survey()
    token = make_api_token(user=admin_user)
    port = free_port()
    environment = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "outage-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        "CACHE_URL": "locmem://",
        "LOG_LEVEL": "ERROR",
    }
    command = [sys.executable, "-m", "gunicorn", "cxsurvey.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"]
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment, stderr=log)
    try:
        wait_for(port)
        assert [get(port, token)[0] for _ in range(4)] == [200] * 4
        cutting, cut = threading.Event(), Counter()
        connection.ensure_connection()  # the test's own, which must survive
        mine = connection.connection.info.backend_pid
        cutter = threading.Thread(target=cut_connections, args=(cutting, mine, cut))
        cutter.start()
        try:
            during = [get(port, token) for _ in range(150)]
        finally:
            cutting.set()
            cutter.join()
        after = [get(port, token)[0] for _ in range(10)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert cut["connections"] > 0
    statuses = Counter(status for status, _ in during)
    assert set(statuses) <= {200, 503}, statuses
    assert all(retry == str(DATABASE_RETRY_AFTER) for status, retry in during if status == 503)
    assert after == [200] * 10


def cut_connections(stop: threading.Event, spare: int, cut: Counter) -> None:
    """Terminate the server's connections to the test database every 20 ms, all but ``spare``."""
    session = psycopg2.connect(**connection.get_connection_params())
    session.autocommit = True
    with session.cursor() as cursor:
        while not stop.wait(0.02):
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s) "
                "AND backend_type = 'client backend'",
                [spare],
            )
            cut["connections"] += cursor.fetchone()[0]
    session.close()


def get(port: int, token: str) -> tuple[int, str | None]:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    client.request("GET", "/api/v1/surveys/", headers={"Authorization": f"Bearer {token}"})
    answer = client.getresponse()
    answer.read()
    client.close()
    return answer.status, answer.getheader("Retry-After")


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"gunicorn did not listen on {port}")
