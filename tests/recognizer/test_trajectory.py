"""The third input: trajectory features, the encoder, and a SlowFast that takes [slow, fast, trajectory]."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fallwatch.recognizer import SlowFast, load_checkpoint
from fallwatch.recognizer.checkpoint import save_checkpoint
from fallwatch.recognizer.inputs import clips_to_inputs
from fallwatch.recognizer.optimize import prepare_for_inference
from fallwatch.recognizer.presets import preset_config
from fallwatch.recognizer.spec import new_spec
from fallwatch.recognizer.trajectory import FEATURES, MIRROR, augment_trajectory, trajectory_features
from tests.recognizer.conftest import SMALL, clip_pair, seeded_model

WITH_TRAJECTORY = replace(SMALL, trajectory=FEATURES)


def standing_then_lying(
    frames: int = 16, offset: float = 0.0, zoom: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and keypoints of a person standing upright who ends lying on their right side."""
    boxes, points = [], []
    for i in range(frames):
        down = min(max((i - 4) / 6, 0.0), 1.0)  # the fall takes frames 4..10
        w, h = 40 + 120 * down, 160 - 120 * down
        x1, y1 = 100 + 20 * down, 40 + 120 * down
        boxes.append([x1, y1, x1 + w, y1 + h])
        kp = np.zeros((17, 3))
        kp[:, 2] = 0.9
        # The torso rotates from upright to horizontal, shoulders going right.
        cx, cy = x1 + w / 2, y1 + h / 2
        angle = down * np.pi / 2
        kp[[5, 6], 0], kp[[5, 6], 1] = cx + 30 * np.sin(angle), cy - 30 * np.cos(angle)
        kp[[11, 12], 0], kp[[11, 12], 1] = cx, cy
        kp[[0, 1, 2, 3, 4], 0], kp[[0, 1, 2, 3, 4], 1] = cx + 50 * np.sin(angle), cy - 50 * np.cos(angle)
        kp[[13, 14, 15, 16], 0], kp[[13, 14, 15, 16], 1] = cx - 40 * np.sin(angle), cy + 40 * np.cos(angle)
        points.append(kp)
    box = np.array(boxes) * zoom + offset
    kps = np.array(points)
    kps[:, :, :2] = kps[:, :, :2] * zoom + offset
    return box.astype(np.float32), kps.astype(np.float32)


def test_features_are_free_of_position_and_scale() -> None:
    near = trajectory_features(*standing_then_lying())
    far = trajectory_features(*standing_then_lying(offset=300.0, zoom=0.4))
    assert near.shape == (16, FEATURES) and near.dtype == np.float32
    np.testing.assert_allclose(near, far, atol=1e-4)


def test_features_follow_the_fall() -> None:
    features = trajectory_features(*standing_then_lying())
    dy, log_w, log_h = features[:, 1], features[:, 2], features[:, 3]
    sine, cosine, torso_seen = features[:, -3], features[:, -2], features[:, -1]
    assert dy[0] == 0 and dy[-1] > 0.3  # the box centre dropped by a third of the person's size
    assert log_w[-1] > log_h[-1] and log_w[0] < log_h[0]  # tall, then wide
    assert cosine[0] == pytest.approx(1.0) and sine[-1] == pytest.approx(1.0)  # upright, then horizontal
    assert torso_seen.all()


def test_unseen_keypoints_are_zero_with_their_flag_down() -> None:
    boxes, points = standing_then_lying()
    points[3:6] = np.nan  # the detector held the box without keypoints
    points[8, :, 2] = 0.1  # seen, but below the confidence floor
    features = trajectory_features(boxes, points)
    assert np.isfinite(features).all()
    keypoint_part = features[[3, 4, 5, 8], 4:]
    assert (keypoint_part == 0).all()
    assert features[0, 4:].any()


def test_mirroring_matches_features_of_the_flipped_person() -> None:
    boxes, points = standing_then_lying()
    width = 400.0
    flipped_boxes = boxes.copy()
    flipped_boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
    flipped_points = points.copy()
    flipped_points[:, :, 0] = width - points[:, :, 0]
    np.testing.assert_allclose(
        trajectory_features(boxes, points) * MIRROR,
        trajectory_features(flipped_boxes, flipped_points),
        atol=1e-5,
    )
    augmented = augment_trajectory(trajectory_features(boxes, points), random.Random(0), mirrored=True)
    assert augmented.shape == (16, FEATURES) and np.isfinite(augmented).all()


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(T, 4\) boxes"):
        trajectory_features(np.zeros((4, 4)), np.zeros((5, 17, 3)))


