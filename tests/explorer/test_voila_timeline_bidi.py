"""End to end in Voila: bidirectional correction and the acquisition timeline in a real browser.

A user switches the bidi correction to a manual offset of 1.5 pixels: the canvas must show the
corrected plane (float32, through the same contrast window), and the raw one again while the
before/after box is checked. The file has aux triggers: their toggle appears once the frame
headers are read in the background, and checking it draws their ticks on the ipympl figure.
"""

from __future__ import annotations

import numpy as np
import pytest

from .browser import explorer_notebook, goto_explorer, voila_server
from .e2e import canvas_rgba, check_plane, colour_mask, expected_gray, poll, role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AUX0_RGB = np.array([0x2C, 0xA0, 0x2C])  # trace.AUX_COLORS[0]


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("voila-tl")
    acq = Acquisition(
        height=48, width=64, volumes=30, timestamp_jitter=0.002, dropped=(5,), aux_every=3
    )
    return write_acquisition(folder / "tl_00001_00001.tif", acq)


def shows(page, want) -> bool:
    """The canvas's field pixels equal ``want`` (grays)."""
    h, w = want.shape
    rgba = canvas_rgba(page)
    return bool(np.array_equal(rgba[:h, :w, 0], want))


def test_voila_bidi_manual_offset_and_aux_ticks(new_page, live_screenshot, acquisition, tmp_path):
    import si_explorer
    from si_explorer import bidi

    path = str(acquisition.paths[0])
    stack = si_explorer.open(path)
    nb = explorer_notebook(tmp_path / "explore.ipynb", path)
    with voila_server(nb, nodelay=True) as (url, log):
        page = new_page()
        with live_screenshot(page):
            goto_explorer(page, url)
            check_plane(page, stack, 0, 0, 0)
            role(page, "time-slider").fill("7")
            check_plane(page, stack, 0, 7, 0)

            # Manual bidi offset 1.5 px: the corrected float32 plane, same contrast window.
            role(page, "bidi-offset").fill("1.5")
            role(page, "bidi-offset").dispatch_event("change")
            assert role(page, "bidi-mode").input_value() == "manual"
            vmin = float(role(page, "vmin").input_value())
            vmax = float(role(page, "vmax").input_value())
            raw = np.asarray(stack[0, 7, 0])
            row0 = stack.plane_source.field_page_rows()[0]
            corrected = bidi.apply_offset(raw, 1.5, row0)
            assert corrected.dtype == np.float32
            want = expected_gray(corrected, vmin, vmax)
            assert not np.array_equal(want, expected_gray(raw, vmin, vmax))
            assert poll(page, lambda: shows(page, want)), "the corrected plane is not shown"
            assert "manual" in role(page, "bidi-status").text_content()
            assert role(page, "bidi-offset").input_value() == "1.5"

            # Before/after: the raw plane while checked.
            role(page, "bidi-compare").check()
            assert poll(page, lambda: shows(page, expected_gray(raw, vmin, vmax)))
            role(page, "bidi-compare").uncheck()
            assert poll(page, lambda: shows(page, want))

            # The timeline arrives in the background: the aux toggle appears, off.
            toggle = role(page, "aux-toggle")
            toggle.wait_for(state="visible", timeout=60_000)
            assert not toggle.is_checked()
            assert "1 dropped frame" in role(page, "timeline-note").text_content()
            figure = page.locator(".jupyter-matplotlib-figure canvas").first
            figure.wait_for(timeout=60_000)

            def ticks():
                return int(colour_mask(figure.screenshot(), AUX0_RGB).sum())

            assert ticks() == 0
            toggle.check()
            assert poll(page, lambda: ticks() > 20), "no aux trigger ticks drawn"
            assert role(page, "error").is_hidden()
        server_log = log.read_text()
        assert "Traceback" not in server_log
