"""Evidence retention: delete snapshots and clips older than `retention_days`, then the oldest ones until the
media root fits in `disk_budget_mb`. The store keeps its paths; a missing file shows as "deleted by retention".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from fallwatch.core.config import MediaConfig
from fallwatch.core.files import is_partial

EVIDENCE_SUFFIXES = (".jpg", ".mp4")
PARTIAL_GRACE_S = 3600.0  # a half-written file older than this was left by a crash


@dataclass(frozen=True, slots=True)
class PruneReport:
    deleted: int
    freed_bytes: int
    kept: int
    kept_bytes: int


def _evidence(root: Path, now: float) -> tuple[list[tuple[float, int, Path]], list[Path]]:
    files, stale = [], []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        stat = path.stat()
        if is_partial(path):
            if now - stat.st_mtime > PARTIAL_GRACE_S:
                stale.append(path)
            continue  # being written right now
        if path.suffix in EVIDENCE_SUFFIXES:
            files.append((stat.st_mtime, stat.st_size, path))
    files.sort(key=lambda f: (f[0], str(f[2])))
    return files, stale


def prune(root: Path, max_age_s: float, budget_bytes: int, now: float | None = None) -> PruneReport:
    """Apply both limits to the evidence under `root`; oldest files (by modification time) go first."""
    if not root.is_dir():
        return PruneReport(0, 0, 0, 0)
    now = time.time() if now is None else now
    files, stale = _evidence(root, now)
    deleted, freed = 0, 0
    for path in stale:
        path.unlink(missing_ok=True)
    total = sum(size for _, size, _ in files)
    kept = []
    for mtime, size, path in files:
        if now - mtime > max_age_s or total > budget_bytes:
            path.unlink(missing_ok=True)
            deleted, freed, total = deleted + 1, freed + size, total - size
        else:
            kept.append(size)
    _remove_empty_dirs(root)
    return PruneReport(deleted, freed, len(kept), sum(kept))


def prune_with(config: MediaConfig, root: Path, now: float | None = None) -> PruneReport:
    return prune(root, config.retention_days * 86400.0, int(config.disk_budget_mb * 1024 * 1024), now)


def _remove_empty_dirs(root: Path) -> None:
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        path = Path(folder)
        if path != root and not any(path.iterdir()):
            path.rmdir()
