"""Evidence photos: full-resolution frames with the vehicle's box and the capture
time drawn on them, saved under the data directory and referenced from the alert."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2

from .frame import decode_full

Box = tuple[int, int, int, int]


class EvidenceStore:
    def __init__(self, data_dir: Path, tz: ZoneInfo) -> None:
        self.root = Path(data_dir)
        self.tz = tz

    def path(self, camera_id: str, alert_id: str, role: str) -> Path:
        return self.root / "evidence" / camera_id / f"{alert_id}-{role}.jpg"

    def save(
        self,
        camera_id: str,
        alert_id: str,
        role: str,
        jpeg: bytes,
        box: Box,
        ts: float,
        where: str | None = None,
        name: str | None = None,
    ) -> dict:
        """The frame with `box` and a strip naming the camera (or `name`) and time, and
        `where` (a mobile unit's position) when given. The strip holds only ids, numbers
        and the time, in no language: the page captions the role in the reader's."""
        image = decode_full(jpeg)
        x, y, w, h = box
        cv2.rectangle(image, (x, y), (x + w, y + h), (0, 0, 255), 3)
        when = datetime.fromtimestamp(ts, self.tz).strftime("%Y-%m-%d %H:%M:%S %Z")
        label = f"{name or camera_id}  {when}"
        lines = [label] + ([where] if where else [])
        cv2.rectangle(image, (0, 0), (image.shape[1], 34 * len(lines)), (0, 0, 0), -1)
        for i, text in enumerate(lines):
            cv2.putText(image, text, (10, 24 + 34 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                        (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
        path = self.path(camera_id, alert_id, role)
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise RuntimeError("JPEG encoding of evidence failed")
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)  # never a half-written photo
        return {
            "type": "image",
            "role": role,
            "path": str(path.relative_to(self.root)),
            "ts": ts,
            "box": list(box),
        }

    def discard(self, camera_id: str, alert_id: str) -> None:
        for f in (self.root / "evidence" / camera_id).glob(f"{alert_id}-*.jpg"):
            f.unlink(missing_ok=True)
