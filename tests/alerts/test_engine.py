"""The alert engine on tables of timed predictions: what opens, escalates, recovers and closes, and when."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from fallwatch.alerts.engine import AlertEngine, LeftIncident, events
from fallwatch.alerts.zones import CameraZones, Zone, ZoneKind
from fallwatch.core.config import AlertsConfig
from fallwatch.core.types import Box, EventKind, Motion, Prediction, Severity

N = {"normal": 0.9, "falling": 0.05, "lying": 0.05}
F = {"normal": 0.05, "falling": 0.9, "lying": 0.05}
L = {"normal": 0.05, "falling": 0.05, "lying": 0.9}
STANDING: Box = (100.0, 100.0, 160.0, 300.0)
LYING: Box = (80.0, 240.0, 280.0, 300.0)

# The engine's mechanics are tested with these settings (not the shipped defaults, which cross-validation
# chooses and may change): no smoothing, two falling windows to open, lying over 0.6.
MECHANICS = {"smoothing": 1.0, "fall_threshold": 0.6, "fall_windows": 2, "lying_threshold": 0.6}


def mechanics(**fields: object) -> AlertsConfig:
    return AlertsConfig(**{**MECHANICS, **fields})  # type: ignore[arg-type]


Row = tuple[float, int, dict[str, float], Box]
Seen = tuple[EventKind, float, int, Severity]


def series(
    start: float, stop: float, track: int, scores: dict[str, float], box: Box, step: float = 0.5
) -> list[Row]:
    """Predictions every `step` seconds in [start, stop)."""
    count = round((stop - start) / step)
    return [(round(start + i * step, 3), track, scores, box) for i in range(count)]


def run(rows: Iterable[Row], config: AlertsConfig | None = None, **zones: CameraZones) -> list[Seen]:
    engine = AlertEngine(config or mechanics(), zones=zones)
    alerts = []
    for pts, track, scores, box in rows:
        alerts += engine.feed(Prediction("cam", track, pts, scores, box))
    alerts += engine.finish()
    return [(e.kind, e.pts, e.track_id, e.severity) for e in events(alerts)]


def kinds(seen: Sequence[Seen]) -> list[EventKind]:
    return [s[0] for s in seen]


def test_one_falling_window_is_not_a_fall() -> None:
    rows = series(0, 2, 1, N, STANDING) + series(2, 2.5, 1, F, STANDING) + series(2.5, 6, 1, N, STANDING)
    assert run(rows) == []


def test_fall_then_getting_up_opens_recovers_and_closes_after_the_cooldown() -> None:
    rows = (
        series(0, 2, 1, N, STANDING)
        + series(2, 3, 1, F, STANDING)  # falling at 2.0 and 2.5: opens at 2.5
        + series(3, 5, 1, L, LYING)
        + series(5, 20, 1, N, STANDING)  # normal at 5.0 and 5.5: recovered at 5.5
    )
    assert run(rows) == [
        (EventKind.OPENED, 2.5, 1, Severity.WARNING),
        (EventKind.RECOVERED, 5.5, 1, Severity.WARNING),
        (EventKind.CLOSED, 15.5, 1, Severity.WARNING),  # up for cooldown_s (10 s)
    ]


def test_falling_followed_by_lying_opens_and_lying_still_escalates_to_collapse() -> None:
    rows = series(0, 1, 1, N, STANDING) + series(1, 1.5, 1, F, STANDING) + series(1.5, 14, 1, L, LYING)
    assert run(rows) == [
        (EventKind.OPENED, 1.5, 1, Severity.WARNING),
        (EventKind.ESCALATED, 11.5, 1, Severity.CRITICAL),  # still since 1.5, collapse_after_s = 10
        (EventKind.CLOSED, 13.5, 1, Severity.CRITICAL),  # end of stream
    ]


def test_lying_but_moving_does_not_escalate() -> None:
    rows = series(0, 1, 1, F, STANDING)
    for i in range(40):  # crawling: the box moves 60 px (0.3 of its 200 px side) every window
        x = 80.0 + 60.0 * (i % 2 if i % 4 < 2 else -(i % 2))
        rows.append((1.0 + 0.5 * i, 1, L, (x, 240.0, x + 200.0, 300.0)))
    assert kinds(run(rows)) == [EventKind.OPENED, EventKind.CLOSED]


def test_escalation_time_is_configurable() -> None:
    rows = series(0, 1, 1, F, STANDING) + series(1, 8, 1, L, LYING)
    seen = run(rows, mechanics(collapse_after_s=3.0))
    assert seen[:2] == [
        (EventKind.OPENED, 0.5, 1, Severity.WARNING),
        (EventKind.ESCALATED, 4.0, 1, Severity.CRITICAL),  # at rest (the lying box) since 1.0
    ]


def test_many_falling_windows_give_one_incident() -> None:
    rows = series(0, 6, 1, F, STANDING) + series(6, 9, 1, N, STANDING)
    assert kinds(run(rows)) == [EventKind.OPENED, EventKind.RECOVERED, EventKind.CLOSED]


def test_a_second_fall_within_the_cooldown_continues_the_same_incident() -> None:
    config = mechanics()
    engine = AlertEngine(config)
    rows = (
        series(0, 1, 1, F, STANDING)
        + series(1, 2, 1, N, STANDING)  # recovered at 1.5
        + series(2, 3, 1, F, STANDING)  # falls again at 2.0: within the cooldown
        + series(3, 15, 1, L, LYING)  # and stays down
    )
    alerts = [a for pts, t, s, b in rows for a in engine.feed(Prediction("cam", t, pts, s, b))]
    seen = events(alerts)
    assert [(e.kind, e.pts) for e in seen] == [
        (EventKind.OPENED, 0.5),
        (EventKind.RECOVERED, 1.5),
        (EventKind.FELL_AGAIN, 2.5),  # told at once, not only if it escalates
        (EventKind.ESCALATED, 13.0),  # lying still since 3.0
    ]
    assert len({e.incident_key for e in seen}) == 1
    assert seen[3].severity is Severity.CRITICAL


def _falls(count: int, gap_s: float, start: float = 0.0) -> list[Row]:
    """`count` times: 1 s falling, 2 s lying, then up (normal) for `gap_s` seconds."""
    rows: list[Row] = []
    for i in range(count):
        t = start + i * (3.0 + gap_s)
        rows += series(t, t + 1, 1, F, STANDING) + series(t + 1, t + 3, 1, L, LYING)
        rows += series(t + 3, t + 3 + gap_s, 1, N, STANDING)
    return rows


def test_each_fall_within_the_cooldown_after_getting_up_is_an_event_of_its_own() -> None:
    engine = AlertEngine(mechanics(cooldown_s=10.0))
    alerts = [
        a for pts, t, s, b in _falls(6, gap_s=4.0) for a in engine.feed(Prediction("cam", t, pts, s, b))
    ]
    seen = events(alerts + engine.finish())
    assert [e.kind for e in seen] == [
        EventKind.OPENED,
        EventKind.RECOVERED,
        *[EventKind.FELL_AGAIN, EventKind.RECOVERED] * 5,
        EventKind.CLOSED,
    ]
    assert len({e.incident_key for e in seen}) == 1  # one incident: every fall came within the cooldown
    fell = [e.pts for e in seen if e.kind in (EventKind.OPENED, EventKind.FELL_AGAIN)]
    assert fell == [0.5 + 7.0 * i for i in range(6)]  # each at its second falling window
    assert all(e.score == pytest.approx(0.9) for e in seen if e.kind is EventKind.FELL_AGAIN)


def test_falls_further_apart_than_the_cooldown_are_incidents_of_their_own() -> None:
    engine = AlertEngine(mechanics(cooldown_s=3.0))
    alerts = [
        a for pts, t, s, b in _falls(4, gap_s=5.0) for a in engine.feed(Prediction("cam", t, pts, s, b))
    ]
    seen = events(alerts + engine.finish())
    assert [e.kind for e in seen] == [EventKind.OPENED, EventKind.RECOVERED, EventKind.CLOSED] * 4
    opened = [e for e in seen if e.kind is EventKind.OPENED]
    assert len({e.incident_key for e in opened}) == 4


def test_a_collapse_that_got_up_and_fell_again_is_told_and_escalates_again() -> None:
    rows = series(0, 1, 1, F, STANDING) + series(1, 13, 1, L, LYING) + series(13, 15, 1, N, STANDING)
    rows += series(15, 16, 1, F, STANDING) + series(16, 28, 1, L, LYING)
    assert run(rows) == [
        (EventKind.OPENED, 0.5, 1, Severity.WARNING),
        (EventKind.ESCALATED, 11.0, 1, Severity.CRITICAL),
        (EventKind.RECOVERED, 13.5, 1, Severity.CRITICAL),
        (EventKind.FELL_AGAIN, 15.5, 1, Severity.CRITICAL),
        (EventKind.ESCALATED, 26.0, 1, Severity.CRITICAL),  # lying still again since 16.0
        (EventKind.CLOSED, 27.5, 1, Severity.CRITICAL),
    ]


def test_a_reattached_track_that_got_up_and_fell_again_is_told() -> None:
    beside: Box = (84.0, 238.0, 284.0, 302.0)
    rows = series(0, 1, 1, F, STANDING) + series(1, 4, 1, L, LYING)  # opened on track 1, lost after 3.5
    rows += series(7, 9, 2, L, beside) + series(9, 11, 2, N, STANDING)  # track 2 takes it over, gets up
    rows += series(11, 12, 2, F, STANDING) + series(12, 14, 2, L, LYING)  # and falls again
    seen = run(rows)
    assert kinds(seen) == [EventKind.OPENED, EventKind.RECOVERED, EventKind.FELL_AGAIN, EventKind.CLOSED]
    assert [s[2] for s in seen] == [1, 2, 2, 2]


def test_a_fall_on_a_new_id_after_the_old_one_got_up_and_went_away_is_told() -> None:
    rows = series(0, 1, 1, F, STANDING) + series(1, 3, 1, L, LYING) + series(3, 5, 1, N, STANDING)
    rows += series(8, 9, 7, F, STANDING) + series(9, 11, 7, L, LYING)  # the tracker's new id falls
    seen = run(rows)
    # Up and gone: track 1's incident closed when it was lost, so the new fall opens one of its own.
    assert kinds(seen) == [
        EventKind.OPENED,
        EventKind.RECOVERED,
        EventKind.CLOSED,
        EventKind.OPENED,
        EventKind.CLOSED,
    ]
    assert [s[2] for s in seen] == [1, 1, 1, 7, 7]


def test_a_second_fall_after_the_cooldown_is_a_new_incident() -> None:
    config = mechanics(cooldown_s=2.0)
    engine = AlertEngine(config)
    rows = series(0, 1, 1, F, STANDING) + series(1, 5, 1, N, STANDING) + series(5, 6, 1, F, STANDING)
    seen = events(a for pts, t, s, b in rows for a in engine.feed(Prediction("cam", t, pts, s, b)))
    assert [e.kind for e in seen] == [
        EventKind.OPENED,
        EventKind.RECOVERED,
        EventKind.CLOSED,
        EventKind.OPENED,
    ]
    assert seen[0].incident_key != seen[3].incident_key


def test_a_track_lost_and_found_nearby_continues_the_incident() -> None:
    rows = (
        series(0, 1, 1, F, STANDING)  # opened at 0.5 on track 1
        + series(1, 4, 1, L, LYING)  # then lost after 3.5
        + series(7, 14, 2, L, (84.0, 238.0, 284.0, 302.0))  # a new id where track 1 lay, 3.5 s later
    )
    assert run(rows) == [
        (EventKind.OPENED, 0.5, 1, Severity.WARNING),
        # At rest since 1.0: the collapse timer ran on through the gap between the two ids.
        (EventKind.ESCALATED, 11.0, 2, Severity.CRITICAL),
        (EventKind.CLOSED, 13.5, 2, Severity.CRITICAL),
    ]


def test_a_new_id_while_the_old_one_is_silent_takes_over_instead_of_opening_again() -> None:
    rows = series(0, 1, 1, F, STANDING) + series(1, 3, 1, L, LYING)
    rows += series(3, 4, 2, F, (84.0, 238.0, 284.0, 302.0)) + series(4, 12, 2, L, LYING)
    seen = run(rows)
    assert kinds(seen) == [EventKind.OPENED, EventKind.ESCALATED, EventKind.CLOSED]
    assert [s[2] for s in seen] == [1, 2, 2]


def test_a_lost_track_with_no_successor_closes_after_reattach_time() -> None:
    rows = series(0, 1, 1, F, STANDING) + series(1, 3, 1, L, LYING)
    rows += series(3, 12, 5, N, (500.0, 100.0, 560.0, 300.0))  # someone else, far away
    seen = run(rows)
    assert seen[0] == (EventKind.OPENED, 0.5, 1, Severity.WARNING)
    assert seen[1][:3] == (EventKind.CLOSED, 8.0, 1)  # last seen 2.5, + reattach_s 5, seen at the next window
    assert len(seen) == 2


def test_rest_zone_allows_lying_down_and_ignore_zone_drops_predictions() -> None:
    bed = Zone("bed", ZoneKind.REST, ((0.0, 200.0), (400.0, 200.0), (400.0, 400.0), (0.0, 400.0)))
    tv = Zone("tv", ZoneKind.IGNORE, ((0.0, 0.0), (400.0, 0.0), (400.0, 200.0), (0.0, 200.0)))
    zones = CameraZones((bed, tv))
    lying_down_in_bed = series(0, 1, 1, F, LYING) + series(1, 20, 1, L, LYING)
    falling_on_tv = series(0, 5, 2, F, (100.0, 20.0, 150.0, 120.0))
    assert run(lying_down_in_bed, cam=zones) == []
    assert run(falling_on_tv, cam=zones) == []
    assert kinds(run(lying_down_in_bed)) == [EventKind.OPENED, EventKind.ESCALATED, EventKind.CLOSED]


def test_area_zone_names_the_place() -> None:
    kitchen = Zone("kitchen", ZoneKind.AREA, ((0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0), (0.0, 1000.0)))
    engine = AlertEngine(mechanics(), zones={"cam": CameraZones((kitchen,))})
    alerts = [
        a
        for pts, t, s, b in series(0, 1, 1, F, STANDING)
        for a in engine.feed(Prediction("cam", t, pts, s, b))
    ]
    assert [(a.event.kind, a.zone) for a in alerts] == [(EventKind.OPENED, "kitchen")]
    assert [s.pts for s in alerts[0].samples] == [0.0, 0.5]  # the timeline starts before the incident opened


def test_smoothing_ignores_a_one_window_spike_and_follows_a_sustained_fall() -> None:
    config = mechanics(smoothing=0.5)
    spike = [*series(0, 2, 1, N, STANDING), (2.0, 1, F, STANDING), (2.5, 1, F, STANDING)]
    spike += series(3, 6, 1, N, STANDING)
    sustained = series(0, 2, 1, N, STANDING) + series(2, 5, 1, F, STANDING)
    assert run(spike, config) == []
    # Smoothed falling: 0.475, 0.69, 0.79: the second window above 0.6 opens it.
    assert run(sustained, config)[0][:2] == (EventKind.OPENED, 3.0)


def test_same_predictions_give_the_same_incidents_and_run_ids_keep_keys_apart() -> None:
    rows = series(0, 1, 1, F, STANDING) + series(1, 14, 1, L, LYING) + series(14, 30, 1, N, STANDING)

    def keys(run_id: str) -> list[tuple[str, str, float]]:
        engine = AlertEngine(mechanics(), run_id=run_id)
        out = [a for pts, t, s, b in rows for a in engine.feed(Prediction("cam", t, pts, s, b))]
        return [(e.kind.value, e.incident_key, e.pts) for e in events(out + engine.finish())]

    assert keys("a:") == keys("a:")
    assert keys("a:")[0][1].startswith("a:cam/1/") and keys("b:")[0][1].startswith("b:cam/1/")
    assert [k for k, _, _ in keys("a:")] == ["opened", "escalated", "recovered", "closed"]


def test_advance_closes_incidents_of_tracks_that_went_away() -> None:
    engine = AlertEngine(mechanics())
    for pts, t, s, b in series(0, 1, 1, F, STANDING):
        engine.feed(Prediction("cam", t, pts, s, b))
    assert engine.open_incidents() != []
    assert events(engine.advance("cam", 5.0)) == []  # lost, waiting for a successor
    closed = events(engine.advance("cam", 9.0))
    assert [e.kind for e in closed] == [EventKind.CLOSED] and engine.open_incidents() == []


def walking(start: float, stop: float, track: int, scores: dict[str, float], sides_per_s: float) -> list[Row]:
    """A person seen from above, crossing the view at `sides_per_s` of their own (60 px) box a second."""
    rows = []
    for pts, _, _, _ in series(start, stop, track, scores, STANDING):
        x = 100.0 + 60.0 * sides_per_s * pts
        rows.append((pts, track, scores, (x, 100.0, x + 60.0, 160.0)))
    return rows


def test_a_walker_misread_as_falling_opens_nothing_but_the_same_scores_standing_still_do() -> None:
    # From a ceiling camera a walker's box and keypoints can look like a person lying: the model says fall.
    def misread(sides_per_s: float) -> list[Row]:
        return walking(0, 2, 1, N, sides_per_s) + walking(2, 8, 1, F, sides_per_s)

    assert run(misread(2.0)) == []
    assert run(misread(0.0))[0][:2] == (EventKind.OPENED, 2.5)
    assert run(misread(2.0), mechanics(travel_limit=0))[0][:2] == (EventKind.OPENED, 2.5)


def test_a_fall_while_walking_fast_opens_when_the_person_comes_to_rest() -> None:
    rows = walking(0, 2, 1, N, sides_per_s=2.0) + walking(2, 3, 1, F, sides_per_s=2.0)
    x = rows[-1][3][0]
    rows += series(3, 8, 1, L, (x, 100.0, x + 170.0, 160.0))  # down where they fell, lying still
    # Not at the second falling window (2.5 s) while still travelling, nor at the first lying window (the last
    # 1.2 s of path: 0.68 sides a second), but at the second, once the path has slowed to 0.32 sides a second.
    assert run(rows)[0][:2] == (EventKind.OPENED, 3.5)
    assert run(rows, mechanics(travel_limit=0))[0][:2] == (EventKind.OPENED, 2.5)


def test_in_a_crowd_another_persons_fall_is_told_only_if_they_stay_down() -> None:
    far = (400.0, 100.0, 460.0, 300.0)
    far_lying = (380.0, 240.0, 580.0, 300.0)
    rows = series(0, 1, 1, F, STANDING) + series(1, 30, 1, L, LYING)  # person 1 is down all along
    rows += series(2, 3, 2, F, far) + series(3, 4, 2, L, far_lying) + series(4, 30, 2, N, far)  # up at once
    rows += series(5, 6, 3, F, (700.0, 100.0, 760.0, 300.0))  # and a third falls and stays down
    rows += series(6, 30, 3, L, (680.0, 240.0, 880.0, 300.0))
    rows.sort(key=lambda row: (row[0], row[1]))
    seen = run(rows)
    opened = [(t, pts) for kind, pts, t, _ in seen if kind is EventKind.OPENED]
    # Person 2 got up: one told incident (person 1's), not two. Person 3 lay still for collapse_after_s (10 s
    # from 6.0) and is told then, opened and escalated at once.
    assert opened == [(1, 0.5), (3, 16.0)]
    assert [(k, t) for k, pts, t, _ in seen if pts == 16.0] == [
        (EventKind.OPENED, 3),
        (EventKind.ESCALATED, 3),
    ]
    each = run(rows, mechanics(crowd_hold=False))
    assert sorted(t for kind, _, t, _ in each if kind is EventKind.OPENED) == [1, 2, 3]


def run_moving(rows: Iterable[tuple[Row, Motion | None]], config: AlertsConfig) -> list[Seen]:
    """`run`, each prediction with how its tubelet's boxes moved."""
    engine = AlertEngine(config)
    alerts = []
    for (pts, track, scores, box), motion in rows:
        alerts += engine.feed(Prediction("cam", track, pts, scores, box, motion))
    alerts += engine.finish()
    return [(e.kind, e.pts, e.track_id, e.severity) for e in events(alerts)]


