"""Markdown tables of a cross-validation report (`cv.json`), for the model card and the README."""

from __future__ import annotations

from typing import Any

NAMES = {
    "fallwatch": "FallWatch (this model through the alert engine, as `fallwatch run`)",
    "recognizer": "FallWatch SlowFast, window rule (diagnostic)",
    "keypoint_rule": "keypoint rule (torso > 60 deg and box w/h > 1 for 1 s)",
    "human_fall_detection": "human-fall-detection 0.1.2 (YOLOv8, per frame)",
    "neura_fall_detection": "neura-fall-detection 0.1.0 (pose sequences on FallWatch's tracks, its own rule)",
    "recognizer_on_package_videos": "FallWatch, on the videos the package was run on",
}


# The methods of the per-source table: the product, then the references.
REFERENCED = ("fallwatch", "recognizer", "keypoint_rule", "human_fall_detection", "neura_fall_detection")


def ratio(a: int, b: int) -> str:
    """`a/b (share)`, or a dash where there is nothing to count."""
    return f"{a}/{b} ({a / b:.2f})" if b else "-"


def outcome_cell(row: dict[str, int], separator: str = " / ") -> str:
    """One source's falls caught and daily-activity videos quiet, a dash for a class it has none of."""
    falls = f"{row['falls_caught']}/{row['falls']}" if row["falls"] else "-"
    adl = f"{row['adl_quiet']}/{row['adl']}" if row["adl"] else "-"
    return f"{falls}{separator}{adl}"


def per_video_table(report: dict[str, Any]) -> str:
    rows = [
        "| method | falls caught | daily activity quiet | early alarms (falls) | median / p90 latency (s) "
        "| false alarms per hour of ADL |",
        "|---|---|---|---|---|---|",
    ]
    for key, method in report["per_video"].items():
        s = method["summary"]
        latency = (
            f"{s['latency_median_s']} / {s['latency_p90_s']}" if s["latency_median_s"] is not None else "-"
        )
        rows.append(
            f"| {NAMES.get(key, key)} | {ratio(s['falls_caught'], s['falls'])} | "
            f"{ratio(s['adl_quiet'], s['adl'])} | {s['falls_early']} | {latency} | {s['false_alarms_per_hour']} |"
        )
    return "\n".join(rows)


def per_source_table(report: dict[str, Any]) -> str:
    methods = [k for k in REFERENCED if k in report["per_video"]]
    sources = sorted({s for k in methods for s in report["per_video"][k]["by_source"]})
    header = "| source | " + " | ".join(f"{k}: falls caught / ADL quiet" for k in methods) + " |"
    rows = [header, "|---|" + "---|" * len(methods)]
    for source in sources:
        cells = []
        for key in methods:
            row = report["per_video"][key]["by_source"].get(source)
            if row is None:
                cells.append("not run")
                continue
            cells.append(outcome_cell(row))
        rows.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def per_class_table(report: dict[str, Any]) -> str:
    rows = ["| class | precision | recall | held-out windows |", "|---|---|---|---|"]
    for label, m in report["windows"].items():
        rows.append(f"| {label} | {m['precision']:.2f} | {m['recall']:.2f} | {m['support']} |")
    return "\n".join(rows)


def rules_table(report: dict[str, Any]) -> str:
    rows = [
        "| fold | held-out groups | alert engine (fall threshold, fall windows, lying threshold, travel limit, "
        "smoothing, min descent, crowd size) "
        "| window rule (threshold, windows in a row) | package rule |",
        "|---|---|---|---|---|",
    ]
    for index, (groups, rules) in enumerate(zip(report["fold_groups"], report["rules"], strict=True)):
        engine = rules.get("fallwatch", {})
        engine_text = (
            f"{engine.get('fall_threshold')}, {engine.get('fall_windows')}, {engine.get('lying_threshold')}, "
            f"{engine.get('travel_limit', 0.0)}, {engine.get('smoothing', '-')}, {engine.get('min_descent', 0.0)}, "
            f"{engine.get('crowd_size', 0)}"
        )
        rec = rules.get("recognizer", {})
        pkg = rules.get("human_fall_detection")
        pkg_text = f"conf >= {pkg['threshold']}, {pkg['consecutive']} frames" if pkg else "-"
        rows.append(
            f"| {index} | {', '.join(groups)} | {engine_text} | {rec.get('threshold')}, {rec.get('consecutive')} "
            f"| {pkg_text} |"
        )
    return "\n".join(rows)


def cv_markdown(report: dict[str, Any]) -> str:
    return "\n\n".join(
        [
            f"### Per video ({report['folds']} grouped folds, held-out videos)",
            per_video_table(report),
            "### Per source (falls caught / daily activity quiet)",
            per_source_table(report),
            f"### Per window ({report['window_count']} labelled held-out windows, argmax)",
            per_class_table(report),
            "### Thresholds: the engine's and the window rule's chosen on the other folds' held-out videos, the "
            "package's on the fold's training videos",
            rules_table(report),
            f"Engine settings chosen on all folds' held-out videos together: {report.get('engine_on_all_folds')}",
        ]
    )
