from pathlib import Path

import pytest

from fallwatch.core.errors import FallWatchError
from fallwatch.detectors.weights import packaged_weights, resolve_weights

NAME = "yolo11n-pose.pt"


def test_packaged_copy_is_the_published_file() -> None:
    import hashlib

    path = packaged_weights(NAME)
    assert path is not None and path.stat().st_size == 6_255_593
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "869e83fcdffdc7371fa4e34cd8e51c838cc729571d1635e5141e3075e9319dc0"


def test_order_explicit_then_models_dir_then_package(tmp_path: Path) -> None:
    explicit = tmp_path / "mine.pt"
    explicit.write_bytes(b"x")
    models = tmp_path / "models"
    models.mkdir()
    assert resolve_weights(NAME, explicit, models, allow_network=False) == str(explicit)
    assert resolve_weights(NAME, None, models, allow_network=False) == str(packaged_weights(NAME))
    (models / NAME).write_bytes(b"x")
    assert resolve_weights(NAME, None, models, allow_network=False) == str(models / NAME)


def test_missing_weights_say_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(FallWatchError) as info:
        resolve_weights("yolo11s-pose.pt", None, tmp_path / "models", allow_network=False)
    message = str(info.value)
    assert "yolo11s-pose.pt" in message and str(tmp_path / "models" / "yolo11s-pose.pt") in message
    assert resolve_weights("yolo11s-pose.pt", None, tmp_path, allow_network=True) == "yolo11s-pose.pt"
    with pytest.raises(FallWatchError, match="weights file not found"):
        resolve_weights(NAME, tmp_path / "nope.pt", tmp_path, allow_network=False)
