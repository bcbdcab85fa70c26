"""Replacing the Kinetics head with one for FallWatch's labels, keeping the backbone."""

from __future__ import annotations

from pathlib import Path

import torch

from fallwatch.core.types import LABELS
from fallwatch.recognizer import (
    SlowFast,
    backbone_parameters,
    load_checkpoint,
    new_spec,
    replace_head,
    save_checkpoint,
    slowfast_r50,
)
from tests.recognizer.conftest import SMALL, clip_pair, randomize_norms


def test_r50_head_goes_from_400_kinetics_classes_to_fallwatchs_3_labels() -> None:
    torch.manual_seed(0)
    model = slowfast_r50()
    randomize_norms(model)
    spec = new_spec(model.config)
    backbone_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("head.")}
    old_head = model.head.proj.weight.clone()

    model, new = replace_head(model, spec)

    assert model.head.proj.out_features == 3 and model.head.num_classes == 3
    assert old_head.shape == (400, 2304) and model.head.proj.in_features == 2304
    assert new.labels == LABELS and model.config.num_classes == 3 and new.arch == model.config
    after = model.state_dict()
    assert backbone_before.keys() == {k for k in after if not k.startswith("head.")}
    for key, value in backbone_before.items():
        assert torch.equal(after[key], value), key
    inputs = clip_pair(model.config, batch=1, crop=64)
    with torch.inference_mode():
        assert model.eval()([inputs[0][:, :, :2], inputs[1][:, :, :8]]).shape == (1, 3)


def test_new_spec_records_where_the_backbone_came_from(small_model: SlowFast, tmp_path: Path) -> None:
    path = save_checkpoint(small_model, new_spec(SMALL), tmp_path / "pretrained.pt")
    model, spec = load_checkpoint(path)
    model, spec = replace_head(model, spec, ("upright", "down"))
    assert spec.labels == ("upright", "down")
    assert spec.provenance.sha256 is None and "new head" in spec.provenance.source
    assert spec.derived_from is not None and spec.derived_from.source == str(path)
    finetuned = save_checkpoint(model, spec, tmp_path / "finetuned.pt")
    reloaded, reloaded_spec = load_checkpoint(finetuned)
    assert reloaded_spec.labels == ("upright", "down")
    assert reloaded_spec.derived_from == spec.derived_from
    assert reloaded.head.num_classes == 2


def test_only_the_head_learns_when_the_backbone_is_frozen(small_model: SlowFast) -> None:
    model, _ = replace_head(small_model, new_spec(SMALL))
    model.train()
    for parameter in backbone_parameters(model):
        parameter.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = torch.nn.functional.cross_entropy(model(clip_pair(SMALL)), torch.tensor([0, 2]))
    loss.backward()
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    # BatchNorm running statistics still move in train mode; the learned weights move only in the head.
    assert {k for k in changed if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))} == {
        "head.proj.weight",
        "head.proj.bias",
    }
    n_backbone = sum(p.numel() for p in backbone_parameters(model))
    assert n_backbone + sum(p.numel() for p in model.head.parameters()) == sum(
        p.numel() for p in model.parameters()
    )
