"""The trajectory pathway: a small temporal convolution over the (N, T, F) trajectory, pooled to one vector
that is concatenated to the pooled video features before the head (late fusion)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TrajectoryEncoder(nn.Module):
    """Two 1-D convolutions over time (kernel 3) with batch norm, then mean and max pooling over time.

    Max pooling keeps a short event (the second of a drop) from being averaged away by the still frames
    around it.
    """

    def __init__(self, features: int, channels: int) -> None:
        super().__init__()
        self.features = features
        self.channels = channels
        self.layers = nn.Sequential(
            nn.Conv1d(features, channels, 3, padding=1, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
            nn.Conv1d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
        )

    @property
    def out_dim(self) -> int:
        return 2 * self.channels

    def forward(self, trajectory: Tensor) -> Tensor:
        if trajectory.dim() != 3 or trajectory.shape[2] != self.features:
            raise ValueError(
                f"the trajectory input must be (N, T, {self.features}), got {tuple(trajectory.shape)}"
            )
        hidden: Tensor = self.layers(trajectory.transpose(1, 2))
        return torch.cat([hidden.mean(dim=2), hidden.amax(dim=2)], dim=1)
