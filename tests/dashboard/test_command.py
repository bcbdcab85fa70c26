"""`fallwatch users` and `fallwatch dashboard`: users kept as hashes, and one clear line for each mistake."""

from __future__ import annotations

import io
import socket
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fallwatch.alerts.records import utcnow
from fallwatch.alerts.store import open_store
from fallwatch.app.cli import main
from fallwatch.dashboard.launch import streamlit_command
from fallwatch.dashboard.passwords import verify_password


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_users_add_list_remove_keep_only_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--data-dir", str(tmp_path)]
    assert _run(["users", "add", "night-nurse", *where], monkeypatch, "a long password\n") == 0
    assert "user night-nurse added" in capsys.readouterr().out
    with open_store(f"sqlite:///{tmp_path / 'fallwatch.db'}") as store:
        stored = store.users.get("night-nurse")
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    assert verify_password(stored.password_hash, "a long password")
    assert "a long password" not in (tmp_path / "fallwatch.db").read_bytes().decode("latin-1")

    assert _run(["users", "list", *where], monkeypatch) == 0
    assert "night-nurse  (database, since" in capsys.readouterr().out
    assert _run(["users", "remove", "night-nurse", *where], monkeypatch) == 0
    assert _run(["users", "remove", "night-nurse", *where], monkeypatch) == 2
    assert "user 'night-nurse' not found" in capsys.readouterr().err


def test_a_new_password_or_removing_the_user_ends_their_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = ["--data-dir", str(tmp_path)]
    url, later = f"sqlite:///{tmp_path / 'fallwatch.db'}", utcnow() + timedelta(hours=1)
    assert _run(["users", "add", "nurse", *where], monkeypatch, "a long password\n") == 0
    with open_store(url) as store:
        first = store.sessions.open("nurse", "fingerprint", "g" * 64, later, later)
    assert _run(["users", "add", "nurse", *where], monkeypatch, "another long password\n") == 0
    with open_store(url) as store:
        assert store.sessions.get(first.id) is None
        second = store.sessions.open("nurse", "fingerprint", "h" * 64, later, later)
    assert _run(["users", "remove", "nurse", *where], monkeypatch) == 0
    with open_store(url) as store:
        assert store.sessions.get(second.id) is None


def test_users_hash_prints_a_hash_for_the_settings_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["users", "hash"], monkeypatch, "another long one\n") == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password(printed, "another long one")


def test_user_mistakes_get_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--data-dir", str(tmp_path)]
    assert _run(["users", "add", "nurse", *where], monkeypatch, "short\n") == 2
    assert _run(["users", "add", "two words", *where], monkeypatch, "long enough pw\n") == 2
    assert _run(["users", "add", "nurse", *where], monkeypatch, "") == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "fallwatch: error: password too short: use at least 8 characters",
        "fallwatch: error: user name 'two words': expected 1 to 64 letters, digits, '_', '.' or '-'",
        "fallwatch: error: no password on standard input (expected one line)",
    ]


def test_the_dashboard_refuses_to_start_without_users_or_on_a_busy_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--data-dir", str(tmp_path)]
    assert _run(["dashboard", *where], monkeypatch) == 2
    assert "no dashboard users: add one with `fallwatch users add NAME`" in capsys.readouterr().err
    _run(["users", "add", "nurse", *where], monkeypatch, "a long password\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert _run(["dashboard", "--port", str(port), *where], monkeypatch) == 2
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    monkeypatch.setenv("FALLWATCH_DASHBOARD_SECRET", "too-short")
    assert _run(["dashboard", *where], monkeypatch) == 2
    assert "FALLWATCH_DASHBOARD_SECRET is too short" in capsys.readouterr().err
    assert _run(["dashboard", "--db", "mysql://x/y", *where], monkeypatch) == 2
    assert "unsupported database 'mysql'" in capsys.readouterr().err


def test_streamlit_runs_headless_without_usage_statistics_or_static_files() -> None:
    command = streamlit_command("127.0.0.1", 8765)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("dashboard/asgi.py")
    for flag in (
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--server.enableStaticServing=false",
        "--server.address=127.0.0.1",
        "--server.port=8765",
    ):
        assert flag in command
