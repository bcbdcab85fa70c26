"""A bounded fuzz pass over the command line, in process: random options for the commands that answer at once
(`config`, `run` and `track` on sources that fail before any model loads, `incidents` on a SQLite file). Each
ends with an int exit code, no traceback, and an error, if any, on one line."""

from __future__ import annotations

import io
import os
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fallwatch.app.cli import main

# Text as argv can hold it: no NUL, surrogates only as escaped bytes (what a non-UTF-8 argument becomes).
ARG = st.binary(max_size=24).filter(lambda raw: b"\x00" not in raw).map(os.fsdecode) | st.sampled_from(
    ["", "-", "--", "..", "../../x", "-1", "0", "nan", "inf", "1e999", "a b", "x" * 300, "\udcff", "ward\n1"]
)
NUMBER = st.sampled_from(["-1", "0", "nan", "inf", "1e999", "abc", "", "1,2,3", "5,5,1,1", "0,0,10,10"]) | ARG
# Sources that fail before anything long starts: missing files, refused schemes, URLs without a host.
MISSING_ROOT = "/nonexistent-fallwatch-fuzz"
SOURCES = (
    ARG.map(lambda text: f"{MISSING_ROOT}/{text}.mp4")
    | ARG.map(lambda text: f"ftp://example.org/{text}")
    | st.sampled_from(["", "rtsp://", "http:///x.ts", "gopher://x/y", f"{MISSING_ROOT}/"])
)
URLS = ARG | st.sampled_from(["ftp://x/h", "javascript:alert(1)", "http://a b/h", "http://", "https://ok/h"])


def _options(pairs: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[str]]:
    """Some of `pairs` as '--option value', in any order, each at most once."""
    chosen = st.lists(st.sampled_from(sorted(pairs)), unique=True, max_size=len(pairs))
    return chosen.flatmap(
        lambda names: st.tuples(*(pairs[name] for name in names)).map(
            lambda values: [part for name, value in zip(names, values, strict=True) for part in (name, value)]
        )
    )


RUN = _options({"--camera": ARG, "--webhook": URLS, "--db": ARG, "--media-dir": ARG, "--checkpoint": ARG})
TRACK = _options({"--camera": ARG, "--fps": NUMBER, "--crop": NUMBER, "--duration": NUMBER, "--render": ARG})
CONFIG = _options({"--config": ARG, "--data-dir": ARG})
INCIDENTS = st.one_of(
    _options({"--status": ARG, "--camera": ARG, "--limit": NUMBER}).map(lambda o: ["list", *o]),
    ARG.map(lambda number: ["show", number]),
    st.tuples(st.sampled_from(["ack", "false-alarm"]), ARG, ARG).map(lambda t: [t[0], t[1], "--by", t[2]]),
    st.lists(ARG, max_size=3),
)


def _call(argv: list[str]) -> tuple[int, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's way out: usage errors and --help
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, stderr.getvalue()


def _answers_cleanly(argv: list[str]) -> None:
    code, stderr = _call(argv)
    assert isinstance(code, int), (argv, code)
    assert "Traceback" not in stderr, (argv, stderr)
    errors = [line for line in stderr.splitlines() if "error:" in line]
    if code != 0:
        assert len(errors) == 1, (argv, stderr)
        assert errors[0].startswith("fallwatch") and errors[0].isprintable(), (argv, errors[0])


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def _nothing_of_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("FALLWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FALLWATCH_SERVER__METRICS_PORT", "0")


@FUZZ
@given(source=SOURCES, options=RUN)
def test_run_with_bad_input_answers_on_one_line(source: str, options: list[str]) -> None:
    with tempfile.TemporaryDirectory() as data:
        _answers_cleanly(["run", "--source", source, *options, "--data-dir", data])
    assert not Path(MISSING_ROOT).exists()


@FUZZ
@given(source=SOURCES, options=TRACK)
def test_track_with_bad_input_answers_on_one_line(source: str, options: list[str]) -> None:
    with tempfile.TemporaryDirectory() as data:
        _answers_cleanly(["track", "--source", source, *options, "--out", "-", "--data-dir", data])


@FUZZ
@given(options=CONFIG)
def test_config_answers_on_one_line(options: list[str]) -> None:
    _answers_cleanly(["config", *options])


@FUZZ
@given(action=INCIDENTS)
def test_incidents_answers_on_one_line(action: list[str]) -> None:
    with tempfile.TemporaryDirectory() as data:
        _answers_cleanly(["incidents", *action, "--db", f"sqlite:///{data}/fw.db"])
