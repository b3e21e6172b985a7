"""The demo platform in a real browser: launches in a cross-site iframe, at desktop and phone
width, with and without the tool's cookies, deep linking, and the language switch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def page_factory(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = chromium.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def _tool_frame(page: Any) -> Any:
    return page.frame_locator("#tool-frame")


def _open_as(page: Any, demo_base: str, person: str, query: str = "") -> Any:
    page.goto(f"{demo_base}/demo/")
    if query:
        page.goto(f"{demo_base}/demo/open/{person}?{query}")
    else:
        page.get_by_test_id(f"open-{person}").click()
    return _tool_frame(page)


@pytest.mark.browser
@pytest.mark.parametrize(
    ("person", "role"),
    [("coach", "beeldbegeleider"), ("teacher1", "leerkracht"), ("admin", "beheerder")],
)
def test_launch_in_a_cross_site_iframe(
    page_factory: Any, demo_base: str, artifacts: Path, person: str, role: str
) -> None:
    page = page_factory()
    frame = _open_as(page, demo_base, person)
    frame.locator("[data-testid=api-status].ok").wait_for()
    assert frame.get_by_test_id("role").inner_text().strip().lower() == role
    # The tool really is on another site than the platform page that embeds it.
    tool_frame = page.frame(name="tool-frame")
    assert urlsplit(tool_frame.url).hostname == "localhost"
    assert urlsplit(page.url).hostname == "127.0.0.1"
    assert "/start" in tool_frame.url
    page.screenshot(path=str(artifacts / f"launch-{person}-desktop.png"), full_page=True)


@pytest.mark.browser
def test_launch_fits_a_phone(page_factory: Any, demo_base: str, artifacts: Path) -> None:
    page = page_factory(viewport=PHONE, is_mobile=True, has_touch=True)
    frame = _open_as(page, demo_base, "teacher2")
    frame.locator("[data-testid=api-status].ok").wait_for()
    tool_frame = page.frame(name="tool-frame")
    overflow = tool_frame.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0, f"the start page scrolls sideways by {overflow}px at 360px"
    page_overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert page_overflow <= 0
    page.screenshot(path=str(artifacts / "launch-teacher2-phone.png"), full_page=True)


@pytest.mark.browser
def test_demo_home_at_phone_width(page_factory: Any, demo_base: str, artifacts: Path) -> None:
    page = page_factory(viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto(f"{demo_base}/demo/")
    assert page.locator("[data-person]").count() == 4
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0
    page.screenshot(path=str(artifacts / "demo-home-phone.png"), full_page=True)


def _drop_tool_cookies(page: Any, live_server: str) -> list[str]:
    """Act as a browser that refuses the tool's cookies in the iframe (Safari's default):
    requests to the tool go out without cookies, and its Set-Cookie headers are dropped."""
    tool = urlsplit(live_server).netloc
    dropped: list[str] = []

    def handle(route: Any) -> None:
        request = route.request
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "host")}
        answer = requests.request(
            request.method,
            request.url,
            headers=headers,
            data=request.post_data_buffer,
            allow_redirects=False,
            timeout=15,
        )
        if "Set-Cookie" in answer.headers:
            dropped.append(request.url)
        kept = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("set-cookie", "content-length", "content-encoding",
                                 "transfer-encoding", "connection")
        }  # fmt: skip
        route.fulfill(status=answer.status_code, headers=kept, body=answer.content)

    page.route(lambda url: urlsplit(url).netloc == tool, handle)
    return dropped


@pytest.mark.browser
def test_platform_storage_launch_without_cookies(
    page_factory: Any, demo_base: str, live_server: str, artifacts: Path
) -> None:
    page = page_factory()
    dropped = _drop_tool_cookies(page, live_server)
    frame = _open_as(page, demo_base, "coach")
    # The state went into the platform's storage at login and was checked at launch; the
    # page's API calls carry the launch token, so the tool works with no cookie at all.
    frame.locator("[data-testid=api-status].ok").wait_for()
    assert any("/lti/login" in url for url in dropped), dropped
    page.screenshot(path=str(artifacts / "launch-no-cookies-platform-storage.png"))


@pytest.mark.browser
def test_blocked_cookies_without_platform_storage_offer_a_new_window(
    page_factory: Any, demo_base: str, live_server: str, artifacts: Path
) -> None:
    page = page_factory()
    _drop_tool_cookies(page, live_server)
    frame = _open_as(page, demo_base, "teacher1", query="storage=0")
    button = frame.get_by_test_id("open-new-window")
    button.wait_for()
    assert frame.locator("[data-refusal=cookies_blocked]").count() == 1
    page.screenshot(path=str(artifacts / "launch-cookies-blocked.png"))
    # In its own window the tool is first-party: the launch completes there.
    with page.context.expect_page() as popup_info:
        button.click()
    popup = popup_info.value
    popup.unroute_all() if hasattr(popup, "unroute_all") else None
    popup.locator("[data-testid=api-status].ok").wait_for()
    assert "/start" in popup.url


@pytest.mark.browser
def test_forged_storage_value_stops_the_launch(
    page_factory: Any, demo_base: str, live_server: str
) -> None:
    """When the platform's storage does not hold the launch's state, the page stops."""
    page = page_factory()
    _drop_tool_cookies(page, live_server)
    # A platform page whose storage answers with another value for every key.
    page.add_init_script(
        """
        window.addEventListener('message', function (event) {
          var data = event.data || {};
          if (data.subject === 'lti.get_data') {
            event.stopImmediatePropagation();
            event.source.postMessage({subject: 'lti.get_data.response', key: data.key,
              value: 'state-forged', message_id: data.message_id}, event.origin);
          }
        }, true);
        """
    )
    frame = _open_as(page, demo_base, "coach")
    frame.locator("#storage-status[data-failed='1']").wait_for()
    assert "/start" not in page.frame(name="tool-frame").url


@pytest.mark.browser
def test_coach_places_beeldcoach_in_the_course(
    page_factory: Any, demo_base: str, artifacts: Path
) -> None:
    page = page_factory()
    page.goto(f"{demo_base}/demo/")
    before = page.locator("[data-activity]").count()
    page.get_by_test_id("deep-coach").click()
    frame = _tool_frame(page)
    frame.locator("input[name=item][value=start]").wait_for()
    page.screenshot(path=str(artifacts / "deep-linking-choice.png"))
    frame.locator("button[type=submit]").click()
    page.wait_for_url(f"{demo_base}/demo/?placed=1")
    assert page.locator("[data-activity]").count() == before + 1
    # The placed activity launches the tool with its custom parameters.
    page.locator("[data-activity] a").last.click()
    _tool_frame(page).locator("[data-testid=api-status].ok").wait_for()


@pytest.mark.browser
def test_language_switch_inside_the_iframe(page_factory: Any, demo_base: str) -> None:
    page = page_factory()
    frame = _open_as(page, demo_base, "teacher1")
    frame.locator("[data-testid=api-status].ok").wait_for()
    assert frame.locator("html").get_attribute("lang") == "nl"
    frame.get_by_role("link", name="English").click()
    frame.get_by_test_id("role").filter(has_text="teacher").wait_for()
    assert frame.locator("html").get_attribute("lang") == "en"
    frame.locator("[data-testid=api-status].ok").wait_for()
