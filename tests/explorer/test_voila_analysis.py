"""End to end in Voila: the explorer as an analysis surface (issue 14).

A user of a 2-ROI recording sees both scanfields drawn at their positions and clicks the second
to show that field; switches the view to the max and the local correlation of the field and
plane over time (the status names the view, the canvas shows exactly the summary image); sees
the histogram of the image shown and drags its min handle (the min box and the picture follow);
moves the time slider and gets the frame back at its own contrast; and finds
SI.hRoiManager.linesPerFrame in the metadata panel. A second test makes the README's summary
screenshot: the demo's local correlation image with a cell's trace.
"""

from __future__ import annotations

import numpy as np
import pytest

from .browser import explorer_notebook, goto_explorer, voila_server
from .conftest import ARTIFACTS
from .e2e import (
    canvas_rgba,
    check_plane,
    drag_roi,
    expected_gray,
    poll,
    role,
    trace_pixels,
    wait_status,
    wait_trace_done,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BAR_RGB = np.array([0x6B, 0x6B, 0x6B])  # histogram.js BAR


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("voila-analysis")
    acq = Acquisition(height=48, width=64, volumes=30, slices=2, rois=((40, 64), (30, 50)))
    return write_acquisition(folder / "an_00001_00001.tif", acq)


def summary_images(stack, field, z):
    from si_explorer.summary import plane_summaries

    *_, last = plane_summaries(stack, field, z)
    assert last.done
    return last.images


def window(page):
    return float(role(page, "vmin").input_value()), float(role(page, "vmax").input_value())


def shows(page, image) -> bool:
    """The canvas's field pixels are ``image`` through the window in the min/max boxes."""
    h, w = image.shape
    want = expected_gray(np.asarray(image, np.float64), *window(page))
    return bool(np.array_equal(canvas_rgba(page)[:h, :w, 0], want))


def test_voila_summaries_histogram_metadata_and_roi_geometry(
    new_page, live_screenshot, acquisition, tmp_path
):
    import si_explorer

    path = str(acquisition.paths[0])
    stack = si_explorer.open(path)
    nb = explorer_notebook(tmp_path / "explore.ipynb", path)
    with voila_server(nb, nodelay=True) as (url, log):
        page = new_page(viewport=(1400, 1400))
        with live_screenshot(page):
            goto_explorer(page, url)
            check_plane(page, stack, 0, 0, 0)

            # The two scanfields, the field shown highlighted; a click shows the other field.
            rects = page.locator('[data-role="roi-geometry"] rect[data-field]')
            assert rects.count() == 2
            assert "six-current" in rects.nth(0).get_attribute("class")
            rects.nth(1).click()
            check_plane(page, stack, 1, 0, 0)
            assert role(page, "field-slider").input_value() == "1"
            assert "six-current" in rects.nth(1).get_attribute("class")
            assert "six-current" not in (rects.nth(0).get_attribute("class") or "")
            frame_window = window(page)
            frame = np.asarray(stack[1, 0, 0])[:30, :50]

            # Summary views: the status names the view, the canvas shows the image exactly.
            images = summary_images(stack, 1, 0)
            role(page, "view-select").select_option("max")
            wait_status(page, "max of 30 frames · field 1 · z 0")
            assert poll(page, lambda: shows(page, images["max"])), "the max image is not shown"
            assert not shows(page, frame)
            role(page, "view-select").select_option("correlation")
            wait_status(page, "local correlation of 30 frames · field 1 · z 0")
            assert poll(page, lambda: shows(page, images["correlation"]))
            lo, hi = window(page)
            assert -1 <= lo < hi <= 1  # the correlation image's own window

            # The histogram of the image shown: bars drawn, every pixel of the field counted.
            hist = role(page, "histogram")
            assert poll(page, lambda: hist.get_attribute("data-count") == str(30 * 50))
            canvas = role(page, "histogram-canvas")

            def bars():
                pixels = np.abs(_rgb(canvas.screenshot()) - BAR_RGB).sum(axis=-1) < 30
                return int(pixels.sum())

            assert poll(page, lambda: bars() > 200), "no histogram drawn"
            # Drag the min handle to the right: the min box and the picture follow.
            box = canvas.bounding_box()
            data_lo, data_hi = (
                float(hist.get_attribute("data-lo")),
                float(hist.get_attribute("data-hi")),
            )
            x0 = box["x"] + (lo - data_lo) / (data_hi - data_lo) * box["width"]
            y = box["y"] + box["height"] / 2
            page.mouse.move(x0, y)
            page.mouse.down()
            page.mouse.move(x0 + 0.3 * (box["x"] + box["width"] - x0), y, steps=6)
            page.mouse.up()
            new_lo, new_hi = window(page)
            assert lo < new_lo < new_hi == hi
            assert poll(page, lambda: shows(page, images["correlation"]))
            # Python keeps the dragged window as the user's for this view.
            role(page, "view-select").select_option("max")
            wait_status(page, "max of 30 frames · field 1 · z 0")
            assert window(page) != pytest.approx((new_lo, new_hi))
            role(page, "view-select").select_option("correlation")
            wait_status(page, "local correlation of 30 frames · field 1 · z 0")
            assert poll(page, lambda: window(page) == pytest.approx((new_lo, new_hi)))
            assert poll(page, lambda: shows(page, images["correlation"]))

            # Moving in time returns to the frame view, at the frame's own contrast.
            role(page, "time-slider").fill("7")
            check_plane(page, stack, 1, 7, 0)
            assert role(page, "view-select").input_value() == "frame"
            assert window(page) == pytest.approx(frame_window)

            # The metadata panel: every key, filtered as one types, and the frame header.
            page.locator('[data-role="metadata"] summary').click()
            rows = page.locator('[data-role="metadata-list"] .six-meta-row')
            assert poll(page, lambda: rows.count() > 100)
            role(page, "metadata-search").fill("linesPerFrame")
            key = page.locator(
                '[data-role="metadata-list"] [data-key="SI.hRoiManager.linesPerFrame"]'
            )
            assert key.is_visible()
            assert key.locator(".six-meta-value").text_content() == "40"
            assert page.locator(
                '[data-role="metadata-list"] [data-key="SI.hRoiManager.scanFrameRate"]'
            ).is_hidden()
            assert "of" in role(page, "metadata-count").text_content()
            role(page, "metadata-search").fill("frameNumbers")
            header = page.locator('[data-role="frame-header"] [data-key="frameNumbers"]')
            header.wait_for(state="visible", timeout=30_000)
            assert role(page, "frame-header").get_attribute("data-page") == "1,7,0"
            assert role(page, "error").is_hidden()
        server_log = log.read_text()
        assert "Traceback" not in server_log


def _rgb(png_bytes):
    from .e2e import rgb

    return rgb(png_bytes)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from si_explorer.synthetic import demo_acquisition

    return demo_acquisition(tmp_path_factory.mktemp("demo"))


def test_voila_demo_local_correlation_screenshot(new_page, live_screenshot, demo, tmp_path):
    """The README's summary screenshot (docs/summary.png is a copy of
    test-artifacts/summary.png): the demo's local correlation image and a cell's trace."""
    import si_explorer

    path = str(demo.paths[0])
    stack = si_explorer.open(path)
    z = 3
    images = summary_images(stack, 0, z)
    corr = images["correlation"]
    # The brightest cell of the correlation image, for a ROI around it.
    y, x = np.unravel_index(np.argmax(corr[8:-8, 8:-8]), corr[8:-8, 8:-8].shape)
    y, x = int(y) + 8, int(x) + 8
    nb = explorer_notebook(tmp_path / "demo.ipynb", path)
    with voila_server(nb, nodelay=True) as (url, log):
        page = new_page(viewport=(1000, 1000))
        with live_screenshot(page):
            goto_explorer(page, url)
            check_plane(page, stack, 0, 0, 0)
            role(page, "z-slider").fill(str(z))
            check_plane(page, stack, 0, 0, z)
            role(page, "view-select").select_option("correlation")
            wait_status(page, f"local correlation of 300 frames · field 0 · z {z}")
            assert poll(page, lambda: shows(page, corr)), "the correlation image is not shown"
            drag_roi(page, stack, (y - 3, x - 3), (y + 3, x + 3))
            wait_trace_done(page, stack.shape[1])
            figure = page.locator(".jupyter-matplotlib-figure canvas").first
            assert poll(page, lambda: trace_pixels(figure.screenshot()) > 50), "no trace drawn"
            # Still the summary: a selection does not move in time.
            assert role(page, "view-select").input_value() == "correlation"
            assert shows(page, corr)
            assert role(page, "error").is_hidden()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "summary.png"))
        assert "Traceback" not in log.read_text()
    stack.close()
