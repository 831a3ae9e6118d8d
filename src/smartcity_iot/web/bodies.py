"""Request bodies are capped before they are read (issue 11, finding 5): a declared
Content-Length above the cap is answered 413 at once, and a chunked body is cut off
as soon as it passes the cap. The app never holds more than the cap of one body."""

from __future__ import annotations

import json
from http.cookies import CookieError, SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..i18n import DEFAULT_LANG, LANGS, Refusal


class BodyLimit:
    """Pure ASGI middleware (it sees the body as it arrives, unlike an http middleware)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        refused = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(scope, send)
                    # the app sees a client that went away; its reading stops here
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 already went out
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # the app's complaint about the cut-off body: the 413 already answered it

    async def _refuse(self, scope: Scope, send: Send) -> None:
        refusal = Refusal(
            "request.body_too_large", max=self.max_bytes, option="--http-body-max-bytes"
        )
        body = json.dumps(
            {"detail": refusal.text(_lang(scope)), "code": refusal.key}, ensure_ascii=False
        ).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is not worth reading
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _lang(scope: Scope) -> str:
    """The reader's language (the `lang` cookie, as web/lang.py reads it; no Request here)."""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            try:
                morsel = SimpleCookie(value.decode("latin-1")).get("lang")
            except CookieError:
                continue
            if morsel and morsel.value in LANGS:
                return morsel.value
    return DEFAULT_LANG


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
