"""`fallwatch incidents ...`: list, show, acknowledge and dismiss incidents in the store.

The handlers take plain arguments, print, and return an exit code; a user's mistake (an unknown id, a bad
database URL) is raised as FallWatchError for the CLI to print on one line. `add_incidents_parser` registers the
subcommand; each parsed namespace carries `handler`, to be called with the namespace.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from fallwatch.alerts.notifiers.messages import Routing
from fallwatch.alerts.records import Incident, IncidentQuery, Status
from fallwatch.alerts.store import Store, open_store, resolve_url
from fallwatch.app.cli_options import add_db_option, add_settings_options
from fallwatch.core.config import load_settings
from fallwatch.core.errors import FallWatchError

STATUSES = tuple(status.value for status in Status)


def _open(db: str | None, config: Path | None, data_dir: Path | None = None) -> Store:
    settings = load_settings(config, **({"data_dir": data_dir} if data_dir is not None else {}))
    url = resolve_url(db, settings.store.url, data_dir=settings.data_dir)
    return open_store(url, Routing.from_config(settings.notify), settings.store.connect_timeout_s)


def _status(status: str | None) -> Status | None:
    if status is None:
        return None
    try:
        return Status(status)
    except ValueError:
        raise FallWatchError(f"--status {status!r}: expected one of {', '.join(STATUSES)}") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(incidents: Sequence[Incident]) -> str:
    header = ("ID", "OPENED (UTC)", "CAMERA", "KIND", "SEVERITY", "STATUS", "OUTCOME", "ZONE", "PEAK")
    rows = [
        (
            str(i.id),
            _when(i.opened_at),
            i.camera,
            i.kind.value,
            i.severity.value,
            i.status.value,
            i.outcome.value if i.outcome else "active",
            i.zone or "-",
            f"{i.peak_score:.2f}",
        )
        for i in incidents
    ]
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def list_incidents(
    status: str | None = None,
    as_json: bool = False,
    db: str | None = None,
    config: Path | None = None,
    camera: str | None = None,
    limit: int = 50,
    data_dir: Path | None = None,
) -> int:
    """Print incidents, newest first, optionally only those of one status or camera."""
    wanted = _status(status)
    if not 1 <= limit <= 100000:
        raise FallWatchError(f"--limit must be between 1 and 100000, got {limit}")
    with _open(db, config, data_dir) as store:
        incidents = store.incidents.query(
            IncidentQuery(
                statuses=() if wanted is None else (wanted,),
                cameras=() if camera is None else (camera,),
                limit=limit,
            )
        )
    if as_json:
        print(json.dumps([_jsonable(asdict(i)) for i in incidents], indent=2))
    elif incidents:
        print(_table(incidents))
    else:
        print("no incidents" + (f" with status {wanted.value}" if wanted else ""))
    return 0


def show_incident(
    incident_id: int,
    as_json: bool = False,
    db: str | None = None,
    config: Path | None = None,
    data_dir: Path | None = None,
) -> int:
    """Print one incident with its events, who changed what, its score timeline and its deliveries."""
    with _open(db, config, data_dir) as store:
        incident = store.incidents.get(incident_id)
        events, changes = store.incidents.events(incident_id), store.incidents.changes(incident_id)
        timeline, outbox = store.incidents.timeline(incident_id), store.outbox.entries(incident_id)
    if as_json:
        body = asdict(incident) | {
            "events": [asdict(e) for e in events],
            "changes": [asdict(c) for c in changes],
            "timeline": [asdict(p) for p in timeline],
            "deliveries": [{k: v for k, v in asdict(o).items() if k != "payload"} for o in outbox],
        }
        print(json.dumps(_jsonable(body), indent=2))
        return 0
    i = incident
    print(f"incident {i.id}  {i.kind.value} ({i.severity.value}), {i.status.value}")
    print(f"  key       {i.key}")
    print(f"  camera    {i.camera}  track {i.track_id}  zone {i.zone or '-'}")
    print(f"  opened    {_when(i.opened_at)}  (stream {i.opened_pts:.2f} s)")
    print(f"  escalated {_when(i.escalated_at)}")
    print(f"  ended     {_when(i.ended_at)}  {i.outcome.value if i.outcome else '(still followed)'}")
    print(
        f"  scores    last {i.score:.2f}  peak falling {i.peak_score:.2f}  ({len(timeline)} timeline points)"
    )
    print(f"  snapshot  {i.snapshot_path or '-'}")
    print(f"  clip      {i.clip_path or '-'}")
    if i.notes:
        print("  notes     " + "\n            ".join(i.notes.splitlines()))
    print("events:")
    for e in events:
        print(
            f"  {_when(e.at)}  {e.kind.value:<9} stream {e.pts:7.2f} s  {e.severity.value:<8} score {e.score:.2f}"
        )
    print("changes:")
    for c in changes:
        note = f"  ({c.note})" if c.note else ""
        print(f"  {_when(c.at)}  {c.by}: {c.field} {c.old or '-'} -> {c.new or '-'}{note}")
    print("deliveries:")
    for o in outbox or []:
        error = f"  last error: {o.last_error}" if o.last_error and o.status.value != "delivered" else ""
        print(f"  {o.event:<22} to {o.destination:<12} {o.status.value:<9} tries {o.attempts}{error}")
    if not outbox:
        print("  none (no receivers configured)")
    return 0


class Review(StrEnum):
    """What a person can record about an incident from the command line (the dashboard offers the same)."""

    ACKNOWLEDGE = "ack"  # taking care of it (resolved at once if the person is already up)
    FALSE_ALARM = "false-alarm"  # it was not a fall


def review_incident(
    incident_id: int,
    review: Review,
    by: str,
    note: str | None = None,
    db: str | None = None,
    config: Path | None = None,
    data_dir: Path | None = None,
) -> int:
    """Record `by`'s review of the incident, with an optional note."""
    with _open(db, config, data_dir) as store:
        if review is Review.ACKNOWLEDGE:
            incident = store.incidents.acknowledge(incident_id, by, note)
            done = incident.status.value
        else:
            incident = store.incidents.mark_false_alarm(incident_id, by, note)
            done = "marked a false alarm"
    print(f"incident {incident.id} {done} by {incident.updated_by}")
    return 0


