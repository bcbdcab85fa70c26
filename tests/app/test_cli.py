"""`fallwatch` as a user runs it: a real clip in, JSON lines and a playable video out; one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from fallwatch.core.manifest import ManifestEntry

FALLWATCH = [sys.executable, "-m", "fallwatch.app.cli"]


def _run(*args: str, tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FALLWATCH, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip


def test_track_writes_json_lines_and_a_playable_render(fall_clip: ManifestEntry, tmp_path: Path) -> None:
    out, render = tmp_path / "tracks.jsonl", tmp_path / "annotated.mp4"
    result = _run("track", "--source", str(fall_clip.path), "--out", str(out), "--render", str(render),
                  tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) >= 80
    for record in records:
        assert set(record) == {"frame", "pts", "track_id", "xyxy", "score", "keypoints"}
        assert 1 <= record["frame"] <= fall_clip.frames
        x1, y1, x2, y2 = record["xyxy"]
        assert x1 < x2 and y1 < y2
        assert record["keypoints"] is None or len(record["keypoints"]) == 17
    frames = [r["frame"] for r in records]
    assert frames == sorted(frames)
    assert {r["track_id"] for r in records} == {1}  # one person, one ID, through the fall
    with av.open(str(render)) as container:
        decoded = list(container.decode(video=0))
    analysed = round(10 * fall_clip.frames / fall_clip.fps)
    assert abs(len(decoded) - analysed) <= 3
    assert (decoded[0].width, decoded[0].height) == (fall_clip.width, fall_clip.height)
    assert not list(tmp_path.glob(".*.part"))  # nothing half-written left behind


def _cut(clip: ManifestEntry, tmp_path: Path) -> Path:
    path = tmp_path / "cut.mp4"
    path.write_bytes(clip.path.read_bytes()[:300_000])
    return path


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("hello\n")
    return path


def _bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "fallwatch.yaml"
    path.write_text("detector:\n  conf: 7\n")
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (lambda d, c: ["--source", str(d / "missing.mp4")], "file not found"),
        (lambda d, c: ["--source", str(_cut(c, d))], "truncated"),
        (lambda d, c: ["--source", str(_text(d))], "not a readable video"),
        (lambda d, c: ["--source", "http://127.0.0.1:9/live.ts"], "cannot connect"),
        (lambda d, c: ["--source", "ftp://example.org/x.mp4"], "unsupported URL scheme"),
        (lambda d, c: ["--source", str(c.path), "--config", str(_bad_config(d))], "detector.conf"),
        (lambda d, c: ["--source", str(c.path), "--crop", "1,2,3"], "x1,y1,x2,y2"),
        (lambda d, c: ["--source", str(c.path), "--fps", "-4"], "positive number"),
    ],
    ids=[
        "missing",
        "truncated",
        "not-video",
        "unreachable",
        "bad-scheme",
        "bad-config",
        "bad-crop",
        "bad-fps",
    ],
)
def test_bad_input_gives_one_clear_line(
    tmp_path: Path, fall_clip: ManifestEntry, args, expected: str
) -> None:  # type: ignore[no-untyped-def]
    result = _run("track", *args(tmp_path, fall_clip), "--out", str(tmp_path / "t.jsonl"), tmp_path=tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_help_teaches_the_commands(tmp_path: Path) -> None:
    result = _run("--help", tmp_path=tmp_path)
    assert result.returncode == 0
    assert "track" in result.stdout and "FALLWATCH_" in result.stdout
    track = _run("track", "--help", tmp_path=tmp_path)
    assert "--render" in track.stdout and "JSON line" in track.stdout


def test_config_prints_effective_settings(tmp_path: Path) -> None:
    path = tmp_path / "fallwatch.yaml"
    path.write_text("detector:\n  imgsz: 640\n")
    result = _run("config", "--config", str(path), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imgsz: 640" in result.stdout
