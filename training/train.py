"""Training a SlowFast on labelled windows: class-balanced sampling, CCTV augmentations, resumable checkpoints,
per-epoch metrics (JSON and CSV) and plots.

The loop is the same on CPU and GPU; `device="auto"` takes a GPU when there is one.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from fallwatch.core.devices import pick_device
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import LABELS
from fallwatch.recognizer.checkpoint import load_checkpoint, save_checkpoint
from fallwatch.recognizer.finetune import replace_head
from fallwatch.recognizer.inputs import clips_to_inputs
from fallwatch.recognizer.presets import DEFAULT_PRESET, preset_spec
from fallwatch.recognizer.pretrained import init_from_mc3_18, mc3_18_problem, mc3_18_provenance
from fallwatch.recognizer.slowfast import SlowFast, build_slowfast
from fallwatch.recognizer.spec import RecognizerSpec
from fallwatch.recognizer.trajectory import augment_trajectory
from fallwatch.training.synthetic import synthetic_trajectories
from fallwatch.training.synthetic_task import SyntheticTask
from fallwatch.training.windows import Window, augment


@dataclass(frozen=True, slots=True)
class TrainConfig:
    preset: str = DEFAULT_PRESET
    epochs: int = 12
    batch_size: int = 16
    samples_per_epoch: int = 768  # drawn class-balanced, with replacement, from all training windows
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    base: Path | None = None  # a checkpoint to fine-tune (its head is replaced when its labels differ)
    # Architecture fields changed from the preset's, e.g. (("width", 8),) for a smaller network in tests.
    overrides: tuple[tuple[str, int | float], ...] = ()
    # Pretrained weights for a model trained from scratch: "mc3_18" (`recognizer.pretrained`) fills the slow
    # pathway of a preset shaped for it, such as slowfast_r18_mc3; None: random init.
    init: str | None = None
    # Synthetic trajectory windows (`training.synthetic`) the trajectory encoder also learns from, as a second
    # task (`training.synthetic_task`); 0: none. Only for presets with the trajectory input.
    synthetic_trajectories: int = 0
    # Share of the class-balanced `normal` draws taken from the normal windows where the person looks or goes
    # low (`hard_negatives`): the daily life most like a fall, sampled more. 0: plain balanced sampling.
    hard_negatives: float = 0.0


@dataclass
class EpochMetrics:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0


INITS = ("mc3_18",)
NORMAL = LABELS.index("normal")


def build_model(config: TrainConfig) -> tuple[SlowFast, RecognizerSpec]:
    if config.base is None:
        fields: dict[str, Any] = {**dict(config.overrides), "num_classes": len(LABELS)}
        spec = preset_spec(config.preset, LABELS, **fields)
        if config.init is not None:
            return _pretrained_model(config.init, spec)
        return build_slowfast(spec.arch), spec
    if config.init is not None:
        raise FallWatchError(
            f"init {config.init} starts a preset from scratch; it cannot be combined with a base"
        )
    model, spec = load_checkpoint(config.base)
    if tuple(spec.labels) != LABELS:
        model, spec = replace_head(model, spec, LABELS)
    return model, spec


def _pretrained_model(init: str, spec: RecognizerSpec) -> tuple[SlowFast, RecognizerSpec]:
    """A fresh network of `spec` whose slow pathway starts from `init`'s weights; the spec records them."""
    if init not in INITS:
        raise FallWatchError(f"init {init!r}: unknown pretrained start (expected one of {', '.join(INITS)})")
    problem = mc3_18_problem(spec.arch)
    if problem is not None:
        raise FallWatchError(f"init mc3_18: {problem}")
    model = build_slowfast(spec.arch)
    init_from_mc3_18(model)
    return model, replace(spec, derived_from=mc3_18_provenance())


def balanced_sample(
    windows: Sequence[Window],
    count: int,
    rng: random.Random,
    hard: Sequence[Window] = (),
    hard_share: float = 0.0,
) -> list[Window]:
    """`count` windows, each label equally likely, uniformly within a label; a `hard_share` of the `normal`
    draws comes from the `hard` normal windows instead (none, or a share of 0: a plain balanced sample)."""
    by_label: dict[int, list[Window]] = {}
    for window in windows:
        by_label.setdefault(window.label, []).append(window)
    labels = sorted(by_label)
    hard_pool = list(hard)
    out = []
    for i in rng.sample(range(count), count):
        label = labels[i % len(labels)]
        pool = by_label[label]
        if hard_pool and hard_share and label == NORMAL and rng.random() < hard_share:
            pool = hard_pool
        out.append(rng.choice(pool))
    return out


