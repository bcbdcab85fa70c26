"""Media is read only from inside the media root, and only for a signed-in user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fallwatch.dashboard.media import MediaRefused, MediaRoot
from fallwatch.dashboard.users import User

USER = User("nurse")


@pytest.fixture
def media(tmp_path: Path) -> MediaRoot:
    root = tmp_path / "media"
    (root / "ward-1").mkdir(parents=True)
    (root / "ward-1" / "snap.jpg").write_bytes(b"\xff\xd8inside")
    (tmp_path / "secret.jpg").write_bytes(b"\xff\xd8outside")
    (tmp_path / "notes.txt").write_text("outside")
    return MediaRoot(root)


def test_a_file_inside_the_root_is_read(media: MediaRoot) -> None:
    assert media.read("ward-1/snap.jpg", USER) == b"\xff\xd8inside"


def test_missing_or_unrecorded_evidence_reads_as_none(media: MediaRoot) -> None:
    assert media.read("ward-1/gone.jpg", USER) is None  # deleted by retention
    assert media.read(None, USER) is None  # never recorded


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../secret.jpg", "'..' is refused"),
        ("ward-1/../../secret.jpg", "'..' is refused"),
        ("/etc/passwd.jpg", "absolute paths are refused"),
        ("C:/Windows/win.jpg", "expected a path relative"),
        ("ward-1\\..\\..\\secret.jpg", "expected a path relative"),
        ("ward-1/snap.jpg\x00.txt", "expected a path relative"),
        ("", "expected a path relative"),
        ("../notes.txt", "'..' is refused"),
        ("ward-1/config.yaml", "only .jpeg, .jpg, .mp4 files are served"),
    ],
)
def test_paths_that_leave_the_root_are_refused(media: MediaRoot, path: str, why: str) -> None:
    with pytest.raises(MediaRefused) as refused:
        media.read(path, USER)
    assert why in str(refused.value)


def test_a_symlink_out_of_the_root_is_refused(media: MediaRoot, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.jpg", media.root / "ward-1" / "link.jpg")
    os.symlink(tmp_path, media.root / "escape")
    for path in ("ward-1/link.jpg", "escape/secret.jpg"):
        with pytest.raises(MediaRefused, match="leads outside the media root"):
            media.read(path, USER)


def test_a_symlink_inside_the_root_is_followed(media: MediaRoot) -> None:
    os.symlink(media.root / "ward-1" / "snap.jpg", media.root / "latest.jpg")
    assert media.read("latest.jpg", USER) == b"\xff\xd8inside"
