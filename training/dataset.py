"""A manifest's clips as track histories: extracted once through FallWatch's own perception, cached on disk.

Every later step (folds, the final model, the keypoint reference) reads the same cached histories, so the
detector and tracker run once per clip and setting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from fallwatch.core.config import Settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.training.histories import ClipHistory, cache_key, cached_history, load

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LabelledClip:
    entry: ManifestEntry
    history: ClipHistory


def history_cache_dir(data_dir: Path) -> Path:
    return data_dir / "cache" / "histories"


def load_histories(
    entries: Sequence[ManifestEntry], settings: Settings, cache_dir: Path, progress: bool = True
) -> list[LabelledClip]:
    """The history of every clip, from the cache or extracted now (the detector is loaded only if needed)."""
    from fallwatch.detectors.perception import Perception

    missing = [e for e in entries if not e.path.is_file()]
    if missing:
        raise FallWatchError(
            f"{missing[0].path}: clip listed in the manifest not found ({len(missing)} missing in all)"
        )
    perception: Perception | None = None
    clips = []
    for entry in tqdm(entries, desc="track histories", unit="clip", disable=not progress):
        path = cache_dir / f"{cache_key(entry, settings)}.npz"
        if path.is_file():
            history = load(path, entry.relative)
        else:
            if perception is None:
                perception = Perception(settings)
            history = cached_history(entry, settings, perception, cache_dir)
        clips.append(LabelledClip(entry, history))
    return clips
