"""The pipeline: every device path's stages, listed in order in paths.py, run by one
thin orchestrator per path (tags.py, cameras.py, mobile.py) over shared scaffolding
(batch.py); alerting.py alone turns rule events into alerts."""

from .cameras import CameraPipeline
from .mobile import MobilePipeline
from .paths import CAMERA_PATH, MOBILE_PATH, TAG_PATH
from .tags import TagPipeline

__all__ = [
    "CAMERA_PATH",
    "MOBILE_PATH",
    "TAG_PATH",
    "CameraPipeline",
    "MobilePipeline",
    "TagPipeline",
]
