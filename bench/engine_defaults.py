"""The alert engine settings to ship: those chosen on every held-out video of several cross-validation runs.

Each run's fold models judged only videos they never saw; their predictions (`cv/fold*.json`) are replayed
through the engine on its grid (`training.replay`), pooled over the runs (a video judged by two seeds counts
twice), and the settings with the best sensitivity + specificity win, ties to the quieter. Held out for the
models, in-sample for these few settings: the cross-validated figures are the ones that judge them. Usage:

    .venv/bin/python bench/engine_defaults.py runs/cv_s0 runs/cv_s1

Needs the histories cache `fallwatch train` filled (the analysed frames' times). Writes
bench/results/engine_defaults.json and prints the settings and their outcomes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from fallwatch.core.config import load_settings
from fallwatch.core.manifest import read_manifest
from fallwatch.training.cross_validate import judged_clip
from fallwatch.training.dataset import history_cache_dir, load_histories
from fallwatch.training.replay import EngineTrials, JudgedClip, engine_settings, predictions_from_rows

RESULTS = Path(__file__).resolve().parent / "results"


def judged_runs(runs: list[Path], manifest: Path) -> list[JudgedClip]:
    """Every held-out video of every run, named `run:clip` so that two seeds' judgements stay apart."""
    settings = load_settings(None)
    clips = load_histories(read_manifest(manifest), settings, history_cache_dir(settings.data_dir))
    by_name = {c.entry.relative: c for c in clips}
    judged = []
    for run in runs:
        for fold in sorted((run / "cv").glob("fold*.json")):
            rows = json.loads(fold.read_text())["predictions"]
            for name, predictions in rows.items():
                clip = judged_clip(by_name[name], predictions_from_rows(predictions))
                judged.append(replace(clip, clip=f"{run.name}:{name}"))
    return judged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="output folders of `fallwatch train --cv-only`")
    parser.add_argument("--manifest", type=Path, default=Path("../shared/falldata/manifest.csv"))
    args = parser.parse_args()
    missing = [run for run in args.runs if not list((run / "cv").glob("fold*.json"))]
    if missing:
        print(f"{missing[0]}: no cv/fold*.json (expected a `fallwatch train --folds K` run)", file=sys.stderr)
        return 2
    judged = judged_runs(args.runs, args.manifest)
    trials = EngineTrials(judged, load_settings(None).alerts)
    chosen = trials.choose(judged)
    outcomes = trials.outcomes(judged, chosen)
    falls = [o for o in outcomes if o.is_fall]
    adls = [o for o in outcomes if not o.is_fall]
    result = {
        "runs": [str(run) for run in args.runs],
        "videos": len(judged),
        "settings": engine_settings(chosen),
        "falls_caught": sum(o.result == "caught" for o in falls),
        "falls": len(falls),
        "adl_quiet": sum(o.result == "quiet" for o in adls),
        "adl": len(adls),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "engine_defaults.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
