"""Command line for the device simulators: `python -m firmware_sim tags|cameras|patrol ...`."""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import cameras as cams
from . import patrol as pat
from .district import DistrictError
from .publisher import Message, PropertiedMessage, parse_mqtt_url, publish_stream
from .tags import TagFleet

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """'2h', '90m', '1h30m', '45s' or plain seconds -> seconds."""
    m = _DURATION.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 2h, 90m, 1h30m or 600")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def parse_start(text: str, tz: str) -> datetime:
    """ISO time with offset, 'now', or '-2h' (now minus a duration)."""
    now = datetime.now(ZoneInfo(tz))
    if text == "now":
        return now
    if text.startswith("-"):
        return now - timedelta(seconds=parse_duration(text[1:]))
    try:
        start = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--start {text!r}: expected e.g. 2026-11-23T06:00:00+08:00, 'now' or '-2h'"
        ) from exc
    return start if start.tzinfo else start.replace(tzinfo=ZoneInfo(tz))


# -- flags every simulator has: the broker, the simulated span, the pace and session


def _add_broker(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883",
                   help="broker, mqtt://[user:pass@]host:port")  # fmt: skip


def _add_span(p: argparse.ArgumentParser, duration: str) -> None:
    p.add_argument("--start", default="now",
                   help="simulated start: ISO time with offset, 'now' or '-2h' "
                        "(now minus 2 h)")  # fmt: skip
    p.add_argument("--duration", default=duration, type=parse_duration,
                   help="simulated span, e.g. 2h, 90m, 1h30m, 600 (seconds)")  # fmt: skip


def _add_session(
    p: argparse.ArgumentParser,
    *,
    speed_help: str,
    items: str,
    protocol_help: str,
    qos_of: str,
    client_id: str,
) -> None:
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help=speed_help)
    pace.add_argument("--rate", type=float, help=f"pace at this many {items} per wall second")
    p.add_argument("--protocol", choices=["5", "3.1.1"], default="5", help=protocol_help)
    p.add_argument("--qos", type=int, choices=[0, 1], default=1, help=f"MQTT QoS of the {qos_of}")
    p.add_argument("--client-id", default=client_id, help="MQTT client id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_sim",
        description="Simulated devices that talk to smartcity-iot only over MQTT.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "tags",
        help="simulate a fleet of smart dog tags",
        description="Simulate dog tags walking the district, publish their fixes (SPEC 3.1/3.2) "
        "and write the staged violations as ground truth.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_broker(p)
    p.add_argument("--geofences", default="geofences", type=Path,
                   help="directory with the zone files *.geojson")  # fmt: skip
    p.add_argument("--tags", type=int, default=50, help="number of tags")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same stream)")
    _add_span(p, duration="2h")
    p.add_argument("--fix-interval", type=float, default=10.0,
                   help="seconds between fixes while walking (120 s at rest)")  # fmt: skip
    p.add_argument("--violation-share", type=float, default=0.3,
                   help="share of walks that stage a violation, 0..1")  # fmt: skip
    p.add_argument("--owntracks-share", type=float, default=0.0,
                   help="share of tags that publish OwnTracks JSON instead, 0..1")  # fmt: skip
    p.add_argument("--timezone", default="Asia/Shanghai", help="city time zone of the schedules")
    _add_session(
        p,
        speed_help="pace on message time: simulated seconds per wall second (60 = 1 h/min)",
        items="messages",
        protocol_help="MQTT protocol",
        qos_of="fixes",
        client_id="firmware-sim-tags",
    )
    p.add_argument("--truth", type=Path, help="write staged violations here (JSON lines)")
    p.add_argument("--fleet", type=Path, help="write the fleet (tag, dog, owner, phone) here")
    p.set_defaults(subparser=p)
    p.add_argument("--dry-run", action="store_true",
                   help="only write --truth/--fleet and print a summary; "
                        "publish nothing")  # fmt: skip
    _add_cameras_parser(sub)
    _add_patrol_parser(sub)
    return parser


