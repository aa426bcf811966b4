"""The README's main job, end to end: ``si-explorer demo`` on a fresh machine, in a browser.

It writes the demo acquisition (showing progress), serves the explorer with Voila on
127.0.0.1 and prints the URL with its access token; a user opens it, moves the sliders, drags
one fast, selects a ROI and sees its trace. The screenshot taken at the end is the README's
(docs/explorer.png is a copy of test-artifacts/explorer.png).
"""

from __future__ import annotations

import os
import sys

import pytest

from .browser import ServedApp
from .conftest import ARTIFACTS
from .e2e import check_plane, drag_roi, poll, role, trace_pixels, wait_trace_done

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_si_explorer_demo_serves_a_working_explorer(new_page, live_screenshot, tmp_path):
    import si_explorer

    env = dict(os.environ, SI_EXPLORER_DEMO_DIR=str(tmp_path / "demo"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "si_explorer.cli", "demo", "--no-browser"]
    app = ServedApp(command, env=env, timeout=240)
    try:
        url = app.url
        assert len(app.token) >= 40  # the app requires it (tests/test_app_token.py)
        stderr = app.stderr(tail=100_000)
        assert "writing the demo acquisition" in stderr and "100%" in stderr  # progress shown
        demo = tmp_path / "demo" / "demo_00001_00001.tif"
        assert demo.exists() and not (tmp_path / "demo" / "partial" / demo.name).exists()
        stack = si_explorer.open(demo)
        F, T, Z = stack.shape[:3]

        page = new_page(viewport=(1000, 1180))  # tall enough for the chunk map
        with live_screenshot(page):
            page.goto(url, timeout=120_000)
            page.wait_for_selector('[data-role="si-explorer"]', timeout=120_000)
            check_plane(page, stack, 0, 0, 0)
            role(page, "time-slider").fill("40")
            role(page, "z-slider").fill(str(Z - 3))
            check_plane(page, stack, 0, 40, Z - 3)

            # A fast drag across the whole time slider: the plane finally shown is the one
            # the slider ends on, and the status names it.
            box = role(page, "time-slider").bounding_box()
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + 2, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=150)
            page.mouse.up()
            end = int(role(page, "time-slider").input_value())
            assert end > 100
            check_plane(page, stack, 0, end, Z - 3)

            drag_roi(page, stack, (96, 100), (130, 140))
            wait_trace_done(page, T)
            figure = page.locator(".jupyter-matplotlib-figure canvas").first
            assert poll(page, lambda: trace_pixels(figure.screenshot()) > 50), "no trace drawn"
            check_plane(page, stack, 0, end, Z - 3)
            assert role(page, "error").is_hidden()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "explorer.png"))
        stack.close()
    finally:
        code = app.stop()  # Ctrl-C, as the printed line tells the user
    assert code == 0, app.stderr(2000)
    assert "Traceback" not in app.stderr(tail=100_000)
