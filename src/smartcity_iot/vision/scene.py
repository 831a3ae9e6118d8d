"""The scene model: a background image of the empty street, and the foreground
that differs from it.

* Light that changes over the day: each frame is normalised by a global gain
  (median brightness against the background's) before differencing, and the
  background follows slowly (time constant `tau_s` of capture time, not frames).
* Shadows and light pools darken or brighten a surface without changing its
  colour or its texture: such pixels are not foreground.
* Sensor noise and JPEG artefacts: blur, a threshold relative to the local
  brightness (contrast falls at night) with a floor, and morphology.
* Vehicles being timed are protected: the background is never updated under
  them, so a parked car is never absorbed, whatever its dwell.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in model pixels


class SceneModel:
    def __init__(
        self,
        tau_s: float = 45.0,
        tau_fg_s: float = 300.0,
        threshold: float = 12.0,
        relative: float = 0.2,
    ) -> None:
        self.tau_s = tau_s
        self.tau_fg_s = tau_fg_s
        self.threshold = threshold  # grey levels, the floor (sensor noise after the blur is ~1-2)
        self.relative = relative  # share of the background's brightness: contrast falls at night
        self.background: np.ndarray | None = None
        self.last_ts: float | None = None
        self.frames = 0
        self.gain = 1.0  # of the last frame against the background

    def apply(self, frame: np.ndarray, ts: float, protect: list[Box]) -> np.ndarray:
        """Foreground mask (uint8 0/255) of `frame`; then learn from it."""
        f = cv2.GaussianBlur(frame, (5, 5), 0).astype(np.float32)
        if self.background is None:
            self.background, self.last_ts = f, ts
            self.frames = 1
            return np.zeros(frame.shape[:2], np.uint8)
        bg = self.background
        keep = np.ones(frame.shape[:2], np.float32)
        for x, y, w, h in protect:
            keep[max(y, 0) : y + h, max(x, 0) : x + w] = 0
        f_gray = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)
        b_gray = cv2.cvtColor(bg, cv2.COLOR_BGR2GRAY)
        sample = keep[::3, ::3] > 0
        gain = float(np.median(f_gray[::3, ::3][sample]) + 1.0) / float(
            np.median(b_gray[::3, ::3][sample]) + 1.0
        )
        self.gain = gain
        fn = f * np.float32(1 / gain)
        fn_gray = f_gray * np.float32(1 / gain)
        diff = _channel_max(cv2.absdiff(fn, bg))
        limit = np.maximum(b_gray * np.float32(self.relative), np.float32(self.threshold))
        fg = (diff > limit) & ~self._shading(fn, bg, fn_gray, b_gray)
        mask = fg.astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        self._learn(fn, mask > 0, keep, ts)
        return mask

    def _shading(
        self, fn: np.ndarray, bg: np.ndarray, f_gray: np.ndarray, b_gray: np.ndarray
    ) -> np.ndarray:
        """Pixels only darkened or brightened (shadow, light pool): same colour, same texture."""
        ratio = (f_gray + 1) / (b_gray + 1)
        chroma_f = fn / (_channel_sum(fn) + 30)[..., None]
        chroma_b = bg / (_channel_sum(bg) + 30)[..., None]
        same_colour = _channel_max(cv2.absdiff(chroma_f, chroma_b)) < 0.04
        # texture: the local structure (Laplacian) scaled by the ratio still matches the
        # background's
        gf = cv2.Laplacian(f_gray, cv2.CV_32F, ksize=3)
        gb = cv2.Laplacian(b_gray, cv2.CV_32F, ksize=3) * ratio
        same_texture = cv2.blur(cv2.absdiff(gf, gb), (5, 5)) < 10
        return (ratio > 0.3) & (ratio < 2.5) & same_colour & same_texture

    def _learn(self, fn: np.ndarray, fg: np.ndarray, keep: np.ndarray, ts: float) -> None:
        assert self.background is not None
        dt = max(0.0, ts - (self.last_ts or ts))
        self.last_ts = max(ts, self.last_ts or ts)
        self.frames += 1
        warm = self.frames < 10  # learn fast while the model is young
        a_bg = 0.3 if warm else 1 - math.exp(-dt / self.tau_s)
        a_fg = 0.05 if warm else 1 - math.exp(-dt / self.tau_fg_s)
        rate = np.where(fg, np.float32(a_fg), np.float32(a_bg)) * keep
        self.background += cv2.merge([rate, rate, rate]) * (fn - self.background)

    def relearn(self, box: Box, frame: np.ndarray) -> None:
        """The background under `box` becomes what the frame shows there now: the street
        came back (a vehicle gone, a ghost of old light), so it must not stay foreground."""
        if self.background is None:
            return
        x, y, w, h = box
        x0, y0 = max(x, 0), max(y, 0)
        f = cv2.GaussianBlur(frame, (5, 5), 0).astype(np.float32) * np.float32(1 / self.gain)
        self.background[y0 : y + h, x0 : x + w] = f[y0 : y + h, x0 : x + w]

    def restore(self, background: np.ndarray, ts: float | None) -> None:
        """Resume from a saved background as a warmed-up model (after a restart)."""
        self.background = background
        self.last_ts, self.frames = ts, 100


def _channel_max(image: np.ndarray) -> np.ndarray:
    b, g, r = cv2.split(image)
    return cv2.max(cv2.max(b, g), r)


def _channel_sum(image: np.ndarray) -> np.ndarray:
    b, g, r = cv2.split(image)
    return b + g + r
