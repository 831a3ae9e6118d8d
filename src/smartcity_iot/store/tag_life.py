"""The end of a tag's life, as operators decide it: a request rejected with a reason the
owner reads, a tag deactivated (lost, broken, the dog deceased), a tag replaced by a new
serial for the same dog. A deactivated tag's credential leaves the broker's password
file and its fixes are refused; its track and its dog's violations stay. Each decision
is one transaction with its line in tag_events."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import Any

from .broker_users import check_device_user
from .database import Connection, Row, for_update, transaction
from .dogs import new_activation_code, new_serial, record_tag_event
from .errors import AccountError, NotFound
from .passwords import HASHER
from .registry import check_tag_id

DEACTIVATION_REASONS = ("lost", "broken", "deceased")
REPLACED = "replaced"  # the reason of a tag a replacement took over from
LIVE = ("approved", "shipped", "active")  # issued and not yet ended


def reject_request(conn: Connection, request_id: int, actor: str, reason: str) -> dict:
    """Refuse a request that is still waiting; the owner sees `reason` in the portal and
    may send a new request."""
    reason = " ".join(reason.split())
    if not 2 <= len(reason) <= 300:
        raise AccountError("tag_life.reason_length", min=2, max=300)
    now = time.time()
    with transaction(conn):
        row = conn.execute(
            "SELECT status FROM tag_requests WHERE id = ?" + for_update(conn), (request_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"tag request {request_id}")
        if row["status"] != "requested":
            raise AccountError(
                "tag_life.request_decided",
                request_id=request_id,
                status=AccountError(f"tag_status.{row['status']}"),
            )
        conn.execute(
            "UPDATE tag_requests SET status = 'rejected', decision_reason = ?, decided_at = ?, "
            "decided_by = ? WHERE id = ?",
            (reason, now, actor, request_id),
        )
        record_tag_event(conn, "reject", actor, request_id=request_id, detail={"reason": reason})
    return {"request_id": request_id, "status": "rejected", "reason": reason}


def _end(conn: Connection, tag_id: str, reason: str, now: float, **more: Any) -> None:
    """Status inactive, no activation code, no broker credential: from now on the
    service refuses its fixes (`inactive_device`) and `users tag-passwords` omits it."""
    conn.execute(
        "UPDATE tags SET status = 'inactive', activation_code = NULL, deactivated_reason = ?, "
        "deactivated_at = COALESCE(deactivated_at, ?), replaced_by = ? WHERE tag_id = ?",
        (reason, now, more.get("replaced_by"), tag_id),
    )
    conn.execute("DELETE FROM tag_credentials WHERE tag_id = ?", (tag_id,))


def _tag(conn: Connection, tag_id: str) -> Row:
    row = conn.execute(
        "SELECT tag_id, dog_id, status, postal_address, deactivated_reason, replaced_by "
        "FROM tags WHERE tag_id = ?" + for_update(conn),  # the caller changes it
        (tag_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"tag {tag_id}")
    return row


def deactivate(
    conn: Connection, tag_id: str, actor: str, reason: str, note: str | None = None
) -> dict:
    if reason not in DEACTIVATION_REASONS:
        raise AccountError("tag_life.deactivation_reason", reasons=", ".join(DEACTIVATION_REASONS))
    now = time.time()
    with transaction(conn):
        tag = _tag(conn, tag_id)
        if tag["status"] not in LIVE:
            ended = tag["deactivated_reason"]
            raise AccountError(
                "tag_life.not_live",
                tag_id=tag_id,
                status=AccountError(f"tag_status.{tag['status']}"),
                reason=AccountError(f"tag_reason.{ended}" if ended else "tag_life.not_issued"),
            )
        _end(conn, tag_id, reason, now)
        detail = {"reason": reason, "from": tag["status"], **({"note": note} if note else {})}
        record_tag_event(conn, "deactivate", actor, tag_id=tag_id, detail=detail)
    return {"tag_id": tag_id, "status": "inactive", "deactivated_reason": reason}


def replace(
    conn: Connection,
    tag_id: str,
    actor: str,
    reserved: Collection[str],
    serial: str | None = None,
    postal_address: str | None = None,
    cause: str | None = None,
) -> dict:
    """A new serial for the same dog, approved with a fresh activation code (returned this
    once, to print with the tag) and waiting to ship; the old tag ends as `replaced`. The
    dog's track and violations stay where they are: they belong to the dog's owner."""
    if cause is not None and cause not in ("lost", "broken"):
        raise AccountError("tag_life.cause")
    new = check_device_user(check_tag_id(serial.strip()), reserved) if serial else new_serial()
    code = new_activation_code()
    now = time.time()
    with transaction(conn):
        old = _tag(conn, tag_id)
        if old["replaced_by"] or old["deactivated_reason"] == "deceased" or old["dog_id"] is None:
            if old["replaced_by"]:
                raise AccountError(
                    "tag_life.already_replaced", tag_id=tag_id, replaced_by=old["replaced_by"]
                )
            if old["deactivated_reason"] == "deceased":
                raise AccountError("tag_life.dog_deceased", tag_id=tag_id)
            raise AccountError("tag_life.no_dog", tag_id=tag_id)
        if old["status"] not in LIVE and old["deactivated_reason"] not in ("lost", "broken"):
            raise AccountError(
                "tag_life.cannot_replace",
                tag_id=tag_id,
                status=AccountError(f"tag_status.{old['status']}"),
            )
        if conn.execute("SELECT 1 FROM tags WHERE tag_id = ?", (new,)).fetchone():
            raise AccountError("tag_life.serial_in_use", serial=new)
        address = (postal_address or "").strip() or old["postal_address"]
        address = address or _last_address(conn, old)
        if not address:
            raise AccountError("tag_life.address_required")
        conn.execute(
            "INSERT INTO tags(tag_id, dog_id, status, activation_code, postal_address, created_at) "
            "VALUES (?, ?, 'approved', ?, ?, ?)",
            (new, old["dog_id"], HASHER.hash(code.replace("-", "")), address, now),
        )
        request_id = conn.execute(
            "INSERT INTO tag_requests(dog_id, postal_address, status, tag_id, created_at, "
            "decided_at, decided_by) VALUES (?, ?, 'approved', ?, ?, ?, ?) RETURNING id",
            (old["dog_id"], address, new, now, now, actor),
        ).fetchone()[0]
        _end(conn, tag_id, REPLACED, now, replaced_by=new)
        earlier = old["deactivated_reason"] or cause
        record_tag_event(
            conn,
            "replace",
            actor,
            tag_id=tag_id,
            detail={"by": new, "from": old["status"], **({"cause": earlier} if earlier else {})},
        )
        record_tag_event(
            conn, "approve", actor, request_id=request_id, tag_id=new, detail={"replaces": tag_id}
        )
    return {
        "request_id": request_id,
        "tag_id": new,
        "replaces": tag_id,
        "status": "approved",
        "activation_code": code,
    }


def _last_address(conn: Connection, tag: Row) -> str | None:
    row = conn.execute(
        "SELECT postal_address FROM tag_requests WHERE dog_id = ? ORDER BY id DESC LIMIT 1",
        (tag["dog_id"],),
    ).fetchone()
    return row["postal_address"] if row else None


def events(
    conn: Connection, tag_id: str | None = None, request_id: int | None = None
) -> list[dict[str, Any]]:
    """The history of a tag and of the requests that led to it, oldest first."""
    rows = conn.execute(
        "SELECT at, request_id, tag_id, action, actor, detail FROM tag_events "
        "WHERE tag_id = ? OR request_id = ? "
        "OR request_id IN (SELECT id FROM tag_requests WHERE tag_id = ?) ORDER BY at, id",
        (tag_id, request_id, tag_id),
    )
    return [{**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else {}} for r in rows]
