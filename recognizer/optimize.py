"""Making a trained SlowFast cheaper to run: eval mode, norms folded into convolutions, channels-last
memory."""

from __future__ import annotations

import copy

import torch

from fallwatch.recognizer.blocks import ConvBnAct
from fallwatch.recognizer.slowfast import SlowFast


def prepare_for_inference(model: SlowFast, *, channels_last: bool = True) -> SlowFast:
    """A copy of `model` for inference only; the original is left as it was (it may go on training).

    Each BatchNorm is folded into its convolution, which removes a full read and write of every activation
    map, and with `channels_last` the weights are stored channels-last (NDHWC), the layout oneDNN's CPU
    convolutions and cuDNN's tensor cores run fastest in. Feed it inputs made with
    `memory_format=torch.channels_last_3d` and run it under `torch.inference_mode()`. The copy cannot be saved
    with `save_checkpoint`.
    """
    prepared = copy.deepcopy(model).eval()
    for module in prepared.modules():
        if isinstance(module, ConvBnAct):
            module.fold()
    if channels_last:
        prepared = prepared.to(memory_format=torch.channels_last_3d)
    for parameter in prepared.parameters():
        parameter.requires_grad_(False)
    return prepared
