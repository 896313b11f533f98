"""A real HTTP receiver on 127.0.0.1 (a free port, in a thread) and the settings the webhook
tests run under: Allora is https://allora.example, and local addresses are allowed (the
receiver is one)."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.models import Event, WebhookEndpoint


@dataclass
class Received:
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list = field(default_factory=list)  # answered in turn, then 200
    received: list = field(default_factory=list)


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(Received(dict(self.headers), body))
            status = state.statuses.pop(0) if state.statuses else 200
            answer = b"ok" if status < 300 else b"Internal error: try again later"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/allora"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.SITE_URL = "https://allora.example"
    settings.ALLOWED_HOSTS = ["allora.example", ".allora-app.example", "testserver"]
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    return settings


@pytest.fixture
def endpoint_for(admin):
    def make(url, *, events=tuple(Event.values), is_active=True):
        return WebhookEndpoint.objects.create(
            url=url, events=list(events), is_active=is_active, created_by=admin
        )

    return make
