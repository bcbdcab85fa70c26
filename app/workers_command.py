"""`fallwatch workers`: the workers registered in the store, whether each is alive, and the cameras it holds."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from fallwatch.alerts.records import CameraLease, WorkerRecord
from fallwatch.alerts.store import open_store, resolve_url
from fallwatch.app.cli_options import add_db_option, add_settings_options
from fallwatch.core.config import load_settings

DESCRIPTION = """\
List the `fallwatch run` workers that share this store's cameras: each one's host and pid, when it was last
heard from, whether it is alive (heard from within workers.lease_s, not stopped), and the cameras whose lease it
holds now. Cameras nobody holds are listed at the end: with live cameras and live workers, that is a camera
about to be taken over (a worker died, or one is being handed on), or one no worker has room for
(workers.max_cameras)."""

EXAMPLES = """\
examples:
  fallwatch workers --db postgresql+psycopg://fallwatch@db/fallwatch
  fallwatch workers --config fallwatch.yaml --json
"""


def add_workers_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "workers",
        help="list the workers sharing the cameras and what each holds",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--all", action="store_true", help="also list workers that stopped or died")
    add_settings_options(parser)
    parser.set_defaults(handler=list_workers)


def list_workers(args: argparse.Namespace) -> int:
    settings = load_settings(
        args.config, **({"data_dir": args.data_dir} if args.data_dir is not None else {})
    )
    url = resolve_url(args.db, settings.store.url, data_dir=settings.data_dir)
    with open_store(url, connect_timeout_s=settings.store.connect_timeout_s) as store:
        workers, leases = store.leases.workers(), store.leases.leases()
    now, lease_s = datetime.now(UTC), settings.workers.lease_s
    shown = [w for w in workers if args.all or w.live_at(now, lease_s)]
    unheld = [lease.camera for lease in leases if not lease.held_at(now)]
    if args.json:
        print(json.dumps(_as_json(shown, leases, unheld, now, lease_s), indent=2))
    else:
        print(_table(shown, leases, unheld, now, lease_s))
    return 0


def _as_json(workers: list[WorkerRecord], leases: list[CameraLease], unheld: list[str], now: datetime,
             lease_s: float) -> dict[str, Any]:  # fmt: skip
    since = {lease.camera: lease.acquired_at for lease in leases}
    return {
        "workers": [
            {
                "name": w.name,
                "host": w.host,
                "pid": w.pid,
                "alive": w.live_at(now, lease_s),
                "started_at": w.started_at.isoformat(),
                "heartbeat_at": w.heartbeat_at.isoformat(),
                "stopped_at": w.stopped_at.isoformat() if w.stopped_at else None,
                "max_cameras": w.max_cameras,
                "metrics_port": w.metrics_port,
                "cameras": {camera: _iso(since.get(camera)) for camera in w.cameras},
            }
            for w in workers
        ],
        "unheld": unheld,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _table(workers: list[WorkerRecord], leases: list[CameraLease], unheld: list[str], now: datetime,
           lease_s: float) -> str:  # fmt: skip
    if not workers and not leases:
        return "no workers have registered with this store (start one with `fallwatch run`)"
    since = {lease.camera: lease.acquired_at for lease in leases}
    lines = [f"{'WORKER':<28} {'HOST':<20} {'PID':>7}  {'STATE':<7} {'HEARD':>8}  CAMERAS (held since)"]
    for w in workers:
        state = "alive" if w.live_at(now, lease_s) else ("stopped" if w.stopped_at else "silent")
        heard = f"{(now - w.heartbeat_at).total_seconds():.0f} s ago"
        cameras = ", ".join(f"{c} ({_clock(since.get(c))})" for c in w.cameras) or "-"
        lines.append(f"{w.name:<28} {w.host[:20]:<20} {w.pid:>7}  {state:<7} {heard:>8}  {cameras}")
    lines.append(f"{len(workers)} workers, {sum(len(w.cameras) for w in workers)} cameras held")
    if unheld:
        lines.append(f"held by nobody now: {', '.join(unheld)}")
    return "\n".join(lines)


def _clock(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%H:%M:%SZ")
