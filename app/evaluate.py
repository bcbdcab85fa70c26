"""`fallwatch eval`: the run pipeline over every video of a manifest, scored per video, with a keypoint-rule
baseline measured in the same run on the same tracks.

Scoring (the protocol of ../shared/falldata/README.md): a fall video is caught when its first incident opens at
or after (annotated fall start - 1 s), or anywhere when it has no annotated start; an earlier first incident is a
false alarm and the fall counts as missed. A daily-activity video with any incident is a false alarm.
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from fallwatch.alerts.service import AlertService
from fallwatch.app.pipeline import Pipeline
from fallwatch.core.config import CameraConfig, Settings
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Prediction
from fallwatch.detectors.perception import PerceptionStep
from fallwatch.detectors.person import PersonDetector
from fallwatch.ingest.cameras import Camera
from fallwatch.recognizer.infer import Recognizer
from fallwatch.training.keypoint_rule import KeypointRule
from fallwatch.training.scoring import Outcome, judge_alarms, summarize


@dataclass
class VideoResult:
    file: str
    label: str
    source: str
    fall_start_s: float | None
    fall_end_s: float | None
    duration_s: float
    incident_times: list[float]
    baseline_times: list[float]
    detected: bool  # fall: caught; adl: an alarm was raised (a false alarm)
    latency_s: float | None
    baseline_detected: bool
    baseline_latency_s: float | None
    analysed_frames: int
    wall_s: float
    series: dict[str, list[list[float]]] = field(
        default_factory=dict
    )  # track -> [[pts, falling, lying], ...]


class _TrackRecorder:
    """Collects each track's boxes and keypoints for the keypoint baseline."""

    def __init__(self) -> None:
        self.tracks: dict[int, list[tuple[float, Any, Any]]] = {}

    def __call__(self, step: PerceptionStep) -> None:
        for track in step.tracks:
            keypoints = (
                track.keypoints if track.keypoints is not None else np.full((17, 3), np.nan, np.float32)
            )
            self.tracks.setdefault(track.track_id, []).append(
                (step.frame.pts, np.array(track.xyxy), keypoints)
            )

    def alarms(self, rule: KeypointRule) -> list[float]:
        times: list[float] = []
        for rows in self.tracks.values():
            pts = np.array([r[0] for r in rows], dtype=np.float32)
            boxes = np.stack([r[1] for r in rows]).astype(np.float32)
            keypoints = np.stack([r[2] for r in rows]).astype(np.float32)
            times += rule.alarms(pts, boxes, keypoints)
        return sorted(times)


def _video_settings(settings: Settings, db_url: str) -> Settings:
    return settings.model_copy(update={
        "store": settings.store.model_copy(update={"url": db_url}),
        "media": settings.media.model_copy(update={"enabled": False}),  # evidence is not scored; it costs time
        "notify": settings.notify.model_copy(update={"webhooks": [], "mqtt": settings.notify.mqtt.model_copy(update={"enabled": False})}),
    })  # fmt: skip


def evaluate_video(entry: ManifestEntry, index: int, settings: Settings, recognizer: Recognizer,
                   detector: PersonDetector, rule: KeypointRule) -> VideoResult:  # fmt: skip
    recorder = _TrackRecorder()
    alerts = AlertService.from_settings(settings, run_id=f"eval{index:04d}/")
    pipeline = Pipeline(
        settings, recognizer, alerts, detector=detector, keep_predictions=True, observer=recorder
    )
    camera = Camera("eval", CameraConfig(source=str(entry.path), crop=entry.crop), settings.ingest)
    result = pipeline.run([camera])
    incidents = sorted(e.pts for e in result.opened)
    baseline = recorder.alarms(rule)
    outcome = _judge(entry, incidents)
    base_outcome = _judge(entry, baseline)
    error = result.cameras["eval"].error
    if error:
        raise RuntimeError(error)
    return VideoResult(
        file=entry.relative, label=entry.label, source=entry.source, fall_start_s=entry.fall_start_s,
        fall_end_s=entry.fall_end_s, duration_s=entry.frames / entry.fps if entry.fps else 0.0,
        incident_times=[round(t, 3) for t in incidents], baseline_times=[round(t, 3) for t in baseline],
        detected=outcome.detected, latency_s=outcome.latency_s,
        baseline_detected=base_outcome.detected, baseline_latency_s=base_outcome.latency_s,
        analysed_frames=result.analysed_frames, wall_s=round(result.wall_s, 2), series=_series(result.predictions),
    )  # fmt: skip


def _series(predictions: list[Prediction]) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = {}
    for p in predictions:
        out.setdefault(str(p.track_id), []).append(
            [round(p.pts, 3), round(p.scores["falling"], 4), round(p.scores["lying"], 4)]
        )
    return out


