"""Owners' dogs and their tag requests, from request to approved (serial and activation
code) to shipped. Every owner-facing query takes the caller's owner id and filters on
it in SQL, so object-level authorisation lives here, not in the routers."""

from __future__ import annotations

import json
import secrets
import time

from .database import Connection, Row, for_update, transaction
from .errors import AccountError, NotFound
from .passwords import HASHER
from .registry import check_tag_id

_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L: read off a printed card
DOG_FIELDS = ("name", "breed", "sex", "birth_date", "rabies_cert")
_DOG_SELECT = "SELECT id, name, breed, sex, birth_date, rabies_cert, created_at FROM dogs"

# -- owners: dogs, tag requests, tags ----------------------------------------------------


def add_dog(conn: Connection, owner_id: int, dog: dict[str, str | None]) -> dict:
    now = time.time()
    with transaction(conn):
        dog_id = conn.execute(
            "INSERT INTO dogs(owner_id, name, breed, sex, birth_date, rabies_cert, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (owner_id, *(dog.get(f) for f in DOG_FIELDS), now),
        ).fetchone()[0]
    assert dog_id is not None
    return get_dog(conn, owner_id, dog_id)


def list_dogs(conn: Connection, owner_id: int) -> list[dict]:
    """The owner's dogs, each with its tag however it came (portal request or the CLI's
    registry) and whether a tag may be requested for it now."""
    rows = conn.execute(_DOG_SELECT + " WHERE owner_id = ? ORDER BY id", (owner_id,))
    dogs = [dict(r) for r in rows]
    for dog in dogs:
        dog.update(_dog_tag(conn, dog["id"]))
    return dogs


def _dog_tag(conn: Connection, dog_id: int) -> dict:
    """The dog's current tag (an active one first, else the newest) and whether a request
    is allowed: not while it wears an active tag or a request is in progress."""
    tag = conn.execute(
        "SELECT tag_id, status FROM tags WHERE dog_id = ? "
        "ORDER BY status = 'active' DESC, created_at DESC LIMIT 1",
        (dog_id,),
    ).fetchone()
    return {
        "tag_id": tag["tag_id"] if tag else None,
        "tag_status": tag["status"] if tag else None,
        "can_request": _request_refusal(conn, dog_id) is None,
    }


def _request_refusal(conn: Connection, dog_id: int) -> AccountError | None:
    """Why no tag may be requested for the dog now, or None."""
    active = conn.execute(
        "SELECT tag_id FROM tags WHERE dog_id = ? AND status = 'active'", (dog_id,)
    ).fetchone()
    if active:
        return AccountError("owner.error.dog_has_active_tag", tag_id=active["tag_id"])
    pending = conn.execute(
        "SELECT 1 FROM tag_requests r LEFT JOIN tags t ON t.tag_id = r.tag_id "
        "WHERE r.dog_id = ? AND (r.status = 'requested' "
        "OR (r.status = 'approved' AND t.status IN ('approved','shipped')))",
        (dog_id,),
    ).fetchone()
    if pending:
        return AccountError("owner.error.request_in_progress")
    if conn.execute(
        "SELECT 1 FROM tags WHERE dog_id = ? AND deactivated_reason = 'deceased'", (dog_id,)
    ).fetchone():
        return AccountError("owner.error.dog_deceased")
    return None


