"""Training on several manifests together (falldata plus an export of operators' decisions): each clip once,
and the run says what each manifest contributed."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry, read_manifests

REPO = Path(__file__).resolve().parents[2]
COLUMNS = ["path", "source", "label", "fall_start_s", "fall_end_s", "fps", "frames", "width", "height",
           "subject_or_scene", "crop", "annotation", "notes", "commit", "repo_path"]  # fmt: skip


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return path


def row(entry: ManifestEntry, path: str, source: str | None = None) -> dict[str, str]:
    return {
        "path": path, "source": source or entry.source, "label": entry.label,
        "fall_start_s": "" if entry.fall_start_s is None else str(entry.fall_start_s),
        "fall_end_s": "" if entry.fall_end_s is None else str(entry.fall_end_s),
        "fps": str(entry.fps), "frames": str(entry.frames), "width": str(entry.width),
        "height": str(entry.height), "subject_or_scene": entry.group,
    }  # fmt: skip


FALL = "GMDCSA24/Subject 4/Fall/02.mp4"  # 3 s each
ADL = "GMDCSA24/Subject 3/ADL/07.mp4"


def test_each_clip_is_read_once_with_the_manifest_it_came_from(
    manifest: list[ManifestEntry], tmp_path: Path
) -> None:
    fall = next(e for e in manifest if e.relative == FALL)
    first = write_manifest(tmp_path / "a" / "manifest.csv", [row(fall, str(fall.path))])
    second = write_manifest(tmp_path / "b" / "manifest.csv", [row(fall, "two.mp4"), row(fall, "three.mp4")])
    read = read_manifests([first, second])
    assert [(e.relative, e.manifest) for e in read.entries] == [
        (str(fall.path), str(first)), ("two.mp4", str(second)), ("three.mp4", str(second)),
    ]  # fmt: skip
    assert read.repeats == [] and read.renamed == []


def _export(folder: Path, clips: list[tuple[ManifestEntry, str]]) -> Path:
    """A dashboard-style export: the videos copied under clips/, each row naming its copy."""
    (folder / "clips").mkdir(parents=True)
    for entry, name in clips:
        shutil.copy(entry.path, folder / "clips" / name)
    return write_manifest(
        folder / "manifest.csv", [row(e, f"clips/{name}", "fallwatch") for e, name in clips]
    )


def test_a_re_exported_video_is_read_once(manifest: list[ManifestEntry], tmp_path: Path) -> None:
    # Regression: a second export of the same reviewed incidents was refused ("also in ...").
    adl = next(e for e in manifest if e.relative == ADL)
    first = _export(tmp_path / "export-1", [(adl, "000001_door_adl.mp4")])
    again = _export(tmp_path / "export-2", [(adl, "000001_door_adl.mp4")])
    read = read_manifests([first, again])
    assert [(e.relative, e.manifest) for e in read.entries] == [("clips/000001_door_adl.mp4", str(first))]
    [(later, earlier)] = read.repeats
    assert later.manifest == str(again) and earlier.manifest == str(first)


def test_another_video_under_a_taken_name_is_renamed(manifest: list[ManifestEntry], tmp_path: Path) -> None:
    # Regression: exports of two databases both number incidents from 1, so their clip names collide.
    fall = next(e for e in manifest if e.relative == FALL)
    adl = next(e for e in manifest if e.relative == ADL)
    ward = _export(tmp_path / "ward-2", [(adl, "000001_cam_adl.mp4")])
    lobby = _export(tmp_path / "lobby", [(fall, "000001_cam_adl.mp4")])
    read = read_manifests([ward, lobby])
    assert [e.relative for e in read.entries] == [
        "clips/000001_cam_adl.mp4",
        "lobby/clips/000001_cam_adl.mp4",
    ]
    assert read.entries[1].path == tmp_path / "lobby" / "clips" / "000001_cam_adl.mp4"
    assert read.entries[1].label == "fall" and read.renamed == [read.entries[1]]


def test_one_video_with_two_labels_is_one_clear_line(manifest: list[ManifestEntry], tmp_path: Path) -> None:
    fall = next(e for e in manifest if e.relative == FALL)
    first = _export(tmp_path / "a", [(fall, "000007_cam_fall.mp4")])
    relabelled = replace(fall, label="adl", fall_start_s=None, fall_end_s=None)
    second = _export(tmp_path / "b", [(relabelled, "000007_cam_fall.mp4")])
    with pytest.raises(FallWatchError) as refused:
        read_manifests([first, second])
    message = str(refused.value)
    assert "\n" not in message and str(first) in message and str(second) in message
    assert "adl here" in message and f"fall {fall.fall_start_s}-{fall.fall_end_s} s there" in message


def test_a_taken_qualified_name_is_one_clear_line(manifest: list[ManifestEntry], tmp_path: Path) -> None:
    fall = next(e for e in manifest if e.relative == FALL)
    adl = next(e for e in manifest if e.relative == ADL)
    first = _export(tmp_path / "one" / "x", [(adl, "c.mp4")])
    second = _export(tmp_path / "two" / "x", [(fall, "c.mp4")])
    other = next(e for e in manifest if e.relative not in (FALL, ADL))
    third = _export(tmp_path / "three" / "x", [(other, "c.mp4")])
    with pytest.raises(FallWatchError) as refused:
        read_manifests([first, second, third])
    assert "\n" not in str(refused.value) and "rename the export's folder" in str(refused.value)


@pytest.mark.slow
def test_train_on_falldata_and_an_export_reports_each(manifest: list[ManifestEntry], tmp_path: Path) -> None:
    fall = next(e for e in manifest if e.relative == FALL)
    adl = next(e for e in manifest if e.relative == ADL)
    falldata = write_manifest(tmp_path / "falldata" / "manifest.csv", [row(fall, str(fall.path))])
    export_dir = tmp_path / "export"
    (export_dir / "clips").mkdir(parents=True)
    shutil.copy(adl.path, export_dir / "clips" / "false-alarm-1.mp4")  # as the dashboard's export lays it out
    export = write_manifest(export_dir / "manifest.csv", [row(adl, "clips/false-alarm-1.mp4", "fallwatch")])
    again = _export(tmp_path / "export-again", [(adl, "false-alarm-1.mp4")])  # the same incident re-exported
    out = tmp_path / "run"
    command = [sys.executable, "-m", "fallwatch.app.cli", "train", "--manifest", str(falldata),
               "--manifest", str(export), "--manifest", str(again), "--epochs", "1", "--samples-per-epoch", "16", "--batch-size", "8",
               "--threads", "1", "--no-references", "-q", "--out", str(out),
               "--data-dir", str(tmp_path / "data")]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    final = json.loads((out / "final.json").read_text())
    assert final["clips"] == 2
    windows = final["windows_by_manifest"]
    assert set(windows) == {str(falldata), str(export)}
    assert (
        windows[str(export)]["normal"] > 0 and windows[str(export)]["falling"] == 0
    )  # a false alarm: normal
    assert windows[str(falldata)]["falling"] > 0
    assert f"{export}: 1 clips (0 falls, 1 daily activity)" in result.stdout
    assert f"{falldata}: 1 clips (1 falls, 0 daily activity)" in result.stdout
    assert f"{again}: 1 clips already read from {export} (the same video), read once" in result.stdout


def test_more_folds_than_groups_is_one_clear_line(manifest: list[ManifestEntry], tmp_path: Path) -> None:
    # Regression: grouped_folds' ValueError came out as a traceback.
    fall = next(e for e in manifest if e.relative == FALL)
    one_group = write_manifest(tmp_path / "manifest.csv", [row(fall, str(fall.path))])
    command = [sys.executable, "-m", "fallwatch.app.cli", "train", "--manifest", str(one_group), "--folds", "2",
               "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data")]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "--folds 2" in lines[0] and "1 subject_or_scene groups" in lines[0]
