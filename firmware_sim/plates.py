"""Mainland Chinese licence plates for the camera simulator: random valid numbers, and their
images in the real layout and colours (GA 36), drawn with the CJK font WenQuanYi Micro Hei."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # never I or O: they read as 1 and 0
DIGITS = "0123456789"
TAIL = LETTERS + DIGITS
STYLES = ("blue", "yellow", "green")
STYLE_SHARE = {"blue": 0.72, "green": 0.22, "yellow": 0.06}  # of cars on a Quzhou street
PLATE = re.compile(f"^[{PROVINCES}][{LETTERS}](?:[{TAIL}]{{5}}|[DF][{TAIL}]{{5}})$")
_SEPARATORS = dict.fromkeys(map(ord, " ·•・.-"), None)

# What a reader needs (SPEC 5 reads from the frames): below these a plate is not readable.
MIN_CHAR_PX = 14.0  # character height at full resolution
MIN_SQUASH = 0.5  # end face foreshortening: narrower than half its width reads as a smear
DIRTY = 0.4  # from this dirt on, mud covers at least three characters
CHAR_SHARE = 90 / 140  # character height / plate height (GA 36: 90 mm of 140 mm)


@dataclass(frozen=True)
class Style:
    width_mm: float
    char_w: float  # mm, every character 90 mm tall from 25 mm down
    gap: float  # mm between characters
    dot_gap: float  # mm between the 2nd and 3rd character, the separator dot in its middle
    background: tuple[int, int, int]  # BGR; green plates fade to `bottom`
    ink: tuple[int, int, int]
    frame: tuple[int, int, int]
    bottom: tuple[int, int, int] | None = None


LAYOUTS = {
    "blue": Style(440, 45, 12, 34, (160, 72, 12), (245, 245, 245), (245, 245, 245)),
    "yellow": Style(440, 45, 12, 34, (10, 185, 245), (25, 25, 25), (25, 25, 25)),
    "green": Style(480, 43, 9, 49, (238, 248, 236), (25, 25, 25), (60, 110, 40),
                   bottom=(100, 196, 72)),
}  # fmt: skip
MUD = np.array([52, 78, 98], np.float32)  # BGR of dried road mud


@dataclass(frozen=True)
class Plate:
    """A car's plate: the normalised number, its style, and how dirty it is (0 clean .. 1)."""

    text: str
    style: str
    dirt: float = 0.0
    seed: int = 0

    @property
    def printed(self) -> str:
        """As printed, with the separator dot: 浙H·A1234."""
        return f"{self.text[:2]}·{self.text[2:]}"


def normalise(text: str) -> str:
    """Upper case, separators and spaces removed (SPEC 5: 浙H·A1234 -> 浙HA1234)."""
    return text.translate(_SEPARATORS).upper()


def is_valid(text: str, style: str | None = None) -> bool:
    """A mainland plate number (normalised), and of the length its style prints."""
    if not PLATE.match(text):
        return False
    return style is None or (len(text) == 8) == (style == "green")


def random_style(rng: np.random.Generator) -> str:
    p = np.array([STYLE_SHARE[s] for s in STYLES])
    return STYLES[int(rng.choice(len(STYLES), p=p / p.sum()))]


def random_plate(rng: np.random.Generator, style: str) -> str:
    """A valid plate number, mostly of the district (浙H, Quzhou), normalised (no dot)."""
    if style not in LAYOUTS:
        raise ValueError(f"plate style {style!r}: expected one of {', '.join(STYLES)}")
    if rng.random() < 0.62:
        province = "浙"
        # Quzhou's own letter mostly; the rest of Zhejiang (浙A..浙L) drives through too.
        letter = "H" if rng.random() < 0.8 else str(rng.choice(list("ABCDEFGJKL")))
    else:
        others = PROVINCES.replace("浙", "")
        province = others[int(rng.integers(len(others)))]
        letter = LETTERS[int(rng.integers(len(LETTERS)))]
    digits = [DIGITS[int(d)] for d in rng.integers(0, 10, 5)]
    if style == "green":
        # Small new-energy cars: D (electric) or F (hybrid), a letter or digit, four digits.
        second = LETTERS[int(rng.integers(len(LETTERS)))] if rng.random() < 0.3 else digits[4]
        tail = ("D" if rng.random() < 0.7 else "F") + second + "".join(digits[:4])
    else:
        # Real serials are mostly digits with at most two letters.
        k = int(rng.choice(3, p=[0.55, 0.35, 0.10]))
        for i in rng.choice(5, size=k, replace=False):
            digits[int(i)] = LETTERS[int(rng.integers(len(LETTERS)))]
        tail = "".join(digits)
    return province + letter + tail