def _add_cameras_parser(sub) -> None:
    p = sub.add_parser(
        "cameras",
        help="simulate enforcement cameras watching sidewalks",
        description="Render street scenes from camera files (SPEC 5), publish their JPEG frames "
        "(SPEC 3.3) and write the staged sidewalk stops as ground truth.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--camera", action="append", type=Path, required=True,
                   help="camera file geofences/cameras/*.json; "
                        "repeat for more cameras")  # fmt: skip
    _add_broker(p)
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same frames)")
    _add_span(p, duration="2h")
    p.add_argument("--fps", type=float, default=1.0, help="frames per simulated second per camera")
    p.add_argument("--scenario", choices=list(cams.SCENARIOS), default="mixed",
                   help="which sidewalk stops to stage")  # fmt: skip
    p.add_argument("--timezone", default="Asia/Shanghai", help="city time zone of the hours")
    _add_session(
        p,
        speed_help="pace on capture time: simulated seconds per wall second",
        items="frames",
        protocol_help="MQTT protocol; only 5 carries the capture time",
        qos_of="frames",
        client_id="firmware-sim-cameras",
    )
    p.add_argument("--truth", type=Path, help="write staged sidewalk stops here (JSON lines)")
    p.add_argument("--save-frames", type=Path, metavar="DIR",
                   help="also write a few sample JPEGs per camera "
                        "(at staged stops) here")  # fmt: skip
    p.add_argument("--dry-run", action="store_true",
                   help="only write --truth/--save-frames and print a summary; "
                        "publish nothing")  # fmt: skip
    p.set_defaults(subparser=p)


def _add_patrol_parser(sub) -> None:
    p = sub.add_parser(
        "patrol",
        help="simulate vehicle-mounted patrol units driving past sidewalk zones",
        description='Drive patrol units (camera files with "mobile": true, SPEC 5.1) in loops '
        "past the sidewalk zones of --geofences, each zone on the unit's camera side; publish "
        "their JPEG frames on cameras/{unit}/frame with the unit's fix at capture (SPEC 3.3: "
        "MQTT 5 user properties ts, lat, lon, heading, speed; the JPEG's EXIF GPS as well, for "
        "MQTT 3.1.1) and write the staged parked cars as ground truth. Several --unit share one "
        "street world, so their passes combine.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--unit", action="append", type=Path, required=True,
                   help="unit file geofences/cameras/patrol-*.json; "
                        "repeat for more units")  # fmt: skip
    p.add_argument("--geofences", default="geofences", type=Path,
                   help="directory with the zone files *.geojson (rule: sidewalk, "
                        "loading_spot)")  # fmt: skip
    _add_broker(p)
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same frames)")
    _add_span(p, duration="1h")
    p.add_argument("--fps", type=float, default=2.0, help="frames per simulated second per unit")
    p.add_argument("--scenario", choices=list(pat.SCENARIOS), default="mixed",
                   help="which parked cars to stage "
                        "(max_gap needs a --break of over 1 h)")  # fmt: skip
    p.add_argument("--drive-speed", type=float, default=5.5,
                   help="the units' pace between zones, m/s (5.5 = 20 km/h)")  # fmt: skip
    p.add_argument("--scan-speed", type=float, default=4.0,
                   help="the units' pace along a zone, m/s (4 = 14 km/h)")  # fmt: skip
    p.add_argument("--gps-sigma", type=float, default=1.5, help="GPS error per axis, metres")
    p.add_argument("--stagger", type=parse_duration,
                   help="unit k starts k * this far into its loop, e.g. 3m (default: "
                        "a third of a loop behind the unit before, at a shared zone)")  # fmt: skip
    p.add_argument("--break", dest="breaks", action="append", default=[], metavar="AT+FOR",
                   help="every unit goes off duty (camera off) AT after the start FOR this long, "
                        "e.g. 20m+65m; repeatable")  # fmt: skip
    p.add_argument("--timezone", default="Asia/Shanghai", help="city time zone of the hours")
    _add_session(
        p,
        speed_help="pace on capture time: simulated seconds per wall second",
        items="frames",
        protocol_help="MQTT protocol; only 5 carries the capture time and position as "
        "properties (3.1.1: the position is in the JPEG's EXIF only)",
        qos_of="frames",
        client_id="firmware-sim-patrol",
    )
    p.add_argument("--truth", type=Path, help="write the staged parked cars here (JSON lines)")
    p.add_argument("--save-frames", type=Path, metavar="DIR",
                   help="also write a few sample JPEGs per unit "
                        "(passing staged cars) here")  # fmt: skip
    p.add_argument("--dry-run", action="store_true",
                   help="only write --truth/--save-frames and print a summary; "
                        "publish nothing")  # fmt: skip
    p.set_defaults(subparser=p)


def _progress(stats: dict) -> None:
    end = "\n" if stats.get("final") else ""
    sys.stderr.write(
        f"\rpublished {stats['published']}/{stats['total']}  acked {stats['acked']}  "
        f"failed {stats['failed']}  {stats['rate']:.0f} msg/s   {end}"
    )
    sys.stderr.flush()


