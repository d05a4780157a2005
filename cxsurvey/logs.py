"""Log lines as JSON objects (``LOG_FORMAT=json``), one a line, for log collectors.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``exception`` (the
traceback) when there is one, whatever a caller passed as ``extra``, and for Django's request
loggers the request's ``method`` and ``path``. The path is logged without its query string, which
may carry a respondent's address (link surveys); tokens in paths are logged as Django's own
messages already show them.
"""

import logging

from django.http import HttpRequest
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter


class JsonFormatter(BaseJsonFormatter):
    def __init__(self, **options):
        options.setdefault("fmt", ["levelname", "name", "message"])
        options.setdefault("rename_fields", {"levelname": "level", "name": "logger", "exc_info": "exception"})
        options.setdefault("timestamp", "time")
        super().__init__(**options)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        # django.request and django.security pass the request itself; django.server its socket.
        request = log_data.pop("request", None)
        if isinstance(request, HttpRequest):
            log_data["method"] = request.method
            log_data["path"] = request.path
