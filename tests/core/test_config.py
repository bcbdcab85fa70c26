import os
from pathlib import Path

import pytest

from fallwatch.core.config import WebhookConfig, check_name, is_valid_name, load_settings, settings_errors
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


@pytest.mark.parametrize(
    "name",
    ["..", ".", ".hidden", "a/b", "../../x", "ward 1", "", "x" * 65, "ward\n1", "ward\x1b", "wärd", "\udcff"],
)
def test_hostile_camera_names_are_refused_with_one_line(tmp_path: Path, name: str) -> None:
    with pytest.raises(FallWatchError) as caught:
        load_settings(cameras={name: {"source": "a.mp4"}})
    message = str(caught.value)
    assert message.isprintable() and "cameras." in message
    with pytest.raises(FallWatchError, match="--camera"):
        check_name(name, "--camera")


@pytest.mark.parametrize("name", ["ward-1", "ward_1", "w.1", "a" * 64, "1"])
def test_plain_names_are_valid_everywhere(name: str) -> None:
    assert is_valid_name(name) and check_name(name) == name
    assert name in load_settings(cameras={name: {"source": "a.mp4"}}).cameras


def test_a_section_variable_that_is_not_json_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLWATCH_CAMERAS", "not json")
    with pytest.raises(FallWatchError, match=r"^environment: FALLWATCH_CAMERAS: expected JSON"):
        load_settings()


def test_a_variable_that_is_not_utf8_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FALLWATCH_DETECTOR__IMGSZ", os.fsdecode(b"\xff"))
    with pytest.raises(FallWatchError, match=r"detector.imgsz: expected text \(this is not valid UTF-8\)"):
        load_settings()


def test_top_level_keys_that_are_not_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FallWatchError, match="expected setting names as top-level keys, got 1"):
        load_settings(_write(tmp_path, "1: {a: 2}\n"))


def test_settings_errors_turns_a_validation_error_into_one_line() -> None:
    expected = r"^--webhook: url: expected an http:// or https:// URL"
    with pytest.raises(FallWatchError, match=expected), settings_errors("--webhook"):
        WebhookConfig(name="cli-1", url="javascript:alert(1)")
