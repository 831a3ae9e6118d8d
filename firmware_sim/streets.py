"""The district's streets as the simulators know them, written once as a GeoJSON layer for
the console's map (`geofences/streets/`): the road beside each sidewalk zone, named after
it, and the right-angled streets the patrol units drive between those zones.

The tag simulator walks dogs on a grid around blocked zones, not on streets, so the patrol
simulator's loops are the district's street network. Regenerate after changing the
sidewalk zones:

    python -m firmware_sim.streets geofences geofences/streets/kecheng-streets.geojson
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

from .patrol import PatrolDistrict, SidewalkZone, UnitConfig, build_route

LANE_M = 4.0  # a road's centre line lies this far beyond its sidewalk's kerb
BEYOND_M = 60.0  # a named road runs on past both ends of its sidewalk zone
SAME_STREET_M = 6.0  # a connecting street this close to a named road is that road
_SIDEWALK_NAME = re.compile(r"^(.+?)[东南西北]侧人行道")


def street_name(zone_name: str) -> str | None:
    """府山路东侧人行道 -> 府山路: the road a sidewalk zone's name says it lines."""
    m = _SIDEWALK_NAME.match(zone_name)
    return m.group(1) if m else None


def _road(z: SidewalkZone) -> LineString:
    n = np.array([z.nx, z.ny]) * (z.width / 2 + LANE_M)
    d = np.array([z.dx, z.dy])
    a = np.array([z.ax, z.ay]) + n - d * BEYOND_M
    return LineString([a, a + d * (z.length + 2 * BEYOND_M)])


def _connectors(district: PatrolDistrict) -> BaseGeometry:
    """The street legs of a loop through every pair of neighbouring zones of the tour."""
    unit = UnitConfig("streets", "", 1, 4.0, 1280, 720)
    tour = district.tour()
    legs = []
    for k in range(len(tour)):
        beat = [tour[k], tour[(k + 1) % len(tour)]] if len(tour) > 1 else tour
        for leg in build_route(district, beat, unit, 5.5, 4.0).legs:
            if leg.kind == "street":
                a = np.array([leg.x0, leg.y0])
                legs.append(LineString([a, a + np.array([leg.hx, leg.hy]) * leg.length]))
    return shapely.line_merge(shapely.union_all(legs)) if legs else MultiLineString()


def streets_geojson(zones_dir: str | Path) -> dict:
    """The streets of the sidewalk zones in `zones_dir/*.geojson` as a FeatureCollection
    of LineStrings with properties id, name (null for an unnamed street) and kind
    (`road` beside a sidewalk zone, `street` between them)."""
    district = PatrolDistrict(zones_dir)
    proj = district.projection
    roads: dict[str, list[LineString]] = {}
    for z in sorted(district.zones.values(), key=lambda z: z.id):
        name = street_name(_zone_name(zones_dir, z.id)) or z.id
        roads.setdefault(name, []).append(_road(z))
    named = {name: shapely.line_merge(shapely.union_all(lines)) for name, lines in roads.items()}
    taken = shapely.union_all(list(named.values())).buffer(SAME_STREET_M)
    others = shapely.difference(_connectors(district), taken)
    features: list[dict] = []

    def add(geom: BaseGeometry, name: str | None, kind: str) -> None:
        for line in getattr(geom, "geoms", [geom]):
            if line.is_empty or line.length < 1.0:
                continue
            lon, lat = proj.to_lonlat(*np.asarray(line.coords).T)
            coords = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(lon, lat)]
            features.append(
                {
                    "type": "Feature",
                    "properties": {"id": f"st-{len(features) + 1:02d}", "name": name, "kind": kind},
                    "geometry": {"type": "LineString", "coordinates": coords},
                }
            )

    for name, geom in named.items():
        add(geom, name, "road")
    add(others, None, "street")
    return {"type": "FeatureCollection", "features": features}


def _zone_name(zones_dir: str | Path, zone_id: str) -> str:
    for path in sorted(Path(zones_dir).glob("*.geojson")):
        for f in json.loads(path.read_text(encoding="utf-8")).get("features", []):
            props = f.get("properties") or {}
            if props.get("id") == zone_id:
                return str(props.get("name") or "")
    return ""


def dumps(collection: dict) -> str:
    """One feature a line: small diffs when the zones change."""
    lines = [json.dumps(f, ensure_ascii=False) for f in collection["features"]]
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("zones", type=Path, help="the zone directory (its *.geojson)")
    p.add_argument("out", type=Path, help="the streets file to write")
    args = p.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    streets = streets_geojson(args.zones)
    args.out.write_text(dumps(streets), encoding="utf-8")
    print(f"{args.out}: {len(streets['features'])} streets")


if __name__ == "__main__":
    main()