def _checked_start(args: argparse.Namespace, parser: argparse.ArgumentParser) -> datetime:
    """The flags both simulators share, checked; returns the simulated start instant."""
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        parser.error(f"--timezone {args.timezone!r} is not a known IANA time zone")
    try:
        start = parse_start(args.start, args.timezone)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    for flag, value in (("--speed", args.speed), ("--rate", args.rate)):
        if value is not None and value <= 0:
            parser.error(f"{flag} {value}: must be positive")
    if not args.dry_run:
        try:
            parse_mqtt_url(args.mqtt_url)
        except ValueError as exc:
            parser.error(str(exc))
    return start


def _publish(
    messages: Iterable[Message | PropertiedMessage], args: argparse.Namespace, **options: Any
) -> int:
    """Publish with the shared flags, report, and turn the outcome into an exit code."""
    try:
        stats = publish_stream(messages, args.mqtt_url, protocol=args.protocol, qos=args.qos,
                               rate=args.rate, speed=args.speed, client_id=args.client_id,
                               progress=_progress, **options)  # fmt: skip
    except ConnectionError as exc:
        print(f"error: {exc} (check --mqtt-url)", file=sys.stderr)
        return 2
    print(f"published {stats['published']}, acked {stats['acked']}, failed {stats['failed']} "
          f"in {stats['seconds']:.1f} s")  # fmt: skip
    return 0 if stats["failed"] == 0 else 1


