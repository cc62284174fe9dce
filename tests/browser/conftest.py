"""Headless Chromium (Debian's, via playwright) against a running `reewatch demo`.

Skips with the reason when playwright or Chromium is missing (`make browser` installs both).
Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.demo_process import DemoProcess

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# As root, Chromium needs --no-sandbox; the rest keep it off a network it cannot reach.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("REEWATCH_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (run `make browser`)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (run `make browser`: it installs Debian's chromium as root)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[DemoProcess]:
    """One demo for the tests of a module; stopped with Ctrl-C after them."""
    running = DemoProcess(tmp_path_factory.mktemp("browser-demo"), speed=4.0).start()
    try:
        running.wait_for("sandbox page", lambda s: s.get("channels"), limit=60)
        yield running
        running.interrupt()
    except BaseException:
        running.kill()
        raise


@pytest.fixture
def page(browser: Any, demo: DemoProcess) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(demo.url)
    try:
        yield page
    finally:
        context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
