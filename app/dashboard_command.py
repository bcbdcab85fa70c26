"""`fallwatch dashboard` (the Streamlit dashboard over the store) and `fallwatch users` (who may sign in).

`fallwatch dashboard` checks everything a user can get wrong (settings, database, users, the port) and says so
on one line before it starts Streamlit as a child process on the same settings and store. `fallwatch users`
keeps dashboard users in the database as argon2 hashes; `users hash` prints a hash for the settings file.
Passwords are read from the terminal without echo, or as one line from standard input when it is not a terminal.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from fallwatch.alerts.store import Store, open_store, resolve_url
from fallwatch.app.cli_options import add_db_option, add_settings_options
from fallwatch.core.config import Settings, dashboard_secret, load_settings
from fallwatch.core.errors import FallWatchError

USER_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


def _settings(config: Path | None, data_dir: Path | None) -> Settings:
    return load_settings(config, **({"data_dir": data_dir} if data_dir is not None else {}))


def _store(settings: Settings, db: str | None) -> tuple[str, Store]:
    url = resolve_url(db, settings.store.url, data_dir=settings.data_dir)
    return url, open_store(url, connect_timeout_s=settings.store.connect_timeout_s)


def _check_port(address: str, port: int) -> None:
    """A clear line now, instead of Streamlit's own error after it has started."""
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FallWatchError(
            f"--address {address}: not an address of this machine ({exc.strerror})"
        ) from None
    family, kind, proto, _, where = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server will: connections of a dashboard that just stopped (TIME_WAIT) do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(where)
        except OSError as exc:
            raise FallWatchError(
                f"--port {port}: cannot listen on {address}:{port} ({exc.strerror}); choose another port"
            ) from None


