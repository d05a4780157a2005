"""The read replica, against a real PostgreSQL streaming replica started here.

The replica copies a primary started here too (``tests/clusters.py`` says why). The primary gets
a copy of the test database, and for this module the default
database alias points at it and a "replica" alias at its replica. The tests commit
(transaction=True), so that their rows reach the replica; pausing the replica's replay stands
for replication lag.
"""

import copy
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from cxsurvey.routers import REPLICA, replica_reads, use_replica
from feedback import exports
from feedback.models import ExportRecord
from surveys import roles
from surveys.models import Response, Survey
from tests.clusters import Cluster, free_port, streaming_cluster
from tests.factories import (
    make_api_token,
    make_contact,
    make_invitation,
    make_response,
    make_staff,
    make_survey,
    make_touchpoint,
)

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="streaming replication is PostgreSQL's"),
    pytest.mark.django_db(transaction=True, databases=["default", REPLICA]),
]

METRICS = "/api/v1/metrics/"


@pytest.fixture(scope="session")
def cluster(django_db_setup, django_db_blocker) -> Iterator[Cluster]:
    """A primary with a copy of the test database and its streaming replica, on free ports;
    stopped and deleted at the end."""
    with django_db_blocker.unblock():
        with connections["default"].cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            major = int(cursor.fetchone()[0]) // 10000
        source = dict(connections["default"].settings_dict)

    def copy_test_database(cluster: Cluster) -> None:
        cluster.run("createdb", *cluster.connection_options(), source["NAME"])
        host, port = source["HOST"] or "127.0.0.1", str(source["PORT"] or 5432)
        server = ["-h", host, "-p", port, "-U", source["USER"]]
        dump = subprocess.Popen(
            [str(cluster.binaries / "pg_dump"), "--no-owner", *server, source["NAME"]],
            stdout=subprocess.PIPE,
            env={**os.environ, "PGPASSWORD": source["PASSWORD"] or ""},
        )
        psql = ["-q", "-v", "ON_ERROR_STOP=1", *cluster.connection_options(), "-d", source["NAME"]]
        cluster.run("psql", *psql, stdin=dump.stdout)
        assert dump.wait(timeout=60) == 0

    with streaming_cluster(major, seed=copy_test_database) as cluster:
        yield cluster


@pytest.fixture(scope="module", autouse=True)
def _on_the_cluster(cluster: Cluster) -> Iterator[None]:
    """The default alias on the cluster's primary, and a "replica" alias on its replica."""
    default = connections["default"]
    before = {"HOST": default.settings_dict["HOST"], "PORT": default.settings_dict["PORT"]}
    connections.close_all()
    default.settings_dict.update(HOST="127.0.0.1", PORT=cluster.primary_port)
    replica = copy.deepcopy(default.settings_dict)
    replica.update(PORT=cluster.replica_port, TEST={**replica["TEST"], "MIRROR": "default"})
    connections.settings[REPLICA] = replica
    yield
    connections.close_all()
    with suppress(AttributeError):
        del connections[REPLICA]
    del connections.settings[REPLICA]
    default.settings_dict.update(before)


@pytest.fixture(autouse=True)
def _routed(settings, tmp_path):
    """What the settings add when DATABASE_REPLICA_URL is set; exports' files in the test's folder."""
    settings.MEDIA_ROOT = tmp_path
    settings.DATABASE_ROUTERS = ["cxsurvey.routers.ReplicaRouter"]
    auth = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: auth + 1],
        "cxsurvey.routers.pin_writers",
        *settings.MIDDLEWARE[auth + 1 :],
    ]


class Replica:
    def query(self, sql: str, parameters: tuple = ()) -> Any:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchone()[0]

    def catch_up(self) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            written = cursor.fetchone()[0]
        deadline = time.monotonic() + 10
        while self.query("SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn())", (written,)) > 0:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.02)

    def pause(self) -> None:
        """Caught up, then replaying nothing more: what is written next lags behind."""
        self.catch_up()
        self.query("SELECT pg_wal_replay_pause()::text")
        while self.query("SELECT pg_get_wal_replay_pause_state()") != "paused":
            time.sleep(0.01)

    def resume(self) -> None:
        self.query("SELECT pg_wal_replay_resume()::text")


