"""RabbitMQ's HTTP auth backend (rabbitmq_auth_backend_http), for the city shape: the
Mosquitto shape's per-tag password file and ACL, answered from the registry instead
(docs/scale.md). Each active tag logs in with the credentials it got at activation and
may publish on its own topics only (tags/{id}/fix, owntracks/{user}/{id}); it may
subscribe to nothing. The service's own accounts (the workers, the console) are
RabbitMQ's internal users, checked before this backend, so this one never answers
for them.

The broker is the only caller: the routes live under a secret path segment
(`broker_auth_secret`, which RabbitMQ 3.10's configuration can carry where it cannot
carry a header) and are not mounted at all without one. Answers are RabbitMQ's plain
`allow` / `deny`. Every `deny` is counted by what was refused (`broker_login_denied`,
`broker_vhost_denied`, `broker_resource_denied`, `broker_topic_denied`) with the
service's other rejections: `smartcity-iot rejects` shows them."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse

from ..config import parse_engine_url
from ..store import deadletters
from ..store.broker_users import BrokerUserError, check_device_user
from ..store.credentials import mosquitto_verify
from ..store.database import Connection, Row, transaction
from .security import Conn

router = APIRouter(prefix="/broker/auth/{secret}", include_in_schema=False)

ALLOW, DENY = PlainTextResponse("allow"), PlainTextResponse("deny")
log = logging.getLogger("smartcity_iot.web")
TOPIC_EXCHANGE = "amq.topic"  # where the MQTT plugin puts devices' publishes


async def _form(request: Request) -> dict[str, str]:
    """RabbitMQ's POST body (application/x-www-form-urlencoded), each field once. Not
    FastAPI's Form(), which needs python-multipart for what parse_qs does here; not
    RabbitMQ's default GET, which would put passwords in the access log."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


Fields = Annotated[dict[str, str], Depends(_form)]


def _check_secret(request: Request, secret: str) -> None:
    expected = request.app.state.settings.broker_auth_secret or ""
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise HTTPException(404)  # as if there were no such route


def _answer(conn: Connection, allowed: bool, what: str, username: str) -> PlainTextResponse:
    """`allow`, or `deny` counted under broker_{what}_denied and logged with the name."""
    if allowed:
        return ALLOW
    with transaction(conn):
        deadletters.bump_counts(conn, {f"broker_{what}_denied": 1})
    log.info("broker refused %s for %r", what, username[:64])
    return DENY


def _device(conn: Connection, request: Request, username: str) -> Row | None:
    """The credential (tag_id, password_hash) of the active tag that logs in as
    `username`, else None (a reserved name included)."""
    try:
        check_device_user(username, request.app.state.reserved_broker_users)
    except BrokerUserError:
        return None
    row: Row | None = conn.execute(
        "SELECT c.tag_id, c.password_hash FROM tag_credentials c "
        "JOIN tags t ON t.tag_id = c.tag_id "
        "WHERE c.mqtt_username = ? AND t.status = 'active'",
        (username,),
    ).fetchone()
    return row


@router.post("/user")
def user(secret: str, request: Request, conn: Conn, form: Fields) -> PlainTextResponse:
    """Log-in: an active tag's own password (the stored hash, as Mosquitto's file has it)."""
    _check_secret(request, secret)
    username, password = form.get("username", ""), form.get("password", "")
    device = _device(conn, request, username)
    try:
        ok = device is not None and mosquitto_verify(device["password_hash"], password)
    except (ValueError, AssertionError):  # a hash not in the $7$ format
        ok = False
    return _answer(conn, ok, "login", username)


@router.post("/vhost")
def vhost(secret: str, request: Request, conn: Conn, form: Fields) -> PlainTextResponse:
    _check_secret(request, secret)
    username, vhost = form.get("username", ""), form.get("vhost", "")
    settings = request.app.state.settings
    ours = parse_engine_url(settings.engine_url).vhost if settings.engine_url else "/"
    ok = vhost == ours and _device(conn, request, username) is not None
    return _answer(conn, ok, "vhost", username)


@router.post("/resource")
def resource(secret: str, request: Request, conn: Conn, form: Fields) -> PlainTextResponse:
    """A device may write to the MQTT exchange (its publishes); no queue of its own (it
    subscribes to nothing), no other exchange."""
    _check_secret(request, secret)
    username, resource, name = form.get("username", ""), form.get("resource"), form.get("name")
    permission = form.get("permission")
    publish = resource == "exchange" and name == TOPIC_EXCHANGE and permission == "write"
    ok = publish and _device(conn, request, username) is not None
    return _answer(conn, ok, "resource", username)


@router.post("/topic")
def topic(secret: str, request: Request, conn: Conn, form: Fields) -> PlainTextResponse:
    """A tag publishes its own fixes only: the routing key (the MQTT topic with "/" as
    ".") names its own id; reading (subscribing) is nobody's."""
    _check_secret(request, secret)
    username = form.get("username", "")
    device = _device(conn, request, username)
    writes = form.get("name") == TOPIC_EXCHANGE and form.get("permission") == "write"
    levels = form.get("routing_key", "").split(".")
    own = device is not None and (
        levels == ["tags", device["tag_id"], "fix"]
        or (len(levels) == 3 and levels[0] == "owntracks" and levels[2] == device["tag_id"])
    )
    return _answer(conn, writes and own, "topic", username)
