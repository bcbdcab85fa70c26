"""Files written whole: the temporary name retention knows, and nothing half-written left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fallwatch.core.files import is_partial, partial_path, save_npz_atomic, write_atomic


def test_write_atomic_leaves_only_the_finished_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "snap.jpg"
    write_atomic(target, b"jpeg bytes")
    assert target.read_bytes() == b"jpeg bytes"
    assert [p.name for p in target.parent.iterdir()] == ["snap.jpg"]


def test_the_temporary_name_is_hidden_beside_the_target_and_recognised(tmp_path: Path) -> None:
    temporary = partial_path(tmp_path / "clip.mp4")
    assert temporary == tmp_path / ".clip.mp4.part" and is_partial(temporary)
    assert not is_partial(tmp_path / "clip.mp4") and not is_partial(tmp_path / "report.part.txt")


def test_npz_caches_are_written_whole_and_read_back(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "clip.npz"
    save_npz_atomic(target, {"pts": np.arange(3.0)})
    with np.load(target) as data:
        assert data["pts"].tolist() == [0.0, 1.0, 2.0]
    assert [p.name for p in target.parent.iterdir()] == ["clip.npz"]
