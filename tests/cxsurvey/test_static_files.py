"""Static files as production serves them: collected with hashed names, compressed, cached for good.

The settings are the production ones (DEBUG off), loaded in a process of their own; only the
folder that collectstatic writes to is a temporary one.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import brotli  # type: ignore[import-untyped]  # Brotli ships no type hints
import pytest

PROJECT = Path(__file__).resolve().parent.parent.parent
BUNDLE = PROJECT / "static/vendor/plotly/plotly-basic.min.js"
YEAR = 365 * 24 * 3600

# Collects the static files into argv[1], then asks the app (through its middleware, as gunicorn
# would) for the plotly bundle in each encoding and for the full bundle it no longer serves.
SERVE = """
import gzip, json, sys
import django
from django.conf import settings
settings.STATIC_ROOT = sys.argv[1]
django.setup()
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import Client
# The admin's and the API docs' many files only make compressing them slow; ours suffice here.
ignored = ["admin", "rest_framework", "drf_spectacular_sidecar"]
call_command("collectstatic", interactive=False, verbosity=0, ignore_patterns=ignored)
url = staticfiles_storage.url("vendor/plotly/plotly-basic.min.js")
client = Client(HTTP_HOST="127.0.0.1")
answers = {"url": url}
for encoding in ("br", "gzip", ""):
    answer = client.get(url, HTTP_ACCEPT_ENCODING=encoding)
    body = b"".join(answer.streaming_content) if answer.status_code == 200 else b""
    answers[encoding or "identity"] = {
        "status": answer.status_code,
        "headers": dict(answer.headers),
        "body": body.hex(),
    }
answers["full bundle"] = client.get("/static/plotly/plotly.min.js").status_code
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("staticfiles")
    variables = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "DATABASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", SERVE, str(root)],
        cwd=PROJECT,
        env={
            **variables,
            "DEBUG": "false",
            "SECRET_KEY": "static-files-test-" + "x" * 40,
            "DJANGO_SETTINGS_MODULE": "cxsurvey.settings",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_plotly_bundle_has_a_hashed_name(served):
    assert re.fullmatch(r"/static/vendor/plotly/plotly-basic\.min\.[0-9a-f]{12}\.js", served["url"])


@pytest.mark.parametrize(("encoding", "decompress"), [("br", brotli.decompress), ("gzip", None)])
def test_it_is_sent_compressed_and_cached_for_good(served, encoding, decompress):
    import gzip

    answer = served[encoding]
    assert answer["status"] == 200
    headers = answer["headers"]
    assert headers["Content-Encoding"] == encoding
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"].startswith("text/javascript")
    directives = [part.strip() for part in headers["Cache-Control"].split(",")]
    assert "immutable" in directives and "public" in directives
    max_age = int(next(part for part in directives if part.startswith("max-age=")).split("=")[1])
    assert max_age >= YEAR
    body = bytes.fromhex(answer["body"])
    assert int(headers["Content-Length"]) == len(body) < BUNDLE.stat().st_size / 3
    assert (decompress or gzip.decompress)(body) == BUNDLE.read_bytes()


def test_a_client_without_compression_gets_the_file_as_it_is(served):
    answer = served["identity"]
    assert "Content-Encoding" not in answer["headers"]
    assert bytes.fromhex(answer["body"]) == BUNDLE.read_bytes()


def test_the_full_plotly_bundle_is_no_longer_served(served):
    assert served["full bundle"] == 404
