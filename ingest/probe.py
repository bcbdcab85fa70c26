"""Measuring a recorded clip: its real frame rate, frame count, size and duration, by decoding it."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path

import av
import av.error


@dataclass(frozen=True, slots=True)
class ClipFacts:
    fps: float  # frames / duration, as falldata measures it
    frames: int
    width: int
    height: int
    duration: float


def probe_clip(path: Path) -> ClipFacts:
    """Decode a clip once to measure it (clips are seconds long, so this is quick); ValueError if unreadable."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            times = [float(frame.time or 0.0) for frame in container.decode(stream)]
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    except (av.error.FFmpegError, IndexError) as exc:
        raise ValueError(f"{path.name}: not a readable video ({exc})") from None
    if not times:
        raise ValueError(f"{path.name}: no frames")
    step = statistics.median(b - a for a, b in itertools.pairwise(times)) if len(times) > 1 else 0.1
    duration = times[-1] - times[0] + step
    return ClipFacts(round(len(times) / duration, 4), len(times), width, height, round(duration, 3))
