"""Preparing a pretrained SlowFast for fine-tuning on FallWatch's labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from torch import nn

from fallwatch.core.types import LABELS
from fallwatch.recognizer.slowfast import SlowFast, build_head
from fallwatch.recognizer.spec import RecognizerSpec


def replace_head(
    model: SlowFast, spec: RecognizerSpec, labels: Sequence[str] = LABELS
) -> tuple[SlowFast, RecognizerSpec]:
    """Give `model` a freshly initialised head for `labels` (e.g. Kinetics' 400 classes -> FallWatch's 3).

    The model is changed in place and returned with its new spec; the backbone's weights are untouched, so a
    Kinetics-pretrained backbone carries over. The new head keeps the model's device, dtype and train/eval
    mode.
    """
    if model.config != spec.arch:
        raise ValueError(f"the model is {model.config} but the spec describes {spec.arch}")
    new_spec = spec.relabelled(tuple(labels))
    head = build_head(new_spec.arch)
    nn.init.normal_(head.proj.weight, std=0.01)
    nn.init.zeros_(head.proj.bias)
    old = model.head.proj.weight
    model.head = head.to(device=old.device, dtype=old.dtype).train(model.training)
    model.config = replace(model.config, num_classes=len(new_spec.labels))
    return model, new_spec


def backbone_parameters(model: SlowFast) -> list[nn.Parameter]:
    """The parameters fine-tuning may freeze or give a smaller learning rate: all but the head's."""
    return [p for stage in model.stages for p in stage.parameters()]
