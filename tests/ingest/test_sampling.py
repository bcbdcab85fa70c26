import numpy as np
import pytest

from fallwatch.ingest.sampling import AdaptiveRate, RateSampler


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


def test_a_new_rate_spaces_the_next_frames_at_it() -> None:
    sampler = RateSampler(10)
    times = [i / 30 for i in range(300)]
    kept = [t for t in times[:30] if sampler.keep(t)]
    sampler.set_rate(2)
    kept_after = [t for t in times[30:] if sampler.keep(t)]
    assert len(kept) == 10
    assert np.diff(kept_after).min() >= 0.5 - 1e-9 and np.diff(kept_after).max() <= 0.5 + 1 / 30 + 1e-9


def test_adaptive_rate_decreases_multiplicatively_and_recovers_additively() -> None:
    rate = AdaptiveRate(10)
    assert rate.update(backlogged=True, headroom=False) == pytest.approx(7.0)
    assert rate.update(backlogged=True, headroom=False) == pytest.approx(4.9)
    assert rate.update(backlogged=False, headroom=False) == pytest.approx(4.9)  # neither: hold
    assert rate.update(backlogged=False, headroom=True) == pytest.approx(5.4)
    for _ in range(20):
        rate.update(backlogged=False, headroom=True)
    assert rate.fps == 10 and not rate.lowered  # never above the configured rate


def test_adaptive_rate_has_a_floor() -> None:
    rate = AdaptiveRate(10)
    for _ in range(50):
        rate.update(backlogged=True, headroom=False)
    assert rate.fps == pytest.approx(10 * AdaptiveRate.FLOOR) and rate.lowered


def test_cameras_sharing_a_slow_loop_converge_to_equal_rates() -> None:
    # Two cameras, one started at the full rate and one already lowered, share a loop that analyses 6 frames a
    # second in all; each tick, when their sum exceeds it both queues back up. AIMD brings them together.
    cameras = [AdaptiveRate(10), AdaptiveRate(10)]
    cameras[1].fps = 1.0
    history = []
    for _ in range(300):
        backlogged = sum(c.fps for c in cameras) > 6
        for camera in cameras:
            camera.update(backlogged=backlogged, headroom=not backlogged)
        history.append([c.fps for c in cameras])
    late = np.array(history[-50:])
    assert abs(late[:, 0].mean() - late[:, 1].mean()) < 0.2
    assert 3.5 < late.sum(axis=1).mean() <= 6.5  # close under what the loop can do, never far over
