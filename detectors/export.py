"""The detector's runtimes: PyTorch runs the .pt itself; ONNX Runtime and OpenVINO run a copy that ultralytics
exports from it once, offline, into `<models_dir>/exports/<sha256 of the weights>/`.

Exports are dynamic in batch and size, so they letterbox exactly as the .pt does and give the same boxes and
keypoints. An export is made under a temporary name and renamed into place: several workers sharing a models
directory may race, and the loser's copy is simply dropped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Literal

from fallwatch.core.errors import FallWatchError

log = logging.getLogger("fallwatch.detector")

Backend = Literal["torch", "onnx", "openvino"]
# The packages each runtime needs, to export (ultralytics' onnx export needs onnx) and to run.
NEEDS: dict[Backend, tuple[str, ...]] = {
    "torch": (),
    "onnx": ("onnx", "onnxruntime"),
    "openvino": ("openvino",),
}
PREFERRED: tuple[Backend, ...] = ("openvino", "onnx", "torch")  # fastest first, on a CPU


def installed(backend: Backend) -> bool:
    return all(importlib.util.find_spec(package) is not None for package in NEEDS[backend])


def choose_backend(requested: str, device: str, weights: str) -> Backend:
    """The runtime to use: as configured, or for `auto` the fastest installed one (PyTorch on a GPU, or for
    weights that are only a name to download)."""
    if requested != "auto":
        backend: Backend = requested  # type: ignore[assignment]  # the settings allow only Backend values
        missing = [package for package in NEEDS[backend] if importlib.util.find_spec(package) is None]
        if missing:
            raise FallWatchError(
                f"detector.backend {backend}: needs the {' and '.join(missing)} package "
                f"(pip install {' '.join(missing)}), or choose torch or auto"
            )
        return backend
    if device != "cpu" or not Path(weights).is_file():
        return "torch"
    return next(b for b in PREFERRED if installed(b))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def exported_path(weights: Path, backend: Backend, cache: Path) -> Path:
    folder = cache / sha256_of(weights)[:16]
    return folder / (f"{weights.stem}.onnx" if backend == "onnx" else f"{weights.stem}_openvino_model")


def export(weights: Path, backend: Backend, cache: Path, imgsz: int) -> Path:
    """The runtime's copy of `weights`, exported now unless an earlier run did (the cache)."""
    if backend == "torch":
        return weights
    target = exported_path(weights, backend, cache)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(  # not a warning: a user's mistake found after it must still be the only line on stderr
        "exporting %s for %s once (about half a minute); cached in %s", weights.name, backend, target.parent
    )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as scratch:
        copy = Path(scratch) / weights.name  # ultralytics writes the export beside the weights it is given
        shutil.copyfile(weights, copy)
        made = _export(copy, backend, imgsz)
        try:
            made.rename(target)
        except OSError:
            if not target.exists():  # not a lost race: a real failure
                raise
    return target


def _export(weights: Path, backend: Backend, imgsz: int) -> Path:
    from ultralytics import YOLO  # type: ignore[attr-defined]  # imported after the environment is set

    try:
        with warnings.catch_warnings():  # torch's tracer deprecation notes: not the operator's concern
            warnings.simplefilter("ignore")
            made = YOLO(str(weights), task="pose").export(
                format=backend, imgsz=imgsz, dynamic=True, verbose=False
            )
    except Exception as exc:  # ultralytics raises many kinds; the operator needs the one line
        raise FallWatchError(
            f"{weights.name}: export for {backend} failed ({type(exc).__name__}: {exc})"
        ) from None
    return Path(str(made))
