import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english(client):
    """The tests read English messages; the installation's default language is German."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield


@dataclass
class ChatReceiver:
    """A real HTTP server on loopback that takes posts as Slack's and Teams' incoming webhooks do:
    it answers 500 to the first ``failures`` posts, then 200 "ok"."""

    port: int = 0
    failures: int = 0
    posts: list[tuple[str, dict]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"


@pytest.fixture
def chat_receiver(settings):
    receiver = ChatReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.posts.append((self.path, json.loads(body)))
            status, answer = (500, b"oops") if len(receiver.posts) <= receiver.failures else (200, b"ok")
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    # Development's set-up: the receiver on this machine is let through by name.
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    yield receiver
    server.shutdown()
    server.server_close()
