"""End-to-end benchmark of `fallwatch run`'s pipeline on this machine.

Measures analysed frames per second for one camera and for four cameras in one process (each camera a real
clip, analysed at 10 fps of stream time, files read as fast as the pipeline takes them), the share of the time
each stage takes, alert latency from the annotated fall start over the one-person fall clips, and peak memory.
The peer in the same run is perception alone (detector + tracker + tubelets, no recognizer and no alerts), so
the ratio shows what the recognizer and the alert stages cost.

    .venv/bin/python bench/pipeline.py [--latency-clips N]

Writes a table to stdout and bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fallwatch.alerts.service import AlertService  # noqa: E402
from fallwatch.app.evaluate import evaluate_video  # noqa: E402
from fallwatch.app.pipeline import Pipeline, settings_for  # noqa: E402
from fallwatch.core.config import CameraConfig, Settings, load_settings  # noqa: E402
from fallwatch.core.manifest import ManifestEntry, read_manifest  # noqa: E402
from fallwatch.detectors.perception import Perception  # noqa: E402
from fallwatch.detectors.person import PersonDetector  # noqa: E402
from fallwatch.ingest.cameras import Camera, CameraHub  # noqa: E402
from fallwatch.recognizer.infer import Recognizer  # noqa: E402
from fallwatch.training.keypoint_rule import KeypointRule  # noqa: E402

RESULTS = REPO / "bench" / "results"
FOUR = ["GMDCSA24/Subject 2/Fall/12.mp4", "GMDCSA24/Subject 3/Fall/01.mp4",
        "GMDCSA24/Subject 4/Fall/02.mp4", "public/thanhnc58__fall-detector/Fall07.mp4"]  # fmt: skip


def quiet_settings(base: Settings, scratch: Path) -> Settings:
    return base.model_copy(update={
        "store": base.store.model_copy(update={"url": f"sqlite:///{scratch / 'bench.db'}"}),
        "media": base.media.model_copy(update={"root": scratch / "media"}),
        "notify": base.notify.model_copy(update={"webhooks": []}),
    })  # fmt: skip


def cameras_for(entries: list[ManifestEntry], settings: Settings) -> list[Camera]:
    return [Camera(f"cam{i}", CameraConfig(source=str(e.path), crop=e.crop), settings.ingest)
            for i, e in enumerate(entries)]  # fmt: skip


def full_run(
    entries: list[ManifestEntry], settings: Settings, recognizer: Recognizer, detector: PersonDetector
) -> dict[str, Any]:
    alerts = AlertService.from_settings(settings, run_id=f"bench{time.time_ns()}/")
    pipeline = Pipeline(settings, recognizer, alerts, detector=detector)
    result = pipeline.run(cameras_for(entries, settings))
    stages = {
        k: round(1000 * v / max(result.analysed_frames, 1), 2) for k, v in pipeline.timer.seconds.items()
    }
    return {"analysed_frames": result.analysed_frames, "wall_s": round(result.wall_s, 2),
            "analysed_fps": round(result.analysed_fps, 2), "ms_per_frame": stages,
            "incidents": len(result.opened)}  # fmt: skip


def perception_run(
    entries: list[ManifestEntry], settings: Settings, detector: PersonDetector
) -> dict[str, Any]:
    perception = Perception(settings, detector=detector)
    start, frames = time.monotonic(), 0
    with CameraHub(cameras_for(entries, settings)) as hub:
        for batch in hub.batches():
            perception.process(batch)
            frames += len(batch)
    wall = time.monotonic() - start
    return {"analysed_frames": frames, "wall_s": round(wall, 2), "analysed_fps": round(frames / wall, 2)}


def latency(
    entries: list[ManifestEntry], settings: Settings, recognizer: Recognizer, detector: PersonDetector
) -> dict[str, Any]:
    caught, latencies = 0, []
    for index, entry in enumerate(tqdm(entries, desc="latency", unit="clip", file=sys.stderr)):
        video = evaluate_video(entry, index, settings, recognizer, detector, KeypointRule())
        if video.detected and video.latency_s is not None:
            caught += 1
            latencies.append(video.latency_s)
    return {
        "clips": len(entries), "caught": caught,
        "latency_median_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p90_s": round(float(np.percentile(latencies, 90)), 3) if latencies else None,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, default=REPO.parent / "shared" / "falldata" / "manifest.csv")
    parser.add_argument(
        "--latency-clips", type=int, default=40, help="one-person fall clips timed for latency"
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    manifest = read_manifest(args.manifest)
    by_path = {e.relative: e for e in manifest}
    four = [by_path[p] for p in FOUR]
    with tempfile.TemporaryDirectory(prefix="fallwatch-bench-") as scratch:
        base = load_settings(data_dir=REPO / "data")
        recognizer = Recognizer(base.recognizer)
        settings = settings_for(quiet_settings(base, Path(scratch)), recognizer)
        detector = PersonDetector(settings.detector, settings)
        torch.set_num_threads(args.threads)
        report: dict[str, Any] = {
            "machine": {"threads": args.threads, "platform": platform.platform(), "torch": torch.__version__},
            "one_camera": {"fallwatch": full_run(four[:1], settings, recognizer, detector),
                           "perception_only": perception_run(four[:1], settings, detector)},
            "four_cameras": {"fallwatch": full_run(four, settings, recognizer, detector),
                             "perception_only": perception_run(four, settings, detector)},
        }  # fmt: skip
        falls = [e for e in manifest if e.is_fall and e.people_in_view == 1][: args.latency_clips]
        no_media = settings.model_copy(update={"media": settings.media.model_copy(update={"enabled": False})})
        report["alert_latency"] = latency(falls, no_media, recognizer, detector)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for name in ("one_camera", "four_cameras"):
        run, peer = report[name]["fallwatch"], report[name]["perception_only"]
        report[name]["ratio_to_perception_only"] = round(run["analysed_fps"] / peer["analysed_fps"], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    print(f"{'':34}{'FallWatch':>12}{'perception only':>17}{'ratio':>8}")
    for name, label in (
        ("one_camera", "analysed fps, 1 camera"),
        ("four_cameras", "analysed fps, 4 cameras (total)"),
    ):
        run, peer = report[name]["fallwatch"], report[name]["perception_only"]
        print(
            f"{label:34}{run['analysed_fps']:>12.1f}{peer['analysed_fps']:>17.1f}{report[name]['ratio_to_perception_only']:>8.2f}"
        )
    stages = report["one_camera"]["fallwatch"]["ms_per_frame"]
    print("ms per analysed frame, 1 camera: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    lat = report["alert_latency"]
    print(
        f"alert latency from annotated fall start: median {lat['latency_median_s']} s, "
        f"p90 {lat['latency_p90_s']} s ({lat['caught']}/{lat['clips']} one-person falls caught)"
    )
    print(f"peak RSS {report['peak_rss_mb']} MB; wrote {RESULTS / 'pipeline.json'}")


if __name__ == "__main__":
    sys.exit(main())
