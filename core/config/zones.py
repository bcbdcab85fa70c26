"""Zones of a camera (ignore, rest, area) and the checks that make a polygon usable.

The checks live here, beside the setting they validate; `alerts.zones` uses the same ones for zones made in code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator

from fallwatch.core.config.base import NAME_PATTERN, Section

Point = tuple[float, float]


class ZoneConfig(Section):
    name: str = Field(
        ...,
        pattern=NAME_PATTERN,
        description="A short name for the zone, recorded on incidents that happen in it (letters, digits, _ . -).",
    )
    kind: Literal["ignore", "rest", "area"] = Field(
        ...,
        description="ignore: predictions there are dropped (a TV, a poster); rest: a bed or sofa where lying down is expected, so no fall or collapse is raised there; area: only names the place.",
    )
    points: list[tuple[float, float]] = Field(
        ...,
        min_length=3,
        max_length=256,
        description="Polygon corners [[x, y], ...] in source pixels, in order around the shape; a person is inside when their box centre is.",
    )

    @field_validator("points")
    @classmethod
    def _usable_polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        problem = polygon_problem(points)
        if problem is not None:
            raise ValueError(problem)
        return points


def polygon_problem(points: Sequence[Sequence[float]]) -> str | None:
    """What is wrong with a polygon, as a phrase, or None when it is usable."""
    if len(points) < 3:
        return f"a zone polygon needs at least 3 points [x, y], got {len(points)}"
    for point in points:
        if len(point) != 2 or not all(math.isfinite(float(v)) for v in point):
            return f"each zone point must be [x, y] with finite numbers, got {list(point)}"
    corners = [(float(p[0]), float(p[1])) for p in points]
    flat = "a zone polygon must enclose an area (its points are all on one line)"
    if _collinear(corners):
        return flat
    if _self_intersects(corners):  # before the area: a bow tie's two halves cancel out to zero area
        return "a zone polygon's edges must not cross each other (list the points in order around the shape)"
    return flat if abs(_signed_area(corners)) < 1e-6 else None


def _signed_area(corners: Sequence[Point]) -> float:
    pairs = zip(corners, [*corners[1:], corners[0]], strict=True)
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs)


def _collinear(corners: Sequence[Point]) -> bool:
    x0, y0 = corners[0]
    other = next((p for p in corners[1:] if p != corners[0]), None)
    if other is None:
        return True  # every point is the same point
    x1, y1 = other
    return all(abs((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)) < 1e-9 for x, y in corners[1:])


def _self_intersects(corners: Sequence[Point]) -> bool:
    edges = list(zip(corners, [*corners[1:], corners[0]], strict=True))
    n = len(edges)
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbouring edges share a corner by construction
            if _segments_cross(*edges[i], *edges[j]):
                return True
    return False


def _segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    def orient(p: Point, q: Point, r: Point) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    # Collinear overlaps count as crossing: a polygon that folds back on itself is not a usable shape.
    return any(
        abs(o) < 1e-12 and _on_segment(p, q, r)
        for o, p, q, r in ((o1, a, b, c), (o2, a, b, d), (o3, c, d, a), (o4, c, d, b))
    )


def _on_segment(p: Point, q: Point, r: Point) -> bool:
    return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])
