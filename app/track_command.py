"""`fallwatch track`: detection and tracking on one source, as JSON lines and an optional annotated video."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from fallwatch.app.render import draw_tracks
from fallwatch.core.config import CameraConfig, Settings, check_name, settings_errors
from fallwatch.core.errors import FallWatchError
from fallwatch.detectors.perception import Perception, PerceptionStep
from fallwatch.ingest.cameras import Camera, CameraHub
from fallwatch.ingest.video_writer import Mp4Writer


def track_record(step: PerceptionStep) -> list[dict[str, Any]]:
    """One JSON-ready record per confirmed track in this frame (source pixels)."""
    return [
        {
            "frame": step.frame.index,
            "pts": round(step.frame.pts, 4),
            "track_id": track.track_id,
            "xyxy": [round(v, 1) for v in track.xyxy],
            "score": round(track.score, 4),
            "keypoints": None
            if track.keypoints is None
            else [
                [round(float(x), 1), round(float(y), 1), round(float(c), 3)] for x, y, c in track.keypoints
            ],
        }
        for track in step.tracks
    ]


def run_track(
    settings: Settings,
    source: str,
    camera_name: str,
    out: str,
    render: Path | None,
    duration_s: float | None,
    crop: tuple[int, int, int, int] | None,
) -> int:
    check_name(camera_name, "--camera")
    with settings_errors("--source/--crop"):
        config = CameraConfig(source=source, crop=crop)
    camera = Camera(camera_name, config, settings.ingest, connect_attempts=3)
    with ExitStack() as stack:
        sink: IO[str] = sys.stdout if out == "-" else stack.enter_context(_open_output(Path(out)))
        writer = _enter_render(stack, render, camera.sampler_fps) if render else None
        perception = Perception(settings)  # after the outputs open: a bad --out fails before a model loads
        progress = stack.enter_context(
            tqdm(
                total=getattr(camera.source, "declared_frames", None) or None,
                unit="frame",
                desc=camera_name,
                disable=None,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        )
        hub = stack.enter_context(CameraHub([camera]))
        for batch in hub.batches():
            for step in perception.process(batch):
                for record in track_record(step):
                    sink.write(json.dumps(record) + "\n")
                if writer is not None:
                    writer.write(draw_tracks(step.frame, step.tracks), step.frame.pts)
                progress.update(step.frame.index - progress.n)
                progress.set_postfix(tracks=len(step.tracks), refresh=False)
                if duration_s is not None and step.frame.pts >= duration_s:
                    hub.stop()
        if camera_name in hub.errors:
            raise hub.errors[camera_name]
    return 0


def _open_output(path: Path) -> IO[str]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise FallWatchError(
            f"--out {path}: cannot write ({exc.strerror}); expected a writable file"
        ) from None


def _enter_render(stack: ExitStack, path: Path, fps: float) -> Mp4Writer:
    try:
        return stack.enter_context(Mp4Writer(path, fps))
    except OSError as exc:  # its folder cannot be made
        raise FallWatchError(
            f"--render {path}: cannot write ({exc.strerror}); expected a writable file"
        ) from None
