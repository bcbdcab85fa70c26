"""Box geometry the alert engine measures people by."""

from __future__ import annotations

from fallwatch.alerts.zones import longer_side


def test_longer_side_is_the_box_scale_standing_or_lying() -> None:
    assert longer_side((10.0, 20.0, 50.0, 200.0)) == 180.0  # standing: the height
    assert longer_side((10.0, 20.0, 200.0, 60.0)) == 190.0  # lying: the width
    assert longer_side((5.0, 5.0, 5.0, 5.0)) == 1.0  # a degenerate box still divides
