import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cxsurvey import env

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def environ(monkeypatch):
    def set_variables(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("Off", False), ("", False)])
def test_booleans_read_the_usual_spellings(environ, value, expected):
    environ(FLAG=value)
    assert env.boolean("FLAG", not expected) is expected


def test_a_malformed_boolean_names_the_variable(environ):
    environ(DEBUG="maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG: expected true or false, got 'maybe'"):
        env.boolean("DEBUG", False)


def test_a_malformed_number_names_the_variable(environ):
    environ(CONN_MAX_AGE="sixty")
    with pytest.raises(ImproperlyConfigured, match="CONN_MAX_AGE: expected a whole number"):
        env.integer("CONN_MAX_AGE", 60)


def test_smtp_urls_become_django_mail_settings(environ):
    environ(EMAIL_URL="smtp+tls://mailer%40example.com:p%40ss%3Aword@mail.example.com:2525")
    assert env.email("EMAIL_URL", "console://") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "mailer@example.com",
        "EMAIL_HOST_PASSWORD": "p@ss:word",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }


@pytest.mark.parametrize(
    ("url", "port", "tls", "ssl"), [("smtp://h", 25, False, False), ("smtps://h", 465, False, True)]
)
def test_smtp_urls_get_the_standard_port_of_their_scheme(environ, url, port, tls, ssl):
    environ(EMAIL_URL=url)
    config = env.email("EMAIL_URL", "console://")
    assert (config["EMAIL_PORT"], config["EMAIL_USE_TLS"], config["EMAIL_USE_SSL"]) == (port, tls, ssl)


def test_console_mail_needs_no_server(environ):
    environ(EMAIL_URL="console://")
    assert env.email("EMAIL_URL", "smtp://x") == {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"
    }


@pytest.mark.parametrize(
    "url", ["smpt://mail.example.com", "smtp://", "smtp://mail.example.com:port", "mail"]
)
def test_a_malformed_email_url_names_the_variable(environ, url):
    environ(EMAIL_URL=url)
    with pytest.raises(ImproperlyConfigured, match=r"^EMAIL_URL: "):
        env.email("EMAIL_URL", "console://")


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("anymail+postmark://", "anymail.backends.postmark.EmailBackend"),
        ("anymail+amazonses://", "anymail.backends.amazon_ses.EmailBackend"),
        ("anymail+amazon-ses://", "anymail.backends.amazon_ses.EmailBackend"),
        ("anymail+SendGrid://", "anymail.backends.sendgrid.EmailBackend"),
        ("anymail+brevo://", "anymail.backends.brevo.EmailBackend"),
    ],
)
def test_anymail_urls_pick_the_provider_backend(environ, url, backend):
    environ(EMAIL_URL=url)
    assert env.email("EMAIL_URL", "console://") == {"EMAIL_BACKEND": backend}


@pytest.mark.parametrize("url", ["anymail+nosuchmail://", "anymail+test://", "anymail+postmark"])
def test_an_unknown_provider_names_the_variable_and_the_known_ones(environ, url):
    environ(EMAIL_URL=url)
    with pytest.raises(
        ImproperlyConfigured, match=r"^EMAIL_URL: expected anymail\+<provider>:// with one of .*postmark"
    ):
        env.email("EMAIL_URL", "console://")


def test_provider_keys_in_the_email_url_are_refused(environ):
    environ(EMAIL_URL="anymail+postmark://server-token@api")
    with pytest.raises(
        ImproperlyConfigured, match=r"^EMAIL_URL: the provider's keys go in ANYMAIL_\* variables"
    ):
        env.email("EMAIL_URL", "console://")


def test_anymail_variables_become_the_anymail_settings(environ, monkeypatch):
    for name in [name for name in os.environ if name.startswith("ANYMAIL_")]:
        monkeypatch.delenv(name)
    environ(
        ANYMAIL_POSTMARK_SERVER_TOKEN="pm-token",
        ANYMAIL_WEBHOOK_SECRET="user:pass",
        ANYMAIL_IGNORE_UNSUPPORTED_FEATURES="True",
    )
    assert env.prefixed("ANYMAIL_") == {
        "POSTMARK_SERVER_TOKEN": "pm-token",
        "WEBHOOK_SECRET": "user:pass",
        "IGNORE_UNSUPPORTED_FEATURES": True,
    }


def test_postgres_urls_become_a_database_configuration(environ):
    environ(DATABASE_URL="postgres://cx:secret@db.internal:6432/cxsurvey")
    config = env.database("DATABASE_URL", "sqlite:///x")
    assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        6432,
        "cxsurvey",
        "cx",
    )


