"""The recognizer at inference: tubelets of every track and camera in, one `Prediction` per tubelet out.

Torch stays inside this module and the recognizer package; the pipeline hands over seam types and gets seam types
back. Tubelets are judged in batches (up to `batch_size`) so that several people and cameras share a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fallwatch.core.config import RecognizerConfig
from fallwatch.core.devices import pick_device
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import LABELS, Prediction, Tubelet
from fallwatch.recognizer.checkpoint import load_checkpoint
from fallwatch.recognizer.inputs import tubelets_to_inputs
from fallwatch.recognizer.optimize import prepare_for_inference
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


class Recognizer:
    """A loaded SlowFast that judges tubelets; its labels are mapped onto FallWatch's normal/falling/lying."""

    def __init__(self, config: RecognizerConfig) -> None:
        self.device = pick_device(config.device)
        self.batch_size = config.batch_size
        self.checkpoint = resolve_checkpoint(config.checkpoint)
        model, spec = load_checkpoint(self.checkpoint, device=self.device)
        missing = set(LABELS) - set(spec.labels)
        if missing:
            raise FallWatchError(
                f"{self.checkpoint}: its labels are {list(spec.labels)}; expected FallWatch's {list(LABELS)} "
                "(fine-tune it with `fallwatch train --base` first)"
            )
        self.spec: RecognizerSpec = spec
        self._order = [spec.labels.index(label) for label in LABELS]
        self._channels_last = self.device == "cpu"
        self.model = prepare_for_inference(model, channels_last=self._channels_last)

    @property
    def frames(self) -> int:
        return self.spec.frames

    def predict(self, tubelets: Sequence[Tubelet]) -> list[Prediction]:
        predictions: list[Prediction] = []
        for start in range(0, len(tubelets), self.batch_size):
            predictions += self._predict_batch(tubelets[start : start + self.batch_size])
        return predictions

    def probabilities(self, tubelets: Sequence[Tubelet]) -> np.ndarray:
        """(N, 3) probabilities in LABELS order."""
        memory = torch.channels_last_3d if self._channels_last else torch.contiguous_format
        with torch.inference_mode():
            inputs = tubelets_to_inputs(tubelets, self.spec, device=self.device, memory_format=memory)
            logits = self.model(inputs)[:, self._order]
            return torch.softmax(logits.float(), dim=1).cpu().numpy()

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
            )
            for t, row in zip(tubelets, probabilities, strict=True)
        ]
