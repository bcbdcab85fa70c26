"""Synthetic trajectories as a second task while the recognizer trains: the trajectory encoder also learns to
tell falls from controlled lie-downs, kneeling and sit-ups on `training.synthetic`'s stick figures.

Each training step adds the cross-entropy of a small linear head over the encoder's pooled features on a
class-balanced batch of synthetic windows. The head exists only during training; the shipped network is the
same. The encoder's batch-norm running statistics are frozen on synthetic batches, so that at inference it
normalises real trajectories by real statistics only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from fallwatch.core.types import LABELS
from fallwatch.recognizer.trajectory_encoder import TrajectoryEncoder
from fallwatch.training.synthetic import SyntheticTrajectories

WEIGHT = 0.5  # of the synthetic loss beside the real one: real footage stays the main teacher


class SyntheticTask(nn.Module):
    def __init__(self, encoder: TrajectoryEncoder, pool: SyntheticTrajectories) -> None:
        super().__init__()
        if len(pool.labels) == 0:
            raise ValueError("the synthetic trajectory pool is empty")
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, len(LABELS))
        self.pool = pool
        self._by_label = {i: (pool.labels == i).nonzero()[0] for i in range(len(LABELS))}
        self._by_label = {i: rows for i, rows in self._by_label.items() if len(rows)}

    def sample(self, count: int, rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
        """A class-balanced batch of synthetic trajectories and their labels."""
        labels = sorted(self._by_label)
        rows = [int(rng.choice(self._by_label[labels[i % len(labels)]])) for i in range(count)]
        return torch.from_numpy(self.pool.features[rows]), torch.from_numpy(self.pool.labels[rows])

    def loss(self, count: int, rng: random.Random, device: str | torch.device) -> torch.Tensor:
        features, labels = self.sample(count, rng)
        with frozen_running_stats(self.encoder):
            logits = self.head(self.encoder(features.to(device)))
        return WEIGHT * nn.functional.cross_entropy(logits, labels.to(device))

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.head.parameters()


@contextmanager
def frozen_running_stats(module: nn.Module) -> Iterator[None]:
    """Batch norm still normalises by the batch, but its running mean and variance do not move."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    tracked = [m.num_batches_tracked.clone() for m in norms if m.num_batches_tracked is not None]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        counters = [m for m in norms if m.num_batches_tracked is not None]
        for norm, count in zip(counters, tracked, strict=True):
            assert norm.num_batches_tracked is not None
            norm.num_batches_tracked.copy_(count)
