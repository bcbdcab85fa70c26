"""No camera name, however hostile, leads a snapshot, a clip or a status frame out of the media root."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fallwatch.alerts.media import (
    EvidenceRecorder,
    MediaPathError,
    camera_folder,
    inside_root,
    relative_paths,
)
from fallwatch.core.config import MediaConfig, is_valid_name
from fallwatch.core.manifest import ManifestEntry
from tests.alerts.test_media import frames

ROOT = Path("/srv/fallwatch/media")
# Every code point, surrogates (what a non-UTF-8 byte becomes) included, plus the characters paths care about.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=80) | st.sampled_from(
    ["", ".", "..", "../..", "/", "/etc/passwd", "a/../../b", "ward 1/../x", "\x00", "..\\..", "~", "a" * 300]
)


@settings(max_examples=500, deadline=None)
@given(camera=ANY_TEXT, key=ANY_TEXT)
def test_relative_paths_never_leave_the_root(camera: str, key: str) -> None:
    wall = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    refs = relative_paths(camera, key, wall)
    for relative in (refs.snapshot, refs.clip):
        assert relative is not None
        parts = PurePosixPath(relative).parts
        assert len(parts) == 3 and parts[0] == camera_folder(camera)
        assert not {".", ".."} & set(parts) and not relative.startswith("/")
        assert is_valid_name(parts[0]) and "\x00" not in relative
        path = inside_root(ROOT, relative)
        assert os.path.commonpath([ROOT, os.path.abspath(path)]) == str(ROOT)


def test_valid_names_keep_their_folder_and_others_do_not_collide() -> None:
    assert camera_folder("ward-1") == "ward-1"
    hostile = ["..", "../..", "ward 1", "ward_1 ", "ward\udcff"]
    folders = {camera_folder(name) for name in hostile}
    assert len(folders) == len(hostile) and all(is_valid_name(folder) for folder in folders)


@pytest.mark.parametrize("relative", ["../x.jpg", "a/../../x.jpg", "/etc/x.jpg", ".", "a/.."])
def test_inside_root_refuses_what_leads_out(relative: str) -> None:
    with pytest.raises(MediaPathError, match="out of the media root"):
        inside_root(ROOT, relative)


def test_evidence_of_a_hostile_camera_stays_in_the_root(fall_clip: ManifestEntry, tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "media"
    recorder = EvidenceRecorder(MediaConfig(pre_roll_s=0.5, post_roll_s=0.5), root)
    camera = "../../../escaped"
    clip_frames = list(frames(fall_clip.path, camera=camera, every=3))[:20]
    for frame in clip_frames[:10]:
        recorder.push(frame)
    refs = recorder.start("run/x:1", camera, clip_frames[9].pts, datetime.now(UTC))
    for frame in clip_frames[10:]:
        recorder.push(frame)
    recorder.finish()
    assert refs.snapshot is not None and (root / refs.snapshot).is_file()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(p.is_relative_to(root) for p in written)
