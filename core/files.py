"""Files that appear whole or not at all: written under a temporary name beside the target, then renamed.

Every writer of FallWatch (clips, snapshots, camera frames, caches) uses the same temporary name, so that a
reader never sees half a file and retention knows which leftovers a crash can leave behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

PARTIAL_SUFFIX = ".part"


def partial_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place: hidden, beside it, on the same file system."""
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    temporary.write_bytes(data)
    os.replace(temporary, path)


def save_npz_atomic(path: Path, arrays: dict[str, Any]) -> None:
    """Uncompressed NumPy arrays (crops barely compress, and caches must load fast), no pickles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path).with_suffix(".npz")  # np.savez adds .npz to any other name
    np.savez(temporary, allow_pickle=False, **arrays)
    os.replace(temporary, path)