@pytest.fixture
def replica() -> Iterator[Replica]:
    replica = Replica()
    yield replica
    replica.resume()
    replica.catch_up()  # the flush after the test reaches the replica before the next one starts


@pytest.fixture
def survey() -> Survey:
    survey = make_survey(kind=Survey.Kind.NPS)
    make_response(survey=survey, score=9)
    return survey


def metrics(client, token: str, survey: Survey) -> int:
    """The number of responses the metrics API counts for the survey."""
    answer = client.get(METRICS, {"survey": survey.pk}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    return answer.json()["responses"]


def dashboard(client, survey: Survey) -> int:
    """The number of responses the dashboard counts for the survey."""
    page = client.get("/dashboard/", {"survey": survey.pk})
    assert page.status_code == 200
    return page.context["dashboard"].summary.n


def answer_new_invitation(client, survey: Survey, score: int) -> str:
    """A respondent answers a new invitation by its email link; returns the answer page's URL."""
    invitation = make_invitation(survey=survey, contact=make_contact(language="en"))
    url = f"/s/{invitation.token}/"
    assert client.post(url, {"score": str(score)})["Location"] == f"{url}thanks/"
    return url


def test_the_respondent_sees_their_answer_while_dashboards_and_metrics_read_the_lagging_replica(
    client, replica, survey
):
    manager, analyst = make_staff("manager", roles.CX_MANAGER), make_staff("analyst", roles.ANALYST)
    token = make_api_token(user=analyst)
    replica.pause()

    url = answer_new_invitation(client, survey, 0)
    # The invitation and its answer are on the primary only; the respondent's pages read there.
    assert client.get(f"{url}thanks/").status_code == 200
    assert 'id="score-0" value="0" checked' in client.get(url).content.decode()

    client.force_login(manager)
    assert dashboard(client, survey) == 1
    assert metrics(client, token, survey) == 1
    responses = client.get(
        "/api/v1/responses/", {"survey": survey.pk}, headers={"Authorization": f"Bearer {token}"}
    )
    assert [item["score"] for item in responses.json()["results"]] == [9]
    assert Response.objects.filter(survey=survey).count() == 2  # the primary has both

    replica.resume()
    replica.catch_up()
    assert dashboard(client, survey) == 2
    assert metrics(client, token, survey) == 2


def test_a_manager_who_just_changed_something_reads_from_the_primary(client, replica, survey):
    manager, colleague = make_staff("manager", roles.CX_MANAGER), make_staff("colleague", roles.CX_MANAGER)
    replica.pause()
    answer_new_invitation(Client(), survey, 0)

    client.force_login(colleague)
    assert dashboard(client, survey) == 1  # from the replica
    client.force_login(manager)
    prepared = client.post(
        "/verbatims/export/prepare/", {"survey": survey.pk, "comment": "any", "format": "csv"}
    )
    assert prepared.status_code == 302
    # Prepared during the request that asked for it (no broker): from the primary, like all its reads.
    assert ExportRecord.objects.get().rows == 2
    assert dashboard(client, survey) == 2  # pinned to the primary
    client.force_login(colleague)
    assert dashboard(client, survey) == 1


def test_an_api_client_reads_from_the_primary_after_its_post(client, replica, survey):
    writer, reader = make_staff("writer", roles.CX_MANAGER), make_staff("reader", roles.CX_MANAGER)
    writing, reading = make_api_token(user=writer, write=True), make_api_token(user=reader)
    touchpoint = make_touchpoint(survey=survey)
    replica.pause()
    answer_new_invitation(Client(), survey, 0)
    assert metrics(client, writing, survey) == 1

    posted = client.post(
        "/api/v1/events/",
        {"touchpoint": touchpoint.slug, "email": "anna@example.com"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {writing}"},
    )
    assert posted.status_code == 202
    event = f"/api/v1/invitations/{posted.json()['invitation']['id']}/"
    assert client.get(event, headers={"Authorization": f"Bearer {writing}"}).status_code == 200
    assert metrics(client, writing, survey) == 2
    assert metrics(client, reading, survey) == 1


def test_the_explorer_and_its_streamed_export_read_the_replica(client, replica, survey):
    client.force_login(make_staff("manager", roles.CX_MANAGER))
    replica.pause()
    answer_new_invitation(Client(), survey, 0)

    page = client.get("/verbatims/", {"survey": survey.pk, "comment": "any"})
    assert page.context["page"].paginator.count == 1
    download = client.get("/verbatims/export/", {"survey": survey.pk, "comment": "any", "format": "csv"})
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == 2  # the header and the one answer the replica has
    assert ExportRecord.objects.get().rows == 1  # recorded on the primary when the download ended


def test_an_export_prepared_by_a_worker_reads_the_replica_and_records_its_progress_on_the_primary(
    replica, survey
):
    manager = make_staff("manager", roles.CX_MANAGER)
    parameters = {"survey": [str(survey.pk)], "comment": ["any"]}
    form = exports.filter_form(parameters, manager)
    assert form.is_valid(), form.errors
    export = exports.Export(form.verbatim_query(), personal=True)
    record = exports.prepared_record(manager, export, "csv", parameters)
    replica.pause()
    answer_new_invitation(Client(), survey, 0)

    exports.prepare_export(record_id=record.pk)

    record.refresh_from_db()  # a write routed to the replica would have failed: it is read-only
    assert (record.status, record.total, record.rows) == (ExportRecord.Status.DONE, 1, 1)
    assert len(record.file.read().decode().splitlines()) == 2
    assert ExportRecord.objects.using(REPLICA).get().status == ExportRecord.Status.QUEUED  # lagging


def test_only_reads_inside_replica_reads_and_outside_a_transaction_use_the_replica(replica, survey):
    replica.pause()
    Survey.objects.filter(pk=survey.pk).update(name="Renamed")

    assert Survey.objects.get(pk=survey.pk).name == "Renamed"
    with replica_reads():
        loaded = Survey.objects.get(pk=survey.pk)
        assert (loaded.name, loaded._state.db) == (survey.name, REPLICA)
        with transaction.atomic():  # a transaction reads its own writes
            assert Survey.objects.get(pk=survey.pk).name == "Renamed"
        make_response(survey=loaded, score=3)  # a write goes to the primary
    assert loaded.responses.count() == 2  # outside, its relations are read from the primary
    loaded.brand = "Other"
    loaded.save(update_fields=["brand"])  # and it is saved to the primary
    assert Survey.objects.get(pk=survey.pk).brand == "Other"
    assert Response.objects.using(REPLICA).filter(survey=survey).count() == 1


def test_a_lagging_replica_sends_reads_back_to_the_primary(client, replica, survey, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    token = make_api_token(user=make_staff("analyst", roles.ANALYST))
    replica.pause()
    answer_new_invitation(Client(), survey, 0)
    time.sleep(1.2)
    assert metrics(client, token, survey) == 2


def test_an_unreachable_replica_sends_reads_back_to_the_primary(client, replica, survey):
    token = make_api_token(user=make_staff("analyst", roles.ANALYST))
    replica.pause()
    answer_new_invitation(Client(), survey, 0)
    settings_dict = connections[REPLICA].settings_dict
    port, settings_dict["PORT"] = settings_dict["PORT"], free_port()  # nothing listens there
    connections[REPLICA].close()
    try:
        assert not use_replica()
        assert metrics(client, token, survey) == 2
    finally:
        settings_dict["PORT"] = port
