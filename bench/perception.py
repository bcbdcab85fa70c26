"""Benchmark of FallWatch's perception on the real fall clips of ../shared/falldata.

Measures, on this machine: decode, detect, embed, track and tubelet time per analysed frame; end-to-end
analysed frames per second for one camera analysed at 10 fps; peak memory; and tracking quality (coverage and ID
switches across the fall, on clips with one person in view) for both appearance embedders, side by side.

    .venv/bin/python bench/perception.py [--embedders histogram,mobilenet] [--limit N]

Writes a table to stdout, bench/results/perception.json and bench/results/perception.png.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fallwatch.core.config import CameraConfig, Settings, load_settings  # noqa: E402
from fallwatch.core.manifest import ManifestEntry, read_manifest  # noqa: E402
from fallwatch.core.timing import StageTimer  # noqa: E402
from fallwatch.detectors.perception import Perception  # noqa: E402
from fallwatch.detectors.person import PersonDetector  # noqa: E402
from fallwatch.detectors.quality import TrackQuality, single_person_quality  # noqa: E402
from fallwatch.ingest.cameras import Camera, CameraHub  # noqa: E402
from fallwatch.ingest.sampling import RateSampler  # noqa: E402
from fallwatch.ingest.sources import FileSource  # noqa: E402

RESULTS = REPO / "bench" / "results"
STAGES = ("decode", "detect", "embed", "track", "tubelets")


def one_person_falls(manifest: Path) -> list[ManifestEntry]:
    return [e for e in read_manifest(manifest) if e.is_fall and e.people_in_view == 1]


def decode_seconds(clip: ManifestEntry, fps: float) -> tuple[float, int]:
    """Wall time to decode a clip and convert the analysed frames to images (what a camera thread does)."""
    sampler = RateSampler(fps)
    start, analysed = time.perf_counter(), 0
    for decoded in FileSource(clip.path).frames():
        if sampler.keep(decoded.pts):
            decoded.to_bgr()
            analysed += 1
    return time.perf_counter() - start, analysed


def run_clip(
    clip: ManifestEntry, settings: Settings, perception: Perception
) -> tuple[TrackQuality, int, float]:
    camera = Camera("bench", CameraConfig(source=str(clip.path), crop=clip.crop), settings.ingest)
    per_frame, start = [], time.perf_counter()
    with CameraHub([camera]) as hub:
        for batch in hub.batches():
            per_frame += [step.tracks for step in perception.process(batch)]
    perception.finish("bench")
    return single_person_quality(per_frame), len(per_frame), time.perf_counter() - start


def run_embedder(
    embedder: str, clips: list[ManifestEntry], base: Settings, detector: PersonDetector
) -> dict[str, Any]:
    settings = base.model_copy(update={"tracker": base.tracker.model_copy(update={"embedder": embedder})})
    timer = StageTimer()
    perception = Perception(settings, detector=detector, timer=timer)
    per_clip, frames, wall = {}, 0, 0.0
    for clip in tqdm(clips, desc=f"perception ({embedder})", unit="clip", file=sys.stderr):
        quality, analysed, seconds = run_clip(clip, settings, perception)
        frames, wall = frames + analysed, wall + seconds
        per_clip[clip.relative] = {
            "frames": quality.frames, "coverage": round(quality.coverage, 4),
            "detected_coverage": round(quality.detected_coverage, 4), "id_switches": quality.id_switches,
        }  # fmt: skip
    return {"per_clip": per_clip, "analysed_frames": frames, "wall_s": wall, "timer": timer}


def summarise(run: dict[str, Any], decode_ms: float) -> dict[str, Any]:
    clips = run["per_clip"].values()
    frames = run["analysed_frames"]
    timer: StageTimer = run["timer"]
    good = sum(1 for c in clips if c["coverage"] >= 0.95 and c["id_switches"] == 0)
    return {
        "clips": len(clips),
        "clips_meeting_target": good,
        "clips_zero_switches": sum(1 for c in clips if c["id_switches"] == 0),
        "max_id_switches": max(c["id_switches"] for c in clips),
        "mean_coverage": round(sum(c["coverage"] for c in clips) / len(clips), 4),
        "mean_detected_coverage": round(sum(c["detected_coverage"] for c in clips) / len(clips), 4),
        "ms_per_frame": {
            "decode": round(decode_ms, 2),
            **{stage: round(timer.mean_ms(stage, per=frames), 2) for stage in STAGES[1:]},
        },
        "end_to_end_fps": round(frames / run["wall_s"], 2),
        "lost_on_floor": sorted(name for name, c in run["per_clip"].items() if c["coverage"] < 0.95),
    }


def print_table(summary: dict[str, dict[str, Any]]) -> None:
    names = list(summary)
    rows = [("stage, ms per analysed frame", *["" for _ in names])]
    for stage in STAGES:
        rows.append((f"  {stage}", *[f"{summary[n]['ms_per_frame'][stage]:.1f}" for n in names]))
    rows += [
        ("end-to-end analysed fps", *[f"{summary[n]['end_to_end_fps']:.1f}" for n in names]),
        ("clips meeting coverage>=0.95 and 0 switches",
         *[f"{summary[n]['clips_meeting_target']}/{summary[n]['clips']}" for n in names]),
        ("clips with 0 ID switches", *[f"{summary[n]['clips_zero_switches']}/{summary[n]['clips']}" for n in names]),
        ("max ID switches in a clip", *[str(summary[n]["max_id_switches"]) for n in names]),
        ("mean coverage (held / detected)",
         *[f"{summary[n]['mean_coverage']:.3f} / {summary[n]['mean_detected_coverage']:.3f}" for n in names]),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  " + "  ".join(f"{n:>14}" for n in names))
    for row in rows:
        print(f"{row[0]:{width}}  " + "  ".join(f"{v:>14}" for v in row[1:]))


def plot(summary: dict[str, dict[str, Any]], runs: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (stages_ax, cover_ax) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 2]})
    for offset, s in enumerate(summary.values()):
        bottom = 0.0
        for stage in STAGES:
            value = s["ms_per_frame"][stage]
            stages_ax.bar(offset, value, bottom=bottom, label=stage if offset == 0 else None)
            bottom += value
    stages_ax.axhline(100, color="red", linestyle="--", label="10 fps budget")
    stages_ax.set_xticks(range(len(summary)), list(summary))
    stages_ax.set_ylabel("ms per analysed frame")
    stages_ax.legend(fontsize=8)
    stages_ax.set_title("Where the time goes")
    first = next(iter(runs.values()))["per_clip"]
    names = list(first)
    for name, run in runs.items():
        cover_ax.plot(
            range(len(names)), [run["per_clip"][n]["coverage"] for n in names], "o", label=f"{name} coverage"
        )
        switches = [i for i, n in enumerate(names) if run["per_clip"][n]["id_switches"]]
        cover_ax.plot(switches, [0.02] * len(switches), "x", label=f"{name}: clip with an ID switch")
    cover_ax.axhline(0.95, color="red", linestyle="--", label="target 0.95")
    cover_ax.set_xticks(range(len(names)), [Path(n).stem[-12:] for n in names], rotation=90, fontsize=6)
    cover_ax.set_ylim(0, 1.05)
    cover_ax.set_title("Track coverage per one-person fall clip")
    cover_ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, default=REPO.parent / "shared" / "falldata" / "manifest.csv")
    parser.add_argument(
        "--embedders", default="histogram,mobilenet", help="comma-separated, compared side by side"
    )
    parser.add_argument("--limit", type=int, help="only the first N clips (quick look)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (this machine has 2 cores)")
    parser.add_argument(
        "--name", default="perception", help="results go to bench/results/NAME.json and NAME.png"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    clips = one_person_falls(args.manifest)[: args.limit]
    settings = load_settings(data_dir=REPO / "data")
    detector = PersonDetector(settings.detector, settings)
    decode_total, decode_frames = 0.0, 0
    for clip in tqdm(clips, desc="decode", unit="clip", file=sys.stderr):
        seconds, analysed = decode_seconds(clip, settings.ingest.fps)
        decode_total, decode_frames = decode_total + seconds, decode_frames + analysed
    decode_ms = 1000 * decode_total / decode_frames

    runs = {name: run_embedder(name, clips, settings, detector) for name in args.embedders.split(",")}
    summary = {name: summarise(run, decode_ms) for name, run in runs.items()}
    print_table(summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {"cpu_count": torch.get_num_threads(), "platform": platform.platform(),
                    "torch": torch.__version__, "python": platform.python_version()},
        "settings": {"imgsz": settings.detector.imgsz, "fps": settings.ingest.fps,
                     "tracker": settings.tracker.model_dump()},
        "clips": len(clips),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "summary": summary,
        "per_clip": {name: run["per_clip"] for name, run in runs.items()},
    }  # fmt: skip
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(summary, runs, RESULTS / f"{args.name}.png")
    print(f"peak RSS {report['peak_rss_mb']} MB; wrote {RESULTS / args.name}.json and .png")
    for name, s in summary.items():
        if s["lost_on_floor"]:
            print(f"{name}: coverage below 0.95 on {', '.join(s['lost_on_floor'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
