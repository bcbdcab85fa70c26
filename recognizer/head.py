"""The classification head: pool each pathway over space and time, concatenate (with the trajectory's
features, when the model has that input), dropout, linear."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SlowFastHead(nn.Module):
    """Global average pooling of both pathways, concatenated, then dropout and a linear layer to logits.

    The pool is global rather than a fixed-size window (pytorchvideo pools with a kernel fitted to 32 frames
    at 224 px), so the same weights run at any clip size; at the size a fixed window fits, the two agree
    exactly.
    """

    def __init__(self, dim_in: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(dim_in, num_classes)

    def forward(self, slow: Tensor, fast: Tensor, extra: Tensor | None = None) -> Tensor:
        """`extra`: (N, D) features of another input (the trajectory), concatenated after pooling."""
        parts = [slow.mean(dim=(2, 3, 4)), fast.mean(dim=(2, 3, 4))]
        pooled = torch.cat(parts if extra is None else [*parts, extra], dim=1)
        logits: Tensor = self.proj(self.dropout(pooled))
        return logits

    @property
    def num_classes(self) -> int:
        return self.proj.out_features
