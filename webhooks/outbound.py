"""HTTP requests to customers' URLs that cannot be turned against the server (no request forgery).

A webhook URL is typed by a customer, and the server posts to it: without care it
could reach the database, the cloud's metadata service or anything else that only
trusts its network. So only http and https are used, every address a host resolves
to must be public, the address checked is the one connected to (a host that resolved
to a public address when the URL was saved and to a private one now, "DNS
rebinding", is refused now), redirects are not followed, and connecting, reading and
the answer's size are bounded. ``WEBHOOK_ALLOWED_HOSTS`` names hosts that skip the
address check, for development.
"""

import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.utils.http import parse_http_date_safe
from django.utils.translation import gettext as _

CONNECT_TIMEOUT = 5.0  # seconds
READ_TIMEOUT = 10.0  # seconds, for each read from the socket
BODY_DEADLINE = 30.0  # seconds after the request started, to stop reading a trickling answer
MAX_RESPONSE_BYTES = 64 * 1024  # read of an answer; the rest is never read
LOGGED_RESPONSE_CHARACTERS = 1000
USER_AGENT = "CXSurvey-Webhooks/1"
# Characters a path or query keeps as they are; others (ä, spaces) are percent-encoded, as browsers do.
URL_SAFE = "/?%:@!$&'()*+,;=-._~"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedURL(Exception):
    """A URL that webhooks are not sent to; the message says why, for people."""


@dataclass(frozen=True)
class Answer:
    """What became of one POST: the HTTP status (None without an answer), the start of the
    answer's body, why it failed before an answer (else ""), and how long it took; and the
    wait the receiver asked for with ``Retry-After``, if it did."""

    status: int | None
    body: str
    error: str
    duration_ms: int
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_url(url: str) -> None:
    """Raise ``RefusedURL`` unless webhooks may be sent to ``url`` now.

    The host is resolved here, so ``2130706433``, ``0x7f.1`` and ``[::ffff:127.0.0.1]``
    are seen as the loopback address they are.
    """
    host, port = _host_and_port(url)
    if not is_allowed_host(host):
        for *_rest, sockaddr in resolve(host, port):
            check_address(host, sockaddr[0])


def _host_and_port(url: str) -> tuple[str, int]:
    """The host and port to connect to; ``RefusedURL`` for another scheme than http(s), no host,
    a port that is not a number, or credentials in the URL."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise RefusedURL(_("The port of this URL is not a number.")) from None
    if parts.scheme not in ("http", "https"):
        raise RefusedURL(_("Only http and https URLs can receive webhooks."))
    if not parts.hostname:
        raise RefusedURL(_("The URL names no host."))
    if parts.username is not None:
        raise RefusedURL(_("Put no user name or password in the URL: receivers check the signature."))
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_allowed_host(host: str) -> bool:
    """Whether ``host`` is named in ``WEBHOOK_ALLOWED_HOSTS`` (any case, with or without brackets)."""
    allowed = {name.strip("[]").rstrip(".").lower() for name in settings.WEBHOOK_ALLOWED_HOSTS}
    return host.strip("[]").rstrip(".").lower() in allowed


def resolve(host: str, port: int) -> list[tuple]:
    """``socket.getaddrinfo`` for a TCP connection; ``RefusedURL`` if the host cannot be found."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise RefusedURL(_("The host “%(host)s” could not be found.") % {"host": host}) from None


def check_address(host: str, address: str) -> None:
    if not is_public(ipaddress.ip_address(address)):
        raise RefusedURL(
            _("“%(host)s” is %(address)s, which is not a public address.")
            % {"host": host, "address": address}
        )


def is_public(address: Address) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local (the
    cloud metadata service at 169.254.169.254), shared, reserved, multicast or site-local.

    An IPv6 address that carries an IPv4 address (``::ffff:127.0.0.1``, 6to4) is judged by it.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
        if address.is_site_local:
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def open_socket(host: str, port: int) -> socket.socket:
    """A TCP connection to ``host``, made only to checked addresses (all of them public, unless
    the host is allowed); each address is tried in turn. ``RefusedURL`` or ``OSError`` otherwise."""
    addresses = resolve(host, port)
    if not is_allowed_host(host):
        for *_rest, sockaddr in addresses:
            check_address(host, sockaddr[0])
    error: OSError = OSError(f"No address for {host}")
    for family, kind, protocol, _name, sockaddr in addresses:
        connection = socket.socket(family, kind, protocol)
        try:
            connection.settimeout(CONNECT_TIMEOUT)
            connection.connect(sockaddr)
        except OSError as failure:
            connection.close()
            error = failure
            continue
        connection.settimeout(READ_TIMEOUT)
        return connection
    raise error


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = open_socket(self.host, self.port)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        # The certificate is checked against the host's name (sent as SNI), not the address.
        # typeshed leaves out _context, the TLS context HTTPSConnection keeps (default or given).
        context = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(open_socket(self.host, self.port), server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` as JSON to ``url``, never following a redirect; failures are answers too."""
    parts = urlsplit(url)
    connection_class = _HTTPSConnection if parts.scheme == "https" else _HTTPConnection
    started = time.monotonic()
    status, content, error, retry_after = None, b"", "", None
    try:
        connection = connection_class(*_host_and_port(url))  # addresses are checked on connecting
        try:
            path = quote(parts.path or "/", safe=URL_SAFE) + (
                f"?{quote(parts.query, safe=URL_SAFE)}" if parts.query else ""
            )
            all_headers = {**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT}
            connection.request("POST", path, body=body, headers=all_headers)
            response = connection.getresponse()
            status = response.status
            retry_after = _wait(response.getheader("Retry-After"))
            content = _read_start(response, deadline=started + BODY_DEADLINE)
        finally:
            connection.close()
    except RefusedURL as refused:
        error = str(refused)
    except (OSError, http.client.HTTPException, ValueError) as failure:
        error = f"{type(failure).__name__}: {failure}"[:1000]
    duration_ms = round((time.monotonic() - started) * 1000)
    return Answer(
        status=status, body=_printable(content), error=error, duration_ms=duration_ms, retry_after=retry_after
    )


def _wait(retry_after: str | None) -> timedelta | None:
    """``Retry-After`` as the wait from now: a number of seconds or an HTTP date; None if absent or
    malformed."""
    value = (retry_after or "").strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    moment = parse_http_date_safe(value) if value else None
    return None if moment is None else timedelta(seconds=max(0, moment - int(time.time())))


def _read_start(response: http.client.HTTPResponse, *, deadline: float) -> bytes:
    """Up to ``MAX_RESPONSE_BYTES`` of an answer's body; reading stops at the deadline too,
    so that an answer trickling in byte by byte cannot hold a worker. The rest is never read."""
    content = b""
    while len(content) < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
        chunk = response.read1(MAX_RESPONSE_BYTES - len(content))
        if not chunk:
            break
        content += chunk
    return content


def _printable(content: bytes) -> str:
    """The start of an answer for the log; PostgreSQL text cannot hold U+0000."""
    text = content.decode("utf-8", errors="replace")[:LOGGED_RESPONSE_CHARACTERS]
    return text.replace("\x00", "\ufffd")
