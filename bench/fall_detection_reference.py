"""Caches human-fall-detection==0.1.2's per-frame `Fall` scores for every clip of a manifest (shortest first).

`fallwatch train --folds K` reads the cache (and fills what is missing) to score the package as a reference;
running this first, at low priority, lets the two overlap. Usage:

    YOLO_OFFLINE=1 nice -n 19 .venv/bin/python bench/fall_detection_reference.py ../shared/falldata/manifest.csv
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from fallwatch.core.config import load_settings
from fallwatch.core.manifest import read_manifest
from fallwatch.training.references import PackageReference


def main() -> int:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    torch.set_num_threads(1)
    manifest = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/falldata/manifest.csv")
    settings = load_settings(None)
    reference = PackageReference(settings, settings.data_dir / "cache" / "reference_fall_detection")
    entries = sorted(read_manifest(manifest), key=lambda e: e.frames / e.fps)
    started = time.perf_counter()
    for entry in entries:
        reference.series(entry)
        print(f"{time.perf_counter() - started:.0f}s {entry.relative}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