def plate_width(style: str, height_px: float) -> int:
    return max(1, round(height_px * LAYOUTS[style].width_mm / 140))


def plate_issue(char_px: float, squash: float, dirt: float) -> str | None:
    """Why a reader could not read the plate (None: it can), occlusion aside."""
    if char_px < MIN_CHAR_PX:
        return "small"
    if squash < MIN_SQUASH:
        return "oblique"
    if dirt >= DIRTY:
        return "dirty"
    return None


def plate_image(text: str, style: str, height_px: int, dirt: float = 0.0,
                seed: int = 0) -> np.ndarray:  # fmt: skip
    """The plate seen face-on, BGR, `height_px` tall (width from the style's 440/480 mm)."""
    plate = normalise(text)
    if style not in LAYOUTS:
        raise ValueError(f"plate style {style!r}: expected one of {', '.join(STYLES)}")
    if not is_valid(plate, style):
        raise ValueError(f"plate {text!r} is not a valid {style} mainland plate")
    if height_px < 2:
        raise ValueError(f"plate height {height_px} px: must be >= 2")
    # Drawn at >= twice the output size, then shrunk: sharp and anti-aliased. Plates on cars
    # are ~15..30 px tall, so 0.5 px/mm keeps drawing a new car's plate to about a millisecond.
    ppm = 0.5 if height_px <= 35 else float(max(1, math.ceil(height_px / 70)))
    master = _master(plate, style, round(float(min(max(dirt, 0.0), 1.0)), 3), int(seed), ppm)
    size = (plate_width(style, height_px), int(height_px))
    return cv2.resize(master, size, interpolation=cv2.INTER_AREA)


# -- drawing ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _font() -> Any:
    try:
        from PIL import ImageFont
    except ImportError as exc:  # pragma: no cover - Pillow is a dependency
        raise RuntimeError(
            "plates need Pillow to draw CJK characters (pip install Pillow)"
        ) from exc
    if not FONT.exists():
        raise RuntimeError(f"{FONT} missing: install Debian's fonts-wqy-microhei")
    return ImageFont.truetype(str(FONT), 200)


