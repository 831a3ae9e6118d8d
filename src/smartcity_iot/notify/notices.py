"""The notifier: a background worker that writes each new owner's notice in the
bureau's words and texts it to the owner's phone.

Notices are rows the alert sinks write in the alert's own transaction
(store/notices.py), so the worker can lose nothing: it tails the pending rows. A
message waits `notice_review_s` first, so an alert an operator dismisses in that
window sends none; then at most `notice_sms_per_day` go to one owner per local day
(the rest are marked capped, still in the portal). Delivery is at least once: a row
is marked sent only after the gateway took the message, so a crash in between sends
it again after the restart. A gateway that does not take it is retried later with a
doubling wait, counted, never fatal."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from ..config import Settings
from ..counters import Counters
from ..phones import PhoneError, mask_phone, normalise_phone
from ..store import notices as notice_store
from ..store.database import Row, connect, transaction
from .sms import SmsGateway
from .texts import NoticeTexts, write_notice

log = logging.getLogger("smartcity_iot.notices")

RETRY_MAX_S = 3600.0
IDLE_WAIT_S = 5.0  # look again at least this often (rows other processes wrote wake nobody)


class Notifier:
    def __init__(
        self,
        settings: Settings,
        texts: NoticeTexts,
        gateway: SmsGateway,
        counters: Counters | None = None,
    ) -> None:
        self.settings = settings
        self.texts = texts
        self.gateway = gateway
        self.counters = counters or Counters()
        self.conn = connect(settings.database)
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                wait = self._until_next_due()
            except Exception:  # a full disk or a broken gateway client: try again later
                log.exception("notifier failed; retrying in %.0f s", IDLE_WAIT_S)
                wait = IDLE_WAIT_S
            self.wake.wait(wait)
            self.wake.clear()

    def run_once(self, now: float | None = None) -> None:
        """Write the new notices' texts, then send every message that is due."""
        self.write_texts()
        self.send_due(time.time() if now is None else now)

    def write_texts(self) -> None:
        """Each new notice gets its text once, right away: the portal shows it as written."""
        while rows := notice_store.unwritten(self.conn):
            texts = [(r["id"], write_notice(self.texts, r, self.settings.tz)) for r in rows]
            with transaction(self.conn):
                notice_store.write_texts(self.conn, texts)
            self.counters.add("notices", len(texts))

    def send_due(self, now: float) -> None:
        created_before = now - self.settings.notice_review_s
        while not self._stop.is_set():
            rows = notice_store.due_messages(self.conn, created_before, now)
            if not rows:
                return
            for row in rows:
                if self._stop.is_set() or not self._send(row, now):
                    return  # the gateway is not taking messages: the rest wait their turn

    def _send(self, row: Row, now: float) -> bool:
        """One due message; False when the gateway did not take it."""
        notice_id, owner_id = row["id"], row["owner_id"]
        try:
            phone = normalise_phone(row["owner_phone"] or "")
        except PhoneError as exc:
            self._settle(notice_id, "no_phone", now, str(exc))
            return True
        if notice_store.sent_since(self.conn, owner_id, self._day_start(now)) >= (
            self.settings.notice_sms_per_day
        ):
            self._settle(notice_id, "capped", now)
            return True
        if not notice_store.is_pending(self.conn, notice_id):  # dismissed a moment ago
            return True
        text = row["text"] or write_notice(self.texts, row, self.settings.tz)
        try:
            self.gateway.send(phone, text)
        except Exception as exc:  # SmsError, or any failure of a gateway client
            attempts = row["sms_attempts"] + 1
            wait = min(self.settings.notice_retry_s * 2 ** (attempts - 1), RETRY_MAX_S)
            with transaction(self.conn):
                notice_store.retry_later(self.conn, notice_id, now + wait, str(exc)[:300])
            self.counters.add("notice_sms_failed")
            log.warning(
                "notice %d to %s not sent (try %d): %s; next try in %.0f s",
                notice_id,
                mask_phone(phone),
                attempts,
                exc,
                wait,
            )
            return False
        self._settle(notice_id, "sent", now)
        return True

    def _settle(self, notice_id: int, status: str, now: float, error: str | None = None) -> None:
        with transaction(self.conn):
            notice_store.settle(self.conn, notice_id, status, now, error)
        self.counters.add(f"notice_sms_{status}")

    def _day_start(self, now: float) -> float:
        """Local midnight in the city's time zone: the daily cap starts again there."""
        local = datetime.fromtimestamp(now, self.settings.tz)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()

    def _until_next_due(self) -> float:
        due = notice_store.next_due(self.conn, self.settings.notice_review_s)
        if due is None:
            return IDLE_WAIT_S
        return min(max(due - time.time(), 0.05), IDLE_WAIT_S)