STILL = Motion(descent=0.0, speed=0.0)
CAME_DOWN = Motion(descent=0.6, speed=0.3)


def test_a_fall_whose_box_never_came_down_opens_nothing_with_min_descent() -> None:
    # Sit-ups on a mat, a person lying on a bed: the network says falling, the box's top stays where it was.
    def rows(fall: Motion | None) -> list[tuple[Row, Motion | None]]:
        before = [(row, STILL) for row in series(0, 2, 1, N, STANDING)]
        falling = [(row, fall) for row in series(2, 3, 1, F, STANDING)]
        return before + falling + [(row, STILL) for row in series(3, 8, 1, L, LYING)]

    gated = mechanics(min_descent=0.3)
    assert run_moving(rows(STILL), gated) == []
    assert run_moving(rows(CAME_DOWN), gated)[0][:2] == (EventKind.OPENED, 2.5)
    assert run_moving(rows(None), gated)[0][:2] == (EventKind.OPENED, 2.5)  # not known: no evidence against
    assert run_moving(rows(STILL), mechanics(min_descent=0))[0][:2] == (EventKind.OPENED, 2.5)


def test_lying_after_a_descent_within_fall_to_lying_s_still_opens() -> None:
    # One falling window whose box came down, then lying (box still): the descent counts for fall_to_lying_s.
    rows: list[tuple[Row, Motion | None]] = [(row, STILL) for row in series(0, 2, 1, N, STANDING)]
    rows += [(row, CAME_DOWN) for row in series(2, 2.5, 1, F, STANDING)]
    rows += [(row, STILL) for row in series(2.5, 10, 1, L, LYING)]
    assert run_moving(rows, mechanics(min_descent=0.3, fall_windows=3))[0][:2] == (EventKind.OPENED, 2.5)
    late = [(row, STILL) for row in series(0, 2, 1, N, STANDING)]
    late += [(row, CAME_DOWN) for row in series(2, 2.5, 1, N, STANDING)]  # came down 4 s before any fall
    late += [(row, STILL) for row in series(6, 6.5, 1, F, STANDING) + series(6.5, 10, 1, L, LYING)]
    assert run_moving(late, mechanics(min_descent=0.3, fall_windows=3)) == []


