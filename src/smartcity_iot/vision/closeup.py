"""The plate close-up of a parked vehicle's evidence: the plate cut from the full
frame, enlarged so an operator can read it, with camera and time on a strip."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from .evidence import EvidenceStore

Box = tuple[int, int, int, int]
WIDTH = 480  # pixels of the saved close-up: a plate is read, not squinted at


def save_closeup(
    store: EvidenceStore,
    camera_id: str,
    alert_id: str,
    image: np.ndarray,
    box: Box,
    ts: float,
    text: str,
    conf: float,
    name: str | None = None,
) -> dict[str, Any]:
    """Save the close-up as `{alert}-plate.jpg`; returns its evidence item."""
    x, y, w, h = box
    mx, my = max(4, w // 6), max(4, h // 2)  # some context: the plate's frame and screws
    y0, y1 = max(y - my, 0), min(y + h + my, image.shape[0])
    x0, x1 = max(x - mx, 0), min(x + w + mx, image.shape[1])
    crop = image[y0:y1, x0:x1]
    scale = WIDTH / max(crop.shape[1], 1)
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    when = datetime.fromtimestamp(ts, store.tz).strftime("%Y-%m-%d %H:%M:%S")
    strip = np.zeros((28, crop.shape[1], 3), np.uint8)
    label = f"{name or camera_id}  {when}  {conf:.0%}"  # no words: read in either language
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.55
    width = cv2.getTextSize(label, font, scale, 1)[0][0]
    scale *= min(1.0, (strip.shape[1] - 12) / width)  # the whole label on the strip, always
    cv2.putText(strip, label, (6, 20), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    path = store.path(camera_id, alert_id, "plate")
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".jpg", np.vstack([strip, crop]), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise RuntimeError("JPEG encoding of the plate close-up failed")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)
    return {
        "type": "image",
        "role": "plate",
        "path": str(path.relative_to(store.root)),
        "ts": ts,
        "box": [int(v) for v in box],
        "text": text,
        "conf": round(float(conf), 3),
    }
