"""End to end through a real JupyterLab 4 and Notebook 7 server, as a user works in a notebook.

Open the notebook, Run All, then: each slider, the arrow keys, the channel selector, a ROI on a
smaller field of a multi-ROI file, the ipympl trace beside the plane view, a click on the trace
moving the time slider, and a rejected chunk scheme. Canvas pixels are checked against the file.

In Lab, range inputs are moved with ``locator.fill`` (what a click on the track does): Lab may
take keyboard events for its own shortcuts.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from playwright.sync_api import expect

from .browser import jupyter_server, open_and_run_all, write_notebook
from .e2e import (
    check_plane,
    drag_roi,
    marker_column,
    poll,
    role,
    trace_pixels,
    wait_status,
    wait_trace_done,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

URLS = {"lab": "lab/tree", "notebook": "notebooks"}


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("jupyter-acq")
    acq = Acquisition(volumes=30, slices=3, channels=2, rois=((40, 64), (30, 50)))
    return write_acquisition(folder / "lab_00001_00001.tif", acq)


def require_app(app):
    module = {"lab": "jupyterlab", "notebook": "notebook"}[app]
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def active_cell(page):
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]"
        ".findIndex(c => c.classList.contains('jp-mod-active'))"
    )


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_notebook_sliders_keys_channel_roi_and_trace(
    app, new_page, live_screenshot, acquisition, tmp_path
):
    import si_explorer

    require_app(app)
    path = str(acquisition.paths[0])
    stack = si_explorer.open(path)
    folder = tmp_path / "nb"
    folder.mkdir()
    write_notebook(
        folder / "explore.ipynb",
        [
            # A cell above the explorer: arrow keys that leaked to the notebook would select it.
            "print('the explorer is below')",
            f"import si_explorer\nex = si_explorer.Explorer({json.dumps(path)})\nex",
        ],
    )
    with jupyter_server(app, folder) as (base, token, log):
        page = new_page(viewport=(1600, 1100))
        with live_screenshot(page):
            _use_notebook(page, stack, f"{base}/{URLS[app]}/explore.ipynb?token={token}")
        server_log = log.read_text()
        assert "Traceback" not in server_log
        assert "TCP_NODELAY set on kernel websocket" in server_log


def _use_notebook(page, stack, url):
    open_and_run_all(page, url)
    check_plane(page, stack, 0, 0, 0, timeout=120_000)

    # Each slider.
    role(page, "time-slider").fill("5")
    check_plane(page, stack, 0, 5, 0)
    role(page, "z-slider").fill("2")
    check_plane(page, stack, 0, 5, 2)
    role(page, "field-slider").fill("1")
    check_plane(page, stack, 1, 5, 2)  # a smaller field: its padding is not drawn as data
    (h, w), (rows, cols) = stack.field_shapes[1], stack.shape[3:]
    assert role(page, "stage").get_attribute("data-padding") == f"{h}x{w} of {rows}x{cols}"

    # Arrow keys on the focused explorer step time and z, and do not reach the notebook.
    role(page, "status").click()
    cell = active_cell(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    check_plane(page, stack, 1, 7, 2)
    page.keyboard.press("ArrowUp")  # z up: at the top already, so nothing to show...
    page.keyboard.press("ArrowDown")  # ...and z 1
    check_plane(page, stack, 1, 7, 1)
    assert active_cell(page) == cell

    # The second colour channel, with its own contrast window from a few sampled planes.
    from si_explorer.explorer.contrast import auto_window

    second = stack.with_options(channel=1)
    window = auto_window(second, 1, 1, 7)
    role(page, "channel").select_option(index=1)
    assert poll(page, lambda: _window(page) == pytest.approx(window)), (_window(page), window)
    assert poll(page, lambda: _shows(page, second, 1, 7, 1))

    # A ROI: its trace is read and plotted in the ipympl figure beside the plane view.
    figure = page.locator(".jupyter-matplotlib-figure canvas").first
    figure.wait_for(timeout=60_000)
    assert trace_pixels(figure.screenshot()) == 0  # nothing plotted before a selection
    drag_roi(page, second, (4, 6), (20, 30))
    wait_trace_done(page, stack.shape[1])
    assert poll(page, lambda: trace_pixels(figure.screenshot()) > 50), "no trace line drawn"
    marker_before = poll(page, lambda: marker_column(figure.screenshot()))
    assert marker_before is not None, "no time marker on the trace"
    stage, fig_box = role(page, "stage").bounding_box(), figure.bounding_box()
    assert fig_box["x"] >= stage["x"] + stage["width"], "the trace is not beside the plane"
    assert fig_box["y"] < stage["y"] + stage["height"], "the trace is not beside the plane"

    # A click on the trace moves the time slider there, and the marker follows.
    click_x = fig_box["width"] * 0.6
    # By coordinates: ipympl stacks a second canvas on top of this one for its rubber band.
    page.mouse.click(fig_box["x"] + click_x, fig_box["y"] + fig_box["height"] * 0.5)
    slider = role(page, "time-slider")
    expect(slider).not_to_have_value("7", timeout=30_000)
    t_click = int(slider.input_value())
    assert 0.4 * stack.shape[1] < t_click < 0.8 * stack.shape[1]
    wait_status(page, f"field 1 · time {t_click} · z 1")
    moved = poll(page, lambda: _marker_moved(figure, marker_before))
    assert moved is not None, "the marker did not follow the time slider"
    # The click picked the nearest time point: the marker is within half a frame of it.
    frame_px = abs(moved - marker_before) / abs(t_click - 7)
    assert abs(moved - click_x) <= frame_px / 2 + 2, (moved, click_x, frame_px)

    # A chunk scheme the loader rejects: a visible message, and the setting stays as it was.
    scheme = role(page, "chunk-scheme")
    scheme.fill("frames:zero")
    scheme.press("Enter")
    error = role(page, "error")
    expect(error).to_be_visible(timeout=30_000)
    assert "chunk scheme 'frames:zero'" in error.text_content()
    expect(scheme).to_have_value("page")
    # A good one applies live: one chunk now holds a whole volume of this field.
    scheme.fill("volume")
    scheme.press("Enter")
    expect(role(page, "chunk-text")).to_contain_text(f"{stack.shape[1]} × 1 chunks")
    check_plane(page, second, 1, t_click, 1)


def _window(page):
    return float(role(page, "vmin").input_value()), float(role(page, "vmax").input_value())


def _shows(page, stack, f, t, z):
    try:
        check_plane(page, stack, f, t, z, timeout=1_000)
    except AssertionError:
        return False
    return True


def _marker_moved(figure, before):
    found = marker_column(figure.screenshot())
    return found if found is not None and abs(found - before) > 3 else None
