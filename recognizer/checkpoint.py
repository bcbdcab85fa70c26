"""Loading and saving recognizer checkpoints.

FallWatch's own format (version 1) is a `torch.save`d dict of plain data and tensors only, so that it loads
with `torch.load(weights_only=True)` and a checkpoint can never run code::

    {
        "format": "fallwatch-slowfast",
        "version": 1,
        "arch": {...},                  # SlowFastConfig.to_dict()
        "labels": ["normal", "falling", "lying"],
        "mean": [r, g, b], "std": [r, g, b],
        "derived_from": {"source", "format", "sha256"} or None,   # the weights fine-tuning started from
        "torch": "2.x",                 # the version that wrote it, for the record
        "state_dict": {name: tensor},   # FallWatch's key names; float16 or float32
    }

`load_checkpoint` also takes pytorchvideo model-zoo files and PySlowFast checkpoints (`{"model_state": ...}`,
with or without a `cfg`), or a bare state dict in either layout. Anything else is refused with one
`FallWatchError` line that names the file and says what was expected.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

import torch
import yaml
from torch import Tensor

from fallwatch.core.errors import FallWatchError
from fallwatch.recognizer import keymap
from fallwatch.recognizer.blocks import ConvBnAct
from fallwatch.recognizer.config import SlowFastConfig
from fallwatch.recognizer.slowfast import SlowFast, build_slowfast
from fallwatch.recognizer.spec import (
    KINETICS_MEAN,
    KINETICS_STD,
    Provenance,
    RecognizerSpec,
    placeholder_labels,
)

FORMAT = "fallwatch-slowfast"
VERSION = 1
FALLWATCH = f"fallwatch-v{VERSION}"
EXPECTED = "expected a FallWatch checkpoint or a pytorchvideo/PySlowFast SlowFast .pyth file"


def _fail(path: Path, problem: str, expected: str = EXPECTED) -> FallWatchError:
    return FallWatchError(f"checkpoint {path}: {problem}; {expected}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    """The exception's type and first sentence: enough to tell a truncated file from a text file."""
    lines = str(error).strip().splitlines()
    sentence = lines[0].split(". ")[0][:120] if lines else ""
    return f"{type(error).__name__}: {sentence}" if sentence else type(error).__name__


def _looks_like_torch_save(path: Path) -> bool:
    """A zip archive (torch.save since PyTorch 1.6) or a pickle (the legacy format): checked on the first bytes,
    so that random bytes are called what they are instead of whatever the unpickler makes of them."""
    with path.open("rb") as file:
        head = file.read(4)
    return head == b"PK\x03\x04" or head[:1] == b"\x80"


def _weights_unpickler_problem(error: BaseException) -> str:
    # torch puts its own reason after 'WeightsUnpickler error:' (on that line or the next), below a page of advice.
    text = str(error).partition("WeightsUnpickler error:")[2].strip()
    return text.splitlines()[0][:120] if text else _first_line(error)


def _read(path: Path) -> Any:
    if not path.exists():
        raise _fail(path, "no such file")
    if not path.is_file():
        raise _fail(path, "not a file")
    if path.stat().st_size == 0:
        raise _fail(path, "not a readable PyTorch file (it is empty)")
    if not _looks_like_torch_save(path):
        raise _fail(
            path, "not a readable PyTorch file (neither the zip archive nor the pickle torch.save writes)"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch words every refusal of its weights-only unpickler alike; only an unsupported *global* is a
        # class or function in the file. Anything else (an unknown opcode, say) is a damaged file.
        if "unsupported global" in str(error).lower():
            raise _fail(
                path,
                "it holds Python objects besides tensors, and FallWatch never unpickles code from a file",
            ) from None
        raise _fail(
            path, f"not a readable PyTorch file (damaged: {_weights_unpickler_problem(error)})"
        ) from None
    except Exception as error:  # torch raises RuntimeError, EOFError, OSError, ... for broken files
        raise _fail(path, f"not a readable PyTorch file ({_first_line(error)})") from None


def _is_state_dict(value: object) -> TypeGuard[Mapping[str, Tensor]]:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items())
    )


