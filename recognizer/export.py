"""The recognizer's runtimes: PyTorch runs the checkpoint itself; ONNX Runtime and OpenVINO run a copy exported
from it once into `<export dir>/<sha256 of the checkpoint>/`.

The export is the model `prepare_for_inference` makes (norms folded into the convolutions), traced by
`torch.onnx.export` with a dynamic batch axis and one input per pathway (`slow`, `fast` and, for a trajectory
model, `trajectory`), as `<checkpoint stem>.opset<OPSET>.onnx`; OpenVINO's copy is converted from that file and
saved with float32 weights as `<checkpoint stem>.opset<OPSET>.openvino/model.xml` (and `.bin`). Both are made
under a hidden `.part` name beside the target and renamed into place: workers sharing the directory may race,
and the loser's copy is simply dropped.

A runtime takes what the PyTorch model takes, as NumPy arrays (`[slow, fast]` or `[slow, fast, trajectory]`,
NCDHW float32 from `tubelets_to_inputs`), and returns (N, classes) float32 logits. Every runtime is checked
against PyTorch once when it is opened (`CHECK_ATOL`); their logits on real tubelets agree within 1e-4 (tested
in tests/recognizer/test_export.py). ONNX Runtime, OpenVINO and the onnx package are imported here and nowhere
else.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from fallwatch.core.errors import FallWatchError
from fallwatch.core.files import PARTIAL_SUFFIX
from fallwatch.recognizer.optimize import prepare_for_inference
from fallwatch.recognizer.slowfast import SlowFast
from fallwatch.recognizer.spec import RecognizerSpec

log = logging.getLogger("fallwatch.recognizer")

Backend = Literal["torch", "onnx", "openvino"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "openvino")
# The packages each runtime needs: torch's ONNX exporter needs onnx, and OpenVINO's copy is converted from ONNX.
NEEDS: dict[Backend, tuple[str, ...]] = {
    "torch": (),
    "onnx": ("onnx", "onnxruntime"),
    "openvino": ("onnx", "openvino"),
}
OPSET = 17
# Logits of a runtime against PyTorch's on a seeded check batch, when the runtime is opened. Measured: ~1e-6 for
# both (float32 throughout); a broken export differs by whole units.
CHECK_ATOL = 1e-3
CHECK_BATCH = 3  # not the batch the export was traced with, so that a batch size frozen into the graph shows
TRACE_BATCH = 2

FloatArray = npt.NDArray[np.float32]


class Runtime(Protocol):
    """An exported recognizer: the model's inputs as NumPy arrays in, (N, classes) float32 logits out."""

    backend: Backend

    def __call__(self, inputs: Sequence[FloatArray]) -> FloatArray: ...


def input_names(spec: RecognizerSpec) -> tuple[str, ...]:
    return ("slow", "fast", "trajectory") if spec.trajectory else ("slow", "fast")


def missing_packages(backend: Backend) -> list[str]:
    return [package for package in NEEDS[backend] if importlib.util.find_spec(package) is None]


def installed(backend: Backend) -> bool:
    return not missing_packages(backend)


def require(backend: Backend) -> None:
    """FallWatchError, one line naming the backend and what to install, if a package it needs is missing."""
    missing = missing_packages(backend)
    if missing:
        raise _missing(backend, missing)


def _missing(backend: Backend, packages: Sequence[str]) -> FallWatchError:
    return FallWatchError(
        f"recognizer.backend {backend}: needs the {' and '.join(packages)} package "
        f"(pip install {' '.join(packages)}), or choose torch or auto"
    )


def _checkpoint_key(spec: RecognizerSpec) -> tuple[str, str]:
    """(folder, stem): the checkpoint's sha256 (its first 16 hex digits) and its file name's stem."""
    sha = spec.provenance.sha256
    if not sha:
        raise ValueError(
            f"{spec.provenance.source}: weights that were never a file have no sha256 to cache an export by"
        )
    return sha[:16], Path(spec.provenance.source).stem or "recognizer"


def exported_path(spec: RecognizerSpec, backend: Backend, cache: Path) -> Path:
    """Where the copy of the checkpoint for `backend` is cached: the .onnx file, or OpenVINO's model.xml."""
    folder, stem = _checkpoint_key(spec)
    if backend == "onnx":
        return cache / folder / f"{stem}.opset{OPSET}.onnx"
    if backend == "openvino":
        return cache / folder / f"{stem}.opset{OPSET}.openvino" / "model.xml"
    raise ValueError(f"torch runs the checkpoint itself; there is no export for {backend!r}")


