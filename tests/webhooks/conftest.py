import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation
from standardwebhooks import Webhook, WebhookVerificationError


@pytest.fixture(autouse=True)
def _english(client):
    """The tests read English messages; the installation's default language is German."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A real HTTP server on loopback that checks every request's signature with the standardwebhooks
    library, as a customer's receiver would.

    It answers 500 to the first ``failures`` requests, then ``status`` with ``headers``; a
    request whose signature does not verify gets 401. ``stream_bytes`` makes it answer with
    that many bytes of body, ``trickle`` with one byte per ``trickle`` seconds; ``delay`` makes
    it think that many seconds before it answers at all.
    """

    host: str
    port: int
    secret: str = ""
    failures: int = 0
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    stream_bytes: int = 0
    trickle: float = 0.0
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    sent_bytes: int = 0
    cut_off: bool = False

    def url(self, path: str = "/hooks", host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            return False
        return True


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified = receiver.verify(body, headers)
            receiver.requests.append(Received(self.path, headers, body, verified))
            time.sleep(receiver.delay)
            if not verified:
                self.answer(401)
            elif len(receiver.requests) <= receiver.failures:
                self.answer(500, b"try again later")
            elif receiver.stream_bytes or receiver.trickle:
                self.stream()
            else:
                self.answer(receiver.status, headers=receiver.headers)

        def answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def stream(self) -> None:
            total = receiver.stream_bytes or 1000
            self.send_response(200)
            self.send_header("Content-Length", str(total))
            self.end_headers()
            chunk = b"x" if receiver.trickle else b"x" * 65536
            try:
                while receiver.sent_bytes < total:
                    self.wfile.write(chunk)
                    receiver.sent_bytes += len(chunk)
                    time.sleep(receiver.trickle)
            except (BrokenPipeError, ConnectionResetError):
                receiver.cut_off = True

        def log_message(self, format, *args) -> None:
            pass

    return Handler


@pytest.fixture
def receiver():
    receiver = Receiver(host="127.0.0.1", port=0)
    server = ThreadingHTTPServer((receiver.host, 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def allow_localhost(settings):
    """Development's set-up: the receiver on this machine is let through by name."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
