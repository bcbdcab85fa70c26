"""Grouped folds on the real manifest's groups: a group is never split, and the split is seeded."""

from __future__ import annotations

import pytest

from fallwatch.core.manifest import ManifestEntry
from fallwatch.training.folds import grouped_folds


def test_folds_never_split_a_group_and_cover_every_clip(manifest: list[ManifestEntry]) -> None:
    groups = [e.group for e in manifest]
    folds = grouped_folds(groups, 4, seed=0, positives=[e.is_fall for e in manifest])
    assert len(folds) == 4
    held = sorted(i for f in folds for i in f.test)
    assert held == list(range(len(manifest)))  # every clip held out exactly once
    for fold in folds:
        assert set(fold.train).isdisjoint(fold.test)
        assert len(fold.train) + len(fold.test) == len(manifest)
        train_groups = {groups[i] for i in fold.train}
        test_groups = {groups[i] for i in fold.test}
        assert train_groups.isdisjoint(test_groups)
        assert set(fold.test_groups) == test_groups


def test_folds_are_seeded(manifest: list[ManifestEntry]) -> None:
    groups = [e.group for e in manifest]
    first = grouped_folds(groups, 4, seed=3)
    assert grouped_folds(groups, 4, seed=3) == first
    others = {tuple(f.test_groups for f in grouped_folds(groups, 4, seed=s)) for s in range(6)}
    assert len(others) > 1  # the seed changes which groups go together


def test_folds_refuse_impossible_splits() -> None:
    with pytest.raises(ValueError, match="at least 2 folds"):
        grouped_folds(["a", "b"], 1)
    with pytest.raises(ValueError, match="3 folds need at least 3 groups"):
        grouped_folds(["a", "a", "b"], 3)