def export(model: SlowFast, spec: RecognizerSpec, backend: Backend, cache: Path) -> Path:
    """The runtime's copy of `model` (loaded from the checkpoint `spec` describes), exported now unless an
    earlier run did (the cache)."""
    target = exported_path(spec, backend, cache)
    if target.exists():
        return target
    if backend == "onnx":
        _export_onnx(model, spec, target)
    else:
        _export_openvino(export(model, spec, "onnx", cache), target.parent)
    return target


def _scratch(target: Path) -> Path:
    """A fresh hidden folder beside `target` (`.NAME.XXXX.part`: a crash's leftovers look like any partial file
    of FallWatch's), unique so that racing workers never write into each other's files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX))


def _move_into_place(made: Path, target: Path) -> None:
    try:
        os.rename(made, target)  # a folder onto an existing folder fails: the other worker won
    except OSError:
        if not target.exists():  # not a lost race: a real failure
            raise


class _Pathways(nn.Module):
    """The SlowFast with one positional argument per pathway, so that the ONNX graph's inputs have names."""

    def __init__(self, model: SlowFast) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> Tensor:
        logits: Tensor = self.model(list(inputs))
        return logits


def check_inputs(spec: RecognizerSpec, batch: int, seed: int = 0) -> list[Tensor]:
    """A seeded batch of the model's inputs (normalised-pixel-like noise, NCDHW float32)."""
    generator = torch.Generator().manual_seed(seed)
    side, frames = spec.crop, spec.frames
    fast = torch.randn(batch, 3, frames, side, side, generator=generator)
    inputs = [fast[:, :, :: spec.alpha].contiguous(), fast]
    if spec.trajectory:
        inputs.append(torch.randn(batch, frames, spec.trajectory, generator=generator))
    return inputs


