import io
import json
import logging
import os
import subprocess
import sys
from datetime import datetime

from django.test import RequestFactory

from cxsurvey.logs import JsonFormatter


def _log_line(logger_name: str, emit) -> dict:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_a_failed_request_is_one_json_object_with_the_exception_and_the_request():
    request = RequestFactory().post("/s/token/?email=anna@example.com")

    def emit(logger):
        try:
            raise ValueError("the score is missing")
        except ValueError:
            logger.error(
                "Internal Server Error: %s",
                request.path,
                exc_info=True,
                extra={"status_code": 500, "request": request},
            )

    line = _log_line("django.request", emit)

    assert line["level"] == "ERROR"
    assert line["logger"] == "django.request"
    assert line["message"] == "Internal Server Error: /s/token/"
    assert "Traceback (most recent call last)" in line["exception"]
    assert "ValueError: the score is missing" in line["exception"]
    assert (line["method"], line["path"], line["status_code"]) == ("POST", "/s/token/", 500)
    assert "anna@example.com" not in json.dumps(line)  # the query string stays out
    assert datetime.fromisoformat(line["time"]).utcoffset().total_seconds() == 0


def test_a_plain_record_carries_no_exception_field():
    line = _log_line("surveys.email", lambda logger: logger.warning("sent %d of %d", 3, 4))

    assert line["message"] == "sent 3 of 4"
    assert line["level"] == "WARNING"
    assert "exception" not in line


def test_log_format_json_makes_every_line_of_the_app_json():
    program = (
        "import django, logging; django.setup(); "
        "logging.getLogger('surveys').info('started'); "
        "logging.getLogger('webhooks').error('stopped', exc_info=ZeroDivisionError('x'))"
    )
    env = os.environ | {"LOG_FORMAT": "json", "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "cxsurvey.settings"}

    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("surveys", "started"),
        ("webhooks", "stopped"),
    ]
    assert "ZeroDivisionError: x" in lines[1]["exception"]
