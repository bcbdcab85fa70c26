"""`fallwatch notify`: deliver the outbox on its own, beside workers that only analyse (or after they stopped)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import Any

from fallwatch.alerts.notifiers.notifier import Notifier
from fallwatch.alerts.store import Store, StoreUnavailable, open_store, resolve_url
from fallwatch.app.cli_options import add_db_option, add_settings_options
from fallwatch.core.config import WEBHOOK_SECRET_ENV, Settings, load_settings, webhook_secret

log = logging.getLogger("fallwatch.notify")


def add_notify_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "notify",
        help="deliver queued incident messages (webhooks, MQTT) until stopped",
        description="Deliver FallWatch's queued incident messages (signed webhooks, MQTT) until SIGTERM or "
        "Ctrl-C; any number of notifiers may share one database. `fallwatch run` already runs one; this one "
        "is for deliveries apart from the workers. The webhook secret comes from FALLWATCH_WEBHOOK_SECRET.",
    )
    parser.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    add_db_option(parser)
    add_settings_options(parser)
    parser.set_defaults(handler=run_notify)


def run_notify(args: argparse.Namespace) -> int:
    # A service's log is its output: shown even without --verbose.
    logging.getLogger("fallwatch").setLevel(logging.INFO)
    for chatty in ("alembic", "httpx"):  # one line per schema check and per request: our own lines say more
        logging.getLogger(chatty).setLevel(logging.WARNING)
    overrides = {} if args.data_dir is None else {"data_dir": args.data_dir}
    settings = load_settings(args.config, **overrides)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return serve(settings, args.db, args.once, stop)


def serve(settings: Settings, db: str | None, once: bool, stop: threading.Event) -> int:
    url = resolve_url(db, settings.store.url, data_dir=settings.data_dir)
    secret = webhook_secret()
    if secret is None:
        log.warning("%s is not set: webhook messages wait (pending) until it is", WEBHOOK_SECRET_ENV)
    store = _open_when_up(url, settings.store.connect_timeout_s, settings.store.retry_max_s, stop)
    if store is None:
        return 0
    notifier = Notifier(store, settings.notify, secret)
    log.info("delivering from %s as %s", store.url, notifier.owner)
    try:
        if once:
            while notifier.run_once() > 0:
                pass
        else:
            notifier.run(stop)
    finally:
        notifier.close()
        store.close()
    return 0


def _open_when_up(url: str, timeout_s: float, retry_max_s: float, stop: threading.Event) -> Store | None:
    """Open the store, waiting out a database that is not up yet (a notifier starting before it is normal)."""
    wait = 0.5
    while not stop.is_set():
        try:
            return open_store(url, connect_timeout_s=timeout_s)
        except StoreUnavailable as exc:
            log.warning("%s; retrying in %.1f s", exc, wait)
            stop.wait(wait)
            wait = min(retry_max_s, wait * 2)
    return None
