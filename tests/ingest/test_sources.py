"""Reading real clips: every frame of a file, corrupt stretches skipped, cut and bogus files refused clearly."""

import itertools
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fallwatch.core.config import IngestConfig
from fallwatch.core.errors import SourceError, TruncatedVideoError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.ingest.sources import FileSource, SourceKind, crop_image, open_source, source_kind


def test_every_frame_of_a_file_with_increasing_stream_time(fall_clip: ManifestEntry) -> None:
    source = FileSource(fall_clip.path)
    frames = list(source.frames())
    assert len(frames) == fall_clip.frames == source.stats.decoded
    assert [f.index for f in frames] == list(range(1, len(frames) + 1))
    times = [f.pts for f in frames]
    assert times[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[-1] == pytest.approx(fall_clip.frames / fall_clip.fps, abs=0.2)
    assert frames[0].to_bgr().shape == (fall_clip.height, fall_clip.width, 3)


def test_a_corrupt_stretch_is_skipped_and_counted(fall_clip: ManifestEntry, tmp_path: Path) -> None:
    data = bytearray(fall_clip.path.read_bytes())
    rng = random.Random(1)
    start = len(data) // 3
    for i in range(start, start + 20_000):
        data[i] = rng.randrange(256)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data))
    source = FileSource(corrupt)
    frames = list(source.frames())
    assert source.stats.corrupt >= 1
    assert len(frames) >= fall_clip.frames * 0.9  # read on to the end, not stopped at the damage
    assert frames[-1].pts == pytest.approx(fall_clip.frames / fall_clip.fps, abs=0.2)


def test_cut_file_without_index_is_refused_at_open(fall_clip: ManifestEntry, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fall_clip.path.read_bytes()[:300_000])
    with pytest.raises(SourceError, match="truncated"):
        FileSource(cut)


def test_cut_file_with_index_is_read_then_reported(faststart_clip: ManifestEntry, tmp_path: Path) -> None:
    data = faststart_clip.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    source = FileSource(cut)
    seen = 0
    with pytest.raises(
        TruncatedVideoError, match=r"truncated: decoded \d+ frames up to [\d.]+ s of [\d.]+ s"
    ):
        for _ in source.frames():
            seen += 1
    assert 0 < seen < faststart_clip.frames  # what was there was still delivered


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.mp4", "file not found"),
        (
            lambda d: (d / "notes.mp4").write_text("not a video at all\n") and d / "notes.mp4",
            "not a readable video",
        ),
        (lambda d: d, "not a regular file"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(SourceError) as info:
        FileSource(path)
    assert expected in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("clip.mp4", SourceKind.FILE),
        ("C:/videos/clip.mp4", SourceKind.FILE),
        ("rtsp://cam.local:554/stream", SourceKind.STREAM),
        ("https://example.org/live.m3u8", SourceKind.STREAM),
        ("/dev/video0", SourceKind.DEVICE),
        ("device:0", SourceKind.DEVICE),
    ],
)
def test_source_kinds(source: str, kind: SourceKind) -> None:
    assert source_kind(source) is kind


@pytest.mark.parametrize(
    ("url", "expected"), [("ftp://host/x", "unsupported URL scheme"), ("http:///x", "no host")]
)
def test_bad_urls_are_refused(url: str, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        open_source(url, IngestConfig())


def test_unreachable_stream_gives_up_after_its_attempts() -> None:
    config = IngestConfig(open_timeout_s=2, reconnect_initial_s=0.05, reconnect_max_s=0.1)
    source = open_source("http://127.0.0.1:9/stream.ts", config, connect_attempts=2)
    with pytest.raises(SourceError, match="cannot connect"):
        next(iter(source.frames()))


def test_crop_returns_region_and_origin(fall_clip: ManifestEntry) -> None:
    image = next(iter(FileSource(fall_clip.path).frames())).to_bgr()
    region, origin = crop_image(image, (320, 0, 640, 240), "clip")
    assert region.shape == (240, 320, 3) and origin == (320, 0)
    assert (region == image[0:240, 320:640]).all()
    with pytest.raises(SourceError, match="outside"):
        crop_image(image, (700, 0, 800, 100), "clip")


@pytest.mark.slow
def test_every_manifest_clip_reads_whole(manifest: list[ManifestEntry]) -> None:
    # Regression: a header that overstates its frame count (an edit list) once made a whole clip "truncated".
    short = {}
    for entry in manifest:
        source = FileSource(entry.path)
        count = sum(1 for _ in source.frames())
        if count != entry.frames:
            short[entry.relative] = (count, entry.frames)
    assert not short


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections and never answers: connecting waits for its whole open timeout."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/live.ts"


@pytest.mark.parametrize("stop_after_s", [0.0, 1.5], ids=["before", "while-connecting"])
def test_a_stop_cuts_connecting_short(silent_server: str, stop_after_s: float) -> None:
    config = IngestConfig(open_timeout_s=60, stall_timeout_s=60)
    source = open_source(silent_server, config)
    stop = threading.Event()
    threading.Timer(stop_after_s, stop.set).start()
    started = time.monotonic()
    assert list(source.frames(stop)) == []
    assert time.monotonic() - started < stop_after_s + 2


def test_a_stop_cuts_the_backoff_wait_short() -> None:
    config = IngestConfig(reconnect_initial_s=30, reconnect_max_s=60)
    source = open_source("http://127.0.0.1:9/live.ts", config)  # refused at once, then a long wait
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    assert list(source.frames(stop)) == []
    assert time.monotonic() - started < 3
