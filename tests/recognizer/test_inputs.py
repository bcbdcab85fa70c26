"""Tubelets (T x S x S x 3 uint8 BGR) to the `[slow, fast]` input: colour order, normalisation, sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fallwatch.core.config import TubeletConfig
from fallwatch.core.types import Tubelet
from fallwatch.recognizer import SlowFast, clips_to_inputs, new_spec, slowfast_tiny, tubelets_to_inputs
from tests.recognizer.conftest import SMALL

SPEC = new_spec(SMALL)  # 8 frames of 64 px, alpha 4


def _tubelet(frames: np.ndarray, track_id: int = 1) -> Tubelet:
    t = frames.shape[0]
    return Tubelet(
        camera="hall",
        track_id=track_id,
        pts_start=0.0,
        pts_end=(t - 1) / 25,
        frames=frames,
        boxes=np.tile(np.array([10, 10, 50, 90], dtype=np.float32), (t, 1)),
        keypoints=np.full((t, 17, 3), np.nan, dtype=np.float32),
        pts=np.arange(t, dtype=np.float32) / 25,
    )


def _numbered_frames(t: int, size: int, offset: int = 0) -> np.ndarray:
    """Frame i has blue = 10 + i + offset, green = 100, red = 200: colour order and frame order both show."""
    frames = np.zeros((t, size, size, 3), dtype=np.uint8)
    frames[..., 0] = (10 + np.arange(t) + offset)[:, None, None]
    frames[..., 1] = 100
    frames[..., 2] = 200
    return frames


def _normalised(value: float, channel: int) -> float:
    return (value / 255 - SPEC.mean[channel]) / SPEC.std[channel]


def test_shapes_rgb_order_normalisation_and_slow_sampling() -> None:
    slow, fast = tubelets_to_inputs([_tubelet(_numbered_frames(8, 64))], SPEC)
    assert fast.shape == (1, 3, 8, 64, 64) and slow.shape == (1, 3, 2, 64, 64)
    assert fast.dtype == slow.dtype == torch.float32
    # Channel 0 is red (BGR's last), channel 2 is blue, which carries the frame number.
    assert fast[0, 0].unique().tolist() == pytest.approx([_normalised(200, 0)])
    assert fast[0, 1].unique().tolist() == pytest.approx([_normalised(100, 1)])
    blue_per_frame = fast[0, 2, :, 0, 0].tolist()
    assert blue_per_frame == pytest.approx([_normalised(10 + i, 2) for i in range(8)], abs=1e-5)
    # Slow takes every alpha-th frame, from the first: frames 0 and 4.
    assert slow[0, 2, :, 0, 0].tolist() == pytest.approx([blue_per_frame[0], blue_per_frame[4]])


def test_batch_keeps_tubelet_order_and_does_not_touch_the_frames() -> None:
    tubelets = [_tubelet(_numbered_frames(8, 64, offset=20 * i), track_id=i) for i in range(5)]
    before = [t.frames.copy() for t in tubelets]
    slow, fast = tubelets_to_inputs(tubelets, SPEC)
    assert fast.shape[0] == slow.shape[0] == 5
    firsts = fast[:, 2, 0, 0, 0].tolist()
    assert firsts == pytest.approx([_normalised(10 + 20 * i, 2) for i in range(5)], abs=1e-5)
    assert all(np.array_equal(t.frames, b) for t, b in zip(tubelets, before, strict=True))


def test_crops_of_another_size_are_resized_to_the_models_crop() -> None:
    slow, fast = tubelets_to_inputs([_tubelet(_numbered_frames(8, 96))], SPEC)
    assert fast.shape == (1, 3, 8, 64, 64) and slow.shape == (1, 3, 2, 64, 64)
    # A flat colour stays that colour through antialiased resizing.
    red = fast[0, 0]
    assert (red.min().item(), red.max().item()) == pytest.approx((_normalised(200, 0),) * 2, abs=1e-4)


def test_channels_last_inputs_hold_the_same_values() -> None:
    clips = np.random.default_rng(0).integers(0, 256, (2, 8, 64, 64, 3), dtype=np.uint8)
    plain = clips_to_inputs(clips, SPEC)
    cl = clips_to_inputs(clips, SPEC, memory_format=torch.channels_last_3d)
    assert all(t.is_contiguous(memory_format=torch.channels_last_3d) for t in cl)
    assert all(t.is_contiguous() for t in plain)
    assert all(torch.equal(a, b) for a, b in zip(plain, cl, strict=True))


def test_wrong_length_empty_batch_and_mixed_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="8 frames"):
        tubelets_to_inputs([_tubelet(_numbered_frames(6, 64))], SPEC)
    with pytest.raises(ValueError, match="at least one"):
        tubelets_to_inputs([], SPEC)
    with pytest.raises(ValueError, match="one shape"):
        tubelets_to_inputs([_tubelet(_numbered_frames(8, 64)), _tubelet(_numbered_frames(8, 32))], SPEC)


def test_default_preset_takes_the_tubelet_builders_default_geometry() -> None:
    """The tubelet builder's defaults (16 frames of 112 px) are what slowfast_tiny is built for."""
    model: SlowFast = slowfast_tiny().eval()
    spec = new_spec(model.config)
    defaults = TubeletConfig()
    assert (defaults.frames, defaults.size) == (spec.frames, spec.crop)
    clips = np.zeros((2, spec.frames, spec.crop, spec.crop, 3), dtype=np.uint8)
    tubelets = [_tubelet(clip) for clip in clips]
    with torch.inference_mode():
        assert model(tubelets_to_inputs(tubelets, spec)).shape == (2, 3)
