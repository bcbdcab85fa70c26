"""A real dashboard for the browser tests: `fallwatch dashboard` on a free loopback port, as a user starts it,
and headless Chromium (Debian's, driven by Playwright) to look at it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.dashboard.conftest import REPO, Site

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000
SECRET = "s3cret-for-the-browser-test-" + "x" * 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"fallwatch dashboard exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the dashboard did not answer within {timeout_s:.0f} s: {log.read_text()[-2000:]}")


@contextmanager
def running_dashboard(site: Site, log: Path, port: int | None = None) -> Iterator[str]:
    """`fallwatch dashboard` on the site's settings and store (FALLWATCH_DASHBOARD_SECRET set by the caller, if
    at all); its URL while it runs, stopped afterwards like Ctrl-C would."""
    port = port or free_port()
    command = [sys.executable, "-m", "fallwatch.app.cli", "dashboard", "--config", str(site.config)]
    command += ["--data-dir", str(site.data_dir), "--db", site.url, "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the command and its Streamlit child
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def need_chromium() -> None:
    if not CHROMIUM.is_file():
        pytest.fail("Chromium is missing: scripts/system-deps.sh installs Debian's chromium")