def get_dog(conn: Connection, owner_id: int, dog_id: int) -> dict:
    row = conn.execute(
        _DOG_SELECT + " WHERE id = ? AND owner_id = ?", (dog_id, owner_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"dog {dog_id}")
    return dict(row) | _dog_tag(conn, dog_id)


def request_tag(conn: Connection, owner_id: int, dog_id: int, postal_address: str) -> dict:
    postal_address = postal_address.strip()
    if not 5 <= len(postal_address) <= 300:
        raise AccountError("owner.error.postal_address_length", min=5, max=300)
    with transaction(conn):
        if not conn.execute(  # locked: two parallel requests for one dog are checked in turn
            "SELECT 1 FROM dogs WHERE id = ? AND owner_id = ?" + for_update(conn),
            (dog_id, owner_id),
        ).fetchone():
            raise NotFound(f"dog {dog_id}")
        refusal = _request_refusal(conn, dog_id)
        if refusal:
            raise refusal
        rid = conn.execute(
            "INSERT INTO tag_requests(dog_id, postal_address, status, created_at) "
            "VALUES (?, ?, 'requested', ?) RETURNING id",
            (dog_id, postal_address, time.time()),
        ).fetchone()[0]
    assert rid is not None
    return get_tag_request(conn, owner_id, rid)


_REQUEST_SELECT = (
    "SELECT r.id, r.dog_id, d.name AS dog_name, r.postal_address, r.created_at, "
    "r.decided_at, r.tag_id, COALESCE(t.status, r.status) AS status, "
    "r.decision_reason AS reason, t.deactivated_reason AS tag_reason, t.replaced_by, "
    "o.id AS owner_id, o.name AS owner_name, o.phone AS owner_phone "
    "FROM tag_requests r JOIN dogs d ON d.id = r.dog_id JOIN owners o ON o.id = d.owner_id "
    "LEFT JOIN tags t ON t.tag_id = r.tag_id"
)


def _request_row(row: Row, for_operator: bool) -> dict:
    data = dict(row)
    if not for_operator:
        for key in ("owner_id", "owner_name", "owner_phone"):
            data.pop(key)
    return data


def list_tag_requests(conn: Connection, owner_id: int) -> list[dict]:
    rows = conn.execute(_REQUEST_SELECT + " WHERE d.owner_id = ? ORDER BY r.id DESC", (owner_id,))
    return [_request_row(r, False) for r in rows]


def get_tag_request(conn: Connection, owner_id: int, request_id: int) -> dict:
    row = conn.execute(
        _REQUEST_SELECT + " WHERE r.id = ? AND d.owner_id = ?", (request_id, owner_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"tag request {request_id}")
    return _request_row(row, False)


def list_tags(conn: Connection, owner_id: int) -> list[dict]:
    rows = conn.execute(
        "SELECT t.tag_id, t.status, t.dog_id, d.name AS dog_name, t.activated_at, "
        "t.deactivated_at, t.deactivated_reason, t.replaced_by, "
        "s.lat, s.lon, s.batt, s.last_ts, s.last_seen, s.offline_since, s.low_battery_since "
        "FROM tags t JOIN dogs d ON d.id = t.dog_id LEFT JOIN tag_state s ON s.tag_id = t.tag_id "
        "WHERE d.owner_id = ? AND t.status IN ('shipped','active','inactive') ORDER BY t.tag_id",
        (owner_id,),
    )
    return [dict(r) for r in rows]


def tag_dog_names(conn: Connection, owner_id: int) -> dict[str, str]:
    """Tag serial -> dog name, for every tag of the owner's dogs whatever its status."""
    rows = conn.execute(
        "SELECT t.tag_id, d.name FROM tags t JOIN dogs d ON d.id = t.dog_id WHERE d.owner_id = ?",
        (owner_id,),
    )
    return {r["tag_id"]: r["name"] for r in rows}


# -- operators: tag requests -------------------------------------------------------------


def all_tag_requests(conn: Connection, status: str | None = None) -> list[dict]:
    sql, args = _REQUEST_SELECT, list[object]()
    if status:
        sql += " WHERE COALESCE(t.status, r.status) = ?"
        args.append(status)
    rows = conn.execute(sql + " ORDER BY r.id DESC LIMIT 500", args)
    return [_request_row(r, True) for r in rows]


def new_serial() -> str:
    return "DT-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


def new_activation_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def approve_request(
    conn: Connection, request_id: int, actor: str, serial: str | None = None
) -> dict:
    """Assign a serial and an activation code (returned once, to print with the tag)."""
    serial = check_tag_id(serial.strip()) if serial else new_serial()
    code = new_activation_code()
    now = time.time()
    with transaction(conn):
        row = conn.execute(
            "SELECT * FROM tag_requests WHERE id = ?" + for_update(conn), (request_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"tag request {request_id}")
        if row["status"] != "requested":
            raise AccountError(
                "tag_life.request_decided",
                request_id=request_id,
                status=AccountError(f"tag_status.{row['status']}"),
            )
        if conn.execute("SELECT 1 FROM tags WHERE tag_id = ?", (serial,)).fetchone():
            raise AccountError("tag_life.serial_in_use", serial=serial)
        conn.execute(
            "INSERT INTO tags(tag_id, dog_id, status, activation_code, postal_address, created_at) "
            "VALUES (?, ?, 'approved', ?, ?, ?)",
            (serial, row["dog_id"], HASHER.hash(code.replace("-", "")), row["postal_address"], now),
        )
        conn.execute(
            "UPDATE tag_requests SET status = 'approved', tag_id = ?, decided_at = ?, "
            "decided_by = ? WHERE id = ?",
            (serial, now, actor, request_id),
        )
        record_tag_event(conn, "approve", actor, request_id=request_id, tag_id=serial)
    return {
        "request_id": request_id,
        "tag_id": serial,
        "status": "approved",
        "activation_code": code,
    }


def record_tag_event(
    conn: Connection,
    action: str,
    actor: str,
    *,
    request_id: int | None = None,
    tag_id: str | None = None,
    detail: dict | None = None,
) -> None:
    """One line of a tag's life (tag_events): who did what to which request or tag, when.
    Called inside the transaction that made the change."""
    conn.execute(
        "INSERT INTO tag_events(at, request_id, tag_id, action, actor, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (time.time(), request_id, tag_id, action, actor, json.dumps(detail or {})),
    )


def ship_request(conn: Connection, request_id: int, actor: str = "operator") -> dict:
    with transaction(conn):
        row = conn.execute("SELECT tag_id FROM tag_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"tag request {request_id}")
        changed = conn.execute(
            "UPDATE tags SET status = 'shipped' WHERE tag_id = ? AND status = 'approved'",
            (row["tag_id"],),
        ).rowcount
        if not changed:
            raise AccountError("tag_life.not_waiting_to_ship", request_id=request_id)
        record_tag_event(conn, "ship", actor, request_id=request_id, tag_id=row["tag_id"])
    return {"request_id": request_id, "tag_id": row["tag_id"], "status": "shipped"}
