"""The camera path's verify stage: a stop is a vehicle (vision/verify.py), checked
against the street as it looked before the arrival; and the stops of a camera that
went silent are closed. Listed in pipeline/paths.py."""

from __future__ import annotations

from ..vision.track import TrackEvents
from ..vision.verify import release
from .alerting import ParkingAlerts
from .camera_stages import SILENT_S, CameraContext, CameraState, Frame, alert, park, persist


def verify(ctx: CameraContext, frame: Frame) -> None:
    """A stop is a vehicle (vision/verify.py): a box come to rest on what is only the street
    is no stop, and the street is relearnt there; a stop whose box went back to the street,
    or was taken by something else, ends when it did; a stop hidden in this frame gets no
    photo and no alert now. A camera silent for SILENT_S can no longer vouch for its stops:
    they end where it last saw them (capture time), on its next frame or, if none comes,
    on another camera's frame SILENT_S after the silent one's last arrived."""
    cam: CameraState = frame.cam
    assert frame.events is not None and frame.image is not None and frame.msg is not None
    events = frame.events
    if cam.verified_ts is not None and frame.ts - cam.verified_ts > SILENT_S:
        events = TrackEvents(events.came_to_rest, [], events.left + events.still_at_rest)
        release(cam.tracker, events.left)
        cam.verifier.forget_all()
    cam.verified_ts, cam.heard_at = frame.ts, frame.msg.received_at
    verdict = cam.verifier.check(events, frame.image, cam.detector.snapshot(), frame.ts)
    for t in verdict.phantoms:
        assert t.anchor is not None
        cam.detector.relearn(t.anchor, frame.image)
        frame.counts["stops_not_vehicles"] += 1
    for box in verdict.to_street:
        cam.detector.relearn(box, frame.image)  # no ghost of it, whatever the light did
    for tid, ended in verdict.ended_at.items():
        if tid in cam.stops:
            cam.stops[tid].last_at_rest = ended
    release(
        cam.tracker, verdict.phantoms + [t for t in verdict.events.left if t.id in verdict.ended_at]
    )
    frame.events = verdict.events
    for other in ctx.cameras.values():
        silent = other.heard_at is not None and frame.msg.received_at - other.heard_at > SILENT_S
        if other is not cam and other.stops and silent:
            close_silent(ctx, other)


def close_silent(ctx: CameraContext, cam: CameraState) -> None:
    """End every stop of a camera that stopped sending frames, through the path's own
    park, alert and persist stages, at the capture time it last saw each one."""
    at_rest = [t for t in cam.tracker.tracks if t.at_rest]
    release(cam.tracker, at_rest)
    cam.verifier.forget_all()
    gone = Frame(cam=cam, ts=cam.last_ts or 0.0, events=TrackEvents([], [], at_rest))
    park(ctx, gone)
    for stop, ended in gone.closed:
        if ended is None:
            ctx.evidence.discard(cam.camera.id, ParkingAlerts.alert_id(cam.camera, stop))
    alert(ctx, gone)
    persist(ctx, gone)
