"""Per-client request limits for the public endpoints (answer pages, widget) and the API.

Public clients are told apart by a keyed hash of their address (of its /64 for IPv6);
the raw address is never stored. API clients are counted per token. Counters live in
the cache: with Redis they are atomic (INCR) and shared by all workers. If the cache is
down the limiter lets requests through (fails open): losing a rate limit for a while
is better than losing answers.
"""

import hashlib
import hmac
import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import RedisError

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The client's address, trusting X-Forwarded-For only as far as configured proxies go."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        forwarded = [part.strip() for part in forwarded if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def client_network(address: str) -> str:
    """What one client is counted as: an IPv4 address, an IPv6 client's /64.

    An IPv6 host is commonly given a whole /64 and may take a new address from it for
    every request, so counting addresses would let it past every limit. An IPv4 address
    written as IPv6 (``::ffff:203.0.113.7``) counts as itself; anything that is no
    address (a proxy's odd header) counts as it is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip), 64), strict=False))
    return str(ip)


def client_key(request: HttpRequest) -> str:
    network = client_network(client_address(request))
    digest = hmac.new(settings.SECRET_KEY.encode(), network.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def retry_after(request: HttpRequest, scope: str, *, per: int | None = None) -> int | None:
    """Count this request in ``scope``; the seconds to wait if the client is over its limit, else None.

    With ``per`` (a survey's id) the client's requests about that object are counted on their own.
    """
    subject = client_key(request)
    return count_request(scope, subject if per is None else f"{subject}:{per}")


def count_request(scope: str, subject: str) -> int | None:
    """Count one request of ``subject`` (a client key, an API token id) in ``scope``.

    Returns the seconds to wait if ``subject`` is over ``settings.RATE_LIMITS[scope]``
    requests in the current minute, else None.
    """
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"ratelimit:{scope}:{subject}:{window}"
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        return None
    except RedisError:
        logger.warning("rate limit for %s not enforced: the cache is unavailable", scope)
        return None
    if count <= settings.RATE_LIMITS[scope]:
        return None
    logger.warning("rate limit %s exceeded by client %s", scope, subject[:12])
    return max(1, int((window + 1) * WINDOW_SECONDS - now))
