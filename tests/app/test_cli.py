"""`fallwatch` as a user runs it: a real clip in, JSON lines and a playable video out; one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from fallwatch.core.manifest import ManifestEntry

FALLWATCH = [sys.executable, "-m", "fallwatch.app.cli"]
EXPORTS = "FALLWATCH_DETECTOR__EXPORT_DIR"  # the tests' one detector-export cache (tests/conftest.py)


def _run(*args: str, tmp_path: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FALLWATCH, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), EXPORTS: os.environ[EXPORTS]},
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


SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample" / "gmdcsa24_subject2_fall_12.mp4"

HOSTILE_NAMES = {
    "traversal": b"../../../escaped",
    "inner-traversal": b"ward 1/../x",
    "slash": b"ward/1",
    "absolute": b"/tmp/escaped",
    "dot-dot": b"..",
    "dot": b".",
    "hidden": b".hidden",
    "space": b"ward 1",
    "newline": b"ward\n1",
    "control": b"ward\x1b[31m",
    "empty": b"",
    "over-long": b"a" * 65,
    "non-utf8": b"ward\xff\xfe",
}


def _run_bytes(
    args: list[bytes], tmp_path: Path, env: dict[bytes, bytes] | None = None
) -> subprocess.CompletedProcess[bytes]:
    # Bytes, not str: a name that is not UTF-8 reaches FallWatch as the kernel hands it over (surrogateescape).
    base = {b"PATH": b"/usr/bin:/bin", b"HOME": os.fsencode(tmp_path / "home"),
            os.fsencode(EXPORTS): os.fsencode(os.environ[EXPORTS])}  # fmt: skip
    return subprocess.run([os.fsencode(a) for a in FALLWATCH] + args, capture_output=True, timeout=120,
                          cwd=tmp_path / "cwd", env={**base, **(env or {})})  # fmt: skip


def _refused_with_one_line(result: subprocess.CompletedProcess[bytes], expected: str) -> None:
    stderr = result.stderr.decode("utf-8", "backslashreplace")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert result.returncode == 2, stderr[-2000:]
    assert len(lines) == 1, stderr[-2000:]
    assert expected in lines[0] and "Traceback" not in stderr


def _escapes(tmp_path: Path) -> set[Path]:
    """What a traversal could have left above the sandbox: entries of the folders over it that say so."""
    above = [tmp_path.parent, tmp_path.parent.parent, tmp_path.parent.parent.parent]
    return {p for folder in above for p in folder.iterdir() if "escaped" in p.name}


_BEFORE: dict[Path, set[Path]] = {}  # per sandbox, what was already there (other tests' own folders)


def _nothing_written(tmp_path: Path) -> None:
    written = sorted(_escapes(tmp_path) - _BEFORE[tmp_path])
    written += [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    for folder in ("home", "cwd"):
        (tmp_path / folder).mkdir()
    _BEFORE[tmp_path] = _escapes(tmp_path)
    return tmp_path


# Every hostile name through `run`, which writes media; a few through `track`, which shares the option.
CASES = [("run", name) for name in HOSTILE_NAMES] + [
    ("track", name) for name in ("traversal", "non-utf8", "empty")
]


@pytest.mark.parametrize(("command", "name"), CASES, ids=[f"{c}-{n}" for c, n in CASES])
def test_hostile_camera_names_are_refused_before_anything_runs(
    sandbox: Path, command: str, name: str
) -> None:
    output = [b"--out", b"t.jsonl"] if command == "track" else []
    args = [command.encode(), b"--source", os.fsencode(SAMPLE), b"--camera", HOSTILE_NAMES[name], *output]
    result = _run_bytes([*args, b"--data-dir", os.fsencode(sandbox / "data")], sandbox)
    _refused_with_one_line(result, "--camera")
    _nothing_written(sandbox)


@pytest.mark.parametrize(
    "name", [b"..", b"ward\xff", b"a" * 65, b"ward 1"], ids=["dot-dot", "non-utf8", "long", "space"]
)
def test_hostile_camera_names_in_the_environment_are_refused(sandbox: Path, name: bytes) -> None:
    env = {b"FALLWATCH_CAMERAS__" + name + b"__SOURCE": os.fsencode(SAMPLE)}
    result = _run_bytes([b"run", b"--data-dir", os.fsencode(sandbox / "data")], sandbox, env)
    _refused_with_one_line(result, "cameras.")
    _nothing_written(sandbox)


@pytest.mark.parametrize(
    "key",
    ['"../../../escaped"', '"ward 1/../x"', '".."', '"ward\\n1"', '""', '"\\xff"', "1"],
    ids=["traversal", "inner-traversal", "dot-dot", "newline", "empty", "latin1", "number"],
)
def test_hostile_camera_names_in_yaml_are_refused(sandbox: Path, key: str) -> None:
    config = sandbox / "cwd" / "fallwatch.yaml"
    config.write_text(f"cameras:\n  {key}: {{source: {SAMPLE}}}\n")
    result = _run_bytes([b"run", b"--config", os.fsencode(config), b"--data-dir", os.fsencode(sandbox / "data")],
                        sandbox)  # fmt: skip
    _refused_with_one_line(result, "cameras.")
    config.unlink()
    _nothing_written(sandbox)


def test_a_yaml_file_that_is_not_utf8_is_refused(sandbox: Path) -> None:
    config = sandbox / "cwd" / "fallwatch.yaml"
    config.write_bytes(b"cameras:\n  ward\xff: {source: x.mp4}\n")
    result = _run_bytes([b"config", b"--config", os.fsencode(config)], sandbox)
    _refused_with_one_line(result, "not valid YAML")


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("run", ["--webhook", "ftp://example.org/hook"], "--webhook 'ftp://example.org/hook': url: expected an http"),
        ("run", ["--webhook", "javascript:alert(1)"], "--webhook 'javascript:alert(1)': url: expected an http"),
        ("run", ["--webhook", "http://a b/hook"], "url: expected an http"),
        ("run", ["--source", ""], "--source: source: String should have at least 1 character"),
        ("run", ["--db", ""], "--db: url: String should have at least 1 character"),
        ("track", ["--crop", "5,5,1,1"], "--source/--crop: crop: crop must be"),
        ("track", ["--source", ""], "--source/--crop: source:"),
        ("track", ["--fps", "nan"], "positive number"),
        ("track", ["--duration", "inf"], "positive number"),
        ("track", ["--out", "/proc/none/t.jsonl"], "--out /proc/none/t.jsonl: cannot write"),
        ("track", ["--render", "/proc/none/r.mp4"], "--render /proc/none/r.mp4: cannot write"),
    ],
    ids=["ftp-webhook", "javascript-webhook", "spaced-webhook", "empty-source", "empty-db", "crop-order",
         "empty-track-source", "nan-fps", "inf-duration", "unwritable-out", "unwritable-render"],
)  # fmt: skip
def test_bad_options_give_one_line_not_a_traceback(
    sandbox: Path, command: str, args: list[str], expected: str
) -> None:
    output = ["--out", str(sandbox / "t.jsonl")] if command == "track" and "--out" not in args else []
    argv = [command, "--source", str(SAMPLE), *args, *output, "--data-dir", str(sandbox / "data")]
    result = _run_bytes([os.fsencode(a) for a in argv], sandbox)
    _refused_with_one_line(result, expected)


def test_a_config_path_with_terminal_escapes_is_shown_escaped(sandbox: Path) -> None:
    result = _run_bytes([b"config", b"--config", b"\x1b[2J\rnope.yaml"], sandbox)
    _refused_with_one_line(result, "configuration file not found")
    assert b"\x1b" not in result.stderr and b"\r" not in result.stderr
    assert b"\\x1b[2J nope.yaml" in result.stderr  # escaped; the carriage return is just a space


def test_a_config_path_too_long_to_open_is_named(sandbox: Path) -> None:
    result = _run_bytes([b"config", b"--config", b"x" * 300], sandbox)
    _refused_with_one_line(result, "cannot read (File name too long)")


def test_the_incidents_camera_filter_takes_only_camera_names(sandbox: Path) -> None:
    db = os.fsencode(f"sqlite:///{sandbox / 'fw.db'}")
    result = _run_bytes([b"incidents", b"list", b"--camera", b"\xff", b"--db", db], sandbox)
    _refused_with_one_line(result, "argument --camera: expected a camera name")