def test_a_walker_on_a_new_track_is_held_back_by_the_tubelets_own_speed() -> None:
    # A track's first tubelets come with no path of predictions behind them: the tubelet's motion tells.
    def rows(speed: float) -> list[tuple[Row, Motion | None]]:
        return [(row, Motion(0.5, speed)) for row in series(0, 6, 1, F, STANDING)]

    assert run_moving(rows(2.0), mechanics(travel_limit=0.6)) == []
    assert run_moving(rows(0.3), mechanics(travel_limit=0.6))[0][:2] == (EventKind.OPENED, 0.5)
    assert run_moving(rows(2.0), mechanics(travel_limit=0))[0][:2] == (EventKind.OPENED, 0.5)


def test_in_a_crowd_of_crowd_size_people_a_fall_is_told_only_once_the_person_stays_down() -> None:
    walkers: list[Row] = []
    for track in range(2, 6):  # four people walking about, read as normal
        walkers += walking(0, 30, track, N, sides_per_s=0.2)
    faller = series(0, 3, 1, N, STANDING) + series(3, 4, 1, F, STANDING) + series(4, 30, 1, L, LYING)
    rows = sorted(walkers + faller, key=lambda row: (row[0], row[1]))
    crowd = mechanics(crowd_size=5, travel_limit=0)
    opened = [(kind, pts) for kind, pts, track, _ in run(rows, crowd) if track == 1][:2]
    # Five people tracked: followed silently from 3.5 s, told at 14.0 (down and still from 4.0 for 10 s).
    assert opened == [(EventKind.OPENED, 14.0), (EventKind.ESCALATED, 14.0)]
    assert run(rows, mechanics(crowd_size=6, travel_limit=0))[0][:2] == (EventKind.OPENED, 3.5)
    assert run(rows, mechanics(crowd_size=0, travel_limit=0))[0][:2] == (EventKind.OPENED, 3.5)


