"""A short training run on two real clips, through FallWatch's own detector and tracker, lowers the loss."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fallwatch.core.config import Settings
from fallwatch.core.manifest import ManifestEntry
from fallwatch.training.cross_validate import training_windows
from fallwatch.training.dataset import load_histories
from fallwatch.training.train import TrainConfig, Trainer, balanced_sample, evaluate

CLIPS = ("GMDCSA24/Subject 4/Fall/02.mp4", "GMDCSA24/Subject 3/ADL/07.mp4")  # 3 s each
# The tiny preset made smaller still (8 frames of 64 px, 8 channels wide) so that a few steps take seconds.
SMALLER = (("width", 8), ("frames", 8), ("crop", 64))


@pytest.fixture(scope="module")
def two_clips(manifest: list[ManifestEntry], settings: Settings, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    entries = [e for e in manifest if e.relative in CLIPS]
    assert len(entries) == 2
    cache = tmp_path_factory.mktemp("histories")
    clips = load_histories(entries, settings, cache, progress=False)
    assert len(list(cache.glob("*.npz"))) == 2  # cached for the next run
    return clips


def test_history_extraction_finds_the_person(two_clips) -> None:  # type: ignore[no-untyped-def]
    for clip in two_clips:
        assert clip.history.tracks, f"no track in {clip.entry.relative}"
        track = max(clip.history.tracks, key=len)
        assert track.crops.shape[1:] == (112, 112, 3)
        assert len(track) >= 15  # most of the 3 s at 10 analysed frames per second


def test_short_training_lowers_the_loss(two_clips, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    config = TrainConfig(
        epochs=5, batch_size=8, samples_per_epoch=48, learning_rate=1e-2, device="cpu", overrides=SMALLER
    )
    trainer = Trainer(config, tmp_path / "run")
    windows = training_windows(two_clips, trainer.spec.frames)
    labels = {w.label for w in windows}
    assert len(labels) >= 2, "the two clips should give at least two classes of windows"
    import random

    fixed = balanced_sample(windows, 48, random.Random(1))
    before, _, _ = evaluate(trainer.model, trainer.spec, fixed, trainer.device)
    history = trainer.fit(windows, fixed, progress=False)
    after, _, _ = evaluate(trainer.model, trainer.spec, fixed, trainer.device)
    assert after < 0.8 * before, f"loss {before:.3f} -> {after:.3f}"
    assert history[-1].val_loss == pytest.approx(after, abs=1e-3)

    out = tmp_path / "run"
    rows = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert (out / "metrics.csv").read_text().startswith("epoch,train_loss")
    assert (out / "loss.png").stat().st_size > 1000 and (out / "last.pt").is_file()
    resumed = Trainer(config, out)  # resumes from last.pt: nothing left to train
    assert len(resumed.history) == 5
    assert resumed.fit(windows, [], progress=False) == resumed.history


def test_a_model_with_the_trajectory_input_trains_on_real_windows(two_clips, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import random

    torch.manual_seed(0)
    config = TrainConfig(
        preset="slowfast_tiny_trajectory",
        epochs=4,
        batch_size=8,
        samples_per_epoch=48,
        learning_rate=1e-2,
        device="cpu",
        overrides=SMALLER,
    )
    trainer = Trainer(config, tmp_path / "trajectory")
    assert trainer.spec.trajectory > 0
    windows = training_windows(two_clips, trainer.spec.frames)
    fixed = balanced_sample(windows, 48, random.Random(1))
    before, _, _ = evaluate(trainer.model, trainer.spec, fixed, trainer.device)
    trainer.fit(windows, [], progress=False)
    after, _, _ = evaluate(trainer.model, trainer.spec, fixed, trainer.device)
    assert after < 0.8 * before, f"loss {before:.3f} -> {after:.3f}"


def test_hard_negatives_are_normal_windows_of_a_person_low_and_are_drawn_more(two_clips) -> None:  # type: ignore[no-untyped-def]
    import random

    from fallwatch.training.train import NORMAL, hard_negatives

    windows = training_windows(two_clips, 16)
    falling = [w for w in windows if w.label == 1]
    assert falling and sum(w.looks_down(16) for w in falling) >= 0.8 * len(falling)  # the box drops
    hard = hard_negatives(windows, 16)
    assert all(w.label == NORMAL and w.looks_down(16) for w in hard)
    window = next(w for w in windows if w.label == NORMAL)
    standing = np.tile(np.array([[0, 0, 50, 150]], np.float32), (len(window.track), 1))
    assert not replace(window, track=replace(window.track, boxes=standing)).looks_down(16)
    kneeling = standing.copy()
    kneeling[window.start + 8 :, 1] = 60  # the box loses 40 % of its height half-way through the window
    assert replace(window, track=replace(window.track, boxes=kneeling)).looks_down(16)
    # A share of 0 draws exactly what plain balanced sampling draws; a share of 1 takes every normal from `hard`.
    plain = balanced_sample(windows, 60, random.Random(5))
    assert balanced_sample(windows, 60, random.Random(5), hard, 0.0) == plain
    pool = hard or falling[:3]  # stands in for hard windows if these two clips had none
    drawn = balanced_sample(windows, 60, random.Random(5), pool, 1.0)
    assert all(w in pool for w in drawn if w.label == NORMAL)
    assert sum(w.label == NORMAL for w in drawn) >= 15
