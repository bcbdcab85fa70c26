"""Recognizer speed on the CPU.

1. FallWatch's SlowFast R50 against pytorchvideo's `slowfast_r50`, same weights, identical input, in one run:
   the variants are timed in alternation (a rotating order every round) and each one's median is reported, so
   that a neighbour's load on the shared cores falls on all of them alike.
2. Tubelets per second of the configuration FallWatch ships (the architecture of the shipped checkpoint, with
   its trajectory input when it has one), batched, from uint8 tubelets with their boxes and keypoints to
   logits, with the peak resident memory of a process that does only that.
3. The shipped model in each runtime (`recognizer.backend` torch, onnx and openvino, through `Recognizer` as the
   pipeline calls it: uint8 tubelets -> logits), at batch 1 and 8, timed in alternation in one process, with
   each runtime's tubelets per second as a ratio of torch's and its largest logit difference from torch.

    .venv/bin/python bench/recognizer_speed.py [--rounds 7] [--threads 2] [--export-dir DIR]

Prints a table and writes bench/results/recognizer_speed.json and recognizer_speed.png (the runtimes).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from fallwatch.core.config import RecognizerConfig  # noqa: E402
from fallwatch.core.types import Tubelet  # noqa: E402
from fallwatch.recognizer import build_slowfast, load_checkpoint, prepare_for_inference, tubelets_to_inputs  # noqa: E402
from fallwatch.recognizer.export import BACKENDS  # noqa: E402
from fallwatch.recognizer.infer import SHIPPED_CHECKPOINT, Recognizer  # noqa: E402
from fallwatch.recognizer.keymap import PYTORCHVIDEO, rename  # noqa: E402
from fallwatch.recognizer.presets import PRESETS  # noqa: E402

RESULTS = REPO / "bench" / "results" / "recognizer_speed.json"
# R50 input: small enough for ~1-4 s per forward on two shared cores. pytorchvideo's head pools with a fixed
# window fitted to the clip (its hub default fits 32 x 224 px), so it is built with the window for this crop.
R50_BATCH, R50_FRAMES, R50_CROP = 2, 32, 160
TINY_BATCHES = (1, 8, 32)
BACKEND_BATCHES = (1, 8)
# Where the runtimes' exports are cached between runs (as the tests cache the detector's).
EXPORTS = REPO / ".cache" / "recognizer-exports"

PV_PLAIN = "pytorchvideo, no_grad, NCDHW"
PV_LIKE = "pytorchvideo, inference_mode, channels_last_3d"
OURS_EAGER = "FallWatch, inference_mode, NCDHW"
OURS_PREPARED = "FallWatch prepared (BN folded), inference_mode, channels_last_3d"

Forward = Callable[[], Tensor]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _randomize(model: nn.Module) -> None:
    """Non-trivial norms and head (pytorchvideo starts each residual branch and the head near zero), so that
    the logits compared below are of order one and a difference between the models would show."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            shape = tensor.shape
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(shape, generator=generator) + 0.5)
            elif name.endswith("running_mean"):
                tensor.copy_(torch.randn(shape, generator=generator) * 0.1)
            elif tensor.dim() == 1 and "norm" in name and name.endswith("weight"):
                tensor.copy_(torch.rand(shape, generator=generator) * 0.3 + 0.1)
            elif tensor.dim() == 1 and "norm" in name and name.endswith("bias"):
                tensor.copy_(torch.randn(shape, generator=generator) * 0.1)
            elif name.endswith("proj.weight"):
                tensor.copy_(torch.randn(shape, generator=generator) * 0.05)


