"""A local SMS gateway for tests: a real HTTP server on a free port that takes SPEC 8's
JSON {"phone", "text"} POSTs and keeps them, so a test reads the one-time code or the
owner's notice the way a phone would. It can refuse the first N requests (outage)."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class LocalSmsGateway:
    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.messages: list[dict] = []
        self.fail_first = fail_first
        self.status = status
        self.requests = 0
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with gateway._lock:
                    gateway.requests += 1
                    refuse = gateway.fail_first > 0
                    if refuse:
                        gateway.fail_first -= 1
                    else:
                        gateway.messages.append(json.loads(body))
                self.send_response(gateway.status if refuse else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": %s}' % (b"false" if refuse else b"true"))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalSmsGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def to(self, phone: str) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.messages if m["phone"] == phone]

    def last_code(self, phone: str, timeout: float = 10.0) -> str:
        """The six-digit code of the newest message to `phone` that has one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in reversed(self.to(phone)):
                found = CODE.findall(text)
                if len(found) == 1:
                    return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no one-time code reached {phone}: {self.to(phone)}")

    def wait_for(self, phone: str, needle: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in self.to(phone):
                if needle in text:
                    return text
            time.sleep(0.1)
        raise AssertionError(f"no message with {needle!r} reached {phone}: {self.to(phone)}")
