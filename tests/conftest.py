"""Shared fixtures: the real clips of ../shared/falldata, settings on a temporary data directory, one detector."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fallwatch.core.config import Settings, load_settings
from fallwatch.core.manifest import ManifestEntry, read_manifest

REPO = Path(__file__).resolve().parent.parent
FALLDATA = Path(os.environ.get("FALLWATCH_FALLDATA", REPO.parent / "shared" / "falldata"))


def falldata_manifest() -> list[ManifestEntry]:
    manifest = FALLDATA / "manifest.csv"
    if not manifest.is_file():
        pytest.fail(f"{manifest} is missing: the tests read real clips from ../shared/falldata")
    return read_manifest(manifest)


@pytest.fixture(scope="session")
def manifest() -> list[ManifestEntry]:
    return falldata_manifest()


@pytest.fixture(scope="session")
def fall_clip(manifest: list[ManifestEntry]) -> ManifestEntry:
    """A short GMDCSA24 fall clip (MIT-licensed), its moov atom at the end."""
    return next(e for e in manifest if e.relative == "GMDCSA24/Subject 2/Fall/12.mp4")


@pytest.fixture(scope="session")
def faststart_clip(manifest: list[ManifestEntry]) -> ManifestEntry:
    """A GMDCSA24 fall clip whose index (moov) is at the start, so a cut copy still opens."""
    return next(e for e in manifest if e.relative == "GMDCSA24/Subject 2/Fall/13.mp4")


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fallwatch-data")


@pytest.fixture(scope="session")
def settings(session_data_dir: Path) -> Settings:
    return load_settings(data_dir=session_data_dir)


@pytest.fixture(scope="session")
def detector(settings: Settings):  # type: ignore[no-untyped-def]
    from fallwatch.detectors.person import PersonDetector

    return PersonDetector(settings.detector, settings)


@pytest.fixture(scope="session")
def ffmpeg() -> Iterator[str]:
    path = shutil.which("ffmpeg")
    if path is None:
        pytest.fail("ffmpeg is not installed: `make install` (or .ci/run) installs it with apt-get")
    yield path
