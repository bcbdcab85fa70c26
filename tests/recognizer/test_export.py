"""The recognizer's runtimes: ONNX Runtime and OpenVINO give PyTorch's logits on real tubelets of the shipped
sample (within `LOGIT_ATOL`, at batch 1 and 8); their export is made once and cached; a runtime whose package
is missing is refused with one line; the setting refuses anything but its four values.

The tolerance: on these tubelets (logits up to 6 in size) both runtimes were measured within 1.5e-6 of PyTorch's
logits (ONNX Runtime 1.4e-6, OpenVINO 9.5e-7, at batch 8; float32 throughout); `LOGIT_ATOL` = 1e-4, absolute,
leaves room for other CPUs' kernels and is far below anything that could move a probability visibly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fallwatch.core.config import RecognizerConfig, Settings, load_settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import Frame, Tubelet
from fallwatch.detectors.perception import Perception
from fallwatch.detectors.person import PersonDetector
from fallwatch.ingest.sources import FileSource
from fallwatch.recognizer import export as export_module
from fallwatch.recognizer.checkpoint import load_checkpoint
from fallwatch.recognizer.export import exported_path, installed
from fallwatch.recognizer.infer import SHIPPED_CHECKPOINT, Recognizer, export_dir

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "assets" / "sample" / "gmdcsa24_subject2_fall_12.mp4"
LOGIT_ATOL = 1e-4  # measured: at most 1.4e-6 on these tubelets, for both runtimes (see the module docstring)
BATCHES = (1, 8)
EVERY = 3  # the sample is 30 fps; the pipeline analyses about 10


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)  # the tests share two cores with other jobs


@pytest.fixture(scope="module")
def tubelets(settings: Settings, detector: PersonDetector) -> list[Tubelet]:
    """Real tubelets (crops, boxes, keypoints) of the person who falls in the shipped sample, made by the same
    detector, tracker and tubelet builder as the pipeline's."""
    torch.set_num_threads(1)
    run = settings.model_copy(update={"motion": settings.motion.model_copy(update={"enabled": False})})
    perception = Perception(run, detector)
    found: list[Tubelet] = []
    for decoded in FileSource(SAMPLE).frames():
        if decoded.index % EVERY == 0:
            frame = Frame("sample", decoded.index, decoded.pts, 0.0, decoded.to_bgr())
            found += [t for step in perception.process([frame]) for t in step.tubelets]
        if len(found) >= max(BATCHES):
            break
    assert len(found) >= max(BATCHES), f"the sample gave only {len(found)} tubelets"
    return found[: max(BATCHES)]


def _recognizer(backend: str, cache: Path) -> Recognizer:
    return Recognizer(RecognizerConfig(backend=backend, device="cpu", export_dir=cache))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recognizer-exports")


@pytest.fixture(scope="module")
def torch_logits(tubelets: list[Tubelet], cache: Path) -> dict[int, np.ndarray]:
    recognizer = _recognizer("torch", cache)
    return {batch: recognizer.logits(tubelets[:batch]) for batch in BATCHES}


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_an_exported_runtime_gives_torchs_logits_on_real_tubelets(
    backend: str, tubelets: list[Tubelet], cache: Path, torch_logits: dict[int, np.ndarray]
) -> None:
    recognizer = _recognizer(backend, cache)
    assert recognizer.backend == backend and recognizer.model is None
    reference = _recognizer("torch", cache)
    for batch in BATCHES:
        expected = torch_logits[batch]
        got = recognizer.logits(tubelets[:batch])
        assert got.shape == expected.shape == (batch, 3) and got.dtype == np.float32
        assert np.abs(expected).max() > 0.5  # real logits, not a degenerate input
        np.testing.assert_allclose(got, expected, rtol=0, atol=LOGIT_ATOL)
        # And so the predictions the pipeline gets: same labels' scores, same boxes.
        ours, theirs = recognizer.predict(tubelets[:batch]), reference.predict(tubelets[:batch])
        for a, b in zip(ours, theirs, strict=True):
            assert (a.camera, a.track_id, a.pts, a.box) == (b.camera, b.track_id, b.pts, b.box)
            assert a.scores.keys() == b.scores.keys()
            assert max(abs(a.scores[k] - b.scores[k]) for k in a.scores) <= LOGIT_ATOL


def test_auto_takes_openvino_on_the_cpu_and_torch_elsewhere(cache: Path) -> None:
    assert installed("openvino")
    assert _recognizer("auto", cache).backend == "openvino"
    # Without an export directory (no settings given, none configured) there is nowhere to cache it.
    assert Recognizer(RecognizerConfig(device="cpu")).backend == "torch"
    model, spec = load_checkpoint(SHIPPED_CHECKPOINT)
    assert export_module.select_runtime("auto", "cuda:0", model, spec, cache, 1) is None


