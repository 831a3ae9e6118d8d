"""A parked vehicle's plate from several reads of its stop, as a pure vote.

A wrong plate fines an innocent person, so the vote is cautious: a plate is
`read` only when its best read reaches the confidence threshold, at least two
reads agree on it (when two or more were made), and no other plate reached the
threshold too. Anything less is `unread`, with the best candidate kept for the
operator. Reads are (plate, candidate, conf): `plate` the normalised text when it
is a valid mainland plate (else None), `candidate` the reader's best guess as text."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_READS = 8  # reads kept per stop: enough to outvote a passer-by, bounded in state


@dataclass(frozen=True, slots=True)
class PlateVerdict:
    plate: str | None  # the vehicle's plate when `status` is "read", else None
    conf: float | None  # the confidence behind it (best agreeing read), or the candidate's
    status: str  # "read" | "unread"
    candidate: str | None  # best guess for the operator (= plate when read)


@dataclass(slots=True)
class PlateVotes:
    reads: list[tuple[str | None, str, float]] = field(default_factory=list)
    last_at: float | None = None  # capture time of the last read attempt
    attempts: int = 0

    def add(self, plate: str | None, candidate: str, conf: float, at: float) -> None:
        self.attempts += 1
        self.last_at = at
        if candidate:
            self.reads.append((plate, candidate, conf))
            self.reads.sort(key=lambda r: -r[2])
            del self.reads[MAX_READS:]

    def missed(self, at: float) -> None:
        """An attempt that found no plate (hidden, turned away, too small)."""
        self.attempts += 1
        self.last_at = at

    def verdict(self, min_conf: float) -> PlateVerdict:
        if not self.reads:
            return PlateVerdict(None, None, "unread", None)
        valid: dict[str, list[float]] = {}
        for plate, _, conf in self.reads:
            if plate is not None:
                valid.setdefault(plate, []).append(conf)
        confident = [p for p, confs in valid.items() if max(confs) >= min_conf]
        if len(confident) == 1:
            plate = confident[0]
            confs = valid[plate]
            if len(confs) >= min(2, self.attempts):
                return PlateVerdict(plate, max(confs), "read", plate)
        best = max(self.reads, key=lambda r: (r[0] is not None, r[2]))
        return PlateVerdict(None, best[2], "unread", best[0] or best[1])

    def to_dict(self) -> dict:
        return {
            "reads": [list(r) for r in self.reads],
            "last_at": self.last_at,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, d: dict) -> PlateVotes:
        return cls([tuple(r) for r in d["reads"]], d["last_at"], d["attempts"])  # type: ignore[misc]
