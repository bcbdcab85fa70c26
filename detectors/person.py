"""The person detector: ultralytics YOLO pose (boxes and 17 keypoints), batched over frames, run by PyTorch,
ONNX Runtime or OpenVINO (`detector.backend`, see detectors/export.py).

Ultralytics objects never leave this module and the export: callers get `Detection` in source pixels.
"""

from __future__ import annotations

import functools
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fallwatch.core.config import DetectorConfig, Settings
from fallwatch.core.devices import pick_device
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import NUM_KEYPOINTS, Detection, Frame
from fallwatch.detectors.export import choose_backend, export
from fallwatch.detectors.weights import resolve_weights

PERSON_CLASS = 0


def quiet_ultralytics(data_dir: Path, allow_network: bool) -> None:
    """Ultralytics phones home and installs packages on import unless told not to; tell it before importing."""
    config_dir = data_dir / "ultralytics"
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir.resolve()))
    os.environ["YOLO_AUTOINSTALL"] = "False"
    # Its banners go to stdout, where `fallwatch track` writes JSON lines.
    os.environ.setdefault("YOLO_VERBOSE", "False")
    if not allow_network:
        os.environ["YOLO_OFFLINE"] = "1"


class PersonDetector:
    """YOLO pose over batches of frames; returns the people in each frame, highest confidence first."""

    def __init__(self, config: DetectorConfig, settings: Settings) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.weights = resolve_weights(
            config.model, config.weights, settings.resolved_models_dir, settings.allow_network
        )
        quiet_ultralytics(settings.data_dir, settings.allow_network)
        self.backend = choose_backend(config.backend, self.device, self.weights)
        if self.backend != "torch":
            self._load(self.weights)  # refuses a file that is not YOLO pose weights before exporting it
            cache = config.export_dir or settings.resolved_models_dir / "exports"
            self.weights = str(export(Path(self.weights), self.backend, cache, config.imgsz))
        self._model = self._load(self.weights)
        self._threads = torch.get_num_threads()
        self._warm_up()

    def _load(self, weights: str) -> Any:
        from ultralytics import YOLO  # type: ignore[attr-defined]  # imported after the environment is set

        try:
            model = YOLO(weights, task="pose")  # a .pt, an .onnx file or an OpenVINO folder
        except (
            RuntimeError,
            pickle.UnpicklingError,
            zipfile.BadZipFile,
            EOFError,
            KeyError,
            AttributeError,
            TypeError,
            ValueError,
        ) as exc:
            raise FallWatchError(
                f"{weights}: not a loadable YOLO checkpoint ({type(exc).__name__}); expected YOLO pose weights"
            ) from None
        if getattr(model, "task", None) != "pose":
            raise FallWatchError(
                f"{weights}: a YOLO '{model.task}' model; expected a pose model with keypoints"
            )
        return model

    def _warm_up(self) -> None:
        # The first predict sets up ultralytics' predictor, which resets torch to cpu_count - 1 threads;
        # run it now and restore the thread count so later work gets every core.
        blank = np.zeros((self.config.imgsz, self.config.imgsz, 3), dtype=np.uint8)
        self._predict([blank])
        torch.set_num_threads(self._threads)
        self._openvino_in_float32()

    def _openvino_backend(self) -> Any | None:
        """ultralytics' OpenVINO backend behind the predictor (built by the first predict), if that is the runtime."""
        backend = getattr(getattr(self._model.predictor, "model", None), "backend", None)
        return backend if hasattr(backend, "ov_compiled_model") else None

    def _openvino_in_float32(self) -> None:
        """Compile the OpenVINO detector again with float32 inference.

        On CPUs with AMX or AVX512-BF16 (recent Xeons) OpenVINO infers in bfloat16 unless told otherwise, and
        ultralytics tells it only on Windows. Measured on such a Xeon, the detector then lost the person in whole
        stretches of real fall clips (3 of 40 one-person falls tracked in only 51-57 % of their frames, which
        failed tests/detectors/test_tracker.py; it passes in float32): what a camera sees must not depend on the
        CPU it runs on.
        """
        backend = self._openvino_backend()
        if backend is None:
            return
        bound = backend.compile_model  # functools.partial(core.compile_model, device_name=..., config=...)
        config = {**bound.keywords.get("config", {}), "INFERENCE_PRECISION_HINT": "f32"}
        backend.compile_model = functools.partial(bound.func, **{**bound.keywords, "config": config})
        xml = next(Path(self.weights).glob("*.xml"))
        core = bound.func.__self__
        backend.ov_compiled_model = backend.compile_model(
            core.read_model(str(xml), str(xml.with_suffix(".bin")))
        )

    @property
    def inference_precision(self) -> str:
        """The element type the detector computes in: "f32" for torch and ONNX Runtime on a CPU, else
        what OpenVINO says."""
        backend = self._openvino_backend()
        if backend is None:
            return "f32" if self.device == "cpu" else str(self.device)
        return str(backend.ov_compiled_model.get_property("INFERENCE_PRECISION_HINT").to_string())

    def _predict(self, images: list[np.ndarray[Any, Any]]) -> list[Any]:
        with torch.inference_mode():
            return list(
                self._model.predict(
                    images,
                    imgsz=self.config.imgsz,
                    conf=self.config.conf,
                    iou=self.config.iou,
                    classes=[PERSON_CLASS],
                    device=self.device if self.backend == "torch" else "cpu",
                    max_det=self.config.max_people,
                    verbose=False,
                )
            )

    def detect(self, frames: list[Frame]) -> list[list[Detection]]:
        """People in each frame, as one batch."""
        if not frames:
            return []
        results = self._predict([frame.image for frame in frames])
        return [
            self._to_detections(result, frame.origin) for result, frame in zip(results, frames, strict=True)
        ]

    @staticmethod
    def _to_detections(result: Any, origin: tuple[int, int]) -> list[Detection]:
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        shift = np.array([origin[0], origin[1], origin[0], origin[1]], dtype=np.float32)
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float32) + shift
        scores = boxes.conf.cpu().numpy().astype(np.float32)
        keypoints = None
        if result.keypoints is not None and result.keypoints.data.shape[1:] == (NUM_KEYPOINTS, 3):
            keypoints = result.keypoints.data.cpu().numpy().astype(np.float32)
            keypoints[:, :, 0] += origin[0]
            keypoints[:, :, 1] += origin[1]
        order = np.argsort(-scores)
        return [
            Detection(
                xyxy=tuple(float(v) for v in xyxy[i]),  # type: ignore[arg-type]
                score=float(np.clip(scores[i], 0.0, 1.0)),
                keypoints=None if keypoints is None else keypoints[i],
            )
            for i in order
        ]
