"""How the car cut-outs here were made from their sources (SOURCE.md): a crop around the
car, GrabCut from that rectangle, the mask as the PNG's alpha. Run once; not by tests."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
# name: (source file, car rectangle x, y, w, h in the source's pixels, width to keep)
CARS = {
    "car_red_mga": ("pd_car.jpg", (1110, 760, 3160, 1420), 480),
    "car_white_pickup": ("darknet_dog.jpg", (466, 72, 226, 100), 226),
    "car_silver_rear": ("licenseplate_motion.jpg", (0, 14, 600, 468), 300),
}
# tyres and bumpers GrabCut takes for road (dark, grey): outlined by hand, source pixels
_MGA = [(240, 330), (330, 200), (560, 165), (800, 225), (880, 340), (840, 375), (785, 390),
        (770, 440), (690, 445), (670, 410), (440, 400), (430, 450), (360, 455),
        (245, 400)]  # fmt: skip
EXTRA = {"car_red_mga": [(round(x / 0.2085), round(y / 0.2085)) for x, y in _MGA]}


def cutout(
    image: np.ndarray, rect: tuple[int, int, int, int], width: int, extra: list | None = None
) -> np.ndarray:
    x, y, w, h = rect
    pad = max(4, w // 30)
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    crop = image[y0 : y + h + pad, x0 : x + w + pad].copy()
    scale = width / crop.shape[1]
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    mask = np.zeros(crop.shape[:2], np.uint8)
    inner = (int((x - x0) * scale), int((y - y0) * scale), int(w * scale), int(h * scale))
    inner = (
        max(inner[0], 1),
        max(inner[1], 1),
        min(inner[2], crop.shape[1] - 2 - max(inner[0], 1)),
        min(inner[3], crop.shape[0] - 2 - max(inner[1], 1)),
    )
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(crop, mask, inner, bgd, fgd, 6, cv2.GC_INIT_WITH_RECT)
    alpha = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    # the largest blob only, as its convex hull: windows, chrome and shadowed wheels that
    # GrabCut gave to the background stay car
    n, labels, stats, _ = cv2.connectedComponentsWithStats(alpha)
    if n > 1:
        keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        alpha = np.where(labels == keep, 255, 0).astype(np.uint8)
    if extra:
        poly = np.array([((px - x0) * scale, (py - y0) * scale) for px, py in extra], np.int32)
        cv2.fillPoly(alpha, [poly], 255)
    contours, _ = cv2.findContours(alpha, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.vstack(contours))
    cv2.fillConvexPoly(alpha, hull, 255)
    bx, by, bw, bh = cv2.boundingRect(alpha)
    rgba = np.dstack([crop, alpha])[by : by + bh, bx : bx + bw]
    return rgba


def main(source_dir: Path) -> None:
    for name, (src, rect, width) in CARS.items():
        image = cv2.imread(str(source_dir / src))
        assert image is not None, src
        rgba = cutout(image, rect, width, EXTRA.get(name))
        cv2.imwrite(str(HERE / f"{name}.png"), rgba, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        print(name, rgba.shape)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
