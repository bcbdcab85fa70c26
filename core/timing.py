"""Per-stage time accounting, for progress lines, metrics and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageTimer:
    """Accumulates wall seconds and call counts per stage name."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float, calls: int = 1) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + calls

    def mean_ms(self, name: str, per: int | None = None) -> float:
        """Mean milliseconds per call, or per `per` items (frames) when given."""
        count = per if per is not None else self.calls.get(name, 0)
        return 1000.0 * self.seconds.get(name, 0.0) / count if count else 0.0
