from fallwatch.core.types import Box, Track
from fallwatch.detectors.quality import single_person_quality


def _t(track_id: int, box: Box, missed: int = 0) -> Track:
    return Track("cam", track_id, box, 0.9, None, age=1, hits=1, missed=missed)


PERSON: Box = (100, 100, 140, 200)
FLOOR: Box = (80, 170, 200, 200)
POSTER: Box = (500, 50, 540, 150)


def test_counts_frames_from_first_confirmed_track() -> None:
    q = single_person_quality([[], [], [_t(1, PERSON)], [_t(1, PERSON, missed=1)], [], [_t(1, FLOOR)]])
    assert (q.first_frame, q.frames, q.covered, q.detected) == (2, 4, 3, 2)
    assert q.coverage == 0.75 and q.detected_coverage == 0.5 and q.id_switches == 0


def test_a_new_id_where_the_person_was_is_a_switch() -> None:
    q = single_person_quality([[_t(1, PERSON)], [_t(1, PERSON)], [_t(2, FLOOR)], [_t(2, FLOOR)]])
    assert q.id_switches == 1 and q.ids == (1, 2) and q.coverage == 1.0


def test_another_track_far_away_is_not_the_person() -> None:
    q = single_person_quality([[_t(1, PERSON)], [_t(3, POSTER)], [_t(1, PERSON), _t(3, POSTER)]])
    assert q.id_switches == 0 and q.covered == 2


def test_no_track_at_all() -> None:
    q = single_person_quality([[], []])
    assert q.frames == 0 and q.coverage == 0.0 and q.first_frame is None
