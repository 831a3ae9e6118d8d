"""`smartcity-iot tags|alerts|rejects|users`: the registry, the stored alerts, the
rejects and the console's accounts, read and written from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from .config import Settings
from .model import Alert
from .tables import print_table


def users(args: argparse.Namespace, settings: Settings) -> int:
    from .store import credentials, users
    from .store.database import connect
    from .store.errors import AccountError

    conn = connect(settings.database)
    if args.users_command == "tag-passwords":
        from .store.broker_users import reserved_names

        print(credentials.mosquitto_password_file(conn, reserved_names(settings)), end="")
        return 0
    try:
        stdin = args.password_file == "-"
        source = sys.stdin if stdin else open(args.password_file, encoding="utf-8")  # noqa: SIM115
        with source:
            password = source.readline().rstrip("\r\n")
    except OSError as exc:
        print(
            f"smartcity-iot: error: cannot read --password-file {args.password_file}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return 2
    try:
        user = users.create_operator(conn, args.name, password, args.display_name)
    except AccountError as exc:
        print(f"smartcity-iot: error: {exc}", file=sys.stderr)
        return 2
    print(f"operator {user.login} created (user #{user.id}); log in at the web console")
    return 0


def tags(args: argparse.Namespace, settings: Settings) -> int:
    from .store import registry
    from .store.broker_users import BrokerUserError, check_device_user, reserved_names
    from .store.database import connect

    conn = connect(settings.database)
    if args.tags_command == "register":
        try:
            check_device_user(args.tag_id, reserved_names(settings))  # one broker namespace
            result = registry.register_active_tag(
                conn, args.tag_id, args.dog, args.owner, args.phone
            )
        except (registry.RegistryError, BrokerUserError) as exc:
            print(f"smartcity-iot: error: {exc}", file=sys.stderr)
            return 2
        print(
            f"tag {result['tag_id']} active for dog #{result['dog_id']} "
            f"of owner #{result['owner_id']}"
        )
        return 0
    rows = registry.list_registry(conn)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print("no tags registered")
    else:
        print_table(
            ("TAG", "STATUS", "DOG", "OWNER", "PHONE"),
            ((r["tag_id"], r["status"], r["dog"], r["owner"], r["phone"]) for r in rows),
        )
    return 0


def alerts(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from .store.alerts import list_alerts
    from .store.database import connect

    alerts = list_alerts(connect(settings.database), limit=args.limit, kind=args.kind)
    if args.json:
        print(json.dumps([asdict(a) for a in alerts], ensure_ascii=False, indent=2))
        return 0
    if not alerts:
        print("no alerts stored" + (f" of kind {args.kind}" if args.kind else ""))
        return 0
    tz = settings.tz

    def row(a: Alert) -> tuple[object, ...]:
        start = datetime.fromtimestamp(a.started_at, tz).strftime("%Y-%m-%d %H:%M:%S")
        end = datetime.fromtimestamp(a.ended_at, tz).strftime("%H:%M:%S") if a.ended_at else "open"
        where = a.zone_name or a.zone_id
        return (start, end, a.kind, a.device_id, where, a.grid, a.escalation, a.status)

    print_table(
        ("STARTED", "ENDED", "KIND", "DEVICE", "WHERE", "GRID", "STEP", "STATUS"),
        (row(a) for a in alerts),
    )
    return 0


def rejects(args: argparse.Namespace, settings: Settings) -> int:
    from .store import deadletters
    from .store.database import connect

    conn = connect(settings.database)
    counts = deadletters.counts(conn)
    print("rejects by reason: " + (", ".join(f"{r} {n}" for r, n in counts.items()) or "none"))
    recent = deadletters.recent(conn, args.limit)
    if recent:
        print_table(
            ("RECEIVED", "REASON", "TOPIC", "BYTES", "DETAIL"),
            (
                (
                    datetime.fromtimestamp(r["received_at"], settings.tz).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                    r["reason"],
                    r["topic"],
                    r["size"],
                    r["detail"],
                )
                for r in recent
            ),
            right=(3,),
        )
    return 0
