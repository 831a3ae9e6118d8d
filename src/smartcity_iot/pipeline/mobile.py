"""The mobile path's orchestrator (patrol units, SPEC 5.1): one frame through the
stages of pipeline/paths.py, and the rule's state and the units' routes restored at
start, so a stop seen before a restart is still confirmed by a pass after it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import Settings
from ..counters import Counters
from ..geo.cameras import MobileUnit
from ..geo.metric import LocalProjection
from ..geo.places import PlaceIndex
from ..geo.zones import Zone
from ..model import Inbound
from ..store import camera_state
from ..store.database import Connection
from ..store.sinks import Sinks
from ..vision.plates import PlateReader
from .mobile_stages import STATE_KEY, MobileContext, PatrolFrame, UnitState
from .paths import MOBILE_PATH

log = logging.getLogger("smartcity_iot.patrols")


class MobilePipeline(MobileContext):
    def __init__(
        self,
        settings: Settings,
        conn: Connection,
        units: list[MobileUnit],
        zones: list[Zone],
        counters: Counters | None = None,
        on_commit: Callable[[], None] = lambda: None,
        sinks: Sinks | None = None,
        plate_reader: PlateReader | None = None,
        projection: LocalProjection | None = None,
    ) -> None:
        projection = projection or LocalProjection.around([z.geometry for z in zones])
        super().__init__(
            settings,
            conn,
            counters,
            on_commit,
            sinks,
            zones=zones,
            places=PlaceIndex(zones, projection),
            plate_reader=plate_reader,
        )
        self.units = {u.id: UnitState(u) for u in units}
        self._restore()

    def handles(self, topic: str) -> bool:
        levels = topic.split("/")
        return len(levels) == 3 and levels[0] == "cameras" and levels[1] in self.units

    def process(self, msg: Inbound, user_properties: list[tuple[str, str]] | None = None) -> None:
        """Run one frame of a mobile unit through every stage of the mobile path."""
        self.run(MOBILE_PATH, PatrolFrame(msg=msg, properties=user_properties), msg)

    def _restore(self) -> None:
        saved = camera_state.load(self.conn, STATE_KEY)
        if saved is None:
            return
        self.rule.restore(saved.get("rule", {}))
        for uid, u in saved.get("units", {}).items():
            if uid in self.units:
                self.units[uid].last_ts = u["last_ts"]
                self.units[uid].route.extend(u["route"])
        log.info("patrols: restored %d stops", len(self.rule.stops))
