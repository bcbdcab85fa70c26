"""Single-pathway layers of a 3D ResNet: conv-norm-activation units, the stem, residual blocks and stages.

Every convolution is followed by its own BatchNorm inside a `ConvBnAct`, so that inference can fold the norm
into the convolution (`ConvBnAct.fold`) without knowing anything about the surrounding block.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

Triple = tuple[int, int, int]


def _same_padding(kernel: Triple) -> Triple:
    return (kernel[0] // 2, kernel[1] // 2, kernel[2] // 2)


class ConvBnAct(nn.Module):
    """Conv3d without bias, BatchNorm3d, then an optional ReLU."""

    def __init__(
        self, dim_in: int, dim_out: int, kernel: Triple, stride: Triple = (1, 1, 1), act: bool = True
    ):
        super().__init__()
        self.conv = nn.Conv3d(dim_in, dim_out, kernel, stride, _same_padding(kernel), bias=False)
        self.norm: nn.Module = nn.BatchNorm3d(dim_out)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.norm(self.conv(x))
        # In place is safe: `y` is always a fresh tensor made here, never the caller's input.
        return torch.relu_(y) if self.act else y

    @property
    def folded(self) -> bool:
        return isinstance(self.norm, nn.Identity)

    def fold(self) -> None:
        """Merge the (eval-mode) BatchNorm into the convolution: one pass over the tensor instead of two."""
        if self.folded:
            return
        assert isinstance(self.norm, nn.BatchNorm3d)
        self.conv = fuse_conv_bn_eval(self.conv.eval(), self.norm.eval())
        self.norm = nn.Identity()


class Stem(ConvBnAct):
    """A pathway's first layer: a large spatial conv (stride 2), then a 3x3 max pool (stride 2) unless `pool`
    is false (torchvision's mc3_18 stem has none)."""

    def __init__(self, dim_in: int, dim_out: int, temporal_kernel: int, pool: bool = True):
        super().__init__(dim_in, dim_out, (temporal_kernel, 7, 7), (1, 2, 2))
        self.pool: nn.Module = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)) if pool else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.pool(super().forward(x))
        return y


class Bottleneck(nn.Module):
    """Tx1x1 -> 1x3x3 (spatial stride) -> 1x1x1, `dim_inner` wide inside: the R50/R101 residual branch."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int):
        super().__init__()
        self.a = ConvBnAct(dim_in, dim_inner, (temporal_kernel, 1, 1))
        self.b = ConvBnAct(dim_inner, dim_inner, (1, 3, 3), (1, stride, stride))
        # No activation: it comes after the residual sum.
        self.c = ConvBnAct(dim_inner, dim_out, (1, 1, 1), act=False)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.c(self.b(self.a(x)))
        return y


class Basic(nn.Module):
    """Tx3x3 (spatial stride) -> 1x3x3: the R18 residual branch, as PySlowFast's basic transform."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int):
        super().__init__()
        del dim_inner  # a basic block has no narrow middle; kept for a signature shared with Bottleneck
        self.a = ConvBnAct(dim_in, dim_out, (temporal_kernel, 3, 3), (1, stride, stride))
        self.b = ConvBnAct(dim_out, dim_out, (1, 3, 3), act=False)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.b(self.a(x))
        return y


class ResBlock(nn.Module):
    """relu(branch(x) + shortcut(x)); the shortcut is a strided 1x1x1 conv only where the shape changes."""

    def __init__(self, branch: Bottleneck | Basic, dim_in: int, dim_out: int, stride: int):
        super().__init__()
        self.branch = branch
        self.shortcut: ConvBnAct | None = None
        if dim_in != dim_out or stride != 1:
            self.shortcut = ConvBnAct(dim_in, dim_out, (1, 1, 1), (1, stride, stride), act=False)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.branch(x)
        skip: Tensor = x if self.shortcut is None else self.shortcut(x)
        # `y` is the branch's own output, so adding and activating in place never touches the input.
        return torch.relu_(y.add_(skip))


class ResStage(nn.Module):
    """A run of residual blocks; the first changes the width and applies the stage's spatial stride."""

    def __init__(
        self,
        depth: int,
        dim_in: int,
        dim_inner: int,
        dim_out: int,
        temporal_kernel: int,
        stride: int,
        bottleneck: bool,
    ):
        super().__init__()
        branch_type = Bottleneck if bottleneck else Basic
        blocks = []
        for index in range(depth):
            block_in, block_stride = (dim_in, stride) if index == 0 else (dim_out, 1)
            branch = branch_type(block_in, dim_inner, dim_out, temporal_kernel, block_stride)
            blocks.append(ResBlock(branch, block_in, dim_out, block_stride))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.blocks(x)
        return y