def test_a_held_fall_that_got_up_does_not_swallow_the_persons_next_fall() -> None:
    # Person 2 falls while person 1's incident is followed (held), gets up; person 1's incident ends; person 2
    # falls again within the cooldown. A held incident used to be kept through the cooldown, so the new fall
    # was a silent "fell again" of an incident never told: told only at the collapse, 10 s late (never, had
    # they got up again).
    far, far_lying = (400.0, 100.0, 460.0, 300.0), (380.0, 240.0, 580.0, 300.0)
    rows = series(0, 1, 1, F, STANDING) + series(1, 3, 1, L, LYING) + series(3, 30, 1, N, STANDING)
    rows += series(1, 2, 2, F, far) + series(2, 9, 2, L, far_lying) + series(9, 15, 2, N, far)
    rows += series(15, 16, 2, F, far) + series(16, 30, 2, L, far_lying)
    rows.sort(key=lambda row: (row[0], row[1]))
    opened = [(t, pts) for kind, pts, t, _ in run(rows) if kind is EventKind.OPENED]
    assert opened == [(1, 0.5), (2, 15.5)]  # person 1's incident closed at 13.5 (up at 3.5, cooldown 10 s)


def test_a_held_fall_is_not_among_the_open_incidents() -> None:
    engine = AlertEngine(mechanics())
    for pts, t, s, b in series(0, 1, 1, F, STANDING) + series(2, 3, 2, F, (400.0, 100.0, 460.0, 300.0)):
        engine.feed(Prediction("cam", t, pts, s, b))
    assert len(engine.open_incidents()) == 1 and engine.busy_cameras() == {"cam"}


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        (((0.0, 0.0), (1.0, 1.0)), "at least 3 points"),
        (((0.0, 0.0), (1.0, 1.0), (2.0, 2.0)), "enclose an area"),
        (((0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0)), "must not cross"),
    ],
)
def test_invalid_zone_polygons_are_refused(points: tuple[tuple[float, float], ...], expected: str) -> None:
    from fallwatch.core.errors import FallWatchError

    with pytest.raises(FallWatchError, match=expected):
        Zone("door", ZoneKind.IGNORE, points)


