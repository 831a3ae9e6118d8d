"""Accuracy-aware membership: in only when the whole circle is inside, out only
when it is wholly outside, otherwise hold."""

import math
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity_iot.geo.index import HOLD, IN, ZoneIndex
from smartcity_iot.geo.metric import LocalProjection
from smartcity_iot.geo.zones import load_zones

from ..support import TEST_ZONES

ZONES = load_zones(TEST_ZONES, ZoneInfo("Asia/Shanghai"))
DOGS = [z for z in ZONES if z.rule == "dogs"]
INDEX = ZoneIndex(DOGS)
SCHOOL = next(i for i, z in enumerate(DOGS) if z.id == "school")
PROJ: LocalProjection = INDEX.projection


def state_of(lon: float, lat: float, r: float, zone: int = SCHOOL) -> int:
    m = INDEX.classify(np.array([lon]), np.array([lat]), np.array([r]))
    hits = {int(z): int(s) for z, s in zip(m.zone, m.state, strict=True)}
    return hits.get(zone, 0)


def test_projection_gives_metres() -> None:
    # 0.001 degree of latitude is about 111 m anywhere.
    x, y = PROJ.to_xy(np.array([118.87, 118.87]), np.array([28.970, 28.971]))
    assert abs((y[1] - y[0]) - 111.2) < 0.5
    assert abs(x[1] - x[0]) < 1e-9


def test_centre_of_school_is_in_and_far_away_is_out() -> None:
    assert state_of(118.871, 28.971, 20) == IN
    assert state_of(118.880, 28.980, 20) == 0


# The school spans lon 118.870-118.872; its west edge is at 118.870.
@settings(max_examples=300)
@given(offset_m=st.floats(-150, 150), r=st.floats(0.5, 120), north_m=st.floats(-80, 80))
def test_membership_follows_the_accuracy_circle(offset_m: float, r: float, north_m: float) -> None:
    """offset_m: signed distance east of the west edge, along the middle of the school."""
    x_edge, y_mid = PROJ.to_xy(118.870, 28.971)
    lon, lat = PROJ.to_lonlat(float(x_edge) + offset_m, float(y_mid) + north_m)
    state = state_of(float(lon), float(lat), r)
    # Distance from the point to the school's boundary (the school is ~195 x 222 m).
    x0, y0 = PROJ.to_xy(118.870, 28.970)
    x1, y1 = PROJ.to_xy(118.872, 28.972)
    px, py = float(x_edge) + offset_m, float(y_mid) + north_m
    inside = x0 < px < x1 and y0 < py < y1
    if inside:
        d = min(px - x0, x1 - px, py - y0, y1 - py)
    else:
        dx, dy = max(x0 - px, 0, px - x1), max(y0 - py, 0, py - y1)
        d = math.hypot(dx, dy)
    if abs(d - r) < 1e-6:
        return  # exactly tangent: either answer is fine
    if d < r:
        assert state == HOLD, "a circle straddling the boundary must hold the previous state"
    else:
        assert state == (IN if inside else 0)


def test_batch_classification_equals_one_by_one() -> None:
    rng = np.random.default_rng(3)
    lon = rng.uniform(118.858, 118.886, 500)
    lat = rng.uniform(28.968, 28.976, 500)
    r = rng.uniform(1, 60, 500)
    batch = INDEX.classify(lon, lat, r)
    together = {
        (int(f), int(z)): int(s) for f, z, s in zip(batch.fix, batch.zone, batch.state, strict=True)
    }
    single = {}
    for i in range(500):
        m = INDEX.classify(lon[i : i + 1], lat[i : i + 1], r[i : i + 1])
        single.update({(i, int(z)): int(s) for z, s in zip(m.zone, m.state, strict=True)})
    assert together == single
    assert any(s == IN for s in together.values()) and any(s == HOLD for s in together.values())
