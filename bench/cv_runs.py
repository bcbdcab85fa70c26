"""The cross-validation runs the bench scripts read: each a finished `fallwatch train --cv-only` folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def cv_reports(runs: list[Path]) -> list[dict[str, Any]] | None:
    """Each run's cv.json, or None after one line on stderr naming the first run without one."""
    missing = [run for run in runs if not (run / "cv.json").is_file()]
    if missing:
        print(
            f"{missing[0]}: no cv.json (expected a finished `fallwatch train --cv-only` run)", file=sys.stderr
        )
        return None
    return [json.loads((run / "cv.json").read_text()) for run in runs]