# --- incidents carried over from another worker -----------------------------------------------------------------


def carried(rows: Iterable[Row], severity: Severity = Severity.WARNING, *, follow: bool = True,
            config: AlertsConfig | None = None) -> list[tuple[EventKind, float, str, int]]:  # fmt: skip
    """Rows fed to an engine that carries over one incident left on 'cam' near LYING."""
    engine = AlertEngine(config or mechanics(collapse_after_s=5.0, carry_over_wait_s=10.0), run_id="w-b/")
    engine.carry_over("cam", LeftIncident("w-a/cam/3/12.000", 3, None, severity, LYING), follow=follow)
    alerts = engine.advance("cam", 0.0)  # the camera's first frame here
    for pts, track, scores, box in rows:
        alerts += engine.feed(Prediction("cam", track, pts, scores, box))
    alerts += engine.finish()
    return [(e.kind, e.pts, e.incident_key, e.track_id) for e in events(alerts)]


def test_a_person_still_down_where_an_incident_was_left_escalates_it() -> None:
    # The worker that opened the incident was killed before the collapse: its successor tells it.
    seen = carried(series(3, 12, 7, L, LYING))
    assert seen[0] == (EventKind.ESCALATED, 8.0, "w-a/cam/3/12.000", 7)  # down and still from 3 s, for 5 s
    assert [k for k, *_ in seen] == [EventKind.ESCALATED, EventKind.CLOSED]
    assert {key for _, _, key, _ in seen} == {"w-a/cam/3/12.000"}  # no incident of its own


