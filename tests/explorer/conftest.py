"""Fixtures for the explorer tests: headless Chromium, failure screenshots, synthetic data."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

from .browser import CHROMIUM, REPO, STATIC_JS, block_remote, launch_browser, static_server

ARTIFACTS = REPO / "test-artifacts"


def require_browser():
    """Skip browser tests on a developer machine without Chromium; fail them in CI."""
    problems = []
    if not Path(CHROMIUM).exists():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install playwright)")
    if problems:
        message = "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {message}")
        pytest.skip(f"browser tests need Chromium and Playwright: {message}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    # expect() ignores the context's default timeout and waits 5 s: too short on a shared,
    # noisy machine where a kernel may take seconds to answer.
    expect.set_options(timeout=30_000)

    with sync_playwright() as pw:
        b = launch_browser(pw)
        yield b
        b.close()


def _save_screenshot(request, page, suffix=""):
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid) + suffix
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    except Exception as exc:  # noqa: BLE001 - a failed screenshot must not mask the failure
        print(f"screenshot failed: {exc}")


def _screenshot_on_failure(request, page):
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and not getattr(page, "captured", False):
        _save_screenshot(request, page)


@pytest.fixture
def live_screenshot(request):
    """``with live_screenshot(page):`` saves a screenshot the moment the block fails.

    Use it inside a server's ``with``: by the time the fixture teardown runs the server is gone
    and the page shows its connection-lost dialog instead of what went wrong.
    """

    @contextlib.contextmanager
    def capture(page):
        try:
            yield page
        except BaseException:
            _save_screenshot(request, page)
            page.captured = True
            raise

    return capture


@pytest.fixture
def new_page(browser, request):
    """``new_page()`` -> a Playwright page in a fresh context that can only reach localhost."""
    contexts = []
    logs = []

    def make(viewport=(1400, 1000)):
        ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        block_remote(ctx)
        ctx.set_default_timeout(60_000)
        page = ctx.new_page()
        page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
        page.js_logs = logs
        contexts.append((ctx, page))
        return page

    yield make
    for ctx, page in contexts:
        _screenshot_on_failure(request, page)
        ctx.close()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and logs:
        print("browser console:\n" + "\n".join(logs[-50:]))


@pytest.fixture(scope="session")
def fake_site(tmp_path_factory):
    """A local http site with the built widget bundle and the fake-model page."""
    site = tmp_path_factory.mktemp("fake-site")
    shutil.copy(STATIC_JS, site / "explorer.js")
    shutil.copy(Path(__file__).with_name("fake_page.html"), site / "index.html")
    with static_server(site) as url:
        yield url
