import numpy as np
import pytest

from fallwatch.ingest.sampling import RateSampler


@pytest.mark.parametrize(
    ("source_fps", "expected_kept"), [(30, 100), (29.97, 100), (15, 100), (10, 100), (7.5, 75)]
)
def test_keeps_about_the_target_rate(source_fps: float, expected_kept: int) -> None:
    sampler = RateSampler(10)
    kept = [i / source_fps for i in range(int(source_fps * 10)) if sampler.keep(i / source_fps)]
    assert len(kept) == expected_kept
    # No gap longer than one period plus one source frame, and none shorter than one source frame.
    gaps = np.diff(kept)
    assert gaps.max() <= 0.1 + 1 / source_fps + 1e-9
    assert gaps.min() >= 1 / source_fps - 1e-9


def test_variable_frame_rate_is_sampled_on_timestamps() -> None:
    # 15 fps for two seconds, then 30 fps for two seconds, as in some GMDCSA24 clips.
    times = [i / 15 for i in range(30)] + [2 + i / 30 for i in range(60)]
    sampler = RateSampler(10)
    kept = [t for t in times if sampler.keep(t)]
    assert 38 <= len(kept) <= 41


def test_a_jump_backwards_restarts_the_grid() -> None:
    sampler = RateSampler(10)
    assert sampler.keep(5.0)
    assert sampler.keep(0.0)  # e.g. a stream that restarted its clock
    assert not sampler.keep(0.03)


def test_rejects_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        RateSampler(0)
