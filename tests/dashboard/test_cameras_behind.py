"""The Cameras page says plainly when a camera is seen too rarely (a red Behind badge and the rate analysed), and
which worker analyses it."""

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


def test_each_camera_says_which_worker_holds_it_and_since_when(site: Site) -> None:
    with site.store() as store:
        store.cameras.report(CAMERA, CameraState.CONNECTED, 9.8, 0, 0)
        store.leases.register("ward-worker-2", "node-7", 4242, 0, 9108, lease_s=60)
        store.leases.ensure([CAMERA])
        store.leases.claim("ward-worker-2", [CAMERA], 1, lease_s=60)
    at = signed_in()
    at.switch_page("views/cameras.py").run()
    assert not at.exception, at.exception
    assert "\nWorker `ward-worker-2` since " in texts(at), texts(at)
    with site.store() as store:
        store.leases.stop("ward-worker-2")  # drained and gone: the camera waits for another worker
    at.run()
    assert ":orange[No worker holds it now]" in texts(at), texts(at)
