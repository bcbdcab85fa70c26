"""Tracking quality without ground-truth boxes, for clips with one person in view.

Coverage: of the analysed frames from the person's first confirmed track to the clip's end, the fraction in
which the person carries a confirmed track. ID switches: how often the person's track is replaced by another ID
near where the person was last seen (another track far away, such as a poster, is not the person).
"""

from __future__ import annotations

from dataclasses import dataclass

from fallwatch.core.types import Box, Track
from fallwatch.detectors.tracker import is_near


@dataclass(frozen=True, slots=True)
class TrackQuality:
    frames: int  # analysed frames from the first confirmed track to the end
    covered: int  # frames where the person carries a confirmed track (held on the last box while unseen)
    detected: int  # frames where that track was matched to a detection in the frame itself
    id_switches: int
    ids: tuple[int, ...]  # the person's track IDs, in order
    first_frame: int | None  # position (0-based) of the first confirmed track among analysed frames

    @property
    def coverage(self) -> float:
        return self.covered / self.frames if self.frames else 0.0

    @property
    def detected_coverage(self) -> float:
        return self.detected / self.frames if self.frames else 0.0


def _area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def single_person_quality(per_frame: list[list[Track]]) -> TrackQuality:
    """Follows the one person through a clip's analysed frames (each item: that frame's confirmed tracks)."""
    person: int | None = None
    last_box: Box | None = None
    first: int | None = None
    ids: list[int] = []
    covered = detected = switches = 0
    for position, tracks in enumerate(per_frame):
        if person is None:
            if not tracks:
                continue
            largest = max(tracks, key=lambda t: _area(t.xyxy))
            person, first = largest.track_id, position
            ids.append(person)
        by_id = {t.track_id: t for t in tracks}
        current = by_id.get(person)
        if current is None and last_box is not None:
            nearby = [t for t in tracks if is_near(t.xyxy, last_box)]
            if nearby:
                current = min(nearby, key=lambda t: _centre_distance(t.xyxy, last_box))  # type: ignore[arg-type]
                person = current.track_id
                switches += 1
                ids.append(person)
        if current is not None:
            covered += 1
            detected += current.missed == 0
            last_box = current.xyxy
    frames = len(per_frame) - first if first is not None else 0
    return TrackQuality(frames, covered, detected, switches, tuple(ids), first)


def _centre_distance(a: Box, b: Box) -> float:
    return float(((a[0] + a[2]) - (b[0] + b[2])) ** 2 + ((a[1] + a[3]) - (b[1] + b[3])) ** 2)