def test_sqlite_lets_the_web_server_and_the_dispatch_loop_write_side_by_side(environ):
    environ(DATABASE_URL="sqlite:///cx.sqlite3")
    options = env.database("DATABASE_URL", "sqlite:///x")["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


@pytest.mark.parametrize("url", ["mysql://db/cx", "postgres://db.internal", "nonsense"])
def test_an_unsupported_database_url_names_the_variable(environ, url):
    environ(DATABASE_URL=url)
    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL: "):
        env.database("DATABASE_URL", "sqlite:///x")


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://cx.example.com", "https://"])
def test_a_site_url_must_be_absolute_http(environ, url):
    environ(SITE_URL=url)
    with pytest.raises(ImproperlyConfigured, match=r"^SITE_URL: "):
        env.http_url("SITE_URL", "http://127.0.0.1:8000")


def test_a_cache_url_picks_redis_or_local_memory(environ):
    environ(CACHE_URL="redis://127.0.0.1:6379/2")
    assert env.cache("CACHE_URL", "locmem://")["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    environ(CACHE_URL="memcached://x")
    with pytest.raises(ImproperlyConfigured, match=r"^CACHE_URL: "):
        env.cache("CACHE_URL", "locmem://")


def start_django(**variables) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT,
        env={**clean, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = start_django(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY: must be set when DEBUG is off" in result.stderr


def test_a_malformed_variable_stops_start_up_with_its_name():
    result = start_django(DEBUG="true", TIME_ZONE="Europe/Berlin", LANGUAGE_CODE="fr")
    assert result.returncode != 0
    assert "LANGUAGE_CODE: expected one of de, en, got 'fr'" in result.stderr


def test_a_reply_address_with_a_plus_or_without_a_domain_stops_start_up():
    for address in ("replies+x@example.com", "replies"):
        result = start_django(DEBUG="true", FOLLOWUP_REPLY_ADDRESS=address)
        assert result.returncode != 0
        assert "FOLLOWUP_REPLY_ADDRESS: must be an address like replies@example.com" in result.stderr


def test_development_starts_with_the_embedded_defaults():
    result = start_django(DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_a_replica_url_there_is_no_replica(environ, monkeypatch):
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    assert env.replica_database("DATABASE_REPLICA_URL", env.database("DATABASE_URL", "sqlite:///x")) is None


def test_a_replica_url_becomes_a_replica_that_tests_read_from_the_primary(environ):
    environ(DATABASE_REPLICA_URL="postgres://cx@replica.internal:5432/cxsurvey")
    primary = env.database("DATABASE_URL", "postgres://cx@db.internal/cxsurvey")
    config = env.replica_database("DATABASE_REPLICA_URL", primary)
    assert config is not None
    assert (config["HOST"], config["TEST"], config["OPTIONS"]) == (
        "replica.internal",
        {"MIRROR": "default"},
        {"connect_timeout": 3},
    )


@pytest.mark.parametrize(
    ("primary", "replica"),
    [("sqlite:///cx.sqlite3", "postgres://db/cx"), ("postgres://db/cx", "sqlite:///replica.sqlite3")],
)
def test_a_replica_needs_postgresql_on_both_sides(environ, monkeypatch, primary, replica):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    environ(DATABASE_REPLICA_URL=replica)
    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_REPLICA_URL: a read replica needs PostgreSQL"):
        env.replica_database("DATABASE_REPLICA_URL", env.database("DATABASE_URL", primary))


def routing_settings(**variables) -> dict:
    """The databases, routers and the pin's middleware of settings read with these variables."""
    clean = {key: value for key, value in os.environ.items() if key != "DATABASE_REPLICA_URL"}
    printed = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'databases': sorted(s.DATABASES), 'routers': s.DATABASE_ROUTERS, "
        "'pin': 'cxsurvey.routers.pin_writers' in s.MIDDLEWARE}))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", printed],
        cwd=PROJECT,
        env={**clean, "DEBUG": "true", **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_replica_brings_its_router_and_the_pin_only_when_configured():
    primary = "postgres://cx@db.internal/cx"
    assert routing_settings(DATABASE_URL=primary) == {"databases": ["default"], "routers": [], "pin": False}
    assert routing_settings(
        DATABASE_URL=primary, DATABASE_REPLICA_URL="postgres://cx@replica.internal/cx"
    ) == {
        "databases": ["default", "replica"],
        "routers": ["cxsurvey.routers.ReplicaRouter"],
        "pin": True,
    }


def test_a_short_metrics_token_stops_start_up():
    result = start_django(DEBUG="true", METRICS_TOKEN="guessable")
    assert result.returncode != 0
    assert "METRICS_TOKEN: must be at least 32 characters long" in result.stderr
