"""A bounded fuzz pass over the settings loader: whatever the YAML file and the FALLWATCH_* variables hold,
`load_settings` either succeeds or raises FallWatchError with one printable line, never another exception."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from fallwatch.core.config import Settings, load_settings
from fallwatch.core.errors import FallWatchError


def _key_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, field in model.model_fields.items():
        yield (*prefix, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _key_paths(annotation, (*prefix, name))


# Real key paths, so that the fuzzer reaches the validators, and camera-shaped ones with hostile names.
KEY_PATHS = sorted(set(_key_paths(Settings)))
CAMERA_FIELDS = ["source", "crop", "fps", "enabled"]
TEXT = st.text(st.characters(codec=None, categories=None), max_size=20)
NAMES = st.sampled_from(["ward-1", "..", "a/b", "", "ward 1", "x" * 70, "\udcff", ".hidden"]) | TEXT
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT | st.binary(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT | st.integers(), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """A settings mapping built from real and random key paths, or any YAML value at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(VALUES)
    document: dict[Any, Any] = {}
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            path = [*draw(st.sampled_from(KEY_PATHS))]
        else:
            path = ["cameras", draw(NAMES), draw(st.sampled_from(CAMERA_FIELDS) | TEXT)]
        node = document
        for key in path[:-1]:
            child = node.setdefault(key, {})
            node = child if isinstance(child, dict) else node
        node[path[-1]] = draw(VALUES)
    return document


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    """FALLWATCH_* variables: real and hostile key paths, random values (what an environment can hold)."""
    variables = {}
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            path = [*draw(st.sampled_from(KEY_PATHS))]
        else:
            path = ["cameras", draw(NAMES), draw(st.sampled_from(CAMERA_FIELDS) | TEXT)]
        name = "FALLWATCH_" + "__".join(path).upper()
        value = draw(ENV_BYTES.map(os.fsdecode) | st.sampled_from(SPECIAL_VALUES))
        if "=" not in name and "\x00" not in name + value and _fits_an_environment(name):
            variables[name] = value
    return variables


# What a real environment holds: bytes, which Python decodes with surrogateescape (b'\xff' becomes '\udcff').
ENV_BYTES = st.binary(max_size=20).filter(lambda raw: b"\x00" not in raw)
SPECIAL_VALUES = ["{", "[1, 2]", '{"a": 1}', "null", "1e999", "-1", "nan", "\udcff", "a\nb"]


def _fits_an_environment(text: str) -> bool:
    try:
        os.fsencode(text)
    except UnicodeEncodeError:  # a lone surrogate no byte string decodes to
        return False
    return True


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {name: value for name, value in os.environ.items() if name.startswith("FALLWATCH_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(variables)
    try:
        yield
    finally:
        for name in [n for n in os.environ if n.startswith("FALLWATCH_")]:
            del os.environ[name]
        os.environ.update(saved)


def _loads_or_says_one_line(path: Path | None) -> None:
    try:
        load_settings(path)
    except FallWatchError as exc:
        message = str(exc)
        assert message and message.isprintable(), ascii(message)  # one line, nothing that moves the cursor


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(document=documents())
def test_any_yaml_document_loads_or_fails_on_one_line(document: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fallwatch.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=False), encoding="utf-8")
        with environment({}):
            _loads_or_says_one_line(path)


@FUZZ
@given(text=st.text(max_size=200) | st.binary(max_size=200))
def test_any_file_contents_load_or_fail_on_one_line(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fallwatch.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        with environment({}):
            _loads_or_says_one_line(path)


@FUZZ
@given(variables=environments())
def test_any_environment_loads_or_fails_on_one_line(variables: dict[str, str]) -> None:
    with environment(variables):
        _loads_or_says_one_line(None)
