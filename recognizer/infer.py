"""The recognizer at inference: tubelets of every track and camera in, one `Prediction` per tubelet out.

Torch stays inside this module and the recognizer package; the pipeline hands over seam types and gets seam types
back. Tubelets are judged in batches (up to `batch_size`) so that several people and cameras share a forward pass,
in PyTorch or in an exported copy of the model (`recognizer.backend`, see recognizer/export.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fallwatch.core.config import RecognizerConfig, Settings
from fallwatch.core.devices import pick_device
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import LABELS, Prediction, Tubelet
from fallwatch.recognizer.checkpoint import load_checkpoint
from fallwatch.recognizer.export import Backend, Runtime, select_runtime
from fallwatch.recognizer.inputs import tubelets_to_inputs
from fallwatch.recognizer.optimize import prepare_for_inference
from fallwatch.recognizer.slowfast import SlowFast
from fallwatch.recognizer.spec import RecognizerSpec

# The model FallWatch ships, trained on ../shared/falldata (see recognizer/weights/MODEL_CARD.md).
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "fallwatch_slowfast_tiny_trajectory.pt"


def resolve_checkpoint(configured: Path | None) -> Path:
    path = configured if configured is not None else SHIPPED_CHECKPOINT
    if not path.is_file():
        where = "recognizer.checkpoint" if configured is not None else "the shipped model"
        raise FallWatchError(
            f"{path}: recognizer checkpoint not found ({where}; expected a FallWatch .pt file)"
        )
    return path


def export_dir(config: RecognizerConfig, settings: Settings | None) -> Path | None:
    """Where exports are cached: recognizer.export_dir, else the detector's export directory (one cache for
    both models, keyed by each file's sha256), else <models_dir>/exports; None without settings to ask."""
    if config.export_dir is not None:
        return config.export_dir
    if settings is None:
        return None
    return settings.detector.export_dir or settings.resolved_models_dir / "exports"


class Recognizer:
    """A loaded SlowFast that judges tubelets; its labels are mapped onto FallWatch's normal/falling/lying.

    `settings` give the export directory's default (see `export_dir`): without them and without
    `recognizer.export_dir`, `auto` runs PyTorch.
    """

    def __init__(self, config: RecognizerConfig, settings: Settings | None = None) -> None:
        self.device = pick_device(config.device)
        self.batch_size = config.batch_size
        self.checkpoint = resolve_checkpoint(config.checkpoint)
        # An exported runtime runs on the CPU; so do its inputs, and the model it is exported from.
        exported = config.backend in ("onnx", "openvino") or (
            config.backend == "auto" and self.device == "cpu"
        )
        model, spec = load_checkpoint(self.checkpoint, device="cpu" if exported else self.device)
        missing = set(LABELS) - set(spec.labels)
        if missing:
            raise FallWatchError(
                f"{self.checkpoint}: its labels are {list(spec.labels)}; expected FallWatch's {list(LABELS)} "
                "(fine-tune it with `fallwatch train --base` first)"
            )
        self.spec: RecognizerSpec = spec
        self._order = [spec.labels.index(label) for label in LABELS]
        self._runtime: Runtime | None = select_runtime(
            config.backend, self.device, model, spec, export_dir(config, settings), torch.get_num_threads()
        )
        self.backend: Backend = "torch" if self._runtime is None else self._runtime.backend
        self.model: SlowFast | None = None
        if self._runtime is None:
            self._channels_last = self.device == "cpu"
            self.model = prepare_for_inference(model, channels_last=self._channels_last)
        else:
            self.device, self._channels_last = "cpu", False

    @property
    def frames(self) -> int:
        return self.spec.frames

    def predict(self, tubelets: Sequence[Tubelet]) -> list[Prediction]:
        predictions: list[Prediction] = []
        for start in range(0, len(tubelets), self.batch_size):
            predictions += self._predict_batch(tubelets[start : start + self.batch_size])
        return predictions

    def logits(self, tubelets: Sequence[Tubelet]) -> np.ndarray:
        """(N, 3) float32 logits in LABELS order, from whichever runtime runs the model."""
        return self._logits(tubelets).cpu().numpy()

    def probabilities(self, tubelets: Sequence[Tubelet]) -> np.ndarray:
        """(N, 3) probabilities in LABELS order."""
        with torch.inference_mode():
            return torch.softmax(self._logits(tubelets), dim=1).cpu().numpy()

    def _logits(self, tubelets: Sequence[Tubelet]) -> torch.Tensor:
        memory = torch.channels_last_3d if self._channels_last else torch.contiguous_format
        with torch.inference_mode():
            inputs = tubelets_to_inputs(tubelets, self.spec, device=self.device, memory_format=memory)
            logits: torch.Tensor
            if self.model is not None:
                logits = self.model(inputs)
            else:
                assert self._runtime is not None
                logits = torch.from_numpy(self._runtime([t.numpy() for t in inputs]))
            return logits[:, self._order].float()

    def _predict_batch(self, tubelets: Sequence[Tubelet]) -> list[Prediction]:
        if not tubelets:
            return []
        probabilities = self.probabilities(tubelets)
        return [
            Prediction(
                camera=t.camera,
                track_id=t.track_id,
                pts=t.pts_end,
                scores={label: float(p) for label, p in zip(LABELS, row / row.sum(), strict=True)},
                box=tuple(float(v) for v in t.boxes[-1]),  # type: ignore[arg-type]
                motion=t.motion,
            )
            for t, row in zip(tubelets, probabilities, strict=True)
        ]
