"""The SMS gateway of SPEC 8: each message is POSTed as JSON {"phone", "text"} to
`--sms-gateway-url`, with a timeout and a few retries. Without a gateway the
messages go to the console and the log (the demo shows one-time codes that way)."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Protocol, TextIO

from ..config import Settings
from ..phones import mask_phone

log = logging.getLogger("smartcity_iot.sms")


class SmsError(RuntimeError):
    """The gateway did not take a message after every retry."""


class SmsGateway(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver `text` to `phone` (canonical form) or raise SmsError."""


class HttpSmsGateway:
    """The bureau's gateway. A 2xx answer is delivery; 4xx is refused for good (no
    retry: the same request would be refused again); timeouts, connection errors and
    5xx are retried with a short backoff."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self.sent = 0
        self.failed = 0

    def send(self, phone: str, text: str) -> None:
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode()
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read(4096)
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                problem = f"HTTP {exc.code}"
                if 400 <= exc.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                problem = str(getattr(exc, "reason", exc))
        self.failed += 1
        log.warning(
            "SMS gateway %s did not take a message to %s: %s", self.url, mask_phone(phone), problem
        )
        raise SmsError(f"the SMS gateway did not take the message ({problem})")


class ConsoleSmsGateway:
    """No gateway configured: print each message (the demo's console) and log it."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def send(self, phone: str, text: str) -> None:
        with self._lock:
            self.sent += 1
            log.warning("SMS (no --sms-gateway-url) to %s: %s", phone, text)
            if self.out is not None:
                print(f"  [SMS to {phone}] {text}", file=self.out, flush=True)


def sms_gateway(settings: Settings, out: TextIO | None = None) -> SmsGateway:
    if settings.sms_gateway_url:
        return HttpSmsGateway(
            settings.sms_gateway_url, settings.sms_timeout_s, settings.sms_retries
        )
    return ConsoleSmsGateway(out)
