"""The dashboard in a real browser: `fallwatch dashboard` on a free loopback port, headless Chromium (Debian's,
driven by Playwright): refused without sign-in, refused with a wrong password, then an operator signs in, opens
an incident, acknowledges it with a note, and the database shows the change and who made it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fallwatch.alerts.records import Status
from tests.dashboard.browser import ARGS, CHROMIUM, SECRET, WAIT_MS, need_chromium, running_dashboard
from tests.dashboard.conftest import NURSE, NURSE_PASSWORD, REPO, Site

ARTIFACT = REPO / "test-artifacts" / "dashboard.png"

pytestmark = pytest.mark.slow


@pytest.fixture
def dashboard(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`fallwatch dashboard` as a user starts it, on a free port, with a session secret; its URL."""
    monkeypatch.setenv("FALLWATCH_DASHBOARD_SECRET", SECRET)
    with running_dashboard(site, tmp_path / "dashboard.log") as url:
        yield url


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_an_operator_signs_in_and_acknowledges_an_incident_in_chromium(dashboard: str, site: Site) -> None:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})

        # Straight to an incident without signing in: the sign-in form, and no picture or video at all.
        page.goto(f"{dashboard}/incident?id=1")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
        assert page.locator("img, video").count() == 0
        assert page.get_by_text("Scores over time").count() == 0

        page.get_by_label("User name").fill(NURSE)
        page.get_by_label("Password", exact=True).fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong user name or password.")).to_be_visible(timeout=WAIT_MS)
        assert page.get_by_text("Needs attention").count() == 0

        # Signed in, the link asked for at first opens: incident 1. Back to the list from there.
        page.get_by_label("Password", exact=True).fill(NURSE_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="#1 · Collapse on ward-1")).to_be_visible(timeout=WAIT_MS)
        page.get_by_role("button", name="All incidents").click()
        expect(page.get_by_text("Needs attention")).to_be_visible(timeout=WAIT_MS)
        card = page.locator('[class*="st-key-fw-critical-1"]')
        expect(card.get_by_text("Collapse on ward-1")).to_be_visible(timeout=WAIT_MS)
        expect(card.locator("img")).to_be_visible(timeout=WAIT_MS)  # the snapshot thumbnail

        card.get_by_role("link", name="Open incident").click()
        expect(page.get_by_text("Scores over time")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("video")).to_have_count(1, timeout=WAIT_MS)
        expect(page.get_by_text("with the person's box")).to_be_visible(timeout=WAIT_MS)
        page.get_by_label("Note (optional)").fill("Resident on the floor by the bed; helped up, no injury")
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_text(f"Incident #1 acknowledged by {NURSE}.").first).to_be_visible(timeout=WAIT_MS)
        page.wait_for_timeout(1500)  # let the chart and the video settle for the picture
        ARTIFACT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACT), full_page=True)

        # The session cookie keeps the sign-in across a reload; signing out ends it for good.
        page.reload()
        expect(page.get_by_role("heading", name="#1 · Collapse on ward-1")).to_be_visible(timeout=WAIT_MS)
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
        page.reload()  # the session ended in the store: the cookie, cleared or not, signs no one in
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
        assert page.locator("img, video").count() == 0
        browser.close()

    with site.store() as store:
        incident = store.incidents.get(1)
        changes = store.incidents.changes(1)
    assert incident.status in (Status.ACKNOWLEDGED, Status.RESOLVED)  # resolved at once: the person got up
    assert incident.updated_by == NURSE and "helped up, no injury" in incident.notes
    [decision] = [c for c in changes if c.field == "status" and c.by == NURSE]
    assert decision.old == Status.OPEN.value and decision.note is not None and "no injury" in decision.note


def test_media_files_are_not_served_by_path(dashboard: str, site: Site) -> None:
    """Evidence reaches a browser only inside a signed-in session's page; no URL maps onto the media folder."""
    snapshot = site.evidence.refs.snapshot
    assert snapshot is not None
    for path in (f"/media/{snapshot}", f"/app/static/{snapshot}", f"/{snapshot}", "/media/../fallwatch.yaml"):
        status, body = _get(dashboard + path)
        assert not body.startswith(b"\xff\xd8"), f"{path} served a JPEG"  # JPEG magic
        assert b"dashboard:" not in body, f"{path} served the settings file"
        assert status in (200, 400, 403, 404)
