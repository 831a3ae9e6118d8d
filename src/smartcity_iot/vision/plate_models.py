"""The HyperLPR Caffe networks (SSD plate detector, corner refiner, CTC recogniser) loaded
with cv2.dnn, and the pre- and post-processing around them; vision/plates.py uses them."""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INSTALL_HINT = "pip install --no-deps hyperlpr==0.0.2"
NETS = {  # our name -> the file stem in hyperlpr's models/dnn/
    "detector": "mininet_ssd_v1",
    "refiner": "refinenet",
    "recogniser": "SegmenationFree-Inception",  # (sic)
}
PLATE_W, PLATE_H = 136, 36  # the rectified plate the recogniser reads
_REFINE_W, _REFINE_H = 120, 48  # the refiner's input
_REFINE_SCALE = 3  # the levelled plate's canvas: 3x the refiner's frame
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # RGB, the SSD's training stats
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class PlateModelsMissing(RuntimeError):
    """The model files are not installed (deployments that run without them choose the
    plate reader "none")."""


def models_dir() -> Path:
    """hyperlpr's models/dnn/, found without importing the package: its __init__ loads
    every model at import time and its code needs opencv-python, which would shadow our
    headless cv2."""
    spec = importlib.util.find_spec("hyperlpr")
    if spec is None or not spec.submodule_search_locations:
        raise PlateModelsMissing(
            f"the plate reader's models are not installed: run `{INSTALL_HINT}` "
            "(or choose the plate reader 'none')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "dnn"


def charset(folder: Path) -> list[str]:
    """The recogniser's classes in output order, read as data from hyperlpr/table_chs.py
    (`chars = [...]`); the class after the last is the CTC blank."""
    source = (folder.parents[1] / "table_chs.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "chars" for t in node.targets
        ):
            chars = ast.literal_eval(node.value)
            if isinstance(chars, list) and all(isinstance(c, str) for c in chars):
                return chars
    raise PlateModelsMissing(f"no `chars` list in {folder.parents[1] / 'table_chs.py'}")


def check_files(folder: Path) -> None:
    """PlateModelsMissing naming every absent file and the fix."""
    wanted = [
        folder / f"{stem}.{ext}" for stem in NETS.values() for ext in ("prototxt", "caffemodel")
    ]
    wanted.append(folder.parents[1] / "table_chs.py")
    missing = [str(p) for p in wanted if not p.is_file()]
    if missing:
        raise PlateModelsMissing(
            f"plate reader model files missing ({', '.join(missing)}): run `{INSTALL_HINT}` "
            "(or choose the plate reader 'none')"
        )


@dataclass(frozen=True, slots=True)
class Glyphs:
    text: str  # CTC best path, repeats collapsed and blanks dropped
    probs: tuple[float, ...]  # per emitted character: its best probability over its run


class PlateNets:
    """The three networks, loaded once. Not safe for concurrent calls (cv2.dnn.Net keeps
    per-call state); the reader serialises them."""

    def __init__(self, folder: Path) -> None:
        check_files(folder)
        self.chars = charset(folder)
        nets = {
            name: cv2.dnn.readNetFromCaffe(
                str(folder / f"{stem}.prototxt"), str(folder / f"{stem}.caffemodel")
            )
            for name, stem in NETS.items()
        }
        self.detector, self.refiner, self.recogniser = (
            nets["detector"],
            nets["refiner"],
            nets["recogniser"],
        )

    def detect(self, image: np.ndarray, min_score: float) -> list[tuple[float, np.ndarray]]:
        """(score, [x1, y1, x2, y2] in `image` pixels) of plate-like boxes, best first."""
        h, w = image.shape[:2]
        rgb = image[:, :, ::-1].astype(np.float32) / 255.0
        blob = ((rgb - _IMAGENET_MEAN) / _IMAGENET_STD).transpose(2, 0, 1)[None]
        self.detector.setInput(np.ascontiguousarray(blob))
        out = self.detector.forward()[0, 0]  # rows: image id, class, score, x1, y1, x2, y2
        found = []
        for row in out:
            if row[2] < min_score:
                continue
            box = np.clip(row[3:7] * (w, h, w, h), 0, (w - 1, h - 1, w - 1, h - 1))
            if box[2] - box[0] >= 8 and box[3] - box[1] >= 4:
                found.append((float(row[2]), box))
        found.sort(key=lambda f: -f[0])
        return found

    def rectify(
        self, image: np.ndarray, box: np.ndarray, pad: float = 1.7, scale: float = 1.0
    ) -> np.ndarray:
        """The plate inside `box` warped flat to PLATE_W x PLATE_H times `scale`: a crop
        `pad` times the box at the refiner's aspect, then two corner regressions (the second
        on the first's result, where the plate is larger and level, so its corners come out
        tighter)."""
        crop = _loose_crop(image, box, _REFINE_W / _REFINE_H, pad)
        corners = self._corners(crop)
        s = _REFINE_SCALE
        # where the plate goes: 64x24 about (64, 24) of the refiner's frame, as HyperLPR
        # levels it (the refiner was trained on such crops)
        x1, y1, x2, y2 = 32 * s, 12 * s, 96 * s, 36 * s
        target = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
        affine, _ = cv2.estimateAffine2D(corners, target)
        if affine is None:
            affine = cv2.getAffineTransform(corners[:3], target[:3])
        level = cv2.warpAffine(crop, affine, (_REFINE_W * s, _REFINE_H * s))
        corners = self._corners(level)
        w, h = round(PLATE_W * scale), round(PLATE_H * scale)
        flat = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        warp = cv2.getPerspectiveTransform(corners, flat)
        return cv2.warpPerspective(level, warp, (w, h))

    def _corners(self, image: np.ndarray) -> np.ndarray:
        """Top-left, top-right, bottom-right, bottom-left corners in `image` pixels."""
        h, w = image.shape[:2]
        blob = cv2.dnn.blobFromImage(
            cv2.resize(image, (_REFINE_W, _REFINE_H)), 1 / 128, mean=(127.5, 127.5, 127.5)
        )
        self.refiner.setInput(blob)
        pts = self.refiner.forward("conv6-3").reshape(4, 2) * (w, h)
        return pts.astype(np.float32)

    def recognise(self, plate: np.ndarray) -> Glyphs:
        """The rectified plate's text. The network scans the plate along its height axis,
        hence the transposed 160x40 input; of its 20 steps the first two are dropped,
        as HyperLPR's own decoder does; 18 are enough for 8 characters and the
        blanks between them, so green new-energy plates decode."""
        column = cv2.resize(plate, (160, 40)).transpose(1, 0, 2)
        self.recogniser.setInput(cv2.dnn.blobFromImage(column, 1 / 255.0))
        probs = self.recogniser.forward()[0, :, 2:, 0].T  # steps x classes (softmax)
        return best_path(probs, self.chars)


def best_path(probs: np.ndarray, chars: list[str]) -> Glyphs:
    """Greedy CTC decoding of steps x (len(chars) + 1) probabilities, the last class the
    blank: the likeliest class at each step, runs collapsed, blanks dropped (a blank
    between two equal characters keeps both, as in 浙H·A1133)."""
    return collapse(probs.argmax(axis=1), probs, chars, blank=len(chars))


def collapse(best: np.ndarray, probs: np.ndarray, chars: list[str], blank: int) -> Glyphs:
    """CTC's collapse of the chosen class per step: runs of one class are one character
    (kept at the run's best probability), blanks separate and are dropped."""
    text: list[str] = []
    conf: list[float] = []
    for t, k in enumerate(best):
        if k == blank:
            continue
        if t > 0 and best[t - 1] == k:
            conf[-1] = max(conf[-1], float(probs[t, k]))  # the same run: one character
            continue
        text.append(chars[k])
        conf.append(float(probs[t, k]))
    return Glyphs("".join(text), tuple(conf))


def _loose_crop(image: np.ndarray, box: np.ndarray, aspect: float, pad: float) -> np.ndarray:
    """`box` grown by `pad` about its centre to `aspect` (w/h), edges replicated where it
    leaves the image so the plate stays centred for the refiner."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w = max((x2 - x1) * pad, (y2 - y1) * pad * aspect)
    h = w / aspect
    left, top = round(cx - w / 2), round(cy - h / 2)
    right, bottom = left + max(round(w), 2), top + max(round(h), 2)
    ih, iw = image.shape[:2]
    margins = (max(0, -top), max(0, bottom - ih), max(0, -left), max(0, right - iw))
    crop = image[max(0, top) : min(ih, bottom), max(0, left) : min(iw, right)]
    if any(margins):
        crop = cv2.copyMakeBorder(crop, *margins, cv2.BORDER_REPLICATE)
    return crop


def plate_colour(plate: np.ndarray) -> str | None:
    """blue | yellow | green from the rectified plate's vivid pixels, or None unless they
    cover most of it (the background colour dominates a plate; on dark or washed-out
    plates only the characters are vivid) and one colour holds half of them."""
    hsv = cv2.cvtColor(plate, cv2.COLOR_BGR2HSV)
    hue = hsv[..., 0]
    vivid = (hsv[..., 1] > 70) & (hsv[..., 2] > 60)
    n = int(vivid.sum())
    if n < 0.3 * hue.size:
        return None
    # OpenCV hue is 0..179: yellow ~ 20, new-energy green ~ 75, blue 85 (cyan cast) - 125
    shares = {
        "yellow": np.count_nonzero(vivid & (hue >= 12) & (hue < 38)) / n,
        "green": np.count_nonzero(vivid & (hue >= 38) & (hue < 85)) / n,
        "blue": np.count_nonzero(vivid & (hue >= 85) & (hue < 135)) / n,
    }
    colour, share = max(shares.items(), key=lambda kv: kv[1])
    return colour if share >= 0.5 else None
