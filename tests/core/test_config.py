from pathlib import Path

import pytest

from fallwatch.core.config import load_settings
from fallwatch.core.errors import FallWatchError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fallwatch.yaml"
    path.write_text(text)
    return path


def test_defaults_are_valid() -> None:
    settings = load_settings()
    assert settings.ingest.fps == 10
    assert settings.detector.model == "yolo11n-pose.pt"
    assert settings.resolved_models_dir == Path("data") / "models"


def test_yaml_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "detector:\n  imgsz: 320\n  conf: 0.4\ncameras:\n  ward1:\n    source: a.mp4\n")
    settings = load_settings(path)
    assert settings.detector.imgsz == 320 and settings.cameras["ward1"].source == "a.mp4"
    monkeypatch.setenv("FALLWATCH_DETECTOR__IMGSZ", "640")
    assert load_settings(path).detector.imgsz == 640
    assert load_settings(path).detector.conf == 0.4  # the rest of the section still comes from the file
    assert load_settings(path, detector={"imgsz": 256}).detector.imgsz == 256


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("detektor:\n  imgsz: 320\n", "detektor: unknown key"),
        ("detector:\n  imgsz: 5000\n", "detector.imgsz"),
        ("detector:\n  conf: 2\n", "detector.conf"),
        ("ingest:\n  fps: -1\n", "ingest.fps"),
        ("tracker:\n  embedder: resnet\n", "tracker.embedder"),
        ("cameras:\n  w1:\n    source: a.mp4\n    crop: [5, 0, 2, 10]\n", "cameras.w1.crop"),
        ("cameras:\n  'bad name!':\n    source: a.mp4\n", "cameras"),
        ("ingest:\n  reconnect_initial_s: 10\n  reconnect_max_s: 1\n", "reconnect_max_s"),
        ("- just\n- a list\n", "mapping"),
        ("detector: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_values_give_one_line_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(FallWatchError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FallWatchError, match="configuration file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_bad_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLWATCH_INGEST__FPS", "fast")
    with pytest.raises(FallWatchError, match=r"ingest\.fps"):
        load_settings()


def test_the_shipped_example_file_is_valid() -> None:
    from tests.conftest import REPO

    settings = load_settings(REPO / "fallwatch.example.yaml")
    assert set(settings.cameras) == {"ward-1", "corridor"}
    assert settings.cameras["corridor"].crop == (320, 0, 640, 240)
