"""The detector's runtimes: ONNX Runtime and OpenVINO give PyTorch's boxes and keypoints on real frames; their
export is made once and cached; a runtime whose package is missing is refused with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fallwatch.core.config import Settings, load_settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Detection, Frame
from fallwatch.detectors.export import choose_backend, export, exported_path
from fallwatch.detectors.person import PersonDetector
from fallwatch.detectors.weights import packaged_weights
from fallwatch.ingest.sources import FileSource

REPO = Path(__file__).resolve().parents[2]
BOX_TOLERANCE_PX = 1.0  # measured: under 0.001 px on these frames (the exports letterbox as the .pt does)
KEYPOINT_TOLERANCE_PX = 1.0
CLIPS = ("GMDCSA24/Subject 2/Fall/12.mp4", "GMDCSA24/Subject 2/ADL/23.mp4")


def _frames(clip: ManifestEntry, count: int = 6, every: int = 7) -> list[Frame]:
    frames = []
    for decoded in FileSource(clip.path).frames():
        if decoded.index % every == 1:
            frames.append(Frame("cam", decoded.index, decoded.pts, 0.0, decoded.to_bgr()))
        if len(frames) == count:
            break
    return frames


@pytest.fixture(scope="module")
def frames(manifest: list[ManifestEntry]) -> list[Frame]:
    return [f for entry in manifest if entry.relative in CLIPS for f in _frames(entry)]


def _detector(settings: Settings, backend: str) -> PersonDetector:
    config = settings.detector.model_copy(update={"backend": backend})
    return PersonDetector(config, settings)


@pytest.fixture(scope="module")
def torch_people(settings: Settings, frames: list[Frame]) -> list[list[Detection]]:
    return _detector(settings, "torch").detect(frames)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_the_exported_runtimes_see_what_torch_sees(
    backend: str, settings: Settings, frames: list[Frame], torch_people: list[list[Detection]]
) -> None:
    detector = _detector(settings, backend)
    assert detector.backend == backend
    people = detector.detect(frames)
    assert sum(map(len, torch_people)) >= len(frames) // 2  # the frames show people
    for ours, reference in zip(people, torch_people, strict=True):
        assert len(ours) == len(reference)
        for a, b in zip(ours, reference, strict=True):
            assert np.abs(np.subtract(a.xyxy, b.xyxy)).max() <= BOX_TOLERANCE_PX
            assert abs(a.score - b.score) <= 0.01
            assert a.keypoints is not None and b.keypoints is not None
            assert np.abs(a.keypoints[:, :2] - b.keypoints[:, :2]).max() <= KEYPOINT_TOLERANCE_PX


def test_the_openvino_detector_computes_in_float32_on_every_cpu(settings: Settings) -> None:
    # Regression: on a Xeon with AMX, OpenVINO inferred in bfloat16 and lost people in real fall clips.
    detector = _detector(settings, "openvino")
    assert detector.backend == "openvino"
    assert detector.inference_precision == "f32"
    assert _detector(settings, "torch").inference_precision == "f32"


@pytest.mark.slow
def test_an_export_is_made_once_into_the_models_directory_and_then_reused(tmp_path: Path) -> None:
    weights = packaged_weights("yolo11n-pose.pt")
    assert weights is not None
    cache = tmp_path / "models" / "exports"
    load_settings(data_dir=tmp_path)  # what the detector does first: ultralytics' environment is set there
    made = export(weights, "onnx", cache, imgsz=320)
    assert made == exported_path(weights, "onnx", cache) and made.is_file()
    stamp = made.stat().st_mtime_ns
    assert export(weights, "onnx", cache, imgsz=320) == made and made.stat().st_mtime_ns == stamp
    assert [p.name for p in made.parent.iterdir()] == [made.name]  # no temporary leftovers


def test_auto_takes_the_fastest_installed_runtime_and_torch_on_a_gpu(tmp_path: Path) -> None:
    weights = packaged_weights("yolo11n-pose.pt")
    assert weights is not None
    assert choose_backend("auto", "cpu", str(weights)) == "openvino"
    assert choose_backend("auto", "cuda:0", str(weights)) == "torch"
    assert choose_backend("auto", "cpu", "yolo11n-pose.pt") == "torch"  # only a name: nothing to export
    assert choose_backend("onnx", "cpu", str(weights)) == "onnx"


def test_a_runtime_whose_package_is_missing_is_one_line_through_the_cli(tmp_path: Path) -> None:
    # Python's own way to make a package unimportable: a None entry in sys.modules.
    script = (
        "import sys; sys.modules['onnxruntime'] = None; from fallwatch.app.cli import main; "
        f"sys.exit(main(['track', '--source', {str(REPO / 'assets/sample/gmdcsa24_subject2_fall_12.mp4')!r}, "
        f"'--data-dir', {str(tmp_path)!r}]))"
    )
    env = {"FALLWATCH_DETECTOR__BACKEND": "onnx", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = [l for l in result.stderr.splitlines() if l.strip()]  # noqa: E741
    assert line == (
        "fallwatch: error: detector.backend onnx: needs the onnxruntime package (pip install onnxruntime), "
        "or choose torch or auto"
    )


def test_an_unknown_runtime_is_refused_by_the_settings() -> None:
    with pytest.raises(FallWatchError, match=r"detector\.backend: Input should be 'auto', 'torch', 'onnx'"):
        load_settings(detector={"backend": "tensorrt"})
