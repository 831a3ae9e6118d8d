"""Frame decoding: JPEG bytes to the small BGR image the detectors work on."""

from __future__ import annotations

import cv2
import numpy as np

from ..model import Rejected

SCALE = 4  # work at 1/4 resolution: 1280x720 -> 320x180, decoded directly at that size
_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode_small(jpeg: bytes, width: int, height: int, scale: int = SCALE) -> np.ndarray:
    """Decode at 1/scale (libjpeg's DCT scaling: cheaper than a full decode), checking the size."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), _REDUCED[scale])
    if image is None:
        raise Rejected("undecodable_jpeg", f"{len(jpeg)} bytes are not a decodable JPEG")
    expect = (-(-height // scale), -(-width // scale))
    if image.shape[:2] != expect:
        got_h, got_w = image.shape[0] * scale, image.shape[1] * scale
        raise Rejected(
            "wrong_size",
            f"frame is about {got_w}x{got_h}, camera is configured for {width}x{height}",
        )
    return image


def decode_full(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise Rejected("undecodable_jpeg", "not a decodable JPEG")
    return image


def exif_position(jpeg: bytes) -> dict[str, float] | None:
    """A mobile unit's position from the JPEG's EXIF GPS block, as dash cameras write it
    (over MQTT 3.1.1 there are no user properties to carry it): lat, lon (WGS 84
    degrees), heading (degrees from true north) and speed (m/s) when present; None
    without a GPS block. Reading the header does not decode the image."""
    from io import BytesIO

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(jpeg)) as img:
            gps = img.getexif().get_ifd(0x8825)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    if 2 not in gps or 4 not in gps:
        return None
    try:
        out = {
            "lat": _degrees(gps[2]) * (-1 if gps.get(1) == "S" else 1),
            "lon": _degrees(gps[4]) * (-1 if gps.get(3) == "W" else 1),
        }
        if 17 in gps:
            out["heading"] = float(gps[17])
        if 13 in gps:
            factor = {"K": 1 / 3.6, "M": 0.44704, "N": 0.514444}.get(str(gps.get(12, "K")), 1 / 3.6)
            out["speed"] = float(gps[13]) * factor
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    return out


def _degrees(dms: object) -> float:
    d, m, s = (float(v) for v in dms)  # type: ignore[attr-defined]
    return d + m / 60 + s / 3600
