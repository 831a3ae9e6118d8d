"""Every device path, its stages in order: reading this tells you the system.

Each stage is a function `(context, work) -> None` with one job; the path's
orchestrator (tags.py, cameras.py, mobile.py) runs them in this order and commits the work
as one transaction. Every alert is made by alerting.py; every write goes through
store/. A new device kind adds a path here and reuses stages."""

from __future__ import annotations

from . import camera_stages as camera
from . import camera_verify, plate_stage
from . import mobile_stages as mobile
from . import tag_stages as tag

# A tag fix (tags/{id}/fix, owntracks/{user}/{device}), a batch of them per transaction.
TAG_PATH = (
    tag.decode,  # payload -> Fix (ingest/codec.py); bad input rejected and counted
    tag.filter_fixes,  # active tags only, duplicates dropped, late fixes stored aside
    tag.evaluate,  # zone membership of the whole batch at once (geo/index.py)
    tag.incidents,  # dwell, grace, walking windows (rules/dog.py) -> incident alerts
    tag.health,  # low battery, back online (rules/health.py) -> owners' notices
    tag.persist,  # tag states; fixes, alerts and outbox went in as they came
)

# A fixed camera's frame (cameras/{id}/frame), one at a time.
CAMERA_PATH = (
    camera.decode,  # topic, camera file, capture time, JPEG at 1/4 (vision/frame.py)
    camera.detect,  # vehicles in the frame (vision/detect.py, a detector chosen by name)
    camera.track,  # vehicles at rest, since when (vision/track.py)
    camera_verify.verify,  # a stop is a vehicle: unlike the street before it, the same to the end
    camera.park,  # on the sidewalk past its dwell, not exempt (rules/parking.py)
    plate_stage.read_plates,  # a few reads per stop, voted (vision/plates.py, rules/plate_vote)
    camera.photograph,  # evidence photos with box and time (vision/evidence.py)
    camera.alert,  # sidewalk_parking opened / closed (alerting.py)
    camera.persist,  # alerts + camera state in one transaction; the background beside
)

# A mobile patrol unit's frame (cameras/{id}/frame of a `"mobile": true` file), one at a time.
MOBILE_PATH = (
    mobile.decode,  # unit, capture time, position (user properties or EXIF), full-size JPEG
    mobile.locate,  # the vehicle's place beside the unit; its sidewalk zone, loading spot
    mobile.find_plates,  # plates beside a sidewalk zone (vision/plates.py) -> sightings
    mobile.resight,  # the same plate at two captures a dwell apart (rules/resighting.py)
    mobile.photograph,  # both captures and the close-up as evidence; alerts (alerting.py)
    mobile.persist,  # alerts + the rule's state and the units' routes in one transaction
)
