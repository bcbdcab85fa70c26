"""The inference copy: norms folded, channels-last, same outputs, original untouched."""

from __future__ import annotations

import torch
from torch import nn

from fallwatch.recognizer import SlowFast, prepare_for_inference
from tests.recognizer.conftest import SMALL, clip_pair


def test_prepared_copy_gives_the_same_logits(small_model: SlowFast) -> None:
    inputs = clip_pair(SMALL)
    with torch.inference_mode():
        expected = small_model(inputs)
        for channels_last in (False, True):
            prepared = prepare_for_inference(small_model, channels_last=channels_last)
            fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
            got = prepared([t.contiguous(memory_format=fmt) for t in inputs])
            assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_prepared_copy_has_no_norms_and_leaves_the_original_alone(small_model: SlowFast) -> None:
    norms_before = sum(isinstance(m, nn.BatchNorm3d) for m in small_model.modules())
    small_model.train()
    prepared = prepare_for_inference(small_model)
    assert not any(isinstance(m, nn.BatchNorm3d) for m in prepared.modules())
    assert not prepared.training and not any(p.requires_grad for p in prepared.parameters())
    assert sum(isinstance(m, nn.BatchNorm3d) for m in small_model.modules()) == norms_before > 0
    assert small_model.training and all(p.requires_grad for p in small_model.parameters())
    conv = prepared.s1.slow.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last_3d)