def run_tags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    start = _checked_start(args, parser)
    for flag, value in (("--violation-share", args.violation_share),
                        ("--owntracks-share", args.owntracks_share)):  # fmt: skip
        if not 0 <= value <= 1:
            parser.error(f"{flag} {value}: must be between 0 and 1")
    if args.tags < 1:
        parser.error(f"--tags {args.tags}: need at least one tag")
    if not args.geofences.is_dir():
        parser.error(f"--geofences {args.geofences}: not a directory")
    try:
        fleet = TagFleet(args.geofences, args.tags, args.seed, start, args.duration,
                         fix_interval_s=args.fix_interval, violation_share=args.violation_share,
                         owntracks_share=args.owntracks_share, tz=args.timezone)  # fmt: skip
    except (DistrictError, ValueError) as exc:
        parser.error(str(exc))
    messages = fleet.messages()
    for path, write in ((args.truth, fleet.write_truth), (args.fleet, fleet.write_fleet)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
    kinds = Counter(f"{v.kind}/{v.case}" for v in fleet.staged())
    print(f"{args.tags} tags, {len(messages)} messages from {start.isoformat()} "
          f"for {args.duration / 3600:.2f} h; {len(fleet.truth())} staged violations"
          + "".join(f"\n  {k}: {n}" for k, n in sorted(kinds.items())))  # fmt: skip
    if args.dry_run:
        return 0
    return _publish(messages, args)


def run_cameras(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    start = _checked_start(args, parser)
    if not 0 < args.fps <= 30:
        parser.error(f"--fps {args.fps}: must be within (0, 30]")
    scenes = []
    for path in args.camera:
        if not path.is_file():
            parser.error(f"--camera {path}: no such file (camera files live in geofences/cameras/)")
        try:
            scenes.append(cams.CameraScene(path, args.seed, start, args.duration, fps=args.fps,
                                           tz=args.timezone, scenario=args.scenario))  # fmt: skip
        except ValueError as exc:  # CameraConfigError names the file and field
            parser.error(f"--camera {path}: {exc}")
    ids = Counter(s.camera_id for s in scenes)
    if dup := [i for i, n in ids.items() if n > 1]:
        parser.error(f"--camera: camera id {dup[0]!r} given twice")
    if args.truth is not None:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        cams.write_truth(args.truth, scenes)
    total = sum(s.frame_count() for s in scenes)
    print(f"{len(scenes)} camera(s), {total} frames from {start.isoformat()} for "
          f"{args.duration / 3600:.2f} h at {args.fps:g} fps")  # fmt: skip
    for s in scenes:
        kinds = Counter(r["case"] for r in s.truth())
        print(f"  {s.camera_id}: {s.frame_count()} frames, {sum(kinds.values())} sidewalk stops, "
              f"{sum(r['violation'] for r in s.truth())} violations"
              + "".join(f"\n    {k}: {n}" for k, n in sorted(kinds.items())))  # fmt: skip
    if args.save_frames is not None:
        args.save_frames.mkdir(parents=True, exist_ok=True)
        for s in scenes:
            stops = s.stops()[:4]
            for ts in [s.t_start] + [(x.arrive + x.leave) / 2 for x in stops]:
                out = args.save_frames / f"{s.camera_id}-{int(ts * 1000)}.jpg"
                out.write_bytes(s.jpeg(ts))
        print(f"sample frames in {args.save_frames}")
    if args.dry_run:
        return 0
    if (why := cams.pacing_warning(args.protocol, args.speed)) is not None:
        print(f"warning: {why}", file=sys.stderr)
    return _publish(
        cams.camera_messages(scenes),
        args,
        total=total,
        ts_property=True,
        queue_limit=cams.FRAME_QUEUE_LIMIT,
    )


def _parse_break(text: str, parser: argparse.ArgumentParser) -> tuple[float, float]:
    at, plus, length = text.partition("+")
    try:
        if not plus:
            raise argparse.ArgumentTypeError("no '+'")
        return parse_duration(at), parse_duration(length)
    except argparse.ArgumentTypeError:
        parser.error(f"--break {text!r}: expected AT+FOR, e.g. 20m+65m")
        raise  # pragma: no cover - parser.error exits


def run_patrol(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    start = _checked_start(args, parser)
    if not 0 < args.fps <= 10:
        parser.error(f"--fps {args.fps}: must be within (0, 10]")
    if not args.geofences.is_dir():
        parser.error(f"--geofences {args.geofences}: not a directory")
    breaks = [_parse_break(b, parser) for b in args.breaks]
    try:
        world = pat.PatrolWorld(args.geofences, args.seed, start, args.duration, fps=args.fps,
                                speed_mps=args.drive_speed, scan_speed_mps=args.scan_speed,
                                gps_sigma_m=args.gps_sigma, scenario=args.scenario,
                                tz=args.timezone)  # fmt: skip
        for k, path in enumerate(args.unit):
            if not path.is_file():
                parser.error(f"--unit {path}: no such file (unit files live in "
                             "geofences/cameras/)")  # fmt: skip
            offset = None if args.stagger is None else k * args.stagger
            world.unit(path, offset_s=offset, breaks=breaks)
    except ValueError as exc:  # PatrolConfigError names the file and field
        parser.error(str(exc))
    if args.truth is not None:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        world.write_truth(args.truth)
    truth = world.truth()
    total = world.frame_count()
    print(f"{len(world.units)} unit(s), {total} frames from {start.isoformat()} for "
          f"{args.duration / 3600:.2f} h at {args.fps:g} fps; {len(truth)} staged parked cars, "
          f"{sum(r['violation'] for r in truth)} violations")  # fmt: skip
    for u in world.units:
        beat = ", ".join(dict.fromkeys(g.zone_id for g in u.route.legs if g.zone_id))
        print(f"  {u.unit_id}: {u.frame_count()} frames, a loop of {u.route.period / 60:.1f} min "
              f"past {beat}")  # fmt: skip
    kinds = Counter(r["case"] + ("" if r["plate_readable"] else f" ({r['plate_issue']})")
                    for r in truth)  # fmt: skip
    for k, n in sorted(kinds.items()):
        print(f"    {k}: {n}")
    if world.unstaged:
        left = Counter(s.case for s in world.unstaged)
        print("  not staged (no fitting pass, hours or break in the span): "
              + ", ".join(f"{k} x{n}" for k, n in sorted(left.items())))  # fmt: skip
    if args.save_frames is not None:
        args.save_frames.mkdir(parents=True, exist_ok=True)
        for u in world.units:
            mine = [r for r in truth if any(p["unit_id"] == u.unit_id for p in r["passes"])]
            for r in mine[:4]:
                ts = [p["ts"] for p in r["passes"] if p["unit_id"] == u.unit_id]
                i = u.index(ts[len(ts) // 2])
                out = args.save_frames / f"{u.unit_id}-{int(u.ts[i] * 1000)}.jpg"
                out.write_bytes(u.jpeg(i))
        print(f"sample frames in {args.save_frames}")
    if args.dry_run:
        return 0
    if (why := cams.pacing_warning(args.protocol, args.speed)) is not None:
        print(f"warning: {why}", file=sys.stderr)
    return _publish(world.messages(), args, total=total, queue_limit=cams.FRAME_QUEUE_LIMIT)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    for i in range(len(argv) - 1):  # let "--start -2h" through: argparse reads "-2h" as a flag
        if argv[i] == "--start" and argv[i + 1].startswith("-"):
            argv[i : i + 2] = [f"--start={argv[i + 1]}", ""]
    args = parser.parse_args([a for a in argv if a != ""])
    if args.command == "tags":
        return run_tags(args, args.subparser)
    if args.command == "cameras":
        return run_cameras(args, args.subparser)
    if args.command == "patrol":
        return run_patrol(args, args.subparser)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
