"""Per-camera zones: polygons in source pixels that change what a prediction means.

`ignore` zones drop predictions (a television, a poster, a mirror); `rest` zones are beds and sofas, where lying
down is expected and neither a fall nor a collapse is raised; `area` zones only name a place for the incident
record. A person is "in" a zone when the centre of their box is inside the polygon.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fallwatch.core.config.zones import Point, polygon_problem
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import Box


class ZoneKind(StrEnum):
    IGNORE = "ignore"
    REST = "rest"
    AREA = "area"


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    kind: ZoneKind
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        problem = polygon_problem(self.points)
        if problem is not None:
            raise FallWatchError(f"zone {self.name!r}: {problem}")
        object.__setattr__(self, "kind", ZoneKind(self.kind))

    def contains(self, point: Point) -> bool:
        """Even-odd ray casting; a point exactly on an edge may fall either way, which is fine for people."""
        x, y = point
        inside = False
        corners = self.points
        for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside


@dataclass(frozen=True, slots=True)
class CameraZones:
    """The zones of one camera, in the order they were configured (the first match names the place)."""

    zones: tuple[Zone, ...] = ()

    def _containing(self, box: Box) -> list[Zone]:
        centre = box_centre(box)
        return [zone for zone in self.zones if zone.contains(centre)]

    def ignored(self, box: Box) -> bool:
        return any(zone.kind is ZoneKind.IGNORE for zone in self._containing(box))

    def resting(self, box: Box) -> bool:
        return any(zone.kind is ZoneKind.REST for zone in self._containing(box))

    def place(self, box: Box) -> str | None:
        """The name of the first non-ignore zone holding the box centre, for the incident record."""
        names = [zone.name for zone in self._containing(box) if zone.kind is not ZoneKind.IGNORE]
        return names[0] if names else None


def box_centre(box: Box) -> Point:
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)


def longer_side(box: Box) -> float:
    """The box's longer side in pixels (at least 1): the scale of nearness and stillness, the same whether the
    person stands or lies."""
    return max(box[2] - box[0], box[3] - box[1], 1.0)
