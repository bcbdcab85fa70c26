"""Incident identity does not hang on a run's start second: two runs of one second once merged their incidents."""

from __future__ import annotations

from fallwatch.app.run_command import run_id


def test_two_runs_started_in_the_same_second_never_share_a_key_prefix() -> None:
    first, second = run_id("ward-a"), run_id("ward-a")
    assert first != second  # the old prefix was the start time to the second only
    assert first.split("/")[1][:16] == second.split("/")[1][:16]  # the same second, told apart all the same
    # The worker's name leads: every stored event says which worker wrote it.
    assert first.startswith("ward-a/") and first.endswith("/")
