"""End to end: a notebook served by a real Voila server, a kernel, and headless Chromium.

This is what a user does: open the app, move each slider, draw a ROI. It checks the pixels on
the canvas against the file, the status line, and that the trace was plotted in the ipympl
figure.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from .browser import voila_server, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRACE_RGB = np.array([0x1F, 0x77, 0xB4])  # the trace line colour in trace.py


def expected_gray(plane, vmin, vmax):
    v = (plane.astype(float) - vmin) * (255 / max(vmax - vmin, 1e-12))
    return np.clip(v, 0, 255).astype(int)


def canvas_rgba(page):
    """The plane canvas's pixels as an (h, w, 4) array."""
    data = page.evaluate(
        """() => {
          const c = document.querySelector('[data-role="plane"]');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
          return {w: c.width, h: c.height, px: Array.from(d.data)};
        }"""
    )
    return np.array(data["px"], dtype=int).reshape(data["h"], data["w"], 4)


def trace_pixels(png_bytes):
    import matplotlib.image

    img = (matplotlib.image.imread(io.BytesIO(png_bytes))[..., :3] * 255).round()
    return int((np.abs(img - TRACE_RGB).sum(axis=-1) < 40).sum())


def wait_status(page, text, timeout=60_000):
    page.wait_for_function(
        "t => document.querySelector('[data-role=\"status\"]')?.textContent === t",
        arg=text,
        timeout=timeout,
    )


def check_plane(page, stack, f, t, z):
    wait_status(page, f"field {f} · time {t} · z {z}")
    vmin = float(page.locator('[data-role="vmin"]').input_value())
    vmax = float(page.locator('[data-role="vmax"]').input_value())
    rgba = canvas_rgba(page)
    h, w = stack.field_shapes[f]
    assert rgba.shape[:2] == (h, w)
    want = expected_gray(stack[f, t, z][:h, :w], vmin, vmax)
    np.testing.assert_array_equal(rgba[..., 0], want)
    assert (rgba[..., 3] == 255).all()


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("voila-acq")
    acq = Acquisition(height=48, width=64, volumes=30, slices=3, rois=((40, 64), (30, 50)))
    return write_acquisition(folder / "e2e_00001_00001.tif", acq)


def test_voila_sliders_roi_and_trace(new_page, acquisition, tmp_path):
    import si_explorer

    path = str(acquisition.paths[0])
    stack = si_explorer.open(path)
    nb = write_notebook(
        tmp_path / "explore.ipynb",
        [f"import si_explorer\nex = si_explorer.Explorer({json.dumps(path)})\nex"],
    )
    with voila_server(nb, nodelay=True) as (url, log):
        page = new_page()
        page.goto(url, timeout=120_000)
        page.wait_for_selector('[data-role="si-explorer"]', timeout=120_000)
        check_plane(page, stack, 0, 0, 0)

        # Each slider, as a user moves it (keyboard on the focused range input).
        time_slider = page.locator('[data-role="time-slider"]')
        time_slider.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        check_plane(page, stack, 0, 5, 0)
        page.locator('[data-role="z-slider"]').fill("2")
        check_plane(page, stack, 0, 5, 2)
        page.locator('[data-role="field-slider"]').fill("1")
        check_plane(page, stack, 1, 5, 2)

        figure = page.locator(".jupyter-matplotlib-figure canvas").first
        figure.wait_for(timeout=60_000)
        assert trace_pixels(figure.screenshot()) == 0  # nothing plotted before a selection

        # Draw a ROI from pixel (4, 6) to (20, 30) of field 1.
        box = page.locator('[data-role="plane"]').bounding_box()
        h, w = stack.field_shapes[1]

        def at(y, x):
            return box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h

        page.mouse.move(*at(4, 6))
        page.mouse.down()
        page.mouse.move(*at(12, 18), steps=4)
        page.mouse.move(*at(20, 30), steps=4)
        page.mouse.up()
        page.wait_for_function(
            "document.querySelector('[data-role=\"trace-status\"]')?.dataset.state === 'done'",
            timeout=60_000,
        )
        assert (
            f"done ({stack.shape[1]} time points)"
            in page.locator('[data-role="trace-status"]').text_content()
        )
        # ipympl redraws asynchronously after the data arrived: poll its canvas.
        for _ in range(60):
            if trace_pixels(figure.screenshot()) > 50:
                break
            page.wait_for_timeout(500)
        assert trace_pixels(figure.screenshot()) > 50, "the trace line never appeared"
        # The plane did not change under the selection, and no error was shown.
        check_plane(page, stack, 1, 5, 2)
        assert page.locator('[data-role="error"]').is_hidden()
        server_log = log.read_text()
        assert "Traceback" not in server_log
        assert "TCP_NODELAY set on kernel websocket" in server_log
