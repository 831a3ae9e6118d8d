"""Small synthetic street scenes for unit tests of the vision stack (the full
camera simulator lives in firmware_sim/cameras.py). Frames are 1280x720 JPEGs."""

from __future__ import annotations

import cv2
import numpy as np

W, H = 1280, 720
SIDEWALK = [[0, 470], [1280, 470], [1280, 720], [0, 720]]


def street(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((H, W, 3), np.float32)
    img[:200] = (90, 100, 110)  # buildings
    img[200:470] = (70, 70, 72)  # road
    img[470:] = (150, 150, 145)  # sidewalk
    for x in range(0, W, 80):  # paving joints
        img[470:, x : x + 2] = (120, 120, 118)
    for y in range(500, H, 60):
        img[y : y + 2, :] = (120, 120, 118)
    img[330:336, ::60] = (220, 220, 220)  # lane marks
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return img


def car(
    img: np.ndarray, x: float, y: float, w: int = 260, h: int = 120, colour=(40, 40, 160)
) -> None:
    x, y = int(x), int(y)
    cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
    cv2.rectangle(
        img, (x + w // 4, y + 15), (x + 3 * w // 4, y + h - 15), (30, 30, 30), -1
    )  # windows/roof
    for wx in (x + 30, x + w - 60):
        cv2.rectangle(img, (wx, y + h - 12), (wx + 30, y + h), (10, 10, 10), -1)


def person(img: np.ndarray, x: float, y: float) -> None:
    x, y = int(x), int(y)
    cv2.rectangle(img, (x, y), (x + 30, y + 95), (60, 90, 200), -1)
    cv2.circle(img, (x + 15, y - 10), 12, (150, 170, 200), -1)


def encode(
    img: np.ndarray, gain: float = 1.0, seed: int = 0, shadow: tuple[int, int] | None = None
) -> bytes:
    rng = np.random.default_rng(seed)
    out = img * gain
    if shadow:  # a soft cloud shadow band over part of the scene
        out[:, shadow[0] : shadow[1]] *= 0.65
    out += rng.normal(0, 4, out.shape)
    ok, data = cv2.imencode(
        ".jpg", np.clip(out, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    assert ok
    return data.tobytes()
