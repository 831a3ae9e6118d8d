"""Vehicle detectors behind one small abstract class; each registers itself by
name and is chosen by name (the `detector` setting, or a camera file's `detector`
key), so a DNN detector can sit beside "classical" and callers see only the ABC."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from .scene import SceneModel

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True, slots=True)
class Detections:
    boxes: list[Box]  # vehicles, model pixels
    foreground: np.ndarray  # what differs from the empty street (uint8 0/255), model pixels


class VehicleDetector(ABC):
    name: ClassVar[str]
    registry: ClassVar[dict[str, type[VehicleDetector]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        VehicleDetector.registry[cls.name] = cls

    @classmethod
    def create(cls, name: str, width: int, height: int) -> VehicleDetector:
        """The detector registered as `name`, for frames of width x height pixels."""
        try:
            return cls.registry[name](width, height)
        except KeyError:
            known = ", ".join(sorted(cls.registry))
            raise ValueError(f"unknown vehicle detector {name!r} (known: {known})") from None

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height  # of the camera's full frames

    @abstractmethod
    def detect(self, frame: np.ndarray, ts: float, protect: list[Box]) -> Detections:
        """Vehicles in `frame`; `protect` are boxes of vehicles being timed."""

    def snapshot(self) -> np.ndarray | None:
        """What the detector has learnt that a restart should keep (e.g. the empty
        street), or None when it learns nothing."""
        return None

    def restore(self, snapshot: np.ndarray, ts: float | None) -> None:
        """Resume from a `snapshot` taken at capture time `ts`."""
        return None

    def relearn(self, box: Box, frame: np.ndarray) -> None:
        """What `frame` shows in `box` is the empty street now (a vehicle left)."""
        return None


class ClassicalDetector(VehicleDetector):
    """Background difference, morphology, contours, then size and shape gating in
    image space: vehicles are wide and large; pedestrians and cyclists are small
    and upright. Sizes are fractions of the frame so any resolution works."""

    name = "classical"

    def __init__(
        self,
        width: int,
        height: int,
        min_w: float = 0.085,
        min_h: float = 0.065,
        min_aspect: float = 1.05,
        max_aspect: float = 5.0,
        min_fill: float = 0.35,
    ) -> None:
        super().__init__(width, height)
        self.scene = SceneModel()
        self.min_w, self.min_h = min_w * width, min_h * height
        self.min_aspect, self.max_aspect, self.min_fill = min_aspect, max_aspect, min_fill

    def detect(self, frame: np.ndarray, ts: float, protect: list[Box]) -> Detections:
        mask = self.scene.apply(frame, ts, protect)
        sx = frame.shape[1] / self.width
        sy = frame.shape[0] / self.height
        boxes: list[Box] = []
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            if w < self.min_w * sx or h < self.min_h * sy:
                continue
            if not self.min_aspect <= w / h <= self.max_aspect:
                continue
            if cv2.contourArea(c) < self.min_fill * w * h:
                continue
            boxes.append((x, y, w, h))
        return Detections(boxes, mask)

    def snapshot(self) -> np.ndarray | None:
        return self.scene.background

    def restore(self, snapshot: np.ndarray, ts: float | None) -> None:
        self.scene.restore(snapshot, ts)

    def relearn(self, box: Box, frame: np.ndarray) -> None:
        self.scene.relearn(box, frame)