def _judge(entry: ManifestEntry, alarms: Sequence[float]) -> Outcome:
    return judge_alarms(entry.relative, entry.source, entry.label == "fall", entry.fall_start_s, alarms)


def summarise(videos: Sequence[VideoResult], baseline: bool = False) -> dict[str, Any]:
    """The falldata protocol's figures (training.scoring, as cross-validation reports them) and the speed."""
    outcomes = [
        judge_alarms(v.file, v.source, v.label == "fall", v.fall_start_s,
                     v.baseline_times if baseline else v.incident_times)
        for v in videos
    ]  # fmt: skip
    adl_hours = sum(v.duration_s for v in videos if v.label != "fall") / 3600
    frames, wall = sum(v.analysed_frames for v in videos), sum(v.wall_s for v in videos)
    return {**summarize(outcomes, adl_hours), "analysed_fps": round(frames / wall, 2) if wall else None}


def evaluate(settings: Settings, entries: Sequence[ManifestEntry], progress: bool = True) -> dict[str, Any]:
    recognizer = Recognizer(settings.recognizer, settings)
    detector = PersonDetector(settings.detector, settings)
    rule = KeypointRule()
    videos: list[VideoResult] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fallwatch-eval-") as scratch:
        video_settings = _video_settings(settings, f"sqlite:///{Path(scratch) / 'eval.db'}")
        bar = tqdm(entries, desc="eval", unit="video", disable=not progress, file=sys.stderr)
        for index, entry in enumerate(bar):
            videos.append(evaluate_video(entry, index, video_settings, recognizer, detector, rule))
            bar.set_postfix(caught=sum(v.detected for v in videos if v.label == "fall"),
                            false_alarms=sum(v.detected for v in videos if v.label != "fall"))  # fmt: skip
    return {
        "checkpoint": str(recognizer.checkpoint),
        "videos": [asdict(v) for v in videos],
        "summary": summarise(videos),
        "baseline": {"rule": asdict(rule), "summary": summarise(videos, baseline=True)},
        "wall_s": round(time.monotonic() - started, 1),
        "thresholds": {"fall": settings.alerts.fall_threshold, "lying": settings.alerts.lying_threshold},
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def write_html(report: dict[str, Any], path: Path) -> None:
    """A page a person can read: the summary against the baseline, then every video's scores over time."""
    summary, base = report["summary"], report["baseline"]["summary"]
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{summary[k]}</td><td>{base[k]}</td></tr>" for k in summary
    )
    figures = "".join(_video_figure(v, report["thresholds"]) for v in report["videos"])
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>FallWatch evaluation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px}} .miss{{color:#b00}} .ok{{color:#070}} figure{{margin:1.5em 0}}</style>
</head><body><h1>FallWatch evaluation</h1><p>Checkpoint: {html.escape(report["checkpoint"])} &middot;
{len(report["videos"])} videos &middot; {report["wall_s"]} s</p>
<table><tr><th>metric</th><th>FallWatch</th><th>keypoint rule</th></tr>{rows}</table>{figures}</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)


def _video_figure(video: dict[str, Any], thresholds: dict[str, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.4))
    for track, rows in video["series"].items():
        data = np.array(rows)
        ax.plot(data[:, 0], data[:, 1], "-", color="tab:orange", alpha=0.8, label=f"falling #{track}")
        ax.plot(data[:, 0], data[:, 2], "-", color="tab:purple", alpha=0.8, label=f"lying #{track}")
    ax.axhline(thresholds["fall"], color="tab:orange", linestyle=":", linewidth=1)
    ax.axhline(thresholds["lying"], color="tab:purple", linestyle=":", linewidth=1)
    if video["fall_start_s"] is not None:
        end = video["fall_end_s"] if video["fall_end_s"] is not None else video["fall_start_s"] + 1
        ax.axvspan(video["fall_start_s"], end, color="grey", alpha=0.2, label="annotated fall")
    for t in video["incident_times"]:
        ax.axvline(t, color="red", linewidth=2, label="incident")
    for t in video["baseline_times"]:
        ax.axvline(t, color="black", linestyle="--", linewidth=1, label="keypoint rule")
    ax.set_xlim(0, max(video["duration_s"], 0.1))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("stream time (s)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=6, loc="upper left", ncol=4)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    image = base64.b64encode(buffer.getvalue()).decode()
    verdict = _verdict(video)
    return (f'<figure><figcaption><b>{html.escape(video["file"])}</b> ({video["label"]}) {verdict}</figcaption>'
            f'<img src="data:image/png;base64,{image}"></figure>')  # fmt: skip


def _verdict(video: dict[str, Any]) -> str:
    if video["label"] == "fall":
        if video["detected"]:
            return f'<span class="ok">caught, latency {video["latency_s"]} s</span>'
        return '<span class="miss">missed</span>'
    return '<span class="miss">false alarm</span>' if video["detected"] else '<span class="ok">quiet</span>'