def describe(config: SlowFastConfig) -> str:
    return (
        f"SlowFast R{config.depth} (width {config.width}, beta_inv {config.beta_inv}, "
        f"fusion kernel {config.fusion_kernel}, {config.num_classes} classes)"
    )


def _weights_problem(model: SlowFast, state: Mapping[str, Tensor]) -> str | None:
    """What keeps `state` from loading into `model` exactly, or None if it fits."""
    expected = model.state_dict()
    # Old files may lack BatchNorm's step counter; it does not affect inference.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    if wrong:
        k = wrong[0]
        shapes = f"{tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} in the model"
        problems.append(f"{len(wrong)} tensors of the wrong shape (e.g. {k}: {shapes})")
    if problems:
        return ", ".join(problems)
    broken = next(
        (k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None
    )
    return f"tensor {broken} holds NaN or infinite values" if broken else None


def _build_and_load(path: Path, config: SlowFastConfig, state: Mapping[str, Tensor], what: str) -> SlowFast:
    model = build_slowfast(config)
    problem = _weights_problem(model, state)
    if problem:
        expected = "expected the weights of exactly that architecture"
        raise _fail(path, f"its {what} weights do not fit {describe(config)}: {problem}", expected)
    model.load_state_dict(state, strict=False)  # strictness checked above, num_batches_tracked aside
    return model.eval()


def _field(payload: Mapping[str, Any], path: Path, name: str, kind: type | tuple[type, ...]) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind):
        raise _fail(path, f"its {name!r} entry is missing or malformed", f"expected a valid {FORMAT} file")
    return value


def _load_fallwatch(path: Path, payload: Mapping[str, Any], sha: str) -> tuple[SlowFast, RecognizerSpec]:
    version = _field(payload, path, "version", int)
    if version > VERSION:
        raise _fail(
            path,
            f"written by a newer FallWatch (format version {version})",
            f"this FallWatch reads versions up to {VERSION}",
        )
    expected = f"expected a valid {FORMAT} file"
    try:
        config = SlowFastConfig.from_dict(_field(payload, path, "arch", dict))
        origin = payload.get("derived_from")
        spec = RecognizerSpec(
            arch=config,
            labels=tuple(_field(payload, path, "labels", list)),
            mean=tuple(_field(payload, path, "mean", list)),
            std=tuple(_field(payload, path, "std", list)),
            provenance=Provenance(str(path), FALLWATCH, sha),
            derived_from=Provenance(**origin) if isinstance(origin, dict) else None,
        )
    except (TypeError, ValueError) as error:
        raise _fail(path, f"invalid architecture or labels ({error})", expected) from None
    state = _field(payload, path, "state_dict", dict)
    if not _is_state_dict(state):
        raise _fail(path, "its state_dict is empty or holds values other than tensors", expected)
    return _build_and_load(path, config, state, "FallWatch"), spec


def _pyslowfast_geometry(cfg: object) -> dict[str, Any]:
    """Clip geometry and normalisation from a PySlowFast checkpoint's `cfg` (a YAML dump), where present."""
    try:
        data = yaml.safe_load(cfg) if isinstance(cfg, str) else None
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        return {}
    slowfast, dataset = data.get("SLOWFAST") or {}, data.get("DATA") or {}
    found = {
        "alpha": slowfast.get("ALPHA"),
        "frames": dataset.get("NUM_FRAMES"),
        "crop": dataset.get("TEST_CROP_SIZE"),
        "mean": dataset.get("MEAN"),
        "std": dataset.get("STD"),
    }
    return {key: value for key, value in found.items() if value is not None}


