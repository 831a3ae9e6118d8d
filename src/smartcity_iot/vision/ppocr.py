"""PP-OCRv4's Chinese text recogniser (ONNX, shipped in PyPI's rapidocr_onnxruntime wheel)
run by onnxruntime on the plates that plate_models.PlateNets finds and flattens."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np

from ..model import PROVINCES
from .plate_models import Glyphs, PlateModelsMissing, collapse

PACKAGE = "rapidocr_onnxruntime"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}==1.4.4 and onnxruntime"
MODEL = "ch_PP-OCRv4_rec_infer.onnx"  # Apache-2.0, PaddleOCR's weights converted by RapidOCR
ALPHABET = PROVINCES + "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # model.PLATE's characters
HEIGHT = 48  # the model's input height; the width follows the plate's aspect


def model_path() -> Path:
    """The recogniser's file, found without importing the package: its code needs
    opencv-python, which would shadow our headless cv2."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PlateModelsMissing(
            f"PP-OCR's recogniser is not installed: run `{INSTALL_HINT}` "
            "(or choose another plate reader)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL
    if not path.is_file():
        raise PlateModelsMissing(f"{path} missing: run `{INSTALL_HINT}`")
    return path


class PpocrNet:
    """One onnxruntime session on one thread (the camera worker's core). Its classes are
    the blank, the dictionary stored in the model's metadata, then a space, as PaddleOCR
    builds them; only the blank and the plate alphabet are ever chosen."""

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise PlateModelsMissing(f"onnxruntime missing: run `{INSTALL_HINT}`") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.chars = ["", *meta["character"].splitlines(), " "]
        self.allowed = plate_classes(self.chars)

    def recognise(self, plates: list[np.ndarray]) -> list[Glyphs]:
        """The text of each flattened plate (same-sized views run as one batch)."""
        h, w = plates[0].shape[:2]
        width = math.ceil(HEIGHT * w / h)
        batch = np.stack([_blob(cv2.resize(p, (width, HEIGHT))) for p in plates])
        probs = self.session.run(None, {self.session.get_inputs()[0].name: batch})[0]
        return [plate_path(p, self.chars, self.allowed) for p in probs]


def _blob(image: np.ndarray) -> np.ndarray:
    """BGR HxWx3 to 3xHxW in -1..1, PaddleOCR's normalisation (it reads BGR too)."""
    return (image.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0).astype(np.float32)


def plate_classes(chars: list[str]) -> np.ndarray:
    """Indices of the blank (0) and of every character a plate can hold."""
    alphabet = set(ALPHABET)
    return np.array([0] + [i for i, c in enumerate(chars) if i and c in alphabet])


def plate_path(probs: np.ndarray, chars: list[str], allowed: np.ndarray) -> Glyphs:
    """Greedy CTC decoding of steps x classes probabilities (class 0 the blank) over the
    `allowed` classes only: a step whose likeliest class is no plate character ('·', 'O')
    takes the likeliest that is. Each character keeps its unrenormalised probability, so
    mass spent on other classes lowers the confidence instead of vanishing."""
    return collapse(allowed[probs[:, allowed].argmax(axis=1)], probs, chars, blank=0)