def trajectory_batch(batch: int = 2, frames: int = 8) -> torch.Tensor:
    return torch.randn(batch, frames, FEATURES, generator=torch.Generator().manual_seed(3))


@pytest.fixture
def model() -> SlowFast:
    return seeded_model(WITH_TRAJECTORY)


def test_a_model_with_trajectory_takes_three_inputs_and_the_trajectory_matters(model: SlowFast) -> None:
    inputs = [*clip_pair(WITH_TRAJECTORY), trajectory_batch()]
    logits = model(inputs)
    assert logits.shape == (2, 3)
    other = model([*inputs[:2], trajectory_batch() * -2])
    assert (logits - other).abs().max() > 1e-4
    with pytest.raises(ValueError, match=r"\[slow, fast, trajectory\]"):
        model(clip_pair(WITH_TRAJECTORY))
    with pytest.raises(ValueError, match="trajectory input must be"):
        model([*inputs[:2], torch.zeros(2, 8, FEATURES + 1)])


def test_video_only_model_refuses_a_third_input(small_model: SlowFast) -> None:
    with pytest.raises(ValueError, match=r"\[slow, fast\]"):
        small_model([*clip_pair(SMALL), trajectory_batch()])


def test_trajectory_model_round_trips_and_survives_inference_preparation(
    model: SlowFast, tmp_path: Path
) -> None:
    spec = new_spec(WITH_TRAJECTORY)
    path = save_checkpoint(model, spec, tmp_path / "traj.pt")
    loaded, loaded_spec = load_checkpoint(path)
    assert loaded_spec.trajectory == FEATURES
    inputs = [*clip_pair(WITH_TRAJECTORY), trajectory_batch()]
    with torch.inference_mode():
        expected = model(inputs)
        torch.testing.assert_close(loaded.eval()(inputs), expected)
        prepared = prepare_for_inference(model, channels_last=True)
        fast_layout = [t.contiguous(memory_format=torch.channels_last_3d) for t in inputs[:2]]
        torch.testing.assert_close(prepared([*fast_layout, inputs[2]]), expected, atol=1e-4, rtol=1e-4)


def test_inputs_carry_the_trajectory_only_for_a_model_that_takes_it() -> None:
    clips = np.zeros((2, 16, 112, 112, 3), np.uint8)
    spec = new_spec(preset_config("slowfast_tiny_trajectory"))
    features = np.stack([trajectory_features(*standing_then_lying())] * 2)
    inputs = clips_to_inputs(clips, spec, trajectories=features)
    assert [tuple(t.shape) for t in inputs][2] == (2, 16, FEATURES)
    with pytest.raises(ValueError, match="trajectory input of shape"):
        clips_to_inputs(clips, spec)
    video_only = clips_to_inputs(clips, new_spec(preset_config("slowfast_tiny")), trajectories=features)
    assert len(video_only) == 2


def test_the_recognizer_feeds_a_tubelets_own_boxes_and_keypoints(tmp_path: Path) -> None:
    from fallwatch.core.config import RecognizerConfig
    from fallwatch.core.types import Tubelet
    from fallwatch.recognizer.infer import Recognizer

    arch = preset_config("slowfast_tiny_trajectory")
    path = save_checkpoint(seeded_model(arch), new_spec(arch), tmp_path / "traj.pt")
    recognizer = Recognizer(RecognizerConfig(checkpoint=path, device="cpu"))
    frames = np.full((16, 112, 112, 3), 90, np.uint8)

    def tubelet(boxes: np.ndarray, keypoints: np.ndarray) -> Tubelet:
        pts = np.arange(16, dtype=np.float32) / 10
        return Tubelet("cam", 1, 0.0, float(pts[-1]), frames, boxes, keypoints, pts)

    falling = tubelet(*standing_then_lying())
    boxes, keypoints = standing_then_lying()
    still = tubelet(np.repeat(boxes[:1], 16, axis=0), np.repeat(keypoints[:1], 16, axis=0))
    scores = recognizer.probabilities([falling, still])
    assert scores.shape == (2, 3) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    # Same pixels, different trajectories: the trajectory reached the logits.
    assert np.abs(scores[0] - scores[1]).max() > 1e-4
