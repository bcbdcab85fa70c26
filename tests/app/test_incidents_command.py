"""`fallwatch incidents ...` handlers and their argparse wiring, on real stores."""

from __future__ import annotations

import argparse
import json

import pytest

from fallwatch.alerts.store import open_store
from fallwatch.app.incidents_command import (
    Review,
    add_incidents_parser,
    list_incidents,
    review_incident,
    show_incident,
)
from fallwatch.core.errors import FallWatchError
from tests.alerts.conftest import fall_items


@pytest.fixture
def filled(db_url: str) -> str:
    with open_store(db_url) as store:
        for item in fall_items("hall") + fall_items("kitchen")[:1]:
            store.incidents.apply(item)
    return db_url


def test_list_as_a_table_and_as_json(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert list_incidents(db=filled) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "ID",
        "OPENED",
        "(UTC)",
        "CAMERA",
        "KIND",
        "SEVERITY",
        "STATUS",
        "OUTCOME",
        "ZONE",
        "PEAK",
    ]
    assert [line.split()[0] for line in table[1:]] == ["2", "1"]  # newest first
    assert "collapse" in table[2] and "recovered" in table[2] and "active" in table[1]

    assert list_incidents(as_json=True, db=filled) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and [(r["id"], r["camera"], r["status"]) for r in rows] == [
        (2, "kitchen", "open"),
        (1, "hall", "open"),
    ]


def test_ack_and_false_alarm_change_status_and_filters_follow(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert review_incident(1, Review.ACKNOWLEDGE, "ann", "helped her up", db=filled) == 0
    assert capsys.readouterr().out.strip() == "incident 1 resolved by ann"  # already over: resolved at once
    assert review_incident(2, Review.FALSE_ALARM, "bob", db=filled) == 0
    assert capsys.readouterr().out.strip() == "incident 2 marked a false alarm by bob"
    list_incidents(status="false_alarm", as_json=True, db=filled)
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [2]
    list_incidents(status="open", db=filled)
    assert capsys.readouterr().out.strip() == "no incidents with status open"

    assert show_incident(1, db=filled) == 0
    shown = capsys.readouterr().out
    assert "incident 1  collapse (critical), resolved" in shown
    assert "ann: status open -> resolved  (helped her up)" in shown
    assert "helped her up" in shown.split("notes", 1)[1]
    assert shown.count("escalated") >= 2  # the time line and the event


def test_show_as_json_has_events_changes_and_timeline(
    filled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    show_incident(1, as_json=True, db=filled)
    body = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in body["events"]] == ["opened", "escalated", "recovered", "closed"]
    assert len(body["timeline"]) > 20 and body["changes"][0]["by"] == "engine"


def test_user_mistakes_are_one_line_errors(filled: str) -> None:
    with pytest.raises(FallWatchError, match=r"^incident 42 not found"):
        show_incident(42, db=filled)
    with pytest.raises(FallWatchError, match=r"^incident 42 not found"):
        review_incident(42, Review.ACKNOWLEDGE, "ann", db=filled)
    with pytest.raises(FallWatchError, match="--status 'closed': expected one of open, acknowledged"):
        list_incidents(status="closed", db=filled)
    with pytest.raises(FallWatchError, match="unsupported database 'mongodb'"):
        list_incidents(db="mongodb://localhost/x")


def test_the_parser_teaches_and_dispatches(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="fallwatch")
    add_incidents_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["incidents", "ack", "2", "--by", "ann", "--note", "on my way", "--db", filled])
    assert args.handler(args) == 0
    assert "incident 2 acknowledged by ann" in capsys.readouterr().out
    args = parser.parse_args(["incidents", "list", "--json", "--status", "acknowledged", "--db", filled])
    assert args.handler(args) == 0 and [r["id"] for r in json.loads(capsys.readouterr().out)] == [2]

    with pytest.raises(SystemExit):
        parser.parse_args(["incidents", "ack", "two", "--by", "ann"])
    assert "expected an incident number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["incidents", "false-alarm", "3"])
    assert "--by" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["incidents", "--help"])
    assert "false-alarm" in capsys.readouterr().out


def test_wired_into_the_fallwatch_cli_errors_are_one_line(
    filled: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fallwatch.app import cli

    assert cli.main(["incidents", "show", "42", "--db", filled]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "fallwatch: error: incident 42 not found (see `fallwatch incidents list`)"
    )
    assert cli.main(["incidents", "list", "--db", "sqlite:////nowhere/fw.db"]) == 2
    assert capsys.readouterr().err.strip() == (
        "fallwatch: error: database URL sqlite:////nowhere/fw.db: directory /nowhere does not exist"
    )
    assert cli.main(["incidents", "ack", "1", "--by", "ann", "--db", filled]) == 0
    assert capsys.readouterr().out.strip() == "incident 1 resolved by ann"
