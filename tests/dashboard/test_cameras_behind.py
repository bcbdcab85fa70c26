"""The Cameras page says plainly when a camera is seen too rarely: a red Behind badge and the rate analysed."""

from __future__ import annotations

from fallwatch.alerts.records import CameraState
from tests.dashboard.conftest import CAMERA, Site, signed_in, texts


def test_a_camera_behind_shows_a_behind_badge_and_its_analysed_rate(site: Site) -> None:
    with site.store() as store:
        store.cameras.report(
            CAMERA, CameraState.BEHIND, 1.2, 0, 0, detail="analysing 1.2 of 10 fps (minimum 2)"
        )
    at = signed_in()
    at.switch_page("views/cameras.py").run()
    assert not at.exception, at.exception
    said = texts(at)
    assert f"**{CAMERA}** :red-badge[Behind]" in said
    assert any("behind: analysing 1.2 of 10 fps (minimum 2)" in error.value for error in at.error)
    assert ("fps", "1.2") in {(m.label, m.value) for m in at.metric}
