"""A page of the failures of cross-validation runs: a contact sheet for each missed fall and each false alarm.

    .venv/bin/python bench/failures.py runs/cv_engine_s0 runs/cv_engine_s1 --out runs/failures

For every video that one of the runs got wrong ("fallwatch", the product's figure, unless --method says
otherwise): eight frames around the moment that matters (the annotated fall start of a missed fall, the first
alarm of a false alarm or an early one), each stamped with its stream time, and the verdict of each run. The
page and its images are written under --out, outside the repository: they are frames of falldata's clips, which
stay where they are curated.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cv_runs import cv_reports  # noqa: E402
from fallwatch.core.manifest import ManifestEntry, read_manifest  # noqa: E402

FRAMES = 8
BEFORE_S, AFTER_S = 2.0, 3.0
THUMB_W = 240
WRONG = ("missed", "early", "false_alarm")


def failures(reports: list[dict[str, Any]], method: str) -> dict[str, list[dict[str, Any]]]:
    """Clip -> its outcome in every run, for the clips some run got wrong."""
    by_clip: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for outcome in report["per_video"].get(method, {}).get("videos", []):
            by_clip.setdefault(outcome["clip"], []).append(outcome | {"seed": report["seed"]})
    return {clip: runs for clip, runs in sorted(by_clip.items()) if any(o["result"] in WRONG for o in runs)}


def moment(entry: ManifestEntry, runs: list[dict[str, Any]]) -> float:
    """The time to look at: the fall's start for a missed fall, else the earliest wrong alarm."""
    alarms = [
        o["alarm_s"] for o in runs if o["result"] in ("early", "false_alarm") and o["alarm_s"] is not None
    ]
    if entry.is_fall and not alarms:
        return entry.fall_start_s or 0.0
    return min(alarms) if alarms else 0.0


def contact_sheet(entry: ManifestEntry, centre: float) -> np.ndarray:
    duration = entry.frames / entry.fps if entry.fps else 0.0
    times = np.linspace(max(0.0, centre - BEFORE_S), min(duration, centre + AFTER_S), FRAMES)
    capture = cv2.VideoCapture(str(entry.path))
    thumbs = []
    for t in times:
        capture.set(cv2.CAP_PROP_POS_MSEC, float(t) * 1000.0)
        ok, frame = capture.read()
        if not ok:
            frame = np.zeros((entry.height or 240, entry.width or 320, 3), np.uint8)
        if entry.crop:
            x1, y1, x2, y2 = entry.crop
            frame = frame[y1:y2, x1:x2]
        scale = THUMB_W / frame.shape[1]
        thumb = cv2.resize(frame, (THUMB_W, max(1, round(frame.shape[0] * scale))))
        cv2.putText(thumb, f"{t:.1f} s", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
        thumbs.append(thumb)
    capture.release()
    height = max(t.shape[0] for t in thumbs)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0))) for t in thumbs]
    rows = [np.hstack(padded[i : i + FRAMES // 2]) for i in range(0, FRAMES, FRAMES // 2)]
    return np.vstack(rows)


def verdicts(runs: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"seed {o['seed']}: {o['result']}" + (f" at {o['alarm_s']:.1f} s" if o["alarm_s"] is not None else "")
        for o in runs
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="output folders of `fallwatch train --cv-only`")
    parser.add_argument("--manifest", type=Path, default=REPO.parent / "shared" / "falldata" / "manifest.csv")
    parser.add_argument("--method", default="fallwatch", help="the method whose failures to show")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "failures")
    args = parser.parse_args()
    reports = cv_reports(args.runs)
    if reports is None:
        return 2
    entries = {e.relative: e for e in read_manifest(args.manifest)}
    wrong = failures(reports, args.method)
    args.out.mkdir(parents=True, exist_ok=True)
    sections = []
    for index, (clip, runs) in enumerate(tqdm(wrong.items(), desc="contact sheets", unit="video")):
        entry = entries.get(clip)
        if entry is None:
            print(
                f"{clip}: not in {args.manifest} (expected the manifest the runs were made on)",
                file=sys.stderr,
            )
            return 2
        image = f"{index:03d}.jpg"
        cv2.imwrite(
            str(args.out / image), contact_sheet(entry, moment(entry, runs)), [cv2.IMWRITE_JPEG_QUALITY, 80]
        )
        fall = f", fall at {entry.fall_start_s} s" if entry.fall_start_s is not None else ""
        sections.append(
            f"<h3>{html.escape(clip)}</h3><p>{entry.label}{fall} &middot; {html.escape(entry.source)} &middot; "
            f"{html.escape(verdicts(runs))}</p><img src='{image}'>"
        )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>FallWatch failures</title><body style='font-family:sans-serif'>"
        f"<h1>Failures of {html.escape(args.method)}: {len(wrong)} videos wrong in at least one of "
        f"{len(reports)} runs</h1>{''.join(sections)}</body>"
    )
    (args.out / "index.html").write_text(page)
    print(f"{len(wrong)} videos: {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
