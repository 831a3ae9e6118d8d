"""The `smartcity-iot` command. Flags and SMARTCITY_* variables come from config.Settings."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic_core import PydanticUndefined

from . import __version__
from .config import Settings, SettingsError, env_name, field_is_common, flag_name, load_settings
from .geo.zones import ZoneFileError
from .model import ALERT_KINDS
from .store.database import DatabaseUnreachable

if TYPE_CHECKING:
    import threading

    from .service import Service

EPILOG = (
    "Every option can also be set as an environment variable SMARTCITY_<NAME>, "
    "e.g. SMARTCITY_MQTT_URL."
)


def _add_settings(parser: argparse.ArgumentParser, common_only: bool) -> None:
    group = parser.add_argument_group("settings" if not common_only else "common settings")
    for name, info in Settings.model_fields.items():
        if common_only and not field_is_common(name):
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = info.default if info.default is not PydanticUndefined else "(see description)"
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        # a Literal setting's values become argparse choices: a typo is refused with the list
        choices = get_args(info.annotation) if get_origin(info.annotation) is Literal else None
        group.add_argument(
            flag_name(name),
            dest=name,
            default=None,
            choices=choices,
            metavar=str(extra.get("metavar", name.split("_")[-1].upper())),
            help=f"{info.description}"
            + (f" ({', '.join(choices)})" if choices else "")
            + f" [{env_name(name)}; default: {default}]",
        )


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    values = {n: getattr(args, n, None) for n in Settings.model_fields}
    values.update({k: v for k, v in overrides.items() if values.get(k) is None})
    settings = load_settings(values)
    # absolute from here on: what is printed, and what a later command is told to pass,
    # is the same folder whatever the working directory
    return settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})


class NoDatabaseError(ValueError):
    """A reading command was pointed at a data dir without a database."""


def _require_database(settings: Settings) -> None:
    """A command that only reads must not create an empty database in a wrong folder
    (and then report that nothing is stored)."""
    if not settings.database_url and not settings.db_path.is_file():
        raise NoDatabaseError(
            f"no database at {settings.db_path} — run `smartcity-iot serve --data-dir DIR` "
            "first, or pass the right --data-dir / SMARTCITY_DATA_DIR"
        )


def _reads_only(args: argparse.Namespace, settings: Settings) -> bool:
    if args.command in ("alerts", "rejects"):
        return True
    if args.command == "tags":
        return bool(args.tags_command == "list")
    if args.command == "users":
        return bool(args.users_command == "tag-passwords")
    if args.command == "history":
        return not settings.influx_url  # with InfluxDB the history is read from there
    return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smartcity-iot",
        description="Smart dog tags and sidewalk-parking cameras "
        "for city urban-management bureaus.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo", help="everything on one machine: broker, service, simulated tags", epilog=EPILOG
    )
    demo.add_argument("--tags", type=int, default=40, help="simulated dog tags (default 40)")
    demo.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    demo.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="simulated seconds per real second (default 60: an hour of walks a minute)",
    )
    demo.add_argument(
        "--duration",
        type=float,
        default=0,
        help="stop after this many real seconds (default: run until Ctrl-C)",
    )
    _add_settings(demo, common_only=False)

    serve = sub.add_parser(
        "serve", help="run the service against an external broker", epilog=EPILOG
    )
    _add_settings(serve, common_only=False)

    check = sub.add_parser(
        "check",
        help="check the zone, camera and notice-text files; every problem in one run",
        epilog=EPILOG,
    )
    _add_settings(check, common_only=False)

    tags = sub.add_parser("tags", help="the tag registry")
    tags_sub = tags.add_subparsers(dest="tags_command", metavar="ACTION", required=True)
    reg = tags_sub.add_parser(
        "register", help="register an active tag (owner identified by phone)", epilog=EPILOG
    )
    reg.add_argument(
        "tag_id", metavar="TAG_ID", help="serial printed on the tag (4-32 of A-Z a-z 0-9 - _)"
    )
    reg.add_argument("--dog", required=True, help="the dog's name")
    reg.add_argument("--owner", required=True, help="the owner's name")
    reg.add_argument(
        "--phone",
        required=True,
        help="the owner's mainland mobile number, e.g. 139 0000 1111 (any spelling): "
        "one phone = one owner",
    )
    _add_settings(reg, common_only=True)
    lst = tags_sub.add_parser("list", help="list registered tags", epilog=EPILOG)
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings(lst, common_only=True)

    alerts = sub.add_parser("alerts", help="list stored alerts, newest first", epilog=EPILOG)
    alerts.add_argument(
        "--json", action="store_true", help="one JSON array (SPEC 3.4 alert objects)"
    )
    alerts.add_argument(
        "--kind",
        choices=ALERT_KINDS,
        metavar="KIND",
        help=f"only this kind: {', '.join(ALERT_KINDS)}",
    )
    alerts.add_argument("--limit", type=int, default=100, help="how many (default 100)")
    _add_settings(alerts, common_only=True)

    rejects = sub.add_parser(
        "rejects", help="rejected input: counts by reason and recent dead letters", epilog=EPILOG
    )
    rejects.add_argument(
        "--limit", type=int, default=20, help="recent dead letters to show (default 20)"
    )
    _add_settings(rejects, common_only=True)

    users = sub.add_parser("users", help="web console accounts")
    users_sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    op = users_sub.add_parser(
        "create-operator", help="create a command-center operator account", epilog=EPILOG
    )
    op.add_argument("name", metavar="NAME", help="the operator's login name")
    op.add_argument(
        "--password-file",
        required=True,
        metavar="FILE",
        help="file whose first line is the password ('-' reads standard input)",
    )
    op.add_argument("--display-name", help="name shown in the console (default NAME)")
    _add_settings(op, common_only=True)
    pw = users_sub.add_parser(
        "tag-passwords", help="Mosquitto password_file lines of every activated tag", epilog=EPILOG
    )
    _add_settings(pw, common_only=True)

    history = sub.add_parser(
        "history", help="tracks and alert statistics (InfluxDB when configured, else embedded)"
    )
    history_sub = history.add_subparsers(dest="history_command", metavar="QUERY", required=True)
    track = history_sub.add_parser("track", help="a dog's track over a time range", epilog=EPILOG)
    track.add_argument("tag_id", metavar="TAG_ID", help="the tag's serial")
    track.add_argument(
        "--from",
        dest="start",
        help="ISO date-time, city time zone unless given (default: 24 h ago)",
    )
    track.add_argument("--to", dest="end", help="ISO date-time (default: now)")
    track.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings(track, common_only=True)
    counts = history_sub.add_parser("counts", help="alerts per day, kind and grid", epilog=EPILOG)
    counts.add_argument(
        "--days", type=int, default=7, help="this many local days up to today (default 7)"
    )
    counts.add_argument("--json", action="store_true", help="machine-readable output")
    _add_settings(counts, common_only=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("transitions", "amqtt"):  # the embedded broker's state machine logs every step
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # inside the try: a reader gone mid-table is a BrokenPipeError here
        return code
    except BrokenPipeError:
        # `... | head` closed the pipe: not an error of ours. Python's documented way:
        # point stdout at devnull so the flush at exit does not raise again, exit 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (SettingsError, ZoneFileError, ValueError, DatabaseUnreachable) as exc:
        print(f"smartcity-iot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args, settings)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "check":
        return _check(settings)
    if _reads_only(args, settings):
        _require_database(settings)
    from . import records_cli

    if args.command == "tags":
        return records_cli.tags(args, settings)
    if args.command == "alerts":
        return records_cli.alerts(args, settings)
    if args.command == "rejects":
        return records_cli.rejects(args, settings)
    if args.command == "users":
        return records_cli.users(args, settings)
    if args.command == "history":
        from .history_cli import run_history

        return run_history(args, settings)
    raise AssertionError(args.command)


def _check(settings: Settings) -> int:
    """What `serve` checks at start, without starting: the city's files and the texts."""
    from .geo.city import CityFilesError, load_city
    from .notify.texts import NoticeTextsError, load_texts

    problems: list[str] = []
    try:
        city = load_city(settings.geofences, settings.tz, settings.dwell_s, settings.grace_s)
    except CityFilesError as exc:
        problems.extend(str(p) for p in exc.problems)
    try:
        load_texts(settings.notice_texts)
    except NoticeTextsError as exc:
        problems.append(str(exc))
    if problems:
        print(
            f"smartcity-iot: error: {len(problems)} problem(s), fix each:\n  "
            + "\n  ".join(problems),
            file=sys.stderr,
        )
        return 2
    print(
        f"ok: {len(city.zones)} zones, {len(city.cameras)} fixed cameras and "
        f"{len(city.units)} patrol units in {settings.geofences}; "
        f"notice texts {settings.notice_texts or 'built in'}"
    )
    return 0


