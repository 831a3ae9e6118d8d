"""Owners, dogs and tags. One registry serves the CLI, the web portal and ingestion."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ..i18n import Refusal
from ..model import TAG_ID
from ..phones import PhoneError, normalise_phone
from .database import Connection, Row, chunks, lock, transaction


class RegistryError(Refusal):
    """A registration the operator can fix: a catalogue key (registry.*, phone.*); the
    CLI prints it in English (`str()`), the console in the reader's language."""


@dataclass(frozen=True, slots=True)
class ActiveTag:
    tag_id: str
    party: str  # who answers for the dog's violations: its owner
    dog: str


def check_tag_id(tag_id: str) -> str:
    if not TAG_ID.match(tag_id):
        raise RegistryError("registry.tag_id", tag_id=tag_id[:40])
    return tag_id


def register_active_tag(conn: Connection, tag_id: str, dog: str, owner: str, phone: str) -> dict:
    """Operator/script registration: owner (by phone), dog and an active tag, in one transaction.
    Registering the same tag again for the same dog and phone is a no-op."""
    check_tag_id(tag_id)
    try:  # one phone, one owner (SPEC 8): `139 0000 1111` is the owner of 13900001111
        phone = normalise_phone(phone)
    except PhoneError as exc:
        raise RegistryError("registry.phone", problem=exc) from None
    if not dog.strip() or not owner.strip():
        raise RegistryError("registry.names_empty")
    now = time.time()
    with transaction(conn):
        lock(conn, f"phone:{phone}")  # the owner of a phone is made once, also when parallel
        row = conn.execute("SELECT id FROM owners WHERE phone = ?", (phone,)).fetchone()
        owner_id = (
            row["id"]
            if row
            else conn.execute(
                "INSERT INTO owners(name, phone, created_at) VALUES (?, ?, ?) RETURNING id",
                (owner.strip(), phone, now),
            ).fetchone()[0]
        )
        row = conn.execute(
            "SELECT id FROM dogs WHERE owner_id = ? AND name = ?", (owner_id, dog.strip())
        ).fetchone()
        dog_id = (
            row["id"]
            if row
            else conn.execute(
                "INSERT INTO dogs(owner_id, name, created_at) VALUES (?, ?, ?) RETURNING id",
                (owner_id, dog.strip(), now),
            ).fetchone()[0]
        )
        existing = conn.execute("SELECT dog_id FROM tags WHERE tag_id = ?", (tag_id,)).fetchone()
        if existing and existing["dog_id"] not in (None, dog_id):
            raise RegistryError("registry.tag_taken", tag_id=tag_id)
        conn.execute(
            "INSERT INTO tags(tag_id, dog_id, status, created_at, activated_at) "
            "VALUES (?, ?, 'active', ?, ?) "
            "ON CONFLICT(tag_id) DO UPDATE SET dog_id = excluded.dog_id, status = 'active', "
            "activated_at = COALESCE(tags.activated_at, excluded.activated_at)",
            (tag_id, dog_id, now, now),
        )
    return {"tag_id": tag_id, "owner_id": owner_id, "dog_id": dog_id, "status": "active"}


def active_tags(conn: Connection, among: Iterable[str] | None = None) -> dict[str, ActiveTag]:
    """Active tags with who answers for them: all of them, or only those `among` (a
    worker's batch: a few hundred rows, never the city's million)."""
    sql = (
        "SELECT t.tag_id, d.owner_id, d.name FROM tags t JOIN dogs d ON d.id = t.dog_id "
        "WHERE t.status = 'active'"
    )
    if among is None:
        rows: Iterable[Row] = conn.execute(sql)
    else:
        rows = (
            r
            for ids in chunks(sorted(set(among)))
            for r in conn.execute(f"{sql} AND t.tag_id IN ({','.join('?' * len(ids))})", ids)
        )
    return {r["tag_id"]: ActiveTag(r["tag_id"], f"owner:{r['owner_id']}", r["name"]) for r in rows}


def tag_status(conn: Connection, tag_id: str) -> str | None:
    row = conn.execute("SELECT status FROM tags WHERE tag_id = ?", (tag_id,)).fetchone()
    return row["status"] if row else None


def list_registry(conn: Connection) -> list[dict]:
    """Every tag whatever its status, with its dog and owner when it has them (`tags list`)."""
    rows = conn.execute(
        "SELECT t.tag_id, t.status, d.name AS dog, o.name AS owner, o.phone FROM tags t "
        "LEFT JOIN dogs d ON d.id = t.dog_id LEFT JOIN owners o ON o.id = d.owner_id "
        "ORDER BY t.tag_id"
    )
    return [dict(r) for r in rows]


def active_tag_health(conn: Connection) -> list[dict]:
    """Every active tag with its dog, owner and last reported state (device health)."""
    rows = conn.execute(
        "SELECT t.tag_id, d.name AS dog_name, o.name AS owner_name, o.phone AS owner_phone, "
        "s.lat, s.lon, s.batt, s.last_ts, s.last_seen, s.offline_since, s.low_battery_since "
        "FROM tags t JOIN dogs d ON d.id = t.dog_id JOIN owners o ON o.id = d.owner_id "
        "LEFT JOIN tag_state s ON s.tag_id = t.tag_id WHERE t.status = 'active' ORDER BY t.tag_id"
    )
    return [dict(r) for r in rows]