@lru_cache(maxsize=128)
def _glyph(ch: str) -> np.ndarray:
    """The character's ink (uint8 alpha), cropped to its bounding box, ~200 px tall."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (320, 320), 0)
    # A stroke emboldens Micro Hei towards the heavy plate typeface.
    ImageDraw.Draw(img).text((160, 160), ch, font=_font(), fill=255, anchor="mm",
                             stroke_width=7, stroke_fill=255)  # fmt: skip
    a = np.asarray(img)
    ys, xs = np.nonzero(a)
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


@lru_cache(maxsize=256)
def _glyph_alpha(ch: str, box_w: float, box_h: int) -> np.ndarray:
    """The glyph fitted to its character box, float32 alpha (h, w, 1)."""
    g = _glyph(ch)
    gh, gw = g.shape
    tw = min(box_w, gw * box_h / gh)  # narrow glyphs (1) keep their shape, wide ones fill the box
    alpha = cv2.resize(g, (max(1, round(tw)), box_h), interpolation=cv2.INTER_AREA)
    return alpha.astype(np.float32)[..., None] * (1 / 255)


def _rounded(h: int, w: int, inset: float, radius: float) -> np.ndarray:
    """Mask of a rounded rectangle `inset` px inside a w x h image."""
    m = np.zeros((h, w), np.uint8)
    a, b = round(inset), round(radius)
    x0, y0, x1, y1 = a, a, w - 1 - a, h - 1 - a
    cv2.rectangle(m, (x0 + b, y0), (x1 - b, y1), 255, -1)
    cv2.rectangle(m, (x0, y0 + b), (x1, y1 - b), 255, -1)
    for cx, cy in ((x0 + b, y0 + b), (x1 - b, y0 + b), (x0 + b, y1 - b), (x1 - b, y1 - b)):
        cv2.circle(m, (cx, cy), b, 255, -1, cv2.LINE_AA)
    return m


def _char_x(style: Style, n: int) -> list[float]:
    """Left edge (mm) of each of n characters, centred on the plate."""
    span = n * style.char_w + (n - 2) * style.gap + style.dot_gap
    x, out = (style.width_mm - span) / 2, []
    for i in range(n):
        out.append(x)
        x += style.char_w + (style.dot_gap if i == 1 else style.gap)
    return out


@lru_cache(maxsize=8)
def _blank(style_name: str, ppm: float) -> tuple[np.ndarray, np.ndarray]:
    """The empty plate (float32 BGR) with its frame, and the mask of its rounded outline."""
    st = LAYOUTS[style_name]
    h, w = round(140 * ppm), round(st.width_mm * ppm)
    if st.bottom is None:
        img = np.empty((h, w, 3), np.float32)
        img[:] = st.background
    else:  # new-energy plates fade from near white at the top to green at the bottom
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None] ** 1.4
        top, bottom = np.array(st.background, np.float32), np.array(st.bottom, np.float32)
        img = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()
    inner = _rounded(h, w, 3.5 * ppm, 7 * ppm)
    frame = (inner > 0) & (_rounded(h, w, 5.5 * ppm, 5.5 * ppm) == 0)
    img[frame] = st.frame
    corner = _rounded(h, w, 0.0, 8 * ppm).astype(np.float32)[..., None] * (1 / 255)
    return img, corner


@lru_cache(maxsize=48)
def _master(text: str, style_name: str, dirt: float, seed: int, ppm: float) -> np.ndarray:
    st = LAYOUTS[style_name]
    blank, corner = _blank(style_name, ppm)
    img = blank.copy()
    ink = np.array(st.ink, np.float32)
    xs = _char_x(st, len(text))
    bw, bh, top = st.char_w * ppm, round(90 * ppm), round(25 * ppm)
    for ch, x0 in zip(text, xs):
        a = _glyph_alpha(ch, bw, bh)
        ax = round(x0 * ppm + (bw - a.shape[1]) / 2)
        roi = img[top : top + bh, ax : ax + a.shape[1]]
        roi += (ink - roi) * a
    dot_x = (xs[1] + st.char_w + st.dot_gap / 2) * ppm
    colour = tuple(float(v) for v in ink)
    cv2.circle(img, (round(dot_x), round(70 * ppm)), round(5 * ppm), colour, -1, cv2.LINE_AA)
    if dirt > 0:
        _add_dirt(img, dirt, seed, [(x0 + st.char_w / 2) * ppm for x0 in xs], st.char_w * ppm)
    # Outside the rounded corners: the dark plate holder behind.
    img = img * corner + np.array([45, 45, 45], np.float32) * (1 - corner)
    return np.clip(img, 0, 255).astype(np.uint8)


def _add_dirt(img: np.ndarray, dirt: float, seed: int, centres: list[float],
              char_w: float) -> None:  # fmt: skip
    """Road grime over the whole plate and mud splashes over some characters."""
    h, w = img.shape[:2]
    rng = np.random.default_rng([seed, 7301])
    field = cv2.resize(rng.uniform(0, 1, (4, 12)).astype(np.float32), (w, h),
                       interpolation=cv2.INTER_CUBIC).clip(0, 1)  # fmt: skip
    grime = (0.5 * dirt * (0.4 + 0.6 * field))[..., None]
    img += (MUD - img) * grime
    n = round(dirt * 8)
    if n == 0:
        return
    # Distinct characters first, so a dirty plate (>= DIRTY) hides at least three of them.
    order = list(rng.permutation(len(centres)))
    splash = np.zeros((h, w), np.uint8)
    for k in range(n):
        cx = centres[int(order[k % len(order)])] + float(rng.uniform(-0.2, 0.2)) * char_w
        cy = h * float(rng.uniform(0.42, 0.6))
        axes = (
            round(char_w * float(rng.uniform(0.55, 0.8))),
            round(h * float(rng.uniform(0.3, 0.4))),
        )
        cv2.ellipse(splash, (round(cx), round(cy)), axes, float(rng.uniform(-30, 30)), 0, 360,
                    255, -1)  # fmt: skip
    blur = max(1.0, char_w / 10)
    a = cv2.GaussianBlur(splash, (0, 0), blur).astype(np.float32) * (
        min(0.97, 0.1 + 1.6 * dirt) / 255
    )
    img += (MUD * 0.85 - img) * a[..., None]
