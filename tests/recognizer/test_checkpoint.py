"""FallWatch's checkpoint format: round trip, atomic writes, and one clear line for every broken file."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torchvision.models.video import r3d_18

from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import LABELS
from fallwatch.recognizer import (
    SlowFast,
    build_slowfast,
    load_checkpoint,
    new_spec,
    prepare_for_inference,
    save_checkpoint,
)
from fallwatch.recognizer.checkpoint import FORMAT, VERSION
from tests.recognizer.conftest import SMALL, clip_pair


@pytest.fixture
def saved(small_model: SlowFast, tmp_path: Path) -> Path:
    return save_checkpoint(small_model, new_spec(SMALL), tmp_path / "models" / "small.pt")


def _refusal(path: Path) -> str:
    """Load `path`, expecting a FallWatchError; return its message after checking it is one self-contained
    line."""
    with pytest.raises(FallWatchError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    # Raised `from None`: what the user sees is the line, not a chain of library exceptions.
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return message


def test_round_trip_keeps_weights_outputs_and_spec(small_model: SlowFast, saved: Path) -> None:
    model, spec = load_checkpoint(saved)
    assert not model.training
    assert spec.labels == LABELS and spec.arch == SMALL
    assert (spec.frames, spec.alpha, spec.crop) == (SMALL.frames, SMALL.alpha, SMALL.crop)
    assert spec.provenance.format == f"fallwatch-v{VERSION}"
    assert spec.provenance.source == str(saved)
    assert spec.provenance.sha256 == hashlib.sha256(saved.read_bytes()).hexdigest()
    for key, value in small_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    inputs = clip_pair(SMALL)
    with torch.inference_mode():
        assert torch.equal(model(inputs), small_model(inputs))


def test_save_is_atomic_and_replaces_an_older_file(small_model: SlowFast, saved: Path) -> None:
    first = saved.read_bytes()
    with torch.no_grad():
        small_model.head.proj.bias.add_(1.0)
    save_checkpoint(small_model, new_spec(SMALL), saved)
    assert saved.read_bytes() != first
    assert sorted(p.name for p in saved.parent.iterdir()) == ["small.pt"]  # no temporary left behind


def test_failed_save_leaves_the_old_file_and_no_temporary(small_model: SlowFast, saved: Path) -> None:
    before = saved.read_bytes()
    wrong_spec = new_spec(replace(SMALL, num_classes=4))
    with pytest.raises(ValueError, match="spec describes"):
        save_checkpoint(small_model, wrong_spec, saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["small.pt"]


def test_half_precision_file_is_smaller_and_loads_as_float32(small_model: SlowFast, tmp_path: Path) -> None:
    full = save_checkpoint(small_model, new_spec(SMALL), tmp_path / "full.pt")
    half = save_checkpoint(small_model, new_spec(SMALL), tmp_path / "half.pt", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    model, _ = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    inputs = clip_pair(SMALL)
    with torch.inference_mode():
        assert torch.allclose(model(inputs), small_model(inputs), atol=1e-2)


def test_folded_inference_copy_cannot_be_saved(small_model: SlowFast, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prepared for inference"):
        save_checkpoint(prepare_for_inference(small_model), new_spec(SMALL), tmp_path / "folded.pt")


def test_file_is_plain_data_that_loads_with_weights_only(saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    assert payload["format"] == FORMAT and payload["version"] == VERSION
    assert payload["arch"] == SMALL.to_dict() and payload["labels"] == list(LABELS)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such file" in _refusal(tmp_path / "nowhere.pt")
    assert "not a file" in _refusal(tmp_path)


def test_text_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.pyth"
    path.write_text("these are not weights\n")
    message = _refusal(path)
    assert "not a readable PyTorch file" in message and "expected a FallWatch checkpoint" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    assert "not a readable PyTorch file" in _refusal(path)


def test_truncated_file(saved: Path) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    assert "not a readable PyTorch file" in _refusal(saved)


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_are_not_taken_for_pickled_objects(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "noise.pt"
    path.write_bytes(random.Random(seed).randbytes(4096))
    message = _refusal(path)
    assert "neither the zip archive nor the pickle" in message and "besides tensors" not in message
    assert "expected a FallWatch checkpoint" in message and "\n" not in message


def test_a_damaged_pickle_is_not_taken_for_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "damaged.pt"
    path.write_bytes(b"\x80\x02" + random.Random(1).randbytes(4096))  # a legacy torch.save header, then noise
    message = _refusal(path)
    assert "not a readable PyTorch file" in message and "besides tensors" not in message


class Gadget:
    """Stands for anything a pickle could smuggle in."""


def test_pickled_objects_are_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "gadget.pt"
    torch.save({"model_state": Gadget()}, path)
    assert "never unpickles" in _refusal(path)


def test_state_dict_of_another_architecture(tmp_path: Path) -> None:
    path = tmp_path / "r3d_18.pyth"
    torch.save({"model_state": r3d_18().state_dict()}, path)
    message = _refusal(path)
    assert "neither pytorchvideo's SlowFast" in message and "stem.0.weight" in message


def test_a_non_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "numbers.pt"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    assert "not a model state dict" in _refusal(path)


def test_shape_mismatch_between_architecture_and_weights(saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    payload["arch"]["width"] = 32  # the weights are for width 16
    torch.save(payload, saved)
    message = _refusal(saved)
    assert "do not fit SlowFast R18 (width 32" in message and "wrong shape" in message
    assert "s1.slow.conv.weight: (16, 3, 1, 7, 7) in the file, (32, 3, 1, 7, 7) in the model" in message


def test_missing_and_unexpected_tensors(saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    payload["state_dict"]["s9.extra.weight"] = payload["state_dict"].pop("head.proj.weight")
    torch.save(payload, saved)
    message = _refusal(saved)
    assert "1 tensors missing (e.g. head.proj.weight)" in message
    assert "1 unexpected tensors (e.g. s9.extra.weight)" in message


def test_nan_weights(saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    payload["state_dict"]["s3.fast.blocks.0.branch.a.conv.weight"][0] = float("nan")
    torch.save(payload, saved)
    assert "s3.fast.blocks.0.branch.a.conv.weight holds NaN" in _refusal(saved)


def test_newer_version_and_foreign_format(saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    torch.save({**payload, "version": VERSION + 1}, saved)
    assert "newer FallWatch" in _refusal(saved)
    torch.save({**payload, "format": "something-else"}, saved)
    assert "'something-else'" in _refusal(saved)


def test_invalid_architecture_and_labels(saved: Path) -> None:
    payload = torch.load(saved, weights_only=True)
    torch.save({**payload, "arch": {**payload["arch"], "depth": 34}}, saved)
    assert "invalid architecture or labels (depth must be one of" in _refusal(saved)
    torch.save({**payload, "labels": ["normal", "falling"]}, saved)
    assert "2 labels for a model with 3 classes" in _refusal(saved)
    torch.save({**payload, "labels": None}, saved)
    assert "'labels' entry is missing or malformed" in _refusal(saved)


def test_load_to_device_keeps_model_usable(saved: Path) -> None:
    model, _ = load_checkpoint(saved, device=torch.device("cpu"))
    with torch.inference_mode():
        assert model(clip_pair(SMALL)).shape == (2, 3)


def test_fresh_spec_uses_fallwatch_labels_for_three_classes() -> None:
    model = build_slowfast(SMALL)
    spec = new_spec(model.config)
    assert spec.labels == LABELS and spec.provenance.sha256 is None