def _serve(settings: Settings) -> int:
    from .ingest.mqtt import display_url
    from .runtime import settle_heap
    from .service import Service, run_forever, stop_on_signals
    from .web.server import WebServer

    service = Service(settings)
    broker = display_url(settings.mqtt_url)
    print(
        f"serving {len(service.zones)} zones from {settings.geofences}; "
        f"data dir {settings.data_dir}; broker {broker}",
        file=sys.stderr,
    )
    stop = stop_on_signals()
    service.start()
    # Fail fast: a service that cannot reach its broker would run with zero counters
    # and look healthy; later outages are the session's to ride out (and log).
    if not _connected(service, stop, settings.mqtt_connect_timeout_s):
        problem = service.session.problem
        engine_down = (  # the MQTT side answered; the engine did not
            service.source is not None
            and not service.source.connected.is_set()
            and service.session.connected.is_set()
        )
        service.stop()
        if stop.is_set():  # Ctrl-C while waiting
            return 130
        if engine_down:
            print(
                f"smartcity-iot: error: cannot reach the engine at "
                f"{display_url(settings.engine_url or '')} "
                f"within {settings.mqtt_connect_timeout_s:g} s.\n  Fix: start the RabbitMQ "
                "cluster, or check --engine-url (user, password, host:port of its nodes).",
                file=sys.stderr,
            )
            return 1
        what = problem.what if problem else "connected, but the broker did not answer in time"
        fix = problem.fix if problem else "check the broker's log and --mqtt-url"
        print(
            f"smartcity-iot: error: cannot reach the MQTT broker at {broker} "
            f"within {settings.mqtt_connect_timeout_s:g} s: {what}.\n  Fix: {fix} "
            "(wait longer with --mqtt-connect-timeout-s).",
            file=sys.stderr,
        )
        return 1
    web = WebServer(settings)
    web.start()
    settle_heap()
    print(f"web console: {web.url}", file=sys.stderr)
    try:
        run_forever(service, stop, started=True)
    finally:
        web.stop()
    return 0


def _connected(service: Service, stop: threading.Event, timeout_s: float) -> bool:
    """Waits for the broker, a fraction of a second at a time so Ctrl-C is not ignored."""
    import time

    deadline = time.monotonic() + timeout_s
    while not service.wait_connected(0.2):
        if stop.is_set() or time.monotonic() >= deadline:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
