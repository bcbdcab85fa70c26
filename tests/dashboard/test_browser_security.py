"""The dashboard's defences in a real browser (issue #13, items 5 to 7), against `fallwatch dashboard` running on
a real store: evidence only inside a signed-in page (no media URL that works without one), an opaque HttpOnly
session cookie that signing out makes useless, a lockout that survives a restart, and every page path opening
its page (or the sign-in form) without a "Page not found" pop-up."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from fallwatch.alerts.records import CameraState
from fallwatch.dashboard.tokens import COOKIE
from tests.dashboard.browser import ARGS, CHROMIUM, SECRET, WAIT_MS, need_chromium, running_dashboard
from tests.dashboard.conftest import CAMERA, CARER, CARER_PASSWORD, NURSE, NURSE_PASSWORD, Site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

pytestmark = pytest.mark.slow

# Every page path the app links to, and the heading its page shows; "" is the root.
PATHS = {
    "": "Incidents",
    "incidents": "Incidents",
    "incident": "Incident",
    "cameras": "Cameras",
    "zones": "Zones",
    "exports": "Exports",
}
MEDIA_URL = re.compile(r"""[^\s"'()<>]*/media/[^\s"'()<>]*""")
DATA_URI = re.compile(r"""data:[^"']*""")  # embedded media: skipped, MEDIA_URL would crawl through megabytes


@pytest.fixture
def dashboard(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The dashboard with a session secret, and a worker's report with a recent frame of ward-1."""
    monkeypatch.setenv("FALLWATCH_DASHBOARD_SECRET", SECRET)
    with site.store() as store:
        store.cameras.report(CAMERA, CameraState.CONNECTED, 9.7, 0, 0, site.evidence.refs.snapshot)
    with running_dashboard(site, tmp_path / "dashboard.log") as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _sign_in(page: Page, url: str, name: str = NURSE, password: str = NURSE_PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _wait_for_pictures(page: Page) -> None:
    """Until every picture on the page has loaded (and there is at least one)."""
    page.wait_for_function(
        "() => { const all = [...document.querySelectorAll('img')];"
        " return all.length > 0 && all.every(img => img.complete && img.naturalWidth > 0); }",
        timeout=WAIT_MS,
    )


def _served_by_the_media_file_manager(url: str, base: str) -> bool:
    """Whether `url` is one of Streamlit's /media/ addresses (not its own fonts under /static/media/)."""
    return urlparse(urljoin(f"{base}/", url)).path.startswith("/media/")


def _fetchable_without_cookies(urls: set[str], base: str) -> dict[str, int]:
    """The status of each media URL fetched with no cookies, whole and as a Range request, where it is 200."""
    served = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        for url in urls:
            for headers in ({}, {"Range": "bytes=0-99"}):
                answer = client.get(url, headers=headers)
                if answer.status_code in (200, 206):
                    served[f"{url} {headers}"] = answer.status_code
    return served


def test_evidence_is_shown_only_inside_a_signed_in_page(dashboard: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    requested: set[str] = set()
    page.on("request", lambda request: requested.add(request.url) if "/media/" in request.url else None)
    _sign_in(page, f"{dashboard}/incident?id=1")
    expect(page.get_by_role("heading", name="#1 · Collapse on ward-1")).to_be_visible(timeout=WAIT_MS)

    _wait_for_pictures(page)
    expect(page.locator("video")).to_have_count(1, timeout=WAIT_MS)
    page.wait_for_function(  # the clip's metadata loaded: Chromium has the whole file, not just an address
        "() => { const v = document.querySelector('video'); return v.readyState >= 1 && v.duration > 0; }",
        timeout=WAIT_MS,
    )
    pages = [page.content()]
    for path, heading in (("", "Incidents"), ("cameras", "Cameras"), ("zones", "Zones")):
        page.goto(f"{dashboard}/{path}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=WAIT_MS)
        _wait_for_pictures(page)  # the card's thumbnail, the camera's frame, the zones drawn on it
        pages.append(page.content())

    mentioned = requested | {url for html in pages for url in MEDIA_URL.findall(DATA_URI.sub("", html))}
    found = {url for url in mentioned if _served_by_the_media_file_manager(url, dashboard)}
    assert _fetchable_without_cookies(found, dashboard) == {}
    assert found == set(), "no picture or clip has an address of its own"
    page.goto(f"{dashboard}/incident?id=1")
    snapshot = page.get_by_role("img", name=re.compile("Snapshot when the fall was detected"))
    expect(snapshot).to_be_visible(timeout=WAIT_MS)
    assert page.locator("video").evaluate("v => v.currentSrc").startswith("data:video/mp4;base64,")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    assert page.locator("img, video").count() == 0
    assert _fetchable_without_cookies(found, dashboard) == {}


def _session_cookie(context: BrowserContext, page: Page) -> dict[str, object]:
    """The sign-in cookie in the browser's jar, once the page has been given it."""
    for _ in range(40):
        cookies = [c for c in context.cookies() if c["name"] == COOKIE and c["value"]]
        if cookies:
            return dict(cookies[0])
        page.wait_for_timeout(250)
    pytest.fail(f"no {COOKIE} cookie after signing in")


def _opens_signed_in(browser: Browser, url: str, token: str) -> bool:
    """Whether a fresh browser holding only a copy of the cookie `token` gets past the sign-in form."""
    from playwright.sync_api import expect

    context = browser.new_context()
    context.add_cookies([{"name": COOKIE, "value": token, "url": url}])
    page = context.new_page()
    page.goto(f"{url}/incidents")
    signed_in, form = page.get_by_text("Needs attention"), page.get_by_role("button", name="Sign in")
    expect(signed_in.or_(form)).to_be_visible(timeout=WAIT_MS)
    result = signed_in.count() > 0
    context.close()
    return result


def test_the_session_cookie_is_opaque_http_only_and_dies_with_sign_out(
    dashboard: str, browser: Browser, site: Site
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, f"{dashboard}/")
    expect(page.get_by_text("Needs attention")).to_be_visible(timeout=WAIT_MS)
    cookie = _session_cookie(context, page)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # served over plain http here; Secure only over https
    token = str(cookie["value"])
    assert len(token) >= 40 and NURSE not in token
    assert base64.urlsafe_b64encode(NURSE.encode()).decode().rstrip("=")[:4] not in token
    assert COOKIE not in page.evaluate("document.cookie")  # no script on the page can read it
    stored = b"".join(p.read_bytes() for p in site.data_dir.glob("fallwatch.db*"))
    assert token.encode() not in stored  # the store keeps only a keyed hash of it

    assert _opens_signed_in(browser, dashboard, token)  # a copy works while the session lasts ...
    page.reload()
    expect(page.get_by_text("Needs attention")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    assert not _opens_signed_in(browser, dashboard, token)  # ... and not after signing out
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    context.close()


def _link(page: Page, label: str, base: str) -> str:
    from playwright.sync_api import expect

    link = page.get_by_role("link", name=re.compile(label))
    expect(link).to_be_visible(timeout=WAIT_MS)
    href = link.get_attribute("href")
    assert href is not None and urlparse(href).path.startswith("/fallwatch/download/"), href
    return urljoin(f"{base}/", href)


def test_exports_download_only_with_the_sign_in_cookie(dashboard: str, browser: Browser, site: Site) -> None:
    # Regression: st.download_button served the CSV and the clips' .zip at /media/... to anyone with the URL.
    from playwright.sync_api import expect

    with site.store() as store:
        store.incidents.acknowledge(1, NURSE, "fell by the bed")
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    _sign_in(page, f"{dashboard}/exports")
    expect(page.get_by_role("heading", name="Exports", exact=True)).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="Write training export").click()
    zip_url, csv_url = _link(page, "Download as .zip", dashboard), _link(page, "Download CSV", dashboard)
    answers: list[Response] = []  # the link opens a tab whose answer is the file; the tab then closes
    context.on("response", lambda answer: answers.append(answer) if answer.url == csv_url else None)
    page.get_by_role("link", name=re.compile("Download CSV")).click()
    for _ in range(40):
        if answers:
            break
        page.wait_for_timeout(250)
    [answer] = answers  # the click, with the browser's own cookie
    assert answer.status == 200 and answer.headers["content-disposition"].startswith("attachment;")
    table = context.request.get(csv_url)
    assert table.status == 200 and table.text().startswith("id,")
    archive = context.request.get(zip_url)  # the browser's own cookies
    assert archive.status == 200 and archive.body()[:2] == b"PK"
    mentioned = MEDIA_URL.findall(DATA_URI.sub("", page.content()))
    assert [url for url in mentioned if _served_by_the_media_file_manager(url, dashboard)] == []
    token = str(_session_cookie(context, page)["value"])
    with httpx.Client(timeout=10) as stranger, httpx.Client(cookies={COOKIE: token}, timeout=10) as copy:
        assert stranger.get(csv_url).status_code == 403 and stranger.get(zip_url).status_code == 403
        assert copy.get(csv_url).status_code == 200  # the sign-in cookie is what opens it
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
        assert copy.get(csv_url).status_code == 403  # not after signing out
    context.close()


def test_a_lockout_survives_a_restart_of_the_dashboard(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Browser
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setenv("FALLWATCH_DASHBOARD_SECRET", SECRET)
    log = tmp_path / "dashboard.log"
    with running_dashboard(site, log) as url:
        page = browser.new_page()
        for _ in range(5):
            _sign_in(page, url, CARER, "wrong-password")
            expect(page.get_by_text("Wrong user name or password.")).to_be_visible(timeout=WAIT_MS)
    with running_dashboard(site, log) as url:
        page = browser.new_page()
        _sign_in(page, url, CARER, CARER_PASSWORD)
        expect(page.get_by_text("Too many wrong passwords for this user.")).to_be_visible(timeout=WAIT_MS)
        assert page.get_by_text("Needs attention").count() == 0


def test_every_page_path_opens_its_page_or_the_sign_in_form(dashboard: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    not_found = page.get_by_text("Page not found")
    for path in PATHS:
        page.goto(f"{dashboard}/{path}")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
        page.wait_for_timeout(500)  # the pop-up, if any, comes with the page's first message
        assert not_found.count() == 0, f"/{path} before sign-in"
        expect(page.get_by_label("User name")).to_be_visible()  # nothing covers the form

    _sign_in(page, f"{dashboard}/incidents")
    expect(page.get_by_text("Needs attention")).to_be_visible(timeout=WAIT_MS)
    _session_cookie(page.context, page)  # what keeps the sign-in from one address to the next
    for path, heading in PATHS.items():
        page.goto(f"{dashboard}/{path}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=WAIT_MS)
        page.wait_for_timeout(500)
        assert not_found.count() == 0, f"/{path} signed in"