def _export_onnx(model: SlowFast, spec: RecognizerSpec, target: Path) -> None:
    log.info("exporting %s to ONNX once; cached in %s", Path(spec.provenance.source).name, target.parent)
    names = input_names(spec)
    wrapped = _Pathways(prepare_for_inference(model, channels_last=False).cpu()).eval()
    scratch = _scratch(target)
    try:
        made = scratch / target.name
        try:
            # The tracer's notes (shape checks turned into constants) and the exporter's deprecation notice are
            # not the operator's concern: the runtime is checked against PyTorch when it is opened.
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapped,
                    tuple(check_inputs(spec, TRACE_BATCH)),
                    str(made),
                    dynamo=False,
                    opset_version=OPSET,
                    input_names=list(names),
                    output_names=["logits"],
                    dynamic_axes={name: {0: "batch"} for name in (*names, "logits")},
                )
        except Exception as exc:  # torch raises many kinds; the operator needs the one line
            raise FallWatchError(
                f"{spec.provenance.source}: export for onnx failed ({type(exc).__name__}: {exc})"
            ) from None
        _move_into_place(made, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _openvino() -> Any:
    """The openvino module, imported only when it is used (one import statement: mypy notes the missing stubs
    once)."""
    import openvino  # type: ignore[import-untyped]

    return openvino


def _export_openvino(onnx_file: Path, folder: Path) -> None:
    openvino = _openvino()
    log.info("converting %s for OpenVINO once; cached in %s", onnx_file.name, folder.parent)
    scratch = _scratch(folder)
    try:
        made = scratch / folder.name
        try:
            converted = openvino.convert_model(str(onnx_file))
            # float32 weights: the default halves them, and the logits would move by ~4e-4.
            openvino.save_model(converted, str(made / "model.xml"), compress_to_fp16=False)
        except Exception as exc:  # OpenVINO raises its own RuntimeError kinds
            raise FallWatchError(
                f"{onnx_file}: conversion for openvino failed ({type(exc).__name__}: {exc})"
            ) from None
        _move_into_place(made, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class OnnxRuntime:
    """The ONNX export in ONNX Runtime on the CPU."""

    backend: Backend = "onnx"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime  # type: ignore[import-untyped]

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its notes would be lines on the operator's stderr
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._names = [node.name for node in self._session.get_inputs()]

    def __call__(self, inputs: Sequence[FloatArray]) -> FloatArray:
        feed = _feed(self._names, inputs)
        logits = self._session.run(None, feed)[0]  # thread-safe: a session runs concurrent calls
        return np.asarray(logits, dtype=np.float32)


class OpenVinoRuntime:
    """The OpenVINO IR on the CPU, in float32 (no bf16 or fp16 inference), tuned for latency."""

    backend: Backend = "openvino"

    def __init__(self, xml: Path, threads: int) -> None:
        openvino = _openvino()
        properties: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        compiled = openvino.Core().compile_model(str(xml), "CPU", properties)
        self._names = [node.get_any_name() for node in compiled.inputs]
        self._request = compiled.create_infer_request()
        self._output = compiled.output(0)
        self._compiled = compiled
        self._lock = threading.Lock()  # one infer request: one call at a time

    def __call__(self, inputs: Sequence[FloatArray]) -> FloatArray:
        feed = _feed(self._names, inputs)
        with self._lock:
            result = self._request.infer(feed)
            # The request reuses its output buffer on the next call: copy.
            return np.array(result[self._output], dtype=np.float32, copy=True)


def _feed(names: Sequence[str], inputs: Sequence[FloatArray]) -> dict[str, FloatArray]:
    if len(inputs) != len(names):
        raise ValueError(f"the exported model takes [{', '.join(names)}], got {len(inputs)} arrays")
    return {
        name: np.ascontiguousarray(array, dtype=np.float32) for name, array in zip(names, inputs, strict=True)
    }


def open_runtime(
    model: SlowFast, spec: RecognizerSpec, backend: Backend, cache: Path, threads: int
) -> Runtime:
    """The exported model (made or found in `cache`) in `backend`'s runtime, checked against PyTorch.

    Raises FallWatchError, one line, if a package is missing, the export fails or its logits are not torch's.
    """
    require(backend)
    path = export(model, spec, backend, cache)
    try:
        runtime: Runtime = OnnxRuntime(path, threads) if backend == "onnx" else OpenVinoRuntime(path, threads)
    except ImportError:  # find_spec saw the package, but it does not import (a broken install)
        raise _missing(backend, NEEDS[backend]) from None
    except Exception as exc:
        raise FallWatchError(
            f"{path}: recognizer.backend {backend} cannot load it ({type(exc).__name__}: {exc})"
        ) from None
    difference = logit_difference(runtime, model, spec)
    if not difference <= CHECK_ATOL:
        raise FallWatchError(
            f"{path}: recognizer.backend {backend} gives logits {difference:.2g} away from torch's "
            f"(more than {CHECK_ATOL:g}); delete the export to make it again, or choose torch"
        )
    return runtime


def logit_difference(runtime: Runtime, model: SlowFast, spec: RecognizerSpec) -> float:
    """The largest |logit| difference between `runtime` and the model in PyTorch on a seeded check batch."""
    inputs = check_inputs(spec, CHECK_BATCH, seed=1)
    reference = prepare_for_inference(model, channels_last=False).cpu()  # a copy, in eval mode
    with torch.inference_mode():
        expected = reference(inputs).float().numpy()
    got = runtime([t.numpy() for t in inputs])
    if got.shape != expected.shape:
        return float("inf")
    return float(np.abs(got - expected).max())


def select_runtime(
    requested: str, device: str, model: SlowFast, spec: RecognizerSpec, cache: Path | None, threads: int
) -> Runtime | None:
    """The runtime to use, or None for PyTorch: as configured, or for `auto` OpenVINO when it is installed, the
    model runs on the CPU, there is an export directory and the export opens and matches torch; else PyTorch.

    An explicitly requested runtime that cannot be had is one FallWatchError line; `auto` falls back to PyTorch
    with a warning (a missing package is no warning: PyTorch is what auto means then).
    """
    if requested == "torch":
        return None
    if requested == "auto":
        if device != "cpu" or cache is None or not installed("openvino"):
            return None
        try:
            return open_runtime(model, spec, "openvino", cache, threads)
        except (FallWatchError, OSError) as exc:
            log.warning("recognizer.backend auto: running in torch, not openvino (%s)", exc)
            return None
    if requested not in BACKENDS:
        raise FallWatchError(f"recognizer.backend {requested!r}: expected auto, torch, onnx or openvino")
    backend = next(b for b in BACKENDS if b == requested)
    require(backend)
    if cache is None:
        raise FallWatchError(
            f"recognizer.backend {backend}: no directory to cache the export in (set recognizer.export_dir)"
        )
    return open_runtime(model, spec, backend, cache, threads)
