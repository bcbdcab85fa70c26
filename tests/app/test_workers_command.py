"""`fallwatch workers` lists who holds which camera, from a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fallwatch.alerts.store import open_store
from fallwatch.app.cli import main


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fallwatch.db'}"
    with open_store(url) as store:
        store.leases.register("ward-a", "node-1", 11, 0, 9108, lease_s=60)
        store.leases.register("ward-b", "node-2", 22, 4, None, lease_s=60)
        store.leases.register("gone", "node-3", 33, 0, None, lease_s=60)
        store.leases.ensure(["hall", "lounge", "room-1", "room-2"])
        store.leases.claim("ward-a", ["hall", "lounge"], 2, lease_s=60)
        store.leases.claim("ward-b", ["room-1"], 1, lease_s=60)
        store.leases.stop("gone")
    return url


def test_the_table_names_each_live_worker_its_cameras_and_the_unheld_ones(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["workers", "--db", url]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.startswith("ward")}
    assert "alive" in rows["ward-a"] and "hall (" in rows["ward-a"] and "lounge (" in rows["ward-a"]
    assert "room-1 (" in rows["ward-b"] and "node-2" in rows["ward-b"]
    assert "gone" not in out  # stopped: only with --all
    assert "2 workers, 3 cameras held" in out
    assert "held by nobody now: room-2" in out


def test_json_and_all_include_stopped_workers(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workers", "--db", url, "--json", "--all"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_name = {w["name"]: w for w in report["workers"]}
    assert set(by_name) == {"ward-a", "ward-b", "gone"}
    assert sorted(by_name["ward-a"]["cameras"]) == ["hall", "lounge"]
    assert by_name["gone"]["alive"] is False and by_name["gone"]["stopped_at"] is not None
    assert by_name["ward-b"]["max_cameras"] == 4
    assert report["unheld"] == ["room-2"]


def test_a_bad_database_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workers", "--db", "mysql://x@y/z"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unsupported database 'mysql'" in err
