"""Turning tubelets (T x S x S x 3 uint8 BGR crops, and their boxes and keypoints) into the `[slow, fast]`
(or `[slow, fast, trajectory]`) float tensors a SlowFast takes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor

from fallwatch.core.types import Tubelet
from fallwatch.recognizer.spec import RecognizerSpec
from fallwatch.recognizer.trajectory import FEATURES, trajectory_features

_BGR_TO_RGB = [2, 1, 0]


def _resize(clips: Tensor, crop: int) -> Tensor:
    """(N, T, S, S, 3) float -> (N, T, crop, crop, 3), antialiased so that shrinking does not alias."""
    n, t, _, _, c = clips.shape
    frames = clips.reshape(n * t, *clips.shape[2:]).permute(0, 3, 1, 2)
    frames = F.interpolate(frames, size=(crop, crop), mode="bilinear", antialias=True, align_corners=False)
    return frames.permute(0, 2, 3, 1).reshape(n, t, crop, crop, c)


def clips_to_inputs(
    clips: npt.NDArray[np.uint8],
    spec: RecognizerSpec,
    *,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
    trajectories: npt.NDArray[np.float32] | None = None,
) -> list[Tensor]:
    """`[slow, fast]` from a batch of clips, (N, T, S, S, 3) uint8 BGR, T = `spec.frames`; with
    `[slow, fast, trajectory]` when the model takes a trajectory (`trajectories`, (N, T, F) from
    `recognizer.trajectory`).

    The frames become RGB in [0, 1] normalised by the spec's mean and std, resized to `spec.crop` if S
    differs; fast is (N, 3, T, crop, crop) and slow is every `spec.alpha`-th frame of it, starting with the
    first (the frames the lateral connections' strided convolutions are centred on). Pass
    `memory_format=torch.channels_last_3d` for a model prepared for channels-last inference.
    """
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.shape[2] != clips.shape[3] or clips.dtype != np.uint8:
        raise ValueError(f"clips must be (N, T, S, S, 3) uint8, got {clips.shape} {clips.dtype}")
    if clips.shape[0] == 0 or clips.shape[1] != spec.frames:
        raise ValueError(f"clips must be a non-empty batch of {spec.frames} frames, got {clips.shape}")
    # torch cannot wrap a read-only array (seam arrays are frozen); the channel flip below copies anyway, so
    # the caller's array is never written either way.
    fast = torch.from_numpy(clips if clips.flags.writeable else clips.copy()).to(device)
    # The channel flip and the float conversion copy; /255, -mean and /std then run in place, all in the
    # frames' own channels-last layout.
    std = torch.tensor(spec.std, device=device)
    scale = 1.0 / (255.0 * std)
    shift = torch.tensor(spec.mean, device=device) / std
    fast = fast[..., _BGR_TO_RGB].float().mul_(scale).sub_(shift)
    if fast.shape[2] != spec.crop:
        fast = _resize(fast, spec.crop)
    # (N, T, H, W, C) viewed as (N, C, T, H, W) is already channels_last_3d; `contiguous` copies only if asked
    # for the other layout.
    fast = fast.permute(0, 4, 1, 2, 3).contiguous(memory_format=memory_format)
    slow = fast[:, :, :: spec.alpha].contiguous(memory_format=memory_format)
    if not spec.trajectory:
        return [slow, fast]
    return [slow, fast, _trajectory_tensor(trajectories, clips.shape[:2], spec, device)]


def _trajectory_tensor(
    trajectories: npt.NDArray[np.float32] | None,
    batch: tuple[int, ...],
    spec: RecognizerSpec,
    device: str | torch.device,
) -> Tensor:
    if spec.trajectory != FEATURES:
        raise ValueError(
            f"the model takes {spec.trajectory} trajectory features per frame; this FallWatch makes {FEATURES}"
        )
    expected = (*batch, FEATURES)
    if trajectories is None or tuple(trajectories.shape) != expected:
        got = None if trajectories is None else tuple(trajectories.shape)
        raise ValueError(f"the model takes a trajectory input of shape {expected}, got {got}")
    return torch.from_numpy(np.ascontiguousarray(trajectories, dtype=np.float32)).to(device)


def tubelets_to_inputs(
    tubelets: Sequence[Tubelet],
    spec: RecognizerSpec,
    *,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.contiguous_format,
) -> list[Tensor]:
    """The inputs for a batch of tubelets (all of one size, `spec.frames` long): see `clips_to_inputs`."""
    if not tubelets:
        raise ValueError("tubelets_to_inputs needs at least one tubelet")
    sizes = {t.frames.shape for t in tubelets}
    if len(sizes) != 1:
        raise ValueError(f"tubelets in one batch must have one shape, got {sorted(sizes)}")
    clips = np.stack([t.frames for t in tubelets])
    trajectories = None
    if spec.trajectory:
        trajectories = np.stack([trajectory_features(t.boxes, t.keypoints) for t in tubelets])
    return clips_to_inputs(clips, spec, device=device, memory_format=memory_format, trajectories=trajectories)
