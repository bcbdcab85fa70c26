"""The SlowFast network (Feichtenhofer et al., ICCV 2019) and the builders that compose it from
`SlowFastConfig`.

::

    slow [N,3,T/a,H,W]   fast [N,3,T,H,W]
          stem               stem        s1 ─┐ lateral: fast ──(k x1x1 conv, stride a)──▶ concat to slow
          res2               res2        s2 ─┤
          res3               res3        s3 ─┤
          res4               res4        s4 ─┘
          res5               res5        s5
             └── avg pool, concat, dropout, linear ──▶ logits [N, classes]
                       ▲
    trajectory [N,T,F] ┘ (optional third input: 1-D convs, pooled, concatenated before the head)

The layer widths, temporal kernels and strides follow pytorchvideo's `create_slowfast` (and PySlowFast's
SLOWFAST_8x8_R50), so that with `SlowFastConfig()` the network is pytorchvideo's `slowfast_r50` layer for
layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from fallwatch.recognizer.blocks import Basic, Bottleneck, ResStage, Stem
from fallwatch.recognizer.config import SlowFastConfig
from fallwatch.recognizer.fusion import SlowFastStage, lateral_connection
from fallwatch.recognizer.head import SlowFastHead
from fallwatch.recognizer.trajectory_encoder import TrajectoryEncoder

# Temporal kernels of the stem and of the first conv of every residual block in res2..res5. The slow pathway
# only looks across time from res4 on: early on its frames are too far apart for motion to mean anything.
SLOW_TEMPORAL_KERNELS = (1, 1, 1, 3, 3)
FAST_TEMPORAL_KERNELS = (5, 3, 3, 3, 3)
# Spatial stride of res2..res5 (the stem has already divided by 4).
STAGE_STRIDES = (1, 2, 2, 2)


class SlowFast(nn.Module):
    """Takes `[slow, fast]`, two (N, 3, T, H, W) clips (slow has T/alpha frames), and returns (N, classes)
    logits. Built with a trajectory encoder it takes `[slow, fast, trajectory]`, the third (N, T, F)."""

    def __init__(
        self,
        config: SlowFastConfig,
        stages: Sequence[SlowFastStage],
        head: SlowFastHead,
        trajectory: TrajectoryEncoder | None = None,
    ):
        super().__init__()
        if len(stages) != 5:
            raise ValueError(f"SlowFast has 5 stages (stem, res2..res5), got {len(stages)}")
        self.config = config
        self.s1, self.s2, self.s3, self.s4, self.s5 = stages
        self.head = head
        self.trajectory = trajectory

    def forward(self, x: Sequence[Tensor]) -> Tensor:
        inputs = ("slow", "fast") if self.trajectory is None else ("slow", "fast", "trajectory")
        if len(x) != len(inputs):
            raise ValueError(f"SlowFast takes [{', '.join(inputs)}], got a sequence of {len(x)} tensors")
        # Unpack into locals: the caller's list is never written to (pytorchvideo's model overwrites it).
        slow, fast = x[0], x[1]
        self._check_pair(slow, fast)
        for stage in self.stages:
            slow, fast = stage(slow, fast)
        extra = None if self.trajectory is None else self.trajectory(x[2])
        logits: Tensor = self.head(slow, fast, extra)
        return logits

    def _check_pair(self, slow: Tensor, fast: Tensor) -> None:
        """Fail with the shapes, not deep inside a concatenation: the lateral connections squeeze T fast
        frames to ceil(T / alpha), which must be the slow clip's length."""
        alpha = self.config.alpha
        expected = None
        if fast.dim() == 5 and fast.shape[1] == 3:
            n, _, t, h, w = fast.shape
            expected = (n, 3, -(-t // alpha), h, w)
        if expected is None or tuple(slow.shape) != expected:
            raise ValueError(
                f"SlowFast takes [slow (N, 3, ceil(T/{alpha}), H, W), fast (N, 3, T, H, W)], "
                f"got slow {tuple(slow.shape)} and fast {tuple(fast.shape)}"
            )

    @property
    def stages(self) -> tuple[SlowFastStage, ...]:
        return (self.s1, self.s2, self.s3, self.s4, self.s5)


def _fast(channels: int, config: SlowFastConfig) -> int:
    return channels // config.beta_inv


def build_stem_stage(config: SlowFastConfig) -> SlowFastStage:
    fast_width = _fast(config.width, config)
    return SlowFastStage(
        Stem(3, config.width, SLOW_TEMPORAL_KERNELS[0], config.stem_pool),
        Stem(3, fast_width, FAST_TEMPORAL_KERNELS[0], config.stem_pool),
        lateral_connection(fast_width, config.fusion_channel_ratio, config.fusion_kernel, config.alpha),
    )


def stage_widths(config: SlowFastConfig, index: int) -> tuple[int, int, int]:
    """(input, inner, output) channels of the slow pathway's res stage `index` (0 for res2), before fusion."""
    expansion = 4 if config.bottleneck else 1
    inner = config.width * 2**index
    out = inner * expansion
    dim_in = config.width if index == 0 else out // 2
    return dim_in, inner, out


def build_res_stage(config: SlowFastConfig, index: int) -> SlowFastStage:
    """Res stage `index` (0..3 for res2..res5) of both pathways, with its lateral connection unless last."""
    dim_in, inner, out = stage_widths(config, index)
    # The slow input also carries the previous lateral connection's channels.
    slow_in = dim_in + _fast(dim_in, config) * config.fusion_channel_ratio
    depth, stride = config.stage_depths[index], STAGE_STRIDES[index]
    slow = ResStage(depth, slow_in, inner, out, SLOW_TEMPORAL_KERNELS[index + 1], stride, config.bottleneck)
    fast = ResStage(
        depth,
        _fast(dim_in, config),
        _fast(inner, config),
        _fast(out, config),
        FAST_TEMPORAL_KERNELS[index + 1],
        stride,
        config.bottleneck,
    )
    lateral = None
    if index < 3:
        lateral = lateral_connection(
            _fast(out, config), config.fusion_channel_ratio, config.fusion_kernel, config.alpha
        )
    return SlowFastStage(slow, fast, lateral)


def build_trajectory_encoder(config: SlowFastConfig) -> TrajectoryEncoder | None:
    return TrajectoryEncoder(config.trajectory, config.trajectory_channels) if config.trajectory else None


def build_head(config: SlowFastConfig) -> SlowFastHead:
    out = stage_widths(config, 3)[2]
    encoder = build_trajectory_encoder(config)
    extra = 0 if encoder is None else encoder.out_dim
    return SlowFastHead(out + _fast(out, config) + extra, config.num_classes, config.dropout)


def init_weights(model: nn.Module) -> None:
    """ResNet initialisation, as pytorchvideo and PySlowFast: He-normal convs, unit norms, a small linear
    head.

    The last norm of every residual branch starts at zero so each block starts as the identity, which is what
    lets a deep network train from scratch on a small data set.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv3d | nn.Conv1d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm3d | nn.BatchNorm1d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, Bottleneck | Basic):
            last = module.c if isinstance(module, Bottleneck) else module.b
            if isinstance(last.norm, nn.BatchNorm3d):
                nn.init.zeros_(last.norm.weight)


def build_slowfast(config: SlowFastConfig) -> SlowFast:
    """A freshly initialised SlowFast network of the given architecture."""
    stages = [build_stem_stage(config), *(build_res_stage(config, index) for index in range(4))]
    model = SlowFast(config, stages, build_head(config), build_trajectory_encoder(config))
    init_weights(model)
    return model