# --- argparse -------------------------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    add_settings_options(parser)


def _incident_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an incident number (see `incidents list`), got {value!r}"
        ) from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"incident numbers start at 1, got {number}")
    return number


def add_incidents_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `incidents` (list, show, ack, false-alarm) on an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "incidents",
        help="review incidents: list, show, acknowledge, mark false alarms",
        description="Review what the alert engine found. Every change is recorded with who made it and when, "
        "and receivers (webhooks, MQTT) are told of acknowledgements and false alarms.",
    )
    actions = parser.add_subparsers(dest="incidents_action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", help="list incidents, newest first", description="List incidents, newest first."
    )
    listing.add_argument("--status", choices=STATUSES, help="only incidents with this review status")
    listing.add_argument("--camera", help="only incidents of this camera")
    listing.add_argument("--limit", type=int, default=50, help="most incidents shown (default 50)")
    listing.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    _common(listing)

    show = actions.add_parser(
        "show",
        help="one incident in full",
        description="Show one incident: events, changes, timeline, deliveries.",
    )
    show.add_argument("id", type=_incident_id, help="incident number, from `incidents list`")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    _common(show)

    for review, helptext in (
        (
            Review.ACKNOWLEDGE,
            "acknowledge: you are taking care of it (resolved at once if the person is already up)",
        ),
        (
            Review.FALSE_ALARM,
            "mark as a false alarm: it was not a fall (kept for review and tuning, never deleted)",
        ),
    ):
        action = actions.add_parser(
            review.value, help=helptext, description=helptext[0].upper() + helptext[1:] + "."
        )
        action.add_argument("id", type=_incident_id, help="incident number, from `incidents list`")
        action.add_argument("--by", required=True, help="who is acting (recorded with the change)")
        action.add_argument("--note", help="a note kept with the incident, e.g. what you found")
        _common(action)

    parser.set_defaults(handler=run_incidents)
    return parser


def run_incidents(args: argparse.Namespace) -> int:
    """Dispatch a namespace parsed by the parser from `add_incidents_parser`."""
    where = {"db": args.db, "config": args.config, "data_dir": args.data_dir}
    action = args.incidents_action
    if action == "list":
        return list_incidents(args.status, args.json, camera=args.camera, limit=args.limit, **where)
    if action == "show":
        return show_incident(args.id, args.json, **where)
    if action in set(Review):
        return review_incident(args.id, Review(action), args.by, args.note, **where)
    raise FallWatchError(f"unknown incidents action {action!r}")
