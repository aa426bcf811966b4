"""End to end: a notebook served by a real Voila server, a kernel, and headless Chromium.

This is what a user does: open the app, move each slider, draw a ROI. It checks the pixels on
the canvas against the file, the status line, and that the trace was plotted in the ipympl
figure. Voila lets keys through, so the sliders are moved with the keyboard here.
"""

from __future__ import annotations

import pytest

from .browser import explorer_notebook, goto_explorer, voila_server
from .e2e import check_plane, drag_roi, poll, role, trace_pixels, wait_trace_done

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("voila-acq")
    acq = Acquisition(height=48, width=64, volumes=30, slices=3, rois=((40, 64), (30, 50)))
    return write_acquisition(folder / "e2e_00001_00001.tif", acq)


def test_voila_sliders_roi_and_trace(new_page, live_screenshot, acquisition, tmp_path):
    import si_explorer

    path = str(acquisition.paths[0])
    stack = si_explorer.open(path)
    nb = explorer_notebook(tmp_path / "explore.ipynb", path)
    with voila_server(nb, nodelay=True) as (url, log):
        page = new_page()
        with live_screenshot(page):
            goto_explorer(page, url)
            check_plane(page, stack, 0, 0, 0)

            # Each slider, as a user moves it (keyboard on the focused range input).
            role(page, "time-slider").focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            check_plane(page, stack, 0, 5, 0)
            role(page, "z-slider").fill("2")
            check_plane(page, stack, 0, 5, 2)
            role(page, "field-slider").fill("1")
            check_plane(page, stack, 1, 5, 2)
            # The explorer's own keys once it has focus: right steps time, down steps z.
            role(page, "status").click()
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowDown")
            check_plane(page, stack, 1, 6, 1)

            figure = page.locator(".jupyter-matplotlib-figure canvas").first
            figure.wait_for(timeout=60_000)
            assert trace_pixels(figure.screenshot()) == 0  # nothing plotted before a selection

            drag_roi(page, stack, (4, 6), (20, 30))
            wait_trace_done(page, stack.shape[1])
            # ipympl redraws asynchronously after the data arrived: poll its canvas.
            assert poll(page, lambda: trace_pixels(figure.screenshot()) > 50), "no trace line drawn"
            # The plane did not change under the selection, and no error was shown.
            check_plane(page, stack, 1, 6, 1)
            assert role(page, "error").is_hidden()
        server_log = log.read_text()
        assert "Traceback" not in server_log
        assert "TCP_NODELAY set on kernel websocket" in server_log
