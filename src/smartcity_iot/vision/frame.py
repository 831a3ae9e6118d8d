"""Frame decoding: JPEG bytes to the small BGR image the detectors work on. The
bytes are checked as a JPEG first (markers, frame header, size), so OpenCV never
sees an empty payload, another format or a frame it would have to guess about."""

from __future__ import annotations

from dataclasses import dataclass

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


SOI, EOI = b"\xff\xd8", b"\xff\xd9"
_SOF = {m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)}  # frame headers
_STANDALONE = {0x01, *range(0xD0, 0xDA)}  # TEM, RSTn, SOI, EOI: no length follows
_OTHER_FORMATS = (
    (b"\x89PNG", "a PNG image"),
    (b"BM", "a BMP image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"RIFF", "a RIFF file (WebP?)"),
)


@dataclass(frozen=True, slots=True)
class JpegHeader:
    width: int
    height: int


def jpeg_header(data: bytes) -> JpegHeader:
    """The frame header of a JPEG (SOI, well-formed segments up to a SOF, EOI at the
    end), or `Rejected`: `not_jpeg` for anything else, `undecodable_jpeg` for a
    broken or truncated one. Reads a few segment headers, never the image."""
    if not data:
        raise Rejected("not_jpeg", "empty payload: a camera frame is one JPEG image (SPEC 3.3)")
    if data[:2] != SOI:
        kind = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
        raise Rejected(
            "not_jpeg",
            f"{len(data)} bytes of {kind or 'something else'}, not a JPEG (SPEC 3.3: a frame "
            "is one JPEG image, starting FF D8); set the camera to send JPEG",
        )
    if data.rstrip(b"\x00")[-2:] != EOI:
        raise Rejected("undecodable_jpeg", "no end-of-image marker (FF D9): the frame is cut short")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise Rejected("undecodable_jpeg", f"byte {i} should start a JPEG marker (FF)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            raise Rejected("undecodable_jpeg", f"marker FF {marker:02X} before the frame header")
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            raise Rejected("undecodable_jpeg", f"segment FF {marker:02X} at byte {i} overruns")
        if marker in _SOF:
            if length < 8:
                raise Rejected("undecodable_jpeg", "frame header (SOF) too short")
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            if not width or not height:
                raise Rejected("undecodable_jpeg", f"frame header says {width}x{height}")
            return JpegHeader(width, height)
        if marker == 0xDA:
            break  # a scan before any frame header
        i += 2 + length
    raise Rejected("undecodable_jpeg", "no frame header (SOF): not a decodable JPEG")


def decode_small(jpeg: bytes, width: int, height: int, scale: int = SCALE) -> np.ndarray:
    """Decode at 1/scale (libjpeg's DCT scaling: cheaper than a full decode), checking
    the size: from the header first, so a wrong (or huge) frame is never decoded."""
    expect = (-(-height // scale), -(-width // scale))
    header = jpeg_header(jpeg)
    if (-(-header.height // scale), -(-header.width // scale)) != expect:
        raise Rejected(
            "wrong_size",
            f"frame is {header.width}x{header.height}, camera is configured for {width}x{height}",
        )
    image = _imdecode(jpeg, _REDUCED[scale])
    if image.shape[:2] != expect:
        got_h, got_w = image.shape[0] * scale, image.shape[1] * scale
        raise Rejected(
            "wrong_size",
            f"frame is about {got_w}x{got_h}, camera is configured for {width}x{height}",
        )
    return image


def decode_full(jpeg: bytes) -> np.ndarray:
    jpeg_header(jpeg)
    return _imdecode(jpeg, cv2.IMREAD_COLOR)


def _imdecode(jpeg: bytes, flags: int) -> np.ndarray:
    try:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), flags)
    except cv2.error as exc:
        raise Rejected("undecodable_jpeg", f"OpenCV: {str(exc)[:120]}") from None
    if image is None:
        raise Rejected("undecodable_jpeg", f"{len(jpeg)} bytes are not a decodable JPEG")
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
