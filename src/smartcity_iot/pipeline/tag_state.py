"""What the tag path remembers of each tag between fixes: its latest fix, health,
incident state per zone, and the recent `seq` numbers that identify re-sends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..model import Fix
from ..rules.dog import ZoneTrack
from ..store import tracks
from ..store.tracks import SEQ_RESEND_WINDOW_S


@dataclass(slots=True)
class TagState:
    tag_id: str
    last_ts: float | None = None
    lat: float | None = None
    lon: float | None = None
    acc: float | None = None
    batt: float | None = None
    last_seen: float | None = None
    zones: dict[str, ZoneTrack] = field(default_factory=dict)
    low_battery_since: float | None = None
    offline_since: float | None = None
    recent_seq: dict[int, int] = field(default_factory=dict)  # seq -> ts_ms, not persisted

    @classmethod
    def load(cls, conn: Any, tag_id: str) -> TagState:
        return cls.load_many(conn, [tag_id])[tag_id]

    @classmethod
    def load_many(cls, conn: Any, tag_ids: Iterable[str]) -> dict[str, TagState]:
        """Every one of `tag_ids`, a tag never seen with an empty state."""
        rows = tracks.load_states(conn, tag_ids)
        return {t: cls._of(t, rows.get(t)) for t in tag_ids}

    @classmethod
    def _of(cls, tag_id: str, row: dict[str, Any] | None) -> TagState:
        if row is None:
            return cls(tag_id)
        zones = {z: ZoneTrack.from_list(v) for z, v in row.pop("zones").items()}
        return cls(tag_id=tag_id, zones=zones, **row)

    def stored(self) -> dict[str, Any]:
        """The plain values the store keeps (recent seqs are re-read from the track)."""
        return {
            "tag_id": self.tag_id,
            "last_ts": self.last_ts,
            "lat": self.lat,
            "lon": self.lon,
            "acc": self.acc,
            "batt": self.batt,
            "last_seen": self.last_seen,
            "zones": {z: t.to_list() for z, t in self.zones.items()},
            "low_battery_since": self.low_battery_since,
            "offline_since": self.offline_since,
        }

    def is_late(self, fix: Fix, horizon: float) -> bool:
        """Not newer than the latest fix, so it may not drive zone state. A latest fix
        dated after `horizon` (its arrival plus the clock tolerance) came from the
        future (stored before the decoder refused such fixes): it judges nothing."""
        if self.last_ts is None or self.last_ts > horizon:
            return False
        # In the store's resolution: two fixes within a millisecond are one instant.
        return fix.ts_ms <= round(self.last_ts * 1000)

    def seq_seen(self, fix: Fix) -> bool:
        """Same seq re-sent within SEQ_RESEND_WINDOW_S of capture time (a counter that
        restarts after a reboot is not a duplicate). In memory for the recent window."""
        if fix.seq is None:
            return False
        seen = self.recent_seq.get(fix.seq)
        return seen is not None and abs(seen - fix.ts_ms) <= SEQ_RESEND_WINDOW_S * 1000

    def remember_seq(self, fix: Fix) -> None:
        if fix.seq is None:
            return
        self.recent_seq[fix.seq] = fix.ts_ms
        if len(self.recent_seq) > 1024:
            horizon = fix.ts_ms - SEQ_RESEND_WINDOW_S * 1000
            self.recent_seq = {q: t for q, t in self.recent_seq.items() if t >= horizon}