def _foreign_state(path: Path, payload: Any) -> dict[str, Tensor]:
    """The state dict of a pytorchvideo/PySlowFast file (`{"model_state": ...}`) or of a bare one."""
    state = (
        payload.get("model_state") if isinstance(payload, Mapping) and "model_state" in payload else payload
    )
    if _is_state_dict(state):
        return keymap.strip_wrapper_prefix(state)
    if state is not payload:
        found = "a 'model_state' that is not a state dict"
    elif isinstance(payload, Mapping):
        found = f"a dict with keys {sorted(map(str, payload))[:6]}"
    else:
        found = f"a {type(payload).__name__}"
    raise _fail(path, f"it holds {found}, not a model state dict")


def _load_foreign(path: Path, payload: Any, sha: str) -> tuple[SlowFast, RecognizerSpec]:
    state = _foreign_state(path, payload)
    layout = keymap.detect_layout(state)
    if layout is None:
        raise _fail(
            path,
            f"its {len(state)} tensors (first: {next(iter(state))}) are neither pytorchvideo's SlowFast "
            "(blocks.0.multipathway_blocks...) nor PySlowFast's (s1.pathway0_stem...)",
        )
    geometry = _pyslowfast_geometry(payload.get("cfg")) if isinstance(payload, Mapping) else {}
    state = keymap.rename(state, layout)
    try:
        config = keymap.infer_config(
            state, **{k: geometry[k] for k in ("alpha", "frames", "crop") if k in geometry}
        )
        spec = RecognizerSpec(
            arch=config,
            labels=placeholder_labels(config.num_classes),
            provenance=Provenance(str(path), layout, sha),
            mean=tuple(geometry.get("mean", KINETICS_MEAN)),
            std=tuple(geometry.get("std", KINETICS_STD)),
        )
    except (TypeError, ValueError) as error:
        raise _fail(
            path, f"this {layout} state dict is not a SlowFast FallWatch can build: {error}"
        ) from None
    return _build_and_load(path, config, state, layout), spec


def load_checkpoint(
    path: str | os.PathLike[str], *, device: str | torch.device = "cpu"
) -> tuple[SlowFast, RecognizerSpec]:
    """The model (in eval mode, on `device`) and its spec from a FallWatch, pytorchvideo or PySlowFast file.

    Raises FallWatchError, one line naming the file, for anything that is not such a checkpoint.
    """
    path = Path(path)
    payload = _read(path)
    sha = sha256_of(path)
    if isinstance(payload, Mapping) and "format" in payload:
        if payload["format"] != FORMAT:
            raise _fail(path, f"its format is {payload['format']!r}, not {FORMAT!r}")
        model, spec = _load_fallwatch(path, payload, sha)
    else:
        model, spec = _load_foreign(path, payload, sha)
    return model.to(device), spec


def _payload(model: SlowFast, spec: RecognizerSpec, half: bool) -> dict[str, Any]:
    if model.config != spec.arch:
        raise ValueError(f"the model is {model.config} but the spec describes {spec.arch}")
    if any(isinstance(m, ConvBnAct) and m.folded for m in model.modules()):
        raise ValueError("this model was prepared for inference (norms folded away); save the unfolded model")
    origin = spec.derived_from or (spec.provenance if spec.provenance.sha256 else None)
    state = {
        key: (value.half() if half and value.is_floating_point() else value).detach().cpu().clone()
        for key, value in model.state_dict().items()
    }
    return {
        "format": FORMAT,
        "version": VERSION,
        "arch": spec.arch.to_dict(),
        "labels": list(spec.labels),
        "mean": list(spec.mean),
        "std": list(spec.std),
        "derived_from": origin.to_dict() if origin else None,
        "torch": str(torch.__version__),  # a str subclass that weights_only refuses to unpickle
        "state_dict": state,
    }


def save_checkpoint(
    model: SlowFast, spec: RecognizerSpec, path: str | os.PathLike[str], *, half: bool = False
) -> Path:
    """Write a FallWatch checkpoint atomically: to a temporary name beside `path`, then renamed over it, so a
    crash never leaves a half-written file where a model is expected. `half` stores weights as float16 (half
    the size; they load back as float32)."""
    path = Path(path)
    payload = _payload(model, spec, half)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
