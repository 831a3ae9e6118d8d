"""One namespace for every broker user: the service's own accounts, the cameras and the
tags all log in to the same Mosquitto, so a tag serial must never be a name another
account already answers to (Mosquitto takes the later line of a password file)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Settings

# The accounts deploy/mosquitto/entrypoint.sh creates from the environment; keep both lists equal.
SERVICE_USERS = ("smartcity-service", "alerts-reader", "sim-tags", "sim-cameras")
# Topic separators and wildcards (a %u in the ACL would match more than itself) and the
# password file's own separator; `$` starts the broker's system topics.
FORBIDDEN_CHARS = "/+#:"


class BrokerUserError(ValueError):
    """The name cannot be a device's broker username (the message says why and what to do)."""


def camera_ids(geofences: Path) -> set[str]:
    """The ids of the camera files: each camera logs in under its id. Only the id is read
    here, so a camera file the service would refuse still reserves its name."""
    ids = set()
    for path in sorted((geofences / "cameras").glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # the camera loader reports a broken file; its name is still its stem
        camera = doc.get("id") if isinstance(doc, dict) else None
        ids.add(camera if isinstance(camera, str) else path.stem)
    return ids


def reserved_names(settings: Settings) -> frozenset[str]:
    """Every broker username that is not a tag's: the service accounts, the service's own
    login when its URL names one, and every camera id."""
    names = set(SERVICE_USERS) | camera_ids(settings.geofences)
    own = urlsplit(settings.mqtt_url).username
    if own:
        names.add(own)
    return frozenset(names)


def check_device_user(name: str, reserved: Collection[str]) -> str:
    """`name` if a tag may log in to the broker under it, else BrokerUserError. Reserved
    names are compared without case so that no serial even looks like another account."""
    if not name or name.startswith("$") or any(c in name for c in FORBIDDEN_CHARS):
        raise BrokerUserError(
            f"serial {name!r} cannot be a broker username: it must not be empty, start with $ "
            f"or contain any of {' '.join(FORBIDDEN_CHARS)}; use 4-32 of A-Z a-z 0-9 - _"
        )
    taken = {r.casefold() for r in reserved}
    if name.casefold() in taken:
        raise BrokerUserError(
            f"serial {name!r} is reserved: the service, the alert readers, the simulators and "
            "every camera log in to the broker under their own names; choose another serial "
            "(or leave it empty for a generated one)"
        )
    return name
