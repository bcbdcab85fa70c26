"""Measuring clips: a real falldata clip against its manifest row, and a file that is not a video."""

from __future__ import annotations

from pathlib import Path

import pytest

from fallwatch.core.manifest import ManifestEntry
from fallwatch.ingest.probe import probe_clip


def test_a_real_clip_measures_as_its_manifest_says(fall_clip: ManifestEntry) -> None:
    facts = probe_clip(fall_clip.path)
    assert (facts.frames, facts.width, facts.height) == (fall_clip.frames, fall_clip.width, fall_clip.height)
    assert facts.duration == pytest.approx(fall_clip.frames / fall_clip.fps, rel=0.05)


def test_a_file_that_is_not_a_video_is_a_value_error(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match=r"^clip.mp4: not a readable video"):
        probe_clip(fake)
