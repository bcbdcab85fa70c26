"""FallWatch's SlowFast R50 is pytorchvideo's `slowfast_r50`: same parameters, same logits from the same
weights, loaded through `load_checkpoint` from the model zoo's file format (and from PySlowFast's naming)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from fallwatch.core.errors import FallWatchError
from fallwatch.recognizer import load_checkpoint, slowfast_r50, slowfast_r101
from tests.recognizer.conftest import randomize_norms

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # pytorchvideo scripts a few functions with torch.jit
    from pytorchvideo.models.hub import slowfast_r50 as pytorchvideo_slowfast_r50
    from pytorchvideo.models.hub import slowfast_r101 as pytorchvideo_slowfast_r101
    from pytorchvideo.models.slowfast import create_slowfast

R50_PARAMETERS = 34_566_488


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def reference() -> nn.Module:
    """pytorchvideo's slowfast_r50 (the hub builder: `create_slowfast` defaults), with random norms and
    head."""
    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pytorchvideo's own deprecation warnings
        model = pytorchvideo_slowfast_r50(pretrained=False)
    randomize_norms(model, seed=1)
    return model.eval()


@pytest.fixture(scope="module")
def hub_file(reference: nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference saved as the model zoo saves it (SLOWFAST_8x8_R50.pyth)."""
    path = tmp_path_factory.mktemp("zoo") / "SLOWFAST_8x8_R50.pyth"
    torch.save({"model_state": reference.state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def canonical_input() -> list[Tensor]:
    """The clip the hub model is built for: 8 slow and 32 fast frames of 224 px."""
    generator = torch.Generator().manual_seed(2)
    return [
        torch.randn(1, 3, 8, 224, 224, generator=generator),
        torch.randn(1, 3, 32, 224, 224, generator=generator),
    ]


@pytest.fixture(scope="module")
def reference_logits(reference: nn.Module, canonical_input: list[Tensor]) -> Tensor:
    # pytorchvideo's forward overwrites the list it is given, so it gets its own.
    reference_input = list(canonical_input)
    with torch.inference_mode():
        logits: Tensor = reference(reference_input)
    assert reference_input[0] is not canonical_input[0], "pytorchvideo no longer mutates its input list"
    assert logits.abs().max() > 0.1, "the reference's logits are too small to show a difference"
    return logits


def test_r50_has_pytorchvideos_parameter_count(reference: nn.Module) -> None:
    assert _count(reference) == R50_PARAMETERS
    assert _count(slowfast_r50()) == R50_PARAMETERS


def test_r50_is_the_same_as_create_slowfast_defaults() -> None:
    """The hub builder adds nothing to `create_slowfast()`'s defaults that our preset could miss."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        defaults = create_slowfast()
    shapes = {k: tuple(v.shape) for k, v in defaults.state_dict().items()}
    assert _count(defaults) == R50_PARAMETERS
    assert shapes["blocks.0.multipathway_fusion.conv_fast_to_slow.weight"] == (16, 8, 7, 1, 1)


def test_r101_matches_pytorchvideos_parameter_count() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pytorchvideo_slowfast_r101(pretrained=False)
    assert _count(slowfast_r101()) == _count(reference)


def test_hub_file_loads_into_the_same_network_with_the_same_logits(
    reference_logits: Tensor, hub_file: Path, canonical_input: list[Tensor]
) -> None:
    model, spec = load_checkpoint(hub_file)
    assert _count(model) == R50_PARAMETERS
    assert (spec.frames, spec.alpha, spec.crop, spec.slow_frames) == (32, 4, 224, 8)
    assert spec.provenance.format == "pytorchvideo" and spec.provenance.source == str(hub_file)
    assert len(spec.labels) == 400
    with torch.inference_mode():
        ours = model(canonical_input)
    assert reference_logits.shape == ours.shape == (1, 400)
    assert (reference_logits - ours).abs().max().item() < 1e-4


def _to_pyslowfast(key: str) -> str:
    """pytorchvideo's key -> PySlowFast's, written independently of the loader's rules (which go the other
    way)."""
    stage, rest = re.match(r"blocks\.(\d+)\.(.*)", key).groups()  # type: ignore[union-attr]
    s = int(stage) + 1
    if rest.startswith("proj."):
        return "head.projection." + rest.removeprefix("proj.")
    if rest.startswith("multipathway_fusion."):
        rest = rest.removeprefix("multipathway_fusion.")
        return f"s{s}_fuse." + rest.replace("conv_fast_to_slow", "conv_f2s").replace("norm", "bn")
    pathway, rest = re.match(r"multipathway_blocks\.(\d)\.(.*)", rest).groups()  # type: ignore[union-attr]
    if s == 1:
        return f"s1.pathway{pathway}_stem." + rest.replace("norm.", "bn.")
    block, rest = re.match(r"res_blocks\.(\d+)\.(.*)", rest).groups()  # type: ignore[union-attr]
    rest = rest.replace("branch1_conv.", "branch1.").replace("branch1_norm.", "branch1_bn.")
    rest = re.sub(r"branch2\.conv_([abc])\.", r"branch2.\1.", rest)
    rest = re.sub(r"branch2\.norm_([abc])\.", r"branch2.\1_bn.", rest)
    return f"s{s}.pathway{pathway}_res{block}.{rest}"


def test_pyslowfast_checkpoint_loads_with_its_config(
    reference: nn.Module, reference_logits: Tensor, tmp_path: Path, canonical_input: list[Tensor]
) -> None:
    state = {_to_pyslowfast(k): v for k, v in reference.state_dict().items() if "num_batches" not in k}
    assert "s2.pathway0_res0.branch2.a_bn.running_var" in state and "s4_fuse.conv_f2s.weight" in state
    cfg = "SLOWFAST:\n  ALPHA: 4\nDATA:\n  NUM_FRAMES: 32\n  TEST_CROP_SIZE: 256\n  MEAN: [0.4, 0.5, 0.6]\n"
    path = tmp_path / "SLOWFAST_8x8_R50.pyth"
    torch.save({"epoch": 196, "model_state": state, "cfg": cfg}, path)
    model, spec = load_checkpoint(path)
    assert spec.provenance.format == "pyslowfast"
    assert spec.crop == 256 and spec.mean == (0.4, 0.5, 0.6)
    with torch.inference_mode():
        assert (reference_logits - model(canonical_input)).abs().max().item() < 1e-4


def test_bare_and_data_parallel_state_dicts_load(reference: nn.Module, tmp_path: Path) -> None:
    wrapped = {f"module.{k}": v for k, v in reference.state_dict().items()}
    torch.save(wrapped, tmp_path / "ddp.pt")
    model, spec = load_checkpoint(tmp_path / "ddp.pt")
    assert spec.provenance.format == "pytorchvideo"
    assert torch.equal(model.head.proj.weight, reference.state_dict()["blocks.6.proj.weight"])


def test_pytorchvideo_r18_layout_is_refused_clearly(tmp_path: Path) -> None:
    """pytorchvideo's depth 18 is one bottleneck per stage, which is no ResNet-18: refused, not
    half-loaded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = create_slowfast(model_depth=18)
    path = tmp_path / "r18.pyth"
    torch.save({"model_state": other.state_dict()}, path)
    with pytest.raises(FallWatchError, match=r"r18\.pyth.*\(1, 1, 1, 1\) blocks.*expected"):
        load_checkpoint(path)
