"""Plate readers behind one small abstract class, chosen by name like the vehicle detectors:
mainland Chinese plates read from full-resolution frames, offline (SPEC 5)."""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np

from ..model import check_plate, normalise_plate
from .plate_models import (
    Glyphs,
    PlateModelsMissing,
    PlateNets,
    check_files,
    models_dir,
    plate_colour,
)
from .ppocr import INSTALL_HINT as PPOCR_HINT
from .ppocr import PpocrNet, model_path

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True, slots=True)
class PlateRead:
    plate: str | None  # normalised and valid (check_plate passes), else None
    candidate: str  # the reader's best text, normalised (may be invalid)
    conf: float  # 0..1, higher more likely right (HyperlprReader.confidence)
    box: Box  # the plate in the image given to read()
    colour: str | None  # "blue" | "yellow" | "green", or None if unknown


class PlateReader(ABC):
    name: ClassVar[str]
    # The lowest confidence at which this reader made no wrong read on the measured sets
    # (BENCHMARKS.md, "Plate reader"): the default of --plate-min-conf for it.
    min_conf: ClassVar[float] = 1.0
    registry: ClassVar[dict[str, type[PlateReader]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        PlateReader.registry[cls.name] = cls

    @classmethod
    def create(cls, name: str) -> PlateReader:
        """The reader registered as `name`."""
        try:
            return cls.registry[name]()
        except KeyError:
            known = ", ".join(sorted(cls.registry))
            raise ValueError(f"unknown plate reader {name!r} (known: {known})") from None

    @abstractmethod
    def read(
        self, image: np.ndarray, region: Box | None = None, *, once: bool = False
    ) -> list[PlateRead]:
        """Plates in `image` (BGR, full resolution), or only within `region` (x, y, w, h,
        e.g. a parked vehicle's box, padded by the caller), best first. `once`: one
        search only, for callers that read many frames (a patrol unit's)."""


class NoReader(PlateReader):
    """For deployments without the model files: every plate stays unread, for the
    operator to type."""

    name = "none"

    def read(
        self, image: np.ndarray, region: Box | None = None, *, once: bool = False
    ) -> list[PlateRead]:
        return []


class HyperlprReader(PlateReader):
    """HyperLPR's Caffe models (SSD detector, corner refiner, CTC recogniser) run by
    cv2.dnn. The files are checked when the reader is made, so a deployment missing them
    fails at start-up; the networks load on the first read. One lock serialises reads:
    enough for one camera worker, and cv2.dnn nets must not run concurrently anyway."""

    name = "hyperlpr"
    min_conf = 0.8
    MIN_DETECTION = 0.3  # SSD score worth a recognition pass; weak boxes score low anyway
    MAX_SIDE = 1280  # a larger search image is shrunk for the SSD (plates stay large enough)
    MIN_SIDES: tuple[int, ...] = (640,)  # a smaller one is enlarged: the SSD misses plates
    # under ~25 px tall; with more than one side, the next is tried while no plate is read
    ONCE_MIN_SIDE = 320  # `once` reads: regions already cut around a plate-sized patch
    MIN_CHARS = 5  # fewer characters is not a plate (a sign, a grille): not reported
    PADS = (1.7, 1.5, 1.9)  # the crops (times the detected box) each plate is read from

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else models_dir()
        check_files(self.folder)
        self._nets: PlateNets | None = None
        self._lock = threading.Lock()

    def read(
        self, image: np.ndarray, region: Box | None = None, *, once: bool = False
    ) -> list[PlateRead]:
        x0, y0, search = _within(image, region)
        if search.size == 0:
            return []
        with self._lock:
            if self._nets is None:
                self._nets = PlateNets(self.folder)
            sides = (self.ONCE_MIN_SIDE,) if once else self.MIN_SIDES
            return self._read(self._nets, search, x0, y0, sides)

    def _read(
        self, nets: PlateNets, search: np.ndarray, x0: int, y0: int, sides: tuple[int, ...]
    ) -> list[PlateRead]:
        reads: list[PlateRead] = []
        for min_side in sides:
            reads = self._read_at(nets, search, x0, y0, min_side)
            if any(r.plate for r in reads):
                break
        return reads

    def _recognise(self, nets: PlateNets, flats: list[np.ndarray]) -> list[Glyphs]:
        return [nets.recognise(flat) for flat in flats]

    def _read_at(
        self, nets: PlateNets, search: np.ndarray, x0: int, y0: int, min_side: int
    ) -> list[PlateRead]:
        side = max(search.shape[:2])
        up = max(1.0, min_side / side)
        if up > 1.0:  # a small region: detect and rectify enlarged, as the SSD needs
            search = cv2.resize(search, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
        down = min(1.0, self.MAX_SIDE / side)
        small = search if down == 1.0 else cv2.resize(search, None, fx=down, fy=down)
        reads: list[PlateRead] = []
        for _, box in nets.detect(small, self.MIN_DETECTION):
            full = box / down  # rectify at full resolution: the recogniser needs the detail
            flats = [nets.rectify(search, full, pad) for pad in self.PADS]
            text, conf = self.confidence(self._recognise(nets, flats))
            candidate = normalise_plate(text)
            if len(candidate) < self.MIN_CHARS:
                continue
            try:
                plate: str | None = check_plate(candidate)
            except ValueError:
                plate = None
            x1, y1, x2, y2 = (int(round(v / up)) for v in full)
            box_ = (x0 + x1, y0 + y1, x2 - x1, y2 - y1)
            reads.append(PlateRead(plate, candidate, conf, box_, plate_colour(flats[0])))
        reads.sort(key=lambda r: (r.plate is None, -r.conf))
        return reads

    @staticmethod
    def confidence(views: list[Glyphs]) -> tuple[str, float]:
        """The text most views agree on, and the mean over all views of the chance that
        view is right: the product of its characters' CTC probabilities when it reads that
        text, else 0. A product because one doubtful character makes a plate wrong (a mean
        hides it); several views because a wrong read is unstable: on our photos most
        wrong reads change with the crop, while right ones stay (bench/plates.py)."""
        scores: dict[str, float] = {}
        for view in views:
            chance = math.prod(view.probs) if view.probs else 0.0
            scores[view.text] = scores.get(view.text, 0.0) + chance
        text, total = max(scores.items(), key=lambda kv: kv[1])
        return text, total / len(views)


class PpocrReader(HyperlprReader):
    """HyperLPR's detector and corner refiner, then PP-OCRv4's recogniser (vision/ppocr.py)
    on each flattened view: far better on small plates (bench/plates.py). A region whose
    plate the SSD misses at 640 px is searched again enlarged to 1280 px, where most of
    the small green plates it missed are found."""

    name = "ppocr"
    min_conf = 0.9
    MIN_SIDES = (640, 1280)

    def __init__(self, folder: Path | None = None, model: Path | None = None) -> None:
        super().__init__(folder)
        self.model = model if model is not None else model_path()
        if not self.model.is_file():  # fail at start-up, as HyperlprReader does
            raise PlateModelsMissing(f"{self.model} missing: run `{PPOCR_HINT}`")
        self._net: PpocrNet | None = None

    def _recognise(self, nets: PlateNets, flats: list[np.ndarray]) -> list[Glyphs]:
        if self._net is None:  # under the reader's lock
            self._net = PpocrNet(self.model)
        return self._net.recognise(flats)


def _within(image: np.ndarray, region: Box | None) -> tuple[int, int, np.ndarray]:
    """The part of `image` to search and its offset; `region` is clipped to the image."""
    if region is None:
        return 0, 0, image
    x, y, w, h = region
    ih, iw = image.shape[:2]
    x1, y1 = max(0, x), max(0, y)
    x2, y2 = min(iw, x + w), min(ih, y + h)
    return x1, y1, image[y1 : max(y1, y2), x1 : max(x1, x2)]
