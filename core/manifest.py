"""Reading clip manifests in the format of `falldata/manifest.csv` (labels, fall times, groups, crops)."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fallwatch.core.errors import FallWatchError

_PEOPLE = re.compile(r"\b(\d+)(?:-\d+)? (?:person|people)\b")
# Sources whose clips show one subject by construction, though their notes do not say so.
SINGLE_SUBJECT_SOURCES = frozenset({"GMDCSA24"})


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: Path  # absolute
    relative: str
    source: str
    label: str  # "fall" or "adl"
    fall_start_s: float | None
    fall_end_s: float | None
    fps: float
    frames: int
    width: int
    height: int
    group: str  # subject_or_scene: kept on one side of any split
    crop: tuple[int, int, int, int] | None
    notes: str
    manifest: str = ""  # the manifest file it was read from: what each manifest contributed is reported

    @property
    def is_fall(self) -> bool:
        return self.label == "fall"

    @property
    def people_in_view(self) -> int | None:
        """How many people the notes say are in view (the largest number mentioned), if they say."""
        if self.source in SINGLE_SUBJECT_SOURCES:
            return 1
        counts = [int(n) for n in _PEOPLE.findall(self.notes)]
        return max(counts) if counts else None


def _optional_float(value: str) -> float | None:
    return float(value) if value.strip() else None


def _crop(value: str) -> tuple[int, int, int, int] | None:
    parts = value.split()
    if not parts:
        return None
    if len(parts) != 4:
        raise ValueError(f"crop must be 'x1 y1 x2 y2', got {value!r}")
    x1, y1, x2, y2 = (int(p) for p in parts)
    return (x1, y1, x2, y2)


def read_manifest(path: Path) -> list[ManifestEntry]:
    """Every row of a manifest, with paths made absolute against the manifest's folder."""
    if not path.is_file():
        raise FallWatchError(f"{path}: manifest not found (expected a CSV in the falldata manifest format)")
    root = path.parent
    entries = []
    with path.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            try:
                entries.append(_entry(root, row, str(path)))
            except (KeyError, ValueError) as exc:
                raise FallWatchError(f"{path}:{line}: bad manifest row ({exc})") from None
    return entries


def read_manifests(paths: Sequence[Path]) -> list[ManifestEntry]:
    """The rows of several manifests (falldata and the dashboard's exports, say), each clip once."""
    entries: list[ManifestEntry] = []
    seen: dict[str, ManifestEntry] = {}
    for path in paths:
        for entry in read_manifest(path):
            # Results are keyed by the clip's manifest path: two clips of one name would overwrite each other.
            earlier = seen.get(entry.relative)
            if earlier is not None:
                raise FallWatchError(
                    f"{path}: clip {entry.relative!r} is also in {earlier.manifest} (expected each clip in one "
                    "manifest only)"
                )
            seen[entry.relative] = entry
            entries.append(entry)
    return entries


def _entry(root: Path, row: dict[str, str], manifest: str) -> ManifestEntry:
    label = row["label"].strip()
    if label not in ("fall", "adl"):
        raise ValueError(f"label must be fall or adl, got {label!r}")
    return ManifestEntry(
        path=root / row["path"],
        relative=row["path"],
        source=row["source"],
        label=label,
        fall_start_s=_optional_float(row["fall_start_s"]),
        fall_end_s=_optional_float(row["fall_end_s"]),
        fps=float(row["fps"]),
        frames=int(row["frames"]),
        width=int(row["width"]),
        height=int(row["height"]),
        group=row["subject_or_scene"],
        crop=_crop(row.get("crop", "")),
        notes=row.get("notes", ""),
        manifest=manifest,
    )