def hard_negatives(windows: Sequence[Window], frames: int) -> list[Window]:
    """The `normal` windows where the person looks or goes low: lying down on purpose, kneeling, exercise."""
    return [w for w in windows if w.label == NORMAL and w.looks_down(frames)]


def batch_inputs(
    windows: Sequence[Window], spec: RecognizerSpec, device: str, rng: random.Random | None
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The model's inputs and the labels of `windows`, augmented when `rng` is given."""
    clips = [w.frames(spec.frames) for w in windows]
    trajectories = [w.trajectory(spec.frames) for w in windows] if spec.trajectory else None
    if rng is not None:
        mirrored = [rng.random() < 0.5 for _ in windows]
        clips = [augment(c, rng, m) for c, m in zip(clips, mirrored, strict=True)]
        if trajectories is not None:
            trajectories = [
                augment_trajectory(t, rng, m) for t, m in zip(trajectories, mirrored, strict=True)
            ]
    inputs = clips_to_inputs(
        np.stack(clips),
        spec,
        device=device,
        trajectories=None if trajectories is None else np.stack(trajectories),
    )
    return inputs, torch.tensor([w.label for w in windows], device=device)


def evaluate(
    model: nn.Module, spec: RecognizerSpec, windows: Sequence[Window], device: str, batch_size: int = 32
) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean loss, predicted probabilities (N, 3) and true labels (N,) over windows, without augmentation."""
    model.eval()
    losses, probabilities = [], []
    with torch.inference_mode():
        for start in range(0, len(windows), batch_size):
            inputs, targets = batch_inputs(windows[start : start + batch_size], spec, device, None)
            logits = model(inputs)
            losses.append(float(nn.functional.cross_entropy(logits, targets, reduction="sum")))
            probabilities.append(torch.softmax(logits, 1).cpu().numpy())
    truth = np.array([w.label for w in windows])
    return sum(losses) / max(len(windows), 1), np.concatenate(probabilities), truth


def per_class_metrics(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, dict[str, float]]:
    predicted = probabilities.argmax(1)
    out = {}
    for index, label in enumerate(LABELS):
        tp = int(((predicted == index) & (truth == index)).sum())
        fp = int(((predicted == index) & (truth != index)).sum())
        fn = int(((predicted != index) & (truth == index)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        out[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "support": int((truth == index).sum()),
        }
    return out


class Trainer:
    """Trains one model into `out_dir`, resuming from `out_dir/last.pt` when it is there."""

    def __init__(self, config: TrainConfig, out_dir: Path) -> None:
        self.config = config
        self.out_dir = out_dir
        self.device = pick_device(config.device)
        self.model, self.spec = build_model(config)
        self.model.to(self.device)
        self.synthetic = self._synthetic_task()
        parameters = list(self.model.parameters())
        if self.synthetic is not None:
            parameters += list(self.synthetic.head_parameters())
        self.optimizer = torch.optim.AdamW(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        steps = config.epochs * max(config.samples_per_epoch // config.batch_size, 1)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, config.learning_rate, total_steps=steps
        )
        self.history: list[EpochMetrics] = []
        self._resume()

    def _synthetic_task(self) -> SyntheticTask | None:
        count = self.config.synthetic_trajectories
        if not count:
            return None
        if self.model.trajectory is None:
            raise FallWatchError(
                f"synthetic trajectories need a preset with the trajectory input; {self.config.preset} has none"
            )
        pool = synthetic_trajectories(count, self.spec.frames, seed=self.config.seed)
        return SyntheticTask(self.model.trajectory, pool).to(self.device)

    @property
    def _state_path(self) -> Path:
        return self.out_dir / "last.pt"

    def _resume(self) -> None:
        if not self._state_path.is_file():
            return
        state = torch.load(self._state_path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        if self.synthetic is not None:
            self.synthetic.head.load_state_dict(state["synthetic_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = [EpochMetrics(**m) for m in state["history"]]

    def _save_state(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._state_path.with_suffix(".tmp")
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "history": [asdict(m) for m in self.history],
                **({} if self.synthetic is None else {"synthetic_head": self.synthetic.head.state_dict()}),
                "config": {k: str(v) for k, v in asdict(self.config).items()},
            },
            tmp,
        )
        tmp.replace(self._state_path)

    def fit(
        self, train: Sequence[Window], val: Sequence[Window], progress: bool = True
    ) -> list[EpochMetrics]:
        share = self.config.hard_negatives
        hard = hard_negatives(train, self.spec.frames) if share else []
        for epoch in range(len(self.history) + 1, self.config.epochs + 1):
            rng = random.Random(self.config.seed * 1000 + epoch)
            torch.manual_seed(self.config.seed * 1000 + epoch)
            start = time.perf_counter()
            sample = balanced_sample(train, self.config.samples_per_epoch, rng, hard, share)
            loss = self._epoch(sample, rng, epoch, progress)
            metrics = EpochMetrics(epoch, loss, None, None, seconds=0.0)
            if val:
                val_loss, probabilities, truth = evaluate(self.model, self.spec, val, self.device)
                metrics.val_loss = round(val_loss, 4)
                metrics.val_accuracy = round(float((probabilities.argmax(1) == truth).mean()), 4)
                metrics.per_class = per_class_metrics(probabilities, truth)
            metrics.seconds = round(time.perf_counter() - start, 1)
            self.history.append(metrics)
            self._save_state()
            self.write_logs()
        return self.history

    def _epoch(self, sample: list[Window], rng: random.Random, epoch: int, progress: bool) -> float:
        self.model.train()
        total, seen = 0.0, 0
        size = self.config.batch_size
        batches = range(0, len(sample) - size + 1, size)
        # Its own stream, so that the real batches' augmentations are those of a run without synthetic data.
        synthetic_rng = random.Random(f"synthetic {self.config.seed} {epoch}")
        for start in tqdm(
            batches,
            desc=f"epoch {epoch}/{self.config.epochs}",
            unit="batch",
            disable=not progress,
            leave=False,
        ):
            inputs, targets = batch_inputs(sample[start : start + size], self.spec, self.device, rng)
            loss = nn.functional.cross_entropy(self.model(inputs), targets)
            if self.synthetic is not None:
                loss = loss + self.synthetic.loss(size, synthetic_rng, self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
            self.scheduler.step()
            total, seen = total + float(loss.detach()) * len(targets), seen + len(targets)
        return round(total / max(seen, 1), 4)

    def save(self, path: Path) -> Path:
        self.model.eval()
        return save_checkpoint(self.model.cpu(), self.spec, path)

    def write_logs(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        rows = [asdict(m) for m in self.history]
        (self.out_dir / "metrics.json").write_text(json.dumps(rows, indent=2) + "\n")
        with (self.out_dir / "metrics.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            header = ["epoch", "train_loss", "val_loss", "val_accuracy", "seconds"]
            header += [f"{label}_{m}" for label in LABELS for m in ("precision", "recall")]
            writer.writerow(header)
            for m in self.history:
                pcs = [
                    m.per_class.get(label, {}).get(k, "") for label in LABELS for k in ("precision", "recall")
                ]
                writer.writerow([m.epoch, m.train_loss, m.val_loss, m.val_accuracy, m.seconds, *pcs])
        plot_history(self.history, self.out_dir / "loss.png")


def plot_history(history: Sequence[EpochMetrics], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [m.epoch for m in history]
    ax.plot(epochs, [m.train_loss for m in history], "o-", label="train loss")
    if any(m.val_loss is not None for m in history):
        ax.plot(
            epochs,
            [np.nan if m.val_loss is None else m.val_loss for m in history],
            "o-",
            label="held-out loss",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_precision_recall(probabilities: np.ndarray, truth: np.ndarray, path: Path) -> None:
    """One precision-recall curve per class (one-vs-rest) over held-out windows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for index, label in enumerate(LABELS):
        order = np.argsort(-probabilities[:, index])
        positive = (truth[order] == index).astype(float)
        if positive.sum() == 0:
            continue
        tp = np.cumsum(positive)
        precision = tp / np.arange(1, len(tp) + 1)
        recall = tp / positive.sum()
        ax.plot(recall, precision, label=f"{label} (n={int(positive.sum())})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("Held-out windows, per class")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def describe(history: Sequence[EpochMetrics]) -> dict[str, Any]:
    return asdict(history[-1]) if history else {}
