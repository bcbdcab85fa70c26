"""Synthetic trajectories: the stick figure falls, lies down slowly and walks as the labels say, the camera
foreshortens it, and the second task teaches the trajectory encoder without moving its real statistics."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import LABELS
from fallwatch.recognizer.trajectory import FEATURES
from fallwatch.recognizer.trajectory_encoder import TrajectoryEncoder
from fallwatch.training.synthetic import POSES, Camera, Timeline, body_points, synthetic_trajectories
from fallwatch.training.synthetic_task import SyntheticTask, frozen_running_stats
from fallwatch.training.train import TrainConfig, Trainer

COS = FEATURES - 2  # the torso angle's cosine column: 1 upright, 0 lying
LOG_HEIGHT = 3


def test_windows_are_labelled_features_of_every_class_and_repeat_with_the_seed() -> None:
    pool = synthetic_trajectories(300, 16, seed=3)
    assert pool.features.shape == (300, 16, FEATURES) and np.isfinite(pool.features).all()
    counts = pool.counts()
    assert all(counts[label] >= 30 for label in LABELS), counts
    again = synthetic_trajectories(300, 16, seed=3)
    assert np.array_equal(pool.features, again.features) and np.array_equal(pool.labels, again.labels)
    assert not np.array_equal(pool.features, synthetic_trajectories(300, 16, seed=4).features)


def test_a_falling_window_goes_from_upright_to_flat_and_a_lying_one_stays_flat() -> None:
    pool = synthetic_trajectories(600, 16, seed=0)
    falling = pool.features[pool.labels == LABELS.index("falling")]
    lying = pool.features[pool.labels == LABELS.index("lying")]
    assert falling[:, 0, COS].mean() > 0.6 and falling[:, -1, COS].mean() < 0.35
    assert falling[:, -1, LOG_HEIGHT].mean() < falling[:, 0, LOG_HEIGHT].mean() - 0.3  # the box turns low
    assert abs(lying[:, :, COS].mean()) < 0.2


def _seconds_to_flat(line: Timeline) -> float:
    times = np.arange(0, line.now, 0.02)
    torso = np.abs(line.sample(times)[:, 1])
    moving = times[(torso > 0.1) & (torso < math.pi / 2 - 0.1)]
    return float(moving[-1] - moving[0])


def test_a_fall_is_fast_and_lying_down_on_purpose_is_slow() -> None:
    fall = Timeline().hold(1.0).move(0.8, "lie_front", 0.3, fall=True).hold(2.0)
    lie_down = Timeline().hold(1.0).move(1.5, "sit").move(2.0, "lie_back").hold(2.0)
    assert fall.fall is not None and fall.fall.start == 1.0 and fall.fall.rest == pytest.approx(1.8)
    assert lie_down.fall is None
    assert _seconds_to_flat(fall) < 0.8 < 1.5 < _seconds_to_flat(lie_down)


def test_the_body_stands_on_the_floor_and_a_ceiling_camera_foreshortens_it() -> None:
    points, crown = body_points(np.array(POSES["stand"]))
    assert points[:, 2].min() == pytest.approx(0.0) and crown[2] == pytest.approx(1.0)
    lying, _ = body_points(np.array(POSES["lie_back"]))
    assert np.ptp(lying[:, 0]) > 0.9 and np.ptp(lying[:, 2]) < 0.05

    def height(elevation: float) -> float:
        camera = Camera(height_px=100.0, elevation=elevation, yaw=0.0, roll=0.0, origin=(0.0, 0.0))
        return float(np.ptp(camera.project(np.vstack([points, crown]))[:, 1]))

    assert height(0.0) == pytest.approx(100.0)
    # From above, a standing person is a blob: the shoulders' width and little height.
    assert height(1.4) < 0.35 * height(0.0)


def test_the_second_task_teaches_the_encoder_and_leaves_its_running_statistics() -> None:
    torch.manual_seed(0)
    encoder = TrajectoryEncoder(FEATURES, 16)
    task = SyntheticTask(encoder, synthetic_trajectories(400, 16, seed=1))
    optimizer = torch.optim.Adam([*encoder.parameters(), *task.head_parameters()], lr=1e-2)
    norms = [m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    means = [m.running_mean.clone() for m in norms]  # type: ignore[union-attr]
    rng = random.Random(0)
    encoder.train()
    first = float(task.loss(64, random.Random(99), "cpu").detach())
    for _ in range(60):
        loss = task.loss(32, rng, "cpu")
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    assert float(task.loss(64, random.Random(99), "cpu").detach()) < 0.6 * first
    for norm, mean in zip(norms, means, strict=True):
        assert torch.equal(norm.running_mean, mean)  # type: ignore[arg-type]
        assert int(norm.num_batches_tracked) == 0  # type: ignore[arg-type]


def test_frozen_running_stats_restores_the_momentum() -> None:
    norm = torch.nn.BatchNorm1d(4)
    with frozen_running_stats(norm):
        norm(torch.randn(8, 4) + 5.0)
    assert norm.momentum == 0.1 and torch.equal(norm.running_mean, torch.zeros(4))
    norm(torch.randn(8, 4) + 5.0)  # outside, the statistics move again
    assert float(norm.running_mean.mean()) > 0.2


def test_a_trainer_with_synthetic_trajectories_keeps_its_head_across_a_resume(tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=1, batch_size=4, samples_per_epoch=4, device="cpu", synthetic_trajectories=50,
        overrides=(("width", 8), ("frames", 8), ("crop", 64)),
    )  # fmt: skip
    trainer = Trainer(config, tmp_path / "run")
    assert trainer.synthetic is not None and trainer.synthetic.pool.features.shape == (50, 8, FEATURES)
    trainer._save_state()
    resumed = Trainer(config, tmp_path / "run")
    assert resumed.synthetic is not None
    for a, b in zip(trainer.synthetic.head.parameters(), resumed.synthetic.head.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(FallWatchError, match="trajectory input"):
        Trainer(TrainConfig(preset="slowfast_tiny", device="cpu", synthetic_trajectories=10), tmp_path / "x")
