"""The camera path's plate stage: the plate of each vehicle at rest on the sidewalk,
read on a few frames of its stop (not on every frame, and no more once the vote is
settled), voted (rules/plate_vote.py), with the best close-up kept as evidence.
Listed in pipeline/paths.py."""

from __future__ import annotations

from ..rules.plate_vote import PlateVotes
from ..vision.closeup import save_closeup
from ..vision.frame import decode_full
from ..vision.track import Box
from .alerting import ParkingAlerts
from .camera_stages import CameraContext, CameraState, Frame, full_size

READ_EVERY_S = 10.0  # capture seconds between reads of one stop: a parked plate is still
MAX_ATTEMPTS = 6  # reads per unread stop before its dwell; one more when the violation opens
PAD = 0.1  # share of the vehicle's box added around it: the plate sits at its edge


def read_plates(ctx: CameraContext, frame: Frame) -> None:
    """Read the stops that are due; a changed verdict of an open violation updates it."""
    cam: CameraState = frame.cam
    assert frame.events is not None and frame.msg is not None
    for t in frame.events.left:
        cam.plates.pop(t.id, None)
        cam.plate_photos.pop(t.id, None)
    opening = {t.id for t, _, _ in frame.opened}
    due = []
    for t in frame.events.came_to_rest + frame.events.still_at_rest:
        stop = cam.stops.get(t.id)
        if stop is None or not stop.on_sidewalk:
            continue
        votes = cam.plates.setdefault(t.id, PlateVotes())
        if votes.verdict(ctx.plate_min_conf).status == "read":
            continue  # settled: a parked car's plate does not change
        if t.id in opening or (
            votes.attempts < MAX_ATTEMPTS
            and (votes.last_at is None or frame.ts - votes.last_at >= READ_EVERY_S)
        ):
            due.append((t, stop, votes))
    if not due:
        return
    image = decode_full(frame.msg.payload)
    min_conf = ctx.plate_min_conf
    for t, stop, votes in due:
        region = _padded(full_size(t.anchor or t.box), image.shape[1], image.shape[0])
        reads = ctx.plate_reader.read(image, region)
        if not reads:
            votes.missed(frame.ts)
            continue
        best = reads[0]
        before = votes.verdict(min_conf)
        best_so_far = max((conf for _, _, conf in votes.reads), default=-1.0)
        votes.add(best.plate, best.candidate, best.conf, frame.ts)
        aid = ParkingAlerts.alert_id(cam.camera, stop)
        photo = None
        if best.conf > best_so_far:
            camera_id = cam.camera.id
            photo = save_closeup(
                ctx.evidence, camera_id, aid, image, best.box, frame.ts, best.candidate, best.conf
            )
            cam.plate_photos[t.id] = photo
        if stop.violation_at is None or t.id in opening:
            continue  # the alert stage builds a new violation with the votes so far
        after = votes.verdict(min_conf)
        if after != before or photo is not None:
            updated = ctx.parking.reread(aid, after, photo, frame.now)
            if updated is not None:
                frame.pending.append(updated)


def _padded(box: Box, width: int, height: int) -> Box:
    x, y, w, h = box
    px, py = int(w * PAD), int(h * PAD)
    x0, y0 = max(x - px, 0), max(y - py, 0)
    x1, y1 = min(x + w + px, width), min(y + h + py, height)
    return (x0, y0, x1 - x0, y1 - y0)