def run_dashboard(
    db: str | None,
    port: int | None,
    address: str | None,
    config: Path | None,
    data_dir: Path | None,
) -> int:
    """Start the dashboard and wait for it; its exit status, or 0 after Ctrl-C."""
    from fallwatch.dashboard.launch import environment, streamlit_command

    settings = _settings(config, data_dir)
    url, store = _store(settings, db)
    with store:
        if not settings.dashboard.users and not store.users.all():
            raise FallWatchError(
                "no dashboard users: add one with `fallwatch users add NAME` (or dashboard.users in the settings)"
            )
    dashboard_secret()  # a secret too short to be safe is refused now, not on the first page
    address = address or settings.dashboard.address
    port = port or settings.dashboard.port
    _check_port(address, port)
    child_env = os.environ | environment(config, url, settings.data_dir)
    child = subprocess.Popen(streamlit_command(address, port), env=child_env)

    def stop(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)  # Streamlit shuts down cleanly on SIGTERM and SIGINT

    signal.signal(signal.SIGTERM, stop)
    host = f"[{address}]" if ":" in address else address
    print(f"FallWatch dashboard on http://{host}:{port}  (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=15)
        return 0


# --- users ----------------------------------------------------------------------------------------------------------


def read_password(confirm: bool = True) -> str:
    """From the terminal (twice, not echoed), or one line of standard input (scripts, `echo ... |`)."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise FallWatchError("no password on standard input (expected one line)")
        return line.rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != password:
        raise FallWatchError("the two passwords differ; nothing was changed")
    return password


def _user_name(name: str) -> str:
    import re

    if not re.match(USER_NAME, name):
        raise FallWatchError(f"user name {name!r}: expected 1 to 64 letters, digits, '_', '.' or '-'")
    return name


def users_add(name: str, config: Path | None, data_dir: Path | None, db: str | None) -> int:
    from fallwatch.dashboard.passwords import hash_password

    name = _user_name(name)
    settings = _settings(config, data_dir)
    if name in settings.dashboard.users:
        raise FallWatchError(f"user {name!r} is set in the settings file (dashboard.users); change it there")
    password_hash = hash_password(read_password())
    with _store(settings, db)[1] as store:
        existed = store.users.get(name) is not None
        store.users.set(name, password_hash)
        store.sessions.end_all(name)  # signed in with the old password: out (they would be refused anyway)
    print(f"user {name} {'password changed' if existed else 'added'}")
    return 0


def users_remove(name: str, config: Path | None, data_dir: Path | None, db: str | None) -> int:
    with _store(_settings(config, data_dir), db)[1] as store:
        if not store.users.remove(name):
            raise FallWatchError(f"user {name!r} not found in the database (see `fallwatch users list`)")
        store.sessions.end_all(name)
    print(f"user {name} removed")
    return 0


def users_list(config: Path | None, data_dir: Path | None, db: str | None) -> int:
    settings = _settings(config, data_dir)
    with _store(settings, db)[1] as store:
        stored = store.users.all()
    for name in sorted(settings.dashboard.users):
        print(f"{name}  (settings file)")
    for user in stored:
        shadowed = (
            "  (ignored: the settings file names this user too)"
            if user.name in settings.dashboard.users
            else ""
        )
        print(f"{user.name}  (database, since {user.created_at:%Y-%m-%d}){shadowed}")
    if not stored and not settings.dashboard.users:
        print("no dashboard users: add one with `fallwatch users add NAME`")
    return 0


def users_hash() -> int:
    from fallwatch.dashboard.passwords import hash_password

    print(hash_password(read_password()))
    return 0


# --- argparse -------------------------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, db: bool = True) -> None:
    if db:
        add_db_option(parser)
    add_settings_options(parser)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(text)


def add_dashboard_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `dashboard` and `users` on an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dashboard",
        help="the web dashboard: review and acknowledge incidents, cameras, zones, exports",
        description="Start the Streamlit dashboard on the incident store. It listens on 127.0.0.1:8501 unless "
        "told otherwise (dashboard.address/port in the settings, or the options); users sign in with the "
        "passwords set by `fallwatch users`. FALLWATCH_DASHBOARD_SECRET (32+ characters) keeps sign-ins "
        "across page reloads.",
    )
    parser.add_argument("--port", type=_port, help="port to listen on (default: dashboard.port, 8501)")
    parser.add_argument("--address", help="address to listen on (default: dashboard.address, 127.0.0.1)")
    _common(parser)
    parser.set_defaults(handler=_dashboard)
    _add_users(subparsers)
    return parser


def _add_users(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "users",
        help="dashboard users: add, remove, list, or hash a password for the settings file",
        description="Manage who may sign in to the dashboard. Only argon2 hashes of passwords are kept.",
    )
    actions = parser.add_subparsers(dest="users_action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="add a user, or change a user's password (asks for it; or one line on stdin)",
        description="Add a dashboard user to the database, or change their password.",
    )
    add.add_argument("name", help="user name (letters, digits, _ . -); recorded with every change they make")
    _common(add)
    remove = actions.add_parser(
        "remove", help="remove a user from the database", description="Remove a user."
    )
    remove.add_argument("name", help="user name")
    _common(remove)
    listing = actions.add_parser("list", help="list users", description="List dashboard users.")
    _common(listing)
    hashing = actions.add_parser(
        "hash",
        help="print a password's hash for dashboard.users in the settings file",
        description="Read a password and print its argon2 hash, for dashboard.users in the settings file.",
    )
    hashing.add_argument("-v", "--verbose", action="store_true", help=argparse.SUPPRESS)
    hashing.set_defaults(config=None, data_dir=None, db=None)
    parser.set_defaults(handler=_users)


def _dashboard(args: argparse.Namespace) -> int:
    return run_dashboard(args.db, args.port, args.address, args.config, args.data_dir)


def _users(args: argparse.Namespace) -> int:
    where = (args.config, args.data_dir, args.db)
    if args.users_action == "add":
        return users_add(args.name, *where)
    if args.users_action == "remove":
        return users_remove(args.name, *where)
    if args.users_action == "list":
        return users_list(*where)
    return users_hash()
