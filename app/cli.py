"""The `fallwatch` command line: the only place that parses arguments."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from app.errors import FallWatchError
from app.incidents_command import add_incidents_parser

EXAMPLES = """\
examples:
  fallwatch track --source ward1.mp4 --out tracks.jsonl --render annotated.mp4
  fallwatch track --source rtsp://cam1.local/stream --duration 60
  fallwatch incidents list --status open
  fallwatch config --config fallwatch.yaml

Settings come from --config (YAML), then FALLWATCH_* environment variables
(nested keys with '__', e.g. FALLWATCH_DETECTOR__IMGSZ=640), then options.
"""

Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """Reports a usage mistake on one line that points to --help, instead of the full usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _crop(text: str) -> tuple[int, int, int, int]:
    parts = text.replace(",", " ").split()
    if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected 'x1,y1,x2,y2' in source pixels, got {text!r}")
    x1, y1, x2, y2 = (int(p) for p in parts)
    return (x1, y1, x2, y2)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
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


def _add_track(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "track",
        help="detect and track people in one video or stream",
        description="Detect people (YOLO pose) and track them (DeepSORT) in one source. Writes one JSON line "
        "per confirmed track per analysed frame: frame (1-based decoded index), pts (s), track_id, "
        "xyxy and keypoints in source pixels, and score.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  fallwatch track --source clip.mp4 --fps 10 --out tracks.jsonl --render annotated.mp4",
    )
    parser.add_argument(
        "--source",
        required=True,
        metavar="PATH_OR_URL",
        help="a video file, an rtsp://, http(s):// stream URL, or a device (/dev/video0)",
    )
    parser.add_argument("--camera", default="camera", metavar="NAME", help="camera name in the output")
    parser.add_argument("--fps", type=_positive, help="frames analysed per second of video (default 10)")
    parser.add_argument(
        "--crop",
        type=_crop,
        metavar="X1,Y1,X2,Y2",
        help="analyse only this region of the image, in source pixels",
    )
    parser.add_argument("--out", default="-", metavar="FILE", help="JSON-lines output (default: stdout)")
    parser.add_argument("--render", type=Path, metavar="MP4", help="also write an annotated video here")
    parser.add_argument(
        "--duration",
        type=_positive,
        metavar="SECONDS",
        help="stop after this many seconds of stream time (live sources run until Ctrl-C)",
    )
    _add_common(parser)
    parser.set_defaults(handler=_track)


def _add_config(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="check a settings file and print the effective settings",
        description="Validate settings and print them, defaults filled in, as YAML.",
    )
    _add_common(parser)
    parser.set_defaults(handler=_config)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="fallwatch",
        description="FallWatch: fall and fainting detection for CCTV.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser
    )
    _add_track(subparsers)
    add_incidents_parser(subparsers)
    _add_config(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fallwatch")
    except PackageNotFoundError:
        return "unknown"


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from app.config import load_settings

    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    return load_settings(args.config, **overrides)


def _track(args: argparse.Namespace) -> int:
    from app.track_command import run_track

    overrides: dict[str, Any] = {}
    if args.fps is not None:
        overrides["ingest"] = {"fps": args.fps}
    settings = _settings(args, **overrides)
    return run_track(settings, args.source, args.camera, args.out, args.render, args.duration, args.crop)


def _config(args: argparse.Namespace) -> int:
    import yaml

    settings = _settings(args)
    print(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except FallWatchError as exc:
        print(f"fallwatch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`fallwatch track ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("fallwatch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
