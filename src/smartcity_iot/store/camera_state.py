"""What a fixed camera's path keeps across restarts: the tracker's vehicles at rest
and their stops (a JSON document per camera, in the database) and the detector's
learnt background (a NumPy file beside the database, written atomically)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .database import Connection


def save(conn: Connection, camera_id: str, state: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO camera_state(camera_id, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        (camera_id, json.dumps(state), time.time()),
    )


def load(conn: Connection, camera_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT state FROM camera_state WHERE camera_id = ?", (camera_id,)
    ).fetchone()
    return json.loads(row["state"]) if row else None


def background_path(state_dir: Path, camera_id: str) -> Path:
    return state_dir / f"{camera_id}.background.npy"


def save_background(state_dir: Path, camera_id: str, image: np.ndarray) -> None:
    path = background_path(state_dir, camera_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, image)
    tmp.replace(path)


def load_background(state_dir: Path, camera_id: str) -> np.ndarray | None:
    path = background_path(state_dir, camera_id)
    return np.load(path) if path.exists() else None
