"""Compares cross-validation runs of recognizer variants (the trajectory input's ablation).

Each argument is the output directory of one `fallwatch train --folds K --cv-only` run (same folds, seed and
budget, one variant each). Prints a markdown table per video (the same held-out videos, the same scoring) and
per window, and writes bench/results/recognizer_ablation.{json,md,png}. Usage:

    .venv/bin/python bench/recognizer_ablation.py data/train_runs/cv_slowfast_tiny \\
        data/train_runs/cv_slowfast_tiny_trajectory
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))

from bench.cv_runs import cv_reports  # noqa: E402


def variant(run: Path, report: dict[str, Any]) -> dict[str, Any]:
    fold = json.loads((run / "cv" / "fold0.json").read_text())
    summary = report["per_video"]["fallwatch"]["summary"]
    return {
        "run": run.name,
        "folds": report["folds"],
        "seed": report["seed"],
        "train_windows_fold0": fold["train_windows"],
        "epochs": len(fold["history"]),
        "summary": summary,
        "windows": report["windows"],
        "rules": [r["recognizer"] for r in report["rules"]],
    }


def _ratio(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.2f})"


def markdown(variants: list[dict[str, Any]]) -> str:
    rows = [
        "| variant | falls caught | daily activity quiet | early alarms | median / p90 latency (s) "
        "| falling P / R (window) | lying P / R (window) |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        s, w = v["summary"], v["windows"]
        rows.append(
            f"| {v['run']} | {_ratio(s['falls_caught'], s['falls'])} | {_ratio(s['adl_quiet'], s['adl'])} | "
            f"{s['falls_early']} | {s['latency_median_s']} / {s['latency_p90_s']} | "
            f"{w['falling']['precision']:.2f} / {w['falling']['recall']:.2f} | "
            f"{w['lying']['precision']:.2f} / {w['lying']['recall']:.2f} |"
        )
    return "\n".join(rows)


def plot(variants: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.8 * len(variants) + 2, 4))
    names = [v["run"].replace("_", "_\n", 1) for v in variants]  # cv_\nslowfast_...: labels side by side
    sensitivity = [v["summary"]["sensitivity"] for v in variants]
    specificity = [v["summary"]["specificity"] for v in variants]
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], sensitivity, 0.4, label="falls caught (sensitivity)")
    ax.bar([i + 0.2 for i in x], specificity, 0.4, label="ADL quiet (specificity)")
    ax.axhline(0.95, color="grey", linestyle="--", linewidth=1, label="aim 0.95")
    ax.set_xticks(list(x), names, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title("Held-out videos, grouped cross-validation")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="+", type=Path, help="output directories of `fallwatch train --cv-only`"
    )
    args = parser.parse_args()
    reports = cv_reports(args.runs)
    if reports is None:
        return 2
    variants = [variant(run, report) for run, report in zip(args.runs, reports, strict=True)]
    table = markdown(variants)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recognizer_ablation.json").write_text(json.dumps(variants, indent=2) + "\n")
    (RESULTS / "recognizer_ablation.md").write_text(table + "\n")
    plot(variants, RESULTS / "recognizer_ablation.png")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
