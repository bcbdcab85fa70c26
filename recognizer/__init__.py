"""The SlowFast recognizer: normal, falling or lying for one person's tubelet.

Usage::

    from fallwatch.recognizer import load_checkpoint, tubelets_to_inputs
    model, spec = load_checkpoint("models/fallwatch_slowfast_tiny_trajectory.pt")
    logits = model(tubelets_to_inputs(tubelets, spec))      # (N, len(spec.labels))
"""

from fallwatch.recognizer.checkpoint import load_checkpoint, save_checkpoint
from fallwatch.recognizer.config import SlowFastConfig
from fallwatch.recognizer.finetune import backbone_parameters, replace_head
from fallwatch.recognizer.inputs import clips_to_inputs, tubelets_to_inputs
from fallwatch.recognizer.optimize import prepare_for_inference
from fallwatch.recognizer.presets import (
    DEFAULT_PRESET,
    PRESETS,
    build_preset,
    preset_config,
    slowfast_r18,
    slowfast_r18_mc3,
    slowfast_r50,
    slowfast_r101,
    slowfast_tiny,
    slowfast_tiny_trajectory,
)
from fallwatch.recognizer.slowfast import SlowFast, build_slowfast
from fallwatch.recognizer.spec import Provenance, RecognizerSpec, new_spec

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Provenance",
    "RecognizerSpec",
    "SlowFast",
    "SlowFastConfig",
    "backbone_parameters",
    "build_preset",
    "build_slowfast",
    "clips_to_inputs",
    "load_checkpoint",
    "new_spec",
    "prepare_for_inference",
    "preset_config",
    "replace_head",
    "save_checkpoint",
    "slowfast_r18",
    "slowfast_r18_mc3",
    "slowfast_r50",
    "slowfast_r101",
    "slowfast_tiny",
    "slowfast_tiny_trajectory",
    "tubelets_to_inputs",
]
