"""Efficiency on a small CPU: FallWatch's detector runtime and motion gating against today's path, same run.

Two configurations: `today` (the detector in PyTorch on every analysed frame) and `fallwatch` (the default:
`detector.backend: auto`, OpenVINO here, and motion gating). Three workloads, each camera a file analysed at
10 fps of stream time and read as fast as the pipeline takes it, so the figure is the capacity:

- four cameras with people moving in all of them (falldata fall clips);
- twelve cameras as in a care home at night: three with people moving, nine still scenes (a real frame of a
  falldata clip held for 10 s, with ffmpeg's temporal noise as a camera's sensor noise), stating the share of
  the 2 cores that twelve real-time cameras at 10 fps would take;
- the four cameras again while a second process burns one core.

Plus alert latency from the annotated fall start on one-person falls (default configuration) and peak memory.

    .venv/bin/python bench/efficiency.py [--latency-clips N] [--seconds S]

Writes a table to stdout, bench/results/efficiency.json and bench/results/efficiency.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.pipeline import FOUR, latency, quiet_settings  # noqa: E402
from fallwatch.alerts.service import AlertService  # noqa: E402
from fallwatch.app.pipeline import Pipeline, settings_for  # noqa: E402
from fallwatch.core.config import CameraConfig, MotionConfig, Settings, load_settings  # noqa: E402
from fallwatch.core.manifest import ManifestEntry, read_manifest  # noqa: E402
from fallwatch.detectors.person import PersonDetector  # noqa: E402
from fallwatch.ingest.cameras import Camera  # noqa: E402
from fallwatch.recognizer.infer import Recognizer  # noqa: E402

RESULTS = REPO / "bench" / "results"
MOVING = [*FOUR, "GMDCSA24/Subject 2/ADL/23.mp4"]
RATE = 10.0


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def still_scene(entry: ManifestEntry, folder: Path, seconds: float) -> Path:
    """A real frame of `entry`, held with temporal sensor noise: what a quiet room looks like to a camera."""
    target = folder / f"still_{abs(hash(entry.relative)) % 10**8}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", "0.5", "-i", str(entry.path), "-an",
         "-vf", f"trim=end_frame=1,loop=loop={int(seconds * 15)}:size=1:start=0,noise=alls=4:allf=t,setpts=N/15/TB",
         "-r", "15", "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(target)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return target


def configuration(base: Settings, name: str) -> Settings:
    if name == "today":
        detector = base.detector.model_copy(update={"backend": "torch"})
        return base.model_copy(update={"detector": detector, "motion": MotionConfig(enabled=False)})
    return base


def run(
    sources: list[Path], settings: Settings, recognizer: Recognizer, detector: PersonDetector
) -> dict[str, Any]:
    ingest = settings.ingest.model_copy(update={"fps": RATE})
    cameras = [Camera(f"cam{i:02d}", CameraConfig(source=str(p)), ingest) for i, p in enumerate(sources)]
    alerts = AlertService.from_settings(settings, run_id=f"eff{time.time_ns()}/")
    pipeline = Pipeline(settings, recognizer, alerts, detector=detector)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    result = pipeline.run(cameras)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    per_camera = {name: round(report.analysed / result.wall_s, 2) for name, report in result.cameras.items()}
    gating = {c.name: pipeline.perception.gate_counts(c.name) for c in cameras}
    return {
        "analysed_frames": result.analysed_frames,
        "wall_s": round(result.wall_s, 2),
        "total_fps": round(result.analysed_fps, 2),
        "fps_per_camera": per_camera,
        "min_fps_per_camera": min(per_camera.values()),
        "cpu_cores_busy": round(cpu_s / result.wall_s, 2),
        "detector_runs": sum(g.detected for g in gating.values()),
        "gated_frames": sum(g.skipped for g in gating.values()),
        "ms_per_frame": {
            k: round(1000 * v / max(result.analysed_frames, 1), 2) for k, v in pipeline.timer.seconds.items()
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, default=REPO.parent / "shared" / "falldata" / "manifest.csv")
    parser.add_argument(
        "--latency-clips", type=int, default=20, help="one-person fall clips timed for latency"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each still scene")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    manifest = read_manifest(args.manifest)
    by_path = {e.relative: e for e in manifest}
    four = [by_path[p].path for p in FOUR]
    report: dict[str, Any] = {"machine": {"threads": args.threads, "platform": platform.platform()}}
    with tempfile.TemporaryDirectory(prefix="fallwatch-efficiency-") as scratch:
        folder = Path(scratch)
        quiet = [e for e in manifest if e.label == "adl"][:9]
        stills = [still_scene(e, folder, args.seconds) for e in quiet]
        twelve = [by_path[p].path for p in MOVING[:3]] + stills
        base = quiet_settings(load_settings(data_dir=REPO / "data"), folder)
        recognizer = Recognizer(base.recognizer)
        for name in ("today", "fallwatch"):
            settings = settings_for(configuration(base, name), recognizer)
            detector = PersonDetector(settings.detector, settings)
            torch.set_num_threads(args.threads)
            report[name] = {"backend": detector.backend, "four_moving": run(four, settings, recognizer, detector),
                            "twelve_care_home": run(twelve, settings, recognizer, detector)}  # fmt: skip
            burner = multiprocessing.Process(target=burn, args=(600.0,), daemon=True)
            burner.start()
            try:
                report[name]["four_moving_loaded"] = run(four, settings, recognizer, detector)
            finally:
                burner.terminate()
                burner.join()
        settings = settings_for(base, recognizer)
        falls = [e for e in manifest if e.is_fall and e.people_in_view == 1][: args.latency_clips]
        no_media = settings.model_copy(update={"media": settings.media.model_copy(update={"enabled": False})})
        report["alert_latency"] = latency(
            falls, no_media, recognizer, PersonDetector(settings.detector, settings)
        )
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    summarise(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "efficiency.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, RESULTS / "efficiency.png")
    print_table(report)
    return 0


def summarise(report: dict[str, Any]) -> None:
    for name in ("today", "fallwatch"):
        runs = report[name]
        runs["loaded_over_idle"] = round(
            runs["four_moving_loaded"]["total_fps"] / runs["four_moving"]["total_fps"], 3
        )
        twelve = runs["twelve_care_home"]
        # Twelve real-time cameras need 12 x 10 frames a second; the run measured how many the cores can do.
        needed = 12 * RATE
        runs["twelve_realtime_core_share"] = round(
            needed / twelve["total_fps"] * twelve["cpu_cores_busy"] / 2, 3
        )
    report["ratios_fallwatch_over_today"] = {
        key: round(report["fallwatch"][key]["total_fps"] / report["today"][key]["total_fps"], 2)
        for key in ("four_moving", "twelve_care_home", "four_moving_loaded")
    }


def print_table(report: dict[str, Any]) -> None:
    today, ours = report["today"], report["fallwatch"]
    print(f"{'':46}{'today':>12}{'FallWatch':>12}{'ratio':>8}")
    rows = [
        ("4 moving cameras: analysed fps per camera (min)", "four_moving", "min_fps_per_camera"),
        ("4 moving cameras: total analysed fps", "four_moving", "total_fps"),
        ("12 care-home cameras: total analysed fps", "twelve_care_home", "total_fps"),
        ("12 care-home cameras: fps per camera (min)", "twelve_care_home", "min_fps_per_camera"),
        ("4 moving, one core burnt: total fps", "four_moving_loaded", "total_fps"),
    ]
    for label, run_name, key in rows:
        a, b = today[run_name][key], ours[run_name][key]
        print(f"{label:46}{a:>12.1f}{b:>12.1f}{b / a:>8.2f}")
    print(
        f"{'loaded / idle (4 moving)':46}{today['loaded_over_idle']:>12.2f}{ours['loaded_over_idle']:>12.2f}"
    )
    print(f"{'share of 2 cores for 12 real-time cameras':46}{today['twelve_realtime_core_share']:>12.2f}"
          f"{ours['twelve_realtime_core_share']:>12.2f}")  # fmt: skip
    gated = ours["twelve_care_home"]
    print(
        f"12 cameras, FallWatch: detector ran on {gated['detector_runs']} frames, gating skipped {gated['gated_frames']}"
    )
    lat = report["alert_latency"]
    print(f"alert latency (FallWatch): median {lat['latency_median_s']} s, p90 {lat['latency_p90_s']} s "
          f"({lat['caught']}/{lat['clips']} one-person falls caught)")  # fmt: skip
    print(f"peak RSS {report['peak_rss_mb']} MB; wrote {RESULTS / 'efficiency.json'} and efficiency.png")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = ("four_moving", "twelve_care_home", "four_moving_loaded")
    titles = (
        "4 cameras, people moving",
        "12 care-home cameras (3 moving, 9 still)",
        "4 cameras, one core burnt",
    )
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for ax, run_name, title in zip(axes, runs, titles, strict=True):
        for offset, (name, colour) in enumerate((("today", "tab:grey"), ("fallwatch", "tab:blue"))):
            fps = report[name][run_name]["fps_per_camera"]
            xs = [i + offset * 0.4 for i in range(len(fps))]
            ax.bar(
                xs, list(fps.values()), width=0.4, color=colour, label=f"{name} ({report[name]['backend']})"
            )
        ax.axhline(RATE, color="tab:red", linestyle=":", linewidth=1, label="10 fps a camera")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("camera")
    axes[0].set_ylabel("analysed frames per second")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
