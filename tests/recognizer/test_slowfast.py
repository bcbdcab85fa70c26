"""The architecture: output shapes of the presets, pathway geometry, input handling and configuration
checks."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from fallwatch.recognizer import (
    PRESETS,
    SlowFast,
    SlowFastConfig,
    build_slowfast,
    slowfast_r18,
    slowfast_r50,
    slowfast_tiny,
    slowfast_tiny_trajectory,
)
from fallwatch.recognizer.blocks import Basic
from tests.recognizer.conftest import SMALL, clip_pair


def _stage_shapes(model: SlowFast, inputs: list[Tensor]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    shapes = []

    def record(_module: nn.Module, _args: object, output: tuple[Tensor, Tensor]) -> None:
        shapes.append((tuple(output[0].shape), tuple(output[1].shape)))

    handles = [stage.register_forward_hook(record) for stage in model.stages]
    with torch.inference_mode():
        model(inputs)
    for handle in handles:
        handle.remove()
    return shapes


def test_r50_output_shape_and_pathway_geometry() -> None:
    model = slowfast_r50().eval()
    config = model.config
    inputs = clip_pair(config, batch=1, crop=64)
    # Shrink time too: T=8 fast frames, 2 slow ones (alpha 4).
    inputs = [inputs[0][:, :, :2], inputs[1][:, :, :8]]
    shapes = _stage_shapes(model, inputs)
    # Slow channels after each stage include the fast->slow lateral (fast channels x 2), none after res5.
    assert shapes == [
        ((1, 64 + 16, 2, 16, 16), (1, 8, 8, 16, 16)),
        ((1, 256 + 64, 2, 16, 16), (1, 32, 8, 16, 16)),
        ((1, 512 + 128, 2, 8, 8), (1, 64, 8, 8, 8)),
        ((1, 1024 + 256, 2, 4, 4), (1, 128, 8, 4, 4)),
        ((1, 2048, 2, 2, 2), (1, 256, 8, 2, 2)),
    ]
    with torch.inference_mode():
        assert model(inputs).shape == (1, 400)


def test_r18_output_shape_and_pathway_geometry() -> None:
    model = slowfast_r18().eval()
    inputs = clip_pair(model.config, batch=2, crop=64)
    inputs = [inputs[0][:, :, :2], inputs[1][:, :, :8]]
    shapes = _stage_shapes(model, inputs)
    # Basic blocks: no 4x expansion, so res2 stays 64 wide and res5 ends at 512 (+ 64 fast).
    assert [s[0][1] for s in shapes] == [64 + 16, 64 + 16, 128 + 32, 256 + 64, 512]
    assert [s[1][1] for s in shapes] == [8, 8, 16, 32, 64]
    with torch.inference_mode():
        assert model(inputs).shape == (2, 3)


def test_tiny_preset_runs_at_its_own_geometry_and_fits_the_size_budget() -> None:
    model = slowfast_tiny().eval()
    config = model.config
    assert (config.frames, config.crop, config.alpha, config.depth) == (16, 112, 4, 18)
    with torch.inference_mode():
        assert model(clip_pair(config, batch=3)).shape == (3, 3)
    # The shipped checkpoint must stay under 20 MB even stored as float32.
    float32_bytes = 4 * sum(t.numel() for t in model.state_dict().values())
    assert float32_bytes <= 20e6


def test_presets_are_named_by_their_builders() -> None:
    assert set(PRESETS) == {
        "slowfast_r50",
        "slowfast_r101",
        "slowfast_r18",
        "slowfast_r18_mc3",
        "slowfast_tiny",
        "slowfast_tiny_trajectory",
        "slowfast_tiny_trajectory_32f",
    }
    assert slowfast_tiny(num_classes=5).head.num_classes == 5
    with_trajectory = slowfast_tiny_trajectory()
    assert with_trajectory.trajectory is not None and slowfast_tiny().trajectory is None


def test_forward_does_not_change_the_list_it_is_given(small_model: SlowFast) -> None:
    inputs = clip_pair(SMALL)
    slow, fast = inputs
    before = [slow.clone(), fast.clone()]
    with torch.inference_mode():
        small_model(inputs)
    assert len(inputs) == 2
    assert inputs[0] is slow and inputs[1] is fast
    assert torch.equal(slow, before[0]) and torch.equal(fast, before[1])


def test_forward_in_training_mode_does_not_change_the_list_or_tensors(small_model: SlowFast) -> None:
    inputs = clip_pair(SMALL)
    before = [t.clone() for t in inputs]
    small_model.train()
    small_model(inputs).sum().backward()
    assert all(torch.equal(a, b) for a, b in zip(inputs, before, strict=True))


def test_forward_accepts_a_tuple_and_refuses_a_wrong_number_of_pathways(small_model: SlowFast) -> None:
    slow, fast = clip_pair(SMALL)
    with torch.inference_mode():
        assert small_model((slow, fast)).shape == (2, 3)
        with pytest.raises(ValueError, match=r"\[slow, fast\]"):
            small_model([fast])
        with pytest.raises(ValueError, match=r"got slow \(2, 3, 8, 64, 64\) and fast"):
            small_model([fast, fast])


def test_batch_items_are_independent_in_eval_mode(small_model: SlowFast) -> None:
    slow, fast = clip_pair(SMALL, batch=3)
    with torch.inference_mode():
        batched = small_model([slow, fast])
        single = small_model([slow[1:2], fast[1:2]])
    assert torch.allclose(batched[1:2], single, atol=1e-5)


def test_fast_pathway_motion_reaches_the_logits(small_model: SlowFast) -> None:
    """Changing only the fast clip changes the output: the lateral connections and head both carry it."""
    slow, fast = clip_pair(SMALL, batch=1)
    with torch.inference_mode():
        a = small_model([slow, fast])
        b = small_model([slow, fast.flip(2)])
    assert not torch.allclose(a, b, atol=1e-6)


def test_fresh_model_starts_each_residual_branch_at_zero() -> None:
    model = build_slowfast(SMALL)
    finals = [m.b.norm for m in model.modules() if isinstance(m, Basic)]
    assert len(finals) == 2 * 2 * 4  # two pathways, four stages, two blocks each
    assert all(isinstance(n, nn.BatchNorm3d) and torch.count_nonzero(n.weight) == 0 for n in finals)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"depth": 34}, "depth must be one of"),
        ({"width": 60}, "divisible by beta_inv"),
        ({"frames": 30}, "multiple of alpha"),
        ({"fusion_kernel": 4}, "odd"),
        ({"crop": 16}, "at least 32"),
        ({"dropout": 1.0}, "dropout"),
        ({"num_classes": 0}, "num_classes"),
        ({"width": True}, "an integer"),
        ({"alpha": "4"}, "an integer"),
    ],
)
def test_config_refuses_inconsistent_values(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SlowFastConfig(**changes)  # type: ignore[arg-type]


def test_config_round_trips_through_a_plain_dict_and_refuses_unknown_keys() -> None:
    assert SlowFastConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ValueError, match="unknown architecture keys"):
        SlowFastConfig.from_dict({**SMALL.to_dict(), "nonlocal": True})
