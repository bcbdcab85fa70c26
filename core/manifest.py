"""Reading clip manifests in the format of `falldata/manifest.csv` (labels, fall times, groups, crops)."""

from __future__ import annotations

import csv
import filecmp
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
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


@dataclass(frozen=True, slots=True)
class Manifests:
    """The rows of several manifests, each video once."""

    entries: list[ManifestEntry]
    # (later row, earlier row) for a video listed again, as a re-export of the same incidents lists it.
    repeats: list[tuple[ManifestEntry, ManifestEntry]]
    renamed: list[ManifestEntry]  # rows whose name was already taken by another video: qualified by folder


def read_manifests(paths: Sequence[Path]) -> Manifests:
    """The rows of several manifests (falldata and the dashboard's exports, say), each video once.

    Results are keyed by the clip's name in its manifest, and exports of different databases reuse names
    (incident ids restart): a different video under a taken name is qualified by its manifest's folder; the
    same video listed again is read once.
    """
    entries: list[ManifestEntry] = []
    repeats: list[tuple[ManifestEntry, ManifestEntry]] = []
    renamed: list[ManifestEntry] = []
    seen: dict[str, ManifestEntry] = {}
    for path in paths:
        for entry in read_manifest(path):
            earlier = seen.get(entry.relative)
            if earlier is not None and _same_video(entry, earlier):
                _check_same_labels(entry, earlier)
                repeats.append((entry, earlier))
                continue
            if earlier is not None:
                entry = _qualified(entry, seen)
                renamed.append(entry)
            seen[entry.relative] = entry
            entries.append(entry)
    return Manifests(entries, repeats, renamed)


def _same_video(entry: ManifestEntry, earlier: ManifestEntry) -> bool:
    if entry.path.resolve() == earlier.path.resolve():
        return True
    if not (entry.path.is_file() and earlier.path.is_file()):
        return False
    if entry.path.stat().st_size != earlier.path.stat().st_size:
        return False
    return filecmp.cmp(entry.path, earlier.path, shallow=False)


def _check_same_labels(entry: ManifestEntry, earlier: ManifestEntry) -> None:
    def labels(e: ManifestEntry) -> tuple[str, float | None, float | None]:
        return (e.label, e.fall_start_s, e.fall_end_s)

    if labels(entry) != labels(earlier):
        raise FallWatchError(
            f"{entry.manifest}: clip {entry.relative!r} is the same video as in {earlier.manifest} but labelled "
            f"{_label_text(entry)} here and {_label_text(earlier)} there (expected "
            "one label per video: correct one row)"
        )


def _label_text(entry: ManifestEntry) -> str:
    if not entry.is_fall:
        return entry.label
    return f"fall {entry.fall_start_s}-{entry.fall_end_s} s"


def _qualified(entry: ManifestEntry, seen: dict[str, ManifestEntry]) -> ManifestEntry:
    name = f"{Path(entry.manifest).parent.name}/{entry.relative}"
    if name in seen:
        raise FallWatchError(
            f"{entry.manifest}: clip {entry.relative!r} is another video of the same name as in "
            f"{seen[entry.relative].manifest}, and {name!r} is taken too (expected manifests in folders of "
            "different names: rename the export's folder)"
        )
    return replace(entry, relative=name)


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