def test_a_carried_over_incident_already_escalated_is_not_escalated_again() -> None:
    seen = carried(series(3, 12, 7, L, LYING) + series(12, 16, 7, N, LYING), Severity.CRITICAL)
    assert [k for k, *_ in seen] == [EventKind.RECOVERED, EventKind.CLOSED]


def test_a_person_standing_near_does_not_take_a_carried_over_incident() -> None:
    # A carer walking in beside the place must not make the incident theirs (and "recover" it).
    seen = carried(series(3, 14, 8, N, LYING))
    assert seen == [(EventKind.CLOSED, 10.5, "w-a/cam/3/12.000", 3)]  # waited 10 s from the first frame


def test_a_carried_over_incident_nobody_takes_closes_after_the_wait() -> None:
    seen = carried(series(3, 14, 9, L, (400.0, 240.0, 600.0, 300.0)))  # down, but far away: another person
    assert seen == [(EventKind.CLOSED, 10.5, "w-a/cam/3/12.000", 3)]


def test_an_old_incident_left_in_progress_is_only_closed() -> None:
    seen = carried(series(3, 12, 7, L, LYING), follow=False)
    assert seen == [(EventKind.CLOSED, 0.0, "w-a/cam/3/12.000", 3)]


def test_a_fall_seen_near_a_carried_over_incident_is_told_as_its_own() -> None:
    # The person may have got up while no worker watched: a fall seen here must not vanish into the old incident.
    seen = carried(series(3, 5, 4, N, STANDING) + series(5, 6, 4, F, STANDING) + series(6, 14, 4, L, LYING))
    opened = [s for s in seen if s[0] is EventKind.OPENED]
    assert len(opened) == 1 and opened[0][2].startswith("w-b/cam/4/")
    assert (EventKind.CLOSED, 10.5, "w-a/cam/3/12.000", 3) in seen  # the old one waited, then closed


def test_a_stop_leaves_an_incident_whose_person_is_down_for_the_next_worker() -> None:
    engine = AlertEngine(mechanics(cooldown_s=30.0, crowd_hold=False))  # two people, both told
    rows = series(0, 2, 1, N, STANDING) + series(2, 3, 1, F, STANDING) + series(3, 6, 1, L, LYING)  # down
    rows += series(0, 2, 2, N, STANDING) + series(2, 3, 2, F, STANDING) + series(3, 5, 2, N, STANDING)  # up
    alerts = []
    for pts, track, scores, box in sorted(rows, key=lambda r: (r[0], r[1])):
        alerts += engine.feed(Prediction("cam", track, pts, scores, box))
    assert [(e.kind, e.track_id) for e in events(alerts)].count((EventKind.RECOVERED, 2)) == 1
    closed = [(e.kind, e.track_id) for e in events(engine.finish(leave_down=True))]
    assert closed == [(EventKind.CLOSED, 2)]  # the one who got up; the one still down stays in progress
