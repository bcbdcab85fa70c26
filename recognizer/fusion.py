"""The two-pathway stage and its fast-to-slow lateral connection.

After each of the stem and res2..res4 the fast pathway's features are squeezed in time to the slow pathway's
rate by a convolution with temporal stride alpha, and concatenated to the slow pathway's channels (the paper's
"time-strided convolution" fusion). Information flows one way only: the fast pathway never sees the slow one.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fallwatch.recognizer.blocks import ConvBnAct


def lateral_connection(fast_channels: int, channel_ratio: int, kernel: int, alpha: int) -> ConvBnAct:
    """A (kernel, 1, 1) conv with temporal stride alpha, from the fast channels to channel_ratio times as
    many."""
    return ConvBnAct(fast_channels, fast_channels * channel_ratio, (kernel, 1, 1), (alpha, 1, 1))


class SlowFastStage(nn.Module):
    """One stage of each pathway, run side by side, then the lateral connection (absent after res5)."""

    def __init__(self, slow: nn.Module, fast: nn.Module, lateral: ConvBnAct | None):
        super().__init__()
        self.slow = slow
        self.fast = fast
        self.lateral = lateral

    def forward(self, slow: Tensor, fast: Tensor) -> tuple[Tensor, Tensor]:
        slow_out: Tensor = self.slow(slow)
        fast_out: Tensor = self.fast(fast)
        if self.lateral is not None:
            slow_out = torch.cat([slow_out, self.lateral(fast_out)], dim=1)
        return slow_out, fast_out
