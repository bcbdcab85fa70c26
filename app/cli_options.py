"""Options that every `fallwatch` command shares, defined once for all the command modules."""

from __future__ import annotations

import argparse
from pathlib import Path

from fallwatch.core.config.base import NAME_RULE, is_valid_name


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """--config, --data-dir and --verbose: where settings come from and how much is logged."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML settings file (default: none; built-in defaults and FALLWATCH_* variables)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where FallWatch keeps its database, media and caches (default: ./data)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL, e.g. sqlite:///data/fallwatch.db or postgresql+psycopg://fallwatch@db/fallwatch "
        "(default: store.url from the settings, else <data_dir>/fallwatch.db)",
    )


def camera_name(text: str) -> str:
    """An argparse type: a camera name as the settings define it, so a bad one is refused before anything runs."""
    if not is_valid_name(text):
        raise argparse.ArgumentTypeError(f"expected a camera name of {NAME_RULE}, got {text!r}")
    return text


def add_camera_option(parser: argparse.ArgumentParser, help_text: str, default: str | None = None) -> None:
    parser.add_argument("--camera", type=camera_name, default=default, metavar="NAME", help=help_text)
