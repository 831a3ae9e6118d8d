"""Camera frames to vehicles at rest: decoding, the scene model, detectors, the tracker,
evidence."""
