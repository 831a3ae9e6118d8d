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
