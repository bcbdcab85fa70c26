"""A real webhook receiver on loopback (http.server in a thread), as a customer would write one.

It verifies each signature, dedupes on X-FallWatch-Delivery and records what it applied. `policy` decides the
answer to each request (it may also sleep, to play a slow receiver); `stop` closes the socket so that connections
are refused, and `start` opens it again on the same port.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fallwatch.alerts.notifiers.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verify


@dataclass
class Request:
    delivery_id: str
    event: str
    body: dict[str, Any]
    arrival: int  # 1-based count of requests for this delivery id


@dataclass
class Receiver:
    secret: str
    policy: Callable[[Request], int] = lambda _request: 200
    port: int = 0
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # delivery id -> body, in arrival order
    arrivals: dict[str, int] = field(default_factory=dict)
    answers: list[int] = field(default_factory=list)
    bad_signatures: int = 0
    duplicates: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fallwatch"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.handle(dict(self.headers), raw)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout, or it was killed) before the answer

            def log_message(self, *_args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, headers: dict[str, str], raw: bytes) -> int:
        if not verify(self.secret, headers.get(SIGNATURE_HEADER, ""), raw):
            with self._lock:
                self.bad_signatures += 1
            return 401
        delivery_id = headers[DELIVERY_HEADER]
        with self._lock:
            self.arrivals[delivery_id] = self.arrivals.get(delivery_id, 0) + 1
            request = Request(delivery_id, headers[EVENT_HEADER], json.loads(raw), self.arrivals[delivery_id])
        status = self.policy(request)
        if 200 <= status < 300:
            with self._lock:
                if delivery_id in self.applied:
                    self.duplicates += 1  # seen before: acknowledge again, apply nothing
                else:
                    self.applied[delivery_id] = request.body
        with self._lock:
            self.answers.append(status)
        return status
