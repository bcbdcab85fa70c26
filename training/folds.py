"""Seeded K-fold splits that keep every group (`subject_or_scene`) on one side.

Groups are shuffled with the seed, then placed largest first into the fold that has the fewest clips so far
(ties: the fewest falls, then the lowest fold number), so folds come out about equally large and a fold's
held-out clips never share a subject or a scene with its training clips.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fold:
    index: int
    train: tuple[int, ...]  # item indices
    test: tuple[int, ...]
    test_groups: tuple[str, ...]


def grouped_folds(
    groups: Sequence[str], k: int, seed: int = 0, positives: Sequence[bool] | None = None
) -> list[Fold]:
    """`k` folds over items labelled with `groups`; `positives` (e.g. is-a-fall) helps balance the folds."""
    distinct = sorted(set(groups))
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    if k > len(distinct):
        raise ValueError(f"{k} folds need at least {k} groups, got {len(distinct)}")
    if positives is not None and len(positives) != len(groups):
        raise ValueError(f"positives has {len(positives)} items, groups {len(groups)}")
    members: dict[str, list[int]] = {g: [] for g in distinct}
    for index, group in enumerate(groups):
        members[group].append(index)
    rng = random.Random(seed)
    rng.shuffle(distinct)
    distinct.sort(key=lambda g: len(members[g]), reverse=True)  # stable: equal sizes keep the seeded order
    assigned: list[list[str]] = [[] for _ in range(k)]
    sizes, falls = [0] * k, [0] * k
    for group in distinct:
        target = min(range(k), key=lambda f: (sizes[f], falls[f], f))
        assigned[target].append(group)
        sizes[target] += len(members[group])
        falls[target] += sum(1 for i in members[group] if positives is not None and positives[i])
    folds = []
    for index, fold_groups in enumerate(assigned):
        held = set(fold_groups)
        test = tuple(sorted(i for g in fold_groups for i in members[g]))
        train = tuple(i for i, g in enumerate(groups) if g not in held)
        folds.append(Fold(index, train, test, tuple(sorted(fold_groups))))
    return folds
