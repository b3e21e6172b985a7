"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright; never a downloaded one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# As the machine notes say: without these, Chromium tries to reach Google's hosts at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Tests that drop the tool's cookies answer its requests through Playwright's route
    # fulfilment; Chromium then treats those documents as public, and its Local Network Access
    # checks block their navigation to the demo platform on loopback. Both sides are loopback
    # here and public in production, so the check says nothing about the product.
    "--disable-features=LocalNetworkAccessChecks",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    assert CHROMIUM.exists(), "install Debian's chromium (scripts/setup.sh --test does)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def demo_base(live_server: str) -> str:
    """The demo platform on 127.0.0.1; it embeds the tool from localhost (another site)."""
    return live_server.replace("localhost", "127.0.0.1")
