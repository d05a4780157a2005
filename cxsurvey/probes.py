"""Health probes for load balancers and orchestrators, and the one middleware that answers them.

``/healthz`` says the process is alive and asks nothing else: an orchestrator restarts a process
that does not answer it, and a database outage must not restart every web process at once.
``/readyz`` says whether the process can serve: the database, the cache and (with Celery) the broker
each answer within ``READY_TIMEOUT``; a load balancer sends no requests to a process that is not ready.
"""

import logging
import threading
import time
from collections.abc import Callable

import kombu
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cxsurvey import prometheus

logger = logging.getLogger(__name__)

# Seconds that /readyz waits for all its checks together; a check still running then has timed out.
READY_TIMEOUT = 2.0


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passed, else 503; each check's state ("ok", "error" or "timeout") and
    the seconds it took. Errors are logged, never shown: they may name hosts and users."""
    checks = {"database": check_database, "cache": check_cache}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = check_broker
    results = run_checks(checks, timeout=READY_TIMEOUT)
    ready = all(result["state"] == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )


def check_database() -> None:
    # Its own connection, closed at once: the check runs in a thread of its own (see run_checks).
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def check_cache() -> None:
    # The same value from every process: probes of several processes at once write alike.
    cache = caches["default"]
    cache.set("readyz", "ok", timeout=10)
    if cache.get("readyz") != "ok":
        raise RuntimeError("the cache did not keep a value")


def check_broker() -> None:
    with kombu.Connection(settings.CELERY_BROKER_URL, connect_timeout=READY_TIMEOUT) as connection:
        connection.ensure_connection(max_retries=0)


def run_checks(checks: dict[str, Callable[[], None]], *, timeout: float) -> dict[str, dict]:
    """Run the checks side by side and wait at most ``timeout`` seconds for all of them.

    Each runs in a daemon thread: a server that accepts a connection and never answers (a full
    backlog, a frozen host) holds its check, not the probe, and a check still running when the
    time is up is left to end by itself and reported as "timeout".
    """
    results: dict[str, dict] = {}

    def run(name: str, check: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            check()
        except Exception:
            logger.warning("readiness check %s failed", name, exc_info=True)
            state = "error"
        else:
            state = "ok"
        results[name] = {"state": state, "seconds": round(time.monotonic() - started, 3)}

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in checks.items()]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {name: results.get(name, {"state": "timeout", "seconds": timeout}) for name in checks}


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", prometheus.metrics, name="metrics"),
]


class ProbeMiddleware:
    """Answers the probes and Prometheus' scrapes ahead of every other middleware (it comes first).

    They ask a process at its own address over plain HTTP: the host check (``ALLOWED_HOSTS``) would
    refuse that Host header, and the redirect to https would send them elsewhere. Their answers set
    no cookie and show no page, so the middlewares after this one have nothing to add to them. The
    same views are in the URL configuration, where ``reverse`` finds them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.views = {f"/{pattern.pattern}": pattern.callback for pattern in urlpatterns}

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        view = self.views.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