def test_auto_falls_back_to_torch_when_the_export_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise FallWatchError("export for onnx failed (RuntimeError: simulated)")

    monkeypatch.setattr(export_module, "_export_onnx", broken)
    assert _recognizer("auto", tmp_path).backend == "torch"
    assert "running in torch, not openvino (export for onnx failed" in caplog.text


def test_the_export_directory_defaults_to_the_detectors_then_the_models_directory(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, detector={"export_dir": None})
    assert export_dir(settings.recognizer, settings) == tmp_path / "models" / "exports"
    shared = load_settings(data_dir=tmp_path, detector={"export_dir": str(tmp_path / "shared")})
    assert export_dir(shared.recognizer, shared) == tmp_path / "shared"
    own = load_settings(data_dir=tmp_path, recognizer={"export_dir": str(tmp_path / "own")})
    assert export_dir(own.recognizer, own) == tmp_path / "own"
    assert export_dir(RecognizerConfig(), None) is None


def test_an_export_is_made_once_under_the_checkpoints_sha256_and_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"onnx": 0, "openvino": 0}
    for name in calls:
        real = getattr(export_module, f"_export_{name}")

        def counted(*args: object, _real: object = real, _name: str = name) -> None:
            calls[_name] += 1
            _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(export_module, f"_export_{name}", counted)
    first = _recognizer("openvino", tmp_path)
    _, spec = load_checkpoint(SHIPPED_CHECKPOINT)
    assert spec.provenance.sha256 is not None
    xml, onnx_file = exported_path(spec, "openvino", tmp_path), exported_path(spec, "onnx", tmp_path)
    folder = tmp_path / spec.provenance.sha256[:16]
    assert xml == folder / "fallwatch_slowfast_tiny_trajectory.opset17.openvino" / "model.xml"
    assert onnx_file == folder / "fallwatch_slowfast_tiny_trajectory.opset17.onnx"
    assert xml.is_file() and xml.with_suffix(".bin").is_file() and onnx_file.is_file()
    stamps = {path: path.stat().st_mtime_ns for path in (xml, xml.with_suffix(".bin"), onnx_file)}
    assert calls == {"onnx": 1, "openvino": 1}
    second, third = _recognizer("openvino", tmp_path), _recognizer("onnx", tmp_path)
    assert calls == {"onnx": 1, "openvino": 1}  # both runtimes found their copies
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [onnx_file.name, xml.parent.name]
    )  # no leftovers
    assert first.backend == second.backend == "openvino" and third.backend == "onnx"


@pytest.mark.parametrize(
    ("backend", "hidden", "message"),
    [
        ("onnx", "onnxruntime", "needs the onnxruntime package (pip install onnxruntime)"),
        ("onnx", "onnx", "needs the onnx package (pip install onnx)"),
        ("openvino", "openvino", "needs the openvino package (pip install openvino)"),
    ],
)
def test_a_runtime_whose_package_is_missing_is_one_clear_line(
    backend: str, hidden: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, hidden, None)  # Python's own way to make a package unimportable
    with pytest.raises(FallWatchError) as raised:
        _recognizer(backend, tmp_path)
    assert str(raised.value) == f"recognizer.backend {backend}: {message}, or choose torch or auto"
    assert "\n" not in str(raised.value)
    assert not any(tmp_path.iterdir())  # refused before exporting anything


def test_auto_without_openvino_runs_torch_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert _recognizer("auto", tmp_path).backend == "torch"
    assert not any(tmp_path.iterdir()) and "openvino" not in caplog.text


def test_an_export_directory_is_needed_for_an_explicit_runtime() -> None:
    with pytest.raises(
        FallWatchError, match=r"^recognizer\.backend onnx: no directory to cache the export in"
    ):
        Recognizer(RecognizerConfig(backend="onnx", device="cpu"))


@pytest.mark.parametrize("value", ["tensorrt", "ONNX", ""])
def test_an_unknown_runtime_is_refused_by_the_settings(value: str) -> None:
    with pytest.raises(FallWatchError) as raised:
        load_settings(recognizer={"backend": value})
    assert str(raised.value) == (
        f"configuration: recognizer.backend: Input should be 'auto', 'torch', 'onnx' or 'openvino' "
        f"(got {value!r})"
    )


def test_an_unknown_runtime_in_the_environment_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLWATCH_RECOGNIZER__BACKEND", "cuda")
    with pytest.raises(FallWatchError, match=r"^configuration: recognizer\.backend: Input should be 'auto'"):
        load_settings()
