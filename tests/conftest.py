"""Shared fixtures: the real clips of ../shared/falldata, settings on a temporary data directory, one detector,
and empty stores on real databases (a SQLite file, PostgreSQL on 127.0.0.1:5432)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from fallwatch.alerts.store import Store, open_store, table_names
from fallwatch.core.config import Settings, load_settings
from fallwatch.core.manifest import ManifestEntry, read_manifest

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
FALLDATA = Path(os.environ.get("FALLWATCH_FALLDATA", REPO.parent / "shared" / "falldata"))
# One cache of the detector's exports for every test and every `fallwatch` the tests start (each test has its own
# data directory, whose default cache would export the weights again, half a minute each time).
os.environ.setdefault("FALLWATCH_DETECTOR__EXPORT_DIR", str(REPO / ".cache" / "detector-exports"))


@pytest.fixture(scope="session", autouse=True)
def detector_export(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Make the default runtime's export before any test runs `fallwatch`: once, not in the first few commands
    the tests start (each would spend half a minute exporting it again until one had finished)."""
    from fallwatch.detectors.export import choose_backend, export
    from fallwatch.detectors.person import quiet_ultralytics
    from fallwatch.detectors.weights import packaged_weights

    settings = load_settings(data_dir=tmp_path_factory.mktemp("export"))
    weights = packaged_weights(settings.detector.model)
    if weights is None or settings.detector.export_dir is None:
        return
    quiet_ultralytics(settings.data_dir, settings.allow_network)
    backend = choose_backend(settings.detector.backend, "cpu", str(weights))
    export(weights, backend, settings.detector.export_dir, settings.detector.imgsz)


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


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 for this test session, dropped afterwards."""
    name = f"fallwatch_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 as user postgres (CI starts it): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fallwatch.db'}"
    url: str = request.getfixturevalue("pg_database")
    with open_store(url) as store:
        empty(store)
    return url


def empty(store: Store) -> None:
    with store._db._engine.begin() as connection:  # test-only reach inside: wipe rows, keep the schema
        names = ", ".join(table_names())
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
