"""The `fallwatch` command line: the only place that parses arguments."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from fallwatch.app.cli_options import add_camera_option, add_db_option, add_settings_options, camera_name
from fallwatch.app.dashboard_command import add_dashboard_parser
from fallwatch.app.incidents_command import add_incidents_parser
from fallwatch.app.notify_command import add_notify_parser
from fallwatch.app.train_command import add_train_parser
from fallwatch.app.workers_command import add_workers_parser
from fallwatch.core.errors import FallWatchError

EXAMPLES = """\
examples:
  fallwatch run --source ward1.mp4 --webhook http://127.0.0.1:8099/hook
  fallwatch track --source ward1.mp4 --out tracks.jsonl --render annotated.mp4
  fallwatch track --source rtsp://cam1.local/stream --duration 60
  fallwatch incidents list --status open
  fallwatch notify --db postgresql+psycopg://fallwatch@db/fallwatch
  fallwatch workers --db postgresql+psycopg://fallwatch@db/fallwatch
  fallwatch dashboard --port 8501
  fallwatch config --config fallwatch.yaml

Settings come from --config (YAML), then FALLWATCH_* environment variables
(nested keys with '__', e.g. FALLWATCH_DETECTOR__IMGSZ=640), then options.
"""

Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """Reports a usage mistake on one line that points to --help, instead of the full usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


def printable(text: str) -> str:
    """`text` with what a terminal would act on (newlines, escape sequences, stray surrogates) shown escaped:
    messages quote what the user typed, and that must not break the one line or move the cursor."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


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
    if not value > 0 or not math.isfinite(value):  # `not >` also refuses nan
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


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
    add_camera_option(parser, "camera name in the output", default="camera")
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
    add_settings_options(parser)
    parser.set_defaults(handler=_track)


def _add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="watch cameras: detect falls, store incidents, send notifications",
        description="Run every configured camera (or --source) through detection, tracking, the recognizer and "
                    "the alert engine. Files run to their end, then FallWatch exits once incidents, media and "
                    "notifications are written; live sources run until Ctrl-C or SIGTERM, which drain the "
                    "queues and flush the outbox first.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  fallwatch run --config fallwatch.yaml\n"
               "  fallwatch run --source ward.mp4 --webhook http://127.0.0.1:8099/hook\n"
               "  FALLWATCH_WEBHOOK_SECRET=... fallwatch run --source rtsp://cam1/stream --camera ward-1",
    )  # fmt: skip
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="a video file or stream to watch instead of the configured cameras (repeatable)",
    )
    add_camera_option(parser, "the camera name for a single --source")
    add_db_option(parser)
    parser.add_argument("--media-dir", type=Path, metavar="DIR", help="where clips and snapshots go")
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="also POST signed incident messages here (repeatable; secret: FALLWATCH_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--checkpoint", type=Path, metavar="PATH", help="recognizer checkpoint (default: the shipped model)"
    )
    add_settings_options(parser)
    parser.set_defaults(handler=_run)


def _add_eval(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="measure detection on a labelled manifest of videos",
        description="Run the same pipeline as `fallwatch run` on every video of a manifest (the falldata "
                    "format) and score each video: a fall is caught when the first incident opens at or after "
                    "the annotated fall start minus 1 s; a daily-activity video with any incident is a false "
                    "alarm. A keypoint rule (torso angle + box aspect held 1 s) is measured on the same tracks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  fallwatch eval --manifest ../shared/falldata/manifest.csv --json eval.json --html eval.html",
    )  # fmt: skip
    parser.add_argument(
        "--manifest", type=Path, required=True, metavar="CSV", help="videos with labels and fall times"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="write the per-video and overall report as JSON"
    )
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="write a report with each video's scores plotted"
    )
    parser.add_argument(
        "--checkpoint", type=Path, metavar="PATH", help="recognizer checkpoint (default: the shipped model)"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N videos (a quick look)")
    add_settings_options(parser)
    parser.set_defaults(handler=_eval)


def _add_config(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="check a settings file and print the effective settings",
        description="Validate settings and print them, defaults filled in, as YAML.",
    )
    add_settings_options(parser)
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
    _add_run(subparsers)
    _add_track(subparsers)
    _add_eval(subparsers)
    add_incidents_parser(subparsers)
    add_notify_parser(subparsers)
    add_dashboard_parser(subparsers)
    add_workers_parser(subparsers)
    add_train_parser(subparsers)
    _add_config(subparsers)
    return parser


def _check_camera(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    # Every command's --camera (`incidents list` filters by one) names a camera as the settings define it; run and
    # track check theirs as they parse, this catches the rest before any command runs.
    camera = getattr(args, "camera", None)
    if isinstance(camera, str):
        try:
            camera_name(camera)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument --camera: {exc}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fallwatch")
    except PackageNotFoundError:
        return "unknown"


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from fallwatch.core.config import load_settings

    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    return load_settings(args.config, **overrides)


def _track(args: argparse.Namespace) -> int:
    from fallwatch.app.track_command import run_track

    overrides: dict[str, Any] = {}
    if args.fps is not None:
        overrides["ingest"] = {"fps": args.fps}
    settings = _settings(args, **overrides)
    return run_track(settings, args.source, args.camera, args.out, args.render, args.duration, args.crop)


def _run(args: argparse.Namespace) -> int:
    from fallwatch.app.run_command import RunOptions, run

    overrides: dict[str, Any] = {}
    if args.checkpoint is not None:
        overrides["recognizer"] = {"checkpoint": args.checkpoint}
    options = RunOptions(tuple(args.source), args.camera, args.db, args.media_dir, tuple(args.webhook))
    return run(_settings(args, **overrides), options)


def _eval(args: argparse.Namespace) -> int:
    import json

    from fallwatch.app.evaluate import evaluate, write_html, write_json
    from fallwatch.core.manifest import read_manifest

    overrides: dict[str, Any] = {}
    if args.checkpoint is not None:
        overrides["recognizer"] = {"checkpoint": args.checkpoint}
    settings = _settings(args, **overrides)
    entries = read_manifest(args.manifest)[: args.limit]
    report = evaluate(settings, entries)
    if args.json:
        write_json(report, args.json)
    if args.html:
        write_html(report, args.html)
    print(
        json.dumps({"fallwatch": report["summary"], "keypoint_rule": report["baseline"]["summary"]}, indent=2)
    )
    return 0


def _config(args: argparse.Namespace) -> int:
    import yaml

    settings = _settings(args)
    print(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_camera(parser, args)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except FallWatchError as exc:
        print(f"fallwatch: error: {printable(str(exc))}", file=sys.stderr)
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