def _timed_rounds(variants: Mapping[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """One untimed warm-up each, then `rounds` rounds; each round runs every variant once, order rotated."""
    names = list(variants)
    for name in names:
        variants[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _summary(samples: list[float]) -> dict[str, float]:
    quartiles = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "q1_s": quartiles[0],
        "q3_s": quartiles[2],
    }


def _runner(
    model: nn.Module, inputs: list[Tensor], mode: Callable[[], AbstractContextManager[Any]]
) -> Forward:
    def run() -> Tensor:
        with mode():
            # A fresh list every call: pytorchvideo's forward overwrites the one it is given.
            out: Tensor = model(list(inputs))
        return out

    return run


def _pytorchvideo_r50() -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pytorchvideo.models.hub import slowfast_r50  # type: ignore[import-untyped]

        window = (R50_CROP // 32, R50_CROP // 32)
        pools = ((R50_FRAMES // 4, *window), (R50_FRAMES, *window))
        model: nn.Module = slowfast_r50(pretrained=False, head_pool_kernel_sizes=pools)
        return model


def bench_r50(rounds: int) -> dict[str, Any]:
    torch.manual_seed(0)
    reference = _pytorchvideo_r50().eval()
    _randomize(reference)
    ours = build_slowfast(PRESETS["slowfast_r50"])
    ours.load_state_dict(rename(reference.state_dict(), PYTORCHVIDEO))
    ours.eval()
    prepared = prepare_for_inference(ours)
    reference_cl = copy.deepcopy(reference).to(memory_format=torch.channels_last_3d)

    generator = torch.Generator().manual_seed(0)
    fast = torch.randn(R50_BATCH, 3, R50_FRAMES, R50_CROP, R50_CROP, generator=generator)
    plain = [fast[:, :, ::4].contiguous(), fast]
    cl = [t.contiguous(memory_format=torch.channels_last_3d) for t in plain]
    variants = {
        PV_PLAIN: _runner(reference, plain, torch.no_grad),
        PV_LIKE: _runner(reference_cl, cl, torch.inference_mode),
        OURS_EAGER: _runner(ours, plain, torch.inference_mode),
        OURS_PREPARED: _runner(prepared, cl, torch.inference_mode),
    }
    logits = {name: run() for name, run in variants.items()}
    baseline = logits[PV_PLAIN]
    times = _timed_rounds(variants, rounds)
    return {
        "input": {
            "batch": R50_BATCH,
            "fast_frames": R50_FRAMES,
            "slow_frames": R50_FRAMES // 4,
            "crop": R50_CROP,
        },
        "rounds": rounds,
        "variants": {
            name: {
                **_summary(times[name]),
                "samples_s": times[name],
                "max_abs_logit_diff": float((logits[name] - baseline).abs().max()),
            }
            for name in variants
        },
        "max_abs_logit": float(baseline.abs().max()),
        "peak_rss_mib": _peak_rss_mib(),
    }


def _tubelets(count: int, frames: int, size: int) -> list[Tubelet]:
    """Random pixels; boxes that move and keypoints that are seen, so that trajectory features cost what
    they cost on real tracks."""
    rng = np.random.default_rng(0)

    def boxes() -> np.ndarray:
        corner = rng.uniform(50, 400, 2) + np.cumsum(rng.normal(0, 3, (frames, 2)), axis=0)
        return np.concatenate([corner, corner + rng.uniform(60, 200, 2)], axis=1).astype(np.float32)

    def keypoints(box: np.ndarray) -> np.ndarray:
        xy = box[:, None, :2] + rng.uniform(0, 1, (frames, 17, 2)) * (box[:, None, 2:] - box[:, None, :2])
        return np.concatenate([xy, rng.uniform(0, 1, (frames, 17, 1))], axis=2).astype(np.float32)

    tubelets = []
    for i in range(count):
        box = boxes()
        tubelets.append(
            Tubelet(
                camera="bench",
                track_id=i,
                pts_start=0.0,
                pts_end=frames / 10,
                frames=rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8),
                boxes=box,
                keypoints=keypoints(box),
                pts=(np.arange(frames) / 10).astype(np.float32),
            )
        )
    return tubelets


def bench_tiny(rounds: int) -> dict[str, Any]:
    """Run in its own process (see `main`) so that its peak memory is its own."""
    torch.manual_seed(0)
    model, spec = load_checkpoint(SHIPPED_CHECKPOINT)
    prepared = prepare_for_inference(model)
    pool = _tubelets(max(TINY_BATCHES), spec.frames, spec.crop)
    # What torch, the model and the tubelets hold before any forward; the rest of the peak is the batches'.
    rss_before = _rss_mib()

    def step(batch: int) -> Forward:
        def run() -> Tensor:
            with torch.inference_mode():
                inputs = tubelets_to_inputs(pool[:batch], spec, memory_format=torch.channels_last_3d)
                out: Tensor = prepared(inputs)
            return out

        return run

    times = _timed_rounds({str(b): step(b) for b in TINY_BATCHES}, rounds)
    rows = {}
    for batch in TINY_BATCHES:
        summary = _summary(times[str(batch)])
        rows[str(batch)] = {**summary, "tubelets_per_s": batch / summary["median_s"]}
    return {
        "preset": f"shipped model ({SHIPPED_CHECKPOINT.name})",
        "config": model.config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint_mib_float32": 4 * sum(t.numel() for t in model.state_dict().values()) / 2**20,
        "rounds": rounds,
        "batches": rows,
        "rss_before_runs_mib": rss_before,
        "peak_rss_mib": _peak_rss_mib(),
    }


def bench_backends(rounds: int, export_dir: Path) -> dict[str, Any]:
    """Every runtime through `Recognizer`, in one process, timed in alternation (see `_timed_rounds`)."""
    torch.manual_seed(0)
    recognizers = {}
    open_s = {}
    for backend in BACKENDS:
        started = time.perf_counter()  # an export is made once, outside the timing (cached in export_dir)
        config = RecognizerConfig(backend=backend, device="cpu", export_dir=export_dir)
        recognizers[backend] = Recognizer(config)
        open_s[backend] = time.perf_counter() - started
        assert recognizers[backend].backend == backend
    auto = Recognizer(RecognizerConfig(backend="auto", device="cpu", export_dir=export_dir)).backend
    spec = recognizers["torch"].spec
    pool = _tubelets(max(BACKEND_BATCHES), spec.frames, spec.crop)

    def step(recognizer: Recognizer, batch: int) -> Callable[[], Any]:
        return lambda: recognizer.logits(pool[:batch])

    variants = {f"{b}/{n}": step(r, n) for n in BACKEND_BATCHES for b, r in recognizers.items()}
    times = _timed_rounds(variants, rounds)
    reference = {n: recognizers["torch"].logits(pool[:n]) for n in BACKEND_BATCHES}
    rows: dict[str, dict[str, Any]] = {}
    for n in BACKEND_BATCHES:
        rows[str(n)] = {}
        for backend, recognizer in recognizers.items():
            summary = _summary(times[f"{backend}/{n}"])
            rows[str(n)][backend] = {
                **summary,
                "tubelets_per_s": n / summary["median_s"],
                "max_abs_logit_diff_vs_torch": float(
                    np.abs(recognizer.logits(pool[:n]) - reference[n]).max()
                ),
            }
        for row in rows[str(n)].values():
            row["ratio_vs_torch"] = row["tubelets_per_s"] / rows[str(n)]["torch"]["tubelets_per_s"]
    return {
        "preset": f"shipped model ({SHIPPED_CHECKPOINT.name})",
        "path": "Recognizer.logits: uint8 tubelets with boxes and keypoints -> inputs -> runtime -> logits",
        "rounds": rounds,
        "export_dir": str(export_dir),
        "open_s": open_s,
        "auto_picks": auto,
        "batches": rows,
        "max_abs_logit": float(max(np.abs(r).max() for r in reference.values())),
        "peak_rss_mib": _peak_rss_mib(),
    }


def _backends_table(runs: list[dict[str, Any]]) -> list[str]:
    first = runs[0]
    lines = [
        f"{first['preset']} per runtime ({first['path']}), median of {first['rounds']} alternated runs; "
        f"auto picks {first['auto_picks']}",
        "| threads | batch | runtime  | median s | tubelets/s | vs torch | max |diff| to torch |",
        "|---------|-------|----------|----------|------------|----------|---------------------|",
    ]
    for run in runs:
        for batch, row in run["batches"].items():
            for backend, v in row.items():
                lines.append(
                    f"| {run['threads']:>7} | {batch:>5} | {backend:<8} | {v['median_s']:8.3f} "
                    f"| {v['tubelets_per_s']:10.1f} | {v['ratio_vs_torch']:7.2f}x "
                    f"| {v['max_abs_logit_diff_vs_torch']:19.1e} |"
                )
    lines.append(f"(largest |logit| {first['max_abs_logit']:.2f}; all runtimes float32)")
    return lines


def plot_backends(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(run["threads"], batch) for run in runs for batch in run["batches"]]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    width = 0.8 / len(BACKENDS)
    for i, backend in enumerate(BACKENDS):
        values = [run["batches"][b][backend] for run in runs for b in run["batches"]]
        xs = [g + (i - (len(BACKENDS) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, [v["tubelets_per_s"] for v in values], width, label=backend)
        for bar, v in zip(bars, values, strict=True):
            top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
            ax.annotate(f"{v['ratio_vs_torch']:.2f}x", top, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)), [f"batch {b}\n{t} thread{'s' * (t != 1)}" for t, b in groups])
    ax.set_ylabel("tubelets per second (higher is better)")
    ax.set_title(f"Shipped recognizer per runtime, {runs[0]['preset'].split('(')[1].rstrip(')')}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _r50_table(r50: dict[str, Any]) -> list[str]:
    inp = r50["input"]
    lines = [
        f"SlowFast R50, batch {inp['batch']}, {inp['slow_frames']}+{inp['fast_frames']} frames "
        f"of {inp['crop']} px, median of {r50['rounds']} alternated runs",
        f"| {'variant':<64} | median s | IQR s       | ratio | max |diff| |",
        f"|{'-' * 66}|----------|-------------|-------|------------|",
    ]
    base = r50["variants"][PV_PLAIN]["median_s"]
    for name, v in r50["variants"].items():
        iqr = f"{v['q1_s']:.2f}-{v['q3_s']:.2f}"
        lines.append(
            f"| {name:<64} | {v['median_s']:8.2f} | {iqr:<11} | {v['median_s'] / base:5.2f} "
            f"| {v['max_abs_logit_diff']:10.1e} |"
        )
    lines.append(
        f"largest |logit| {r50['max_abs_logit']:.2f}; peak RSS of the R50 process (both models, all four "
        f"variants): {r50['peak_rss_mib']:.0f} MiB"
    )
    return lines


def _tiny_table(runs: list[dict[str, Any]]) -> list[str]:
    first = runs[0]
    lines = [
        f"{first['preset']} ({first['parameters'] / 1e6:.1f} M parameters, "
        f"{first['checkpoint_mib_float32']:.1f} MiB as float32), uint8 tubelets -> logits, prepared, "
        f"median of {first['rounds']} runs",
        "| threads | batch | median s | tubelets/s | peak RSS MiB |",
        "|---------|-------|----------|------------|--------------|",
    ]
    for run in runs:
        for batch, row in run["batches"].items():
            lines.append(
                f"| {run['threads']:>7} | {batch:>5} | {row['median_s']:8.3f} "
                f"| {row['tubelets_per_s']:10.1f} | {run['peak_rss_mib']:12.0f} |"
            )
    lines.append(
        f"(each thread count in its own process; {first['rss_before_runs_mib']:.0f} MiB of the peak is there "
        "before the first forward: torch, model, tubelets)"
    )
    return lines


def _table(
    r50: dict[str, Any],
    tiny: dict[str, Any],
    tiny_one_thread: dict[str, Any] | None,
    backends: list[dict[str, Any]],
) -> str:
    runs = [tiny] if tiny_one_thread is None else [tiny, tiny_one_thread]
    return "\n".join([*_r50_table(r50), "", *_tiny_table(runs), "", *_backends_table(backends)])


def _in_child(rounds: int, threads: int, mode: str = "--tiny-only", *extra: str) -> dict[str, Any]:
    """The tiny-model benchmark (or with `--backends-only` the runtimes') in a fresh process, so that its peak
    memory is its own."""
    child = [sys.executable, __file__, mode, f"--rounds={rounds}", f"--threads={threads}", *extra]
    result: dict[str, Any] = json.loads(
        subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True).stdout
    )
    result["threads"] = threads
    return result


def _ratio(r50: dict[str, Any], numerator: str, denominator: str) -> float:
    variants = r50["variants"]
    return float(variants[numerator]["median_s"] / variants[denominator]["median_s"])


def _write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as file:
        json.dump(data, file, indent=2)
    os.replace(temp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="where the JSON goes (and the .png beside)"
    )
    parser.add_argument(
        "--export-dir", type=Path, default=EXPORTS, help="cache of the onnx and openvino exports"
    )
    parser.add_argument("--tiny-only", action="store_true", help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--backends-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.tiny_only:
        print(json.dumps(bench_tiny(args.rounds)))
        return
    if args.backends_only:
        print(json.dumps(bench_backends(args.rounds, args.export_dir)))
        return
    load_before = os.getloadavg()
    started = time.perf_counter()
    tiny = _in_child(args.rounds, args.threads)
    # On shared cores a neighbour's load stalls every multi-threaded step at its barriers; one thread shows
    # how much of the multi-threaded figure is that.
    tiny_one_thread = _in_child(args.rounds, 1) if args.threads != 1 else None
    exports = f"--export-dir={args.export_dir}"
    backends = [_in_child(args.rounds, args.threads, "--backends-only", exports)]
    if args.threads != 1:
        backends.append(_in_child(args.rounds, 1, "--backends-only", exports))
    r50 = bench_r50(args.rounds)
    machine = {
        "cpu": _cpu_name(),
        "logical_cpus": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),  # the cores this run could use (taskset)
        "torch_threads": args.threads,
        "torch": str(torch.__version__),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    result: dict[str, Any] = {
        "machine": machine,
        "r50": r50,
        "r50_ratio_vs_pytorchvideo_as_shipped": _ratio(r50, OURS_PREPARED, PV_PLAIN),
        "r50_ratio_vs_pytorchvideo_like_for_like": _ratio(r50, OURS_PREPARED, PV_LIKE),
        "tiny": tiny,
        "tiny_one_thread": tiny_one_thread,
        "backends": backends[0],
        "backends_one_thread": backends[1] if len(backends) > 1 else None,
        "wall_s": time.perf_counter() - started,
    }
    _write_json(result, args.output)
    plot_backends(backends, args.output.with_suffix(".png"))
    print(_table(r50, tiny, tiny_one_thread, backends))
    print(
        f"\nratio FallWatch prepared / pytorchvideo: {result['r50_ratio_vs_pytorchvideo_as_shipped']:.2f} "
        f"(as pytorchvideo is usually run), {result['r50_ratio_vs_pytorchvideo_like_for_like']:.2f} "
        f"(pytorchvideo also in inference_mode + channels_last_3d)"
    )
    print(
        f"{machine['cpu']}, {args.threads} torch threads of {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}; load average {load_before[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; {result['wall_s']:.0f} s -> {args.output} and .png"
    )


if __name__ == "__main__":
    main()
