"""An installed FallWatch is one `fallwatch` package: the wheel holds no generic top-level names (`app`, `core`,
...) that would collide with other projects, and it carries the files FallWatch reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.test_layers import LAYERS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
    ]
    subprocess.run([*command, str(REPO)], check=True, capture_output=True, timeout=600)
    [wheel] = out.glob("fallwatch-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_has_one_top_level_package(wheel_names: list[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"fallwatch"}
    assert {
        name.split("/")[1] for name in wheel_names if name.count("/") >= 2 and name.startswith("fallwatch/")
    } >= set(LAYERS)


def test_the_wheel_carries_migrations_and_the_shipped_model(wheel_names: list[str]) -> None:
    assert "fallwatch/alerts/migrations/script.py.mako" in wheel_names
    assert "fallwatch/alerts/migrations/versions/0001_initial.py" in wheel_names
    assert "fallwatch/recognizer/weights/fallwatch_slowfast_tiny_trajectory.pt" in wheel_names
    assert not any(name.startswith("fallwatch/tests/") or "/bench/" in name for name in wheel_names)


def test_the_image_copies_every_layer_and_the_namespace() -> None:
    """The Dockerfile cannot be built here (no Docker engine); at least it must copy what the wheel needs."""
    copied = {
        line.split()[1] for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")
    }
    assert copied >= {*LAYERS, "fallwatch", "pyproject.toml"}
