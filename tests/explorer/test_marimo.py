"""End to end in marimo: the explorer in a marimo app, served by ``marimo run``.

marimo renders anywidgets natively but not ipywidgets, so there is no ipympl figure: the trace
is a matplotlib PNG inside the explorer, re-rendered for each selection, with the time marker
drawn by the browser. The widget lives in a shadow root there; Playwright locators reach it.
"""

from __future__ import annotations

import importlib.util
import os
import textwrap

import pytest
from playwright.sync_api import expect

from .browser import marimo_server
from .e2e import check_plane, drag_roi, plane_point, poll, role, trace_pixels, wait_trace_done

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def acquisition(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("marimo-acq")
    acq = Acquisition(height=48, width=64, volumes=20, slices=2)
    return write_acquisition(folder / "mo_00001_00001.tif", acq)


def app_source(path: str) -> str:
    return textwrap.dedent(
        f"""\
        import marimo

        app = marimo.App(width="full")


        @app.cell
        def _():
            import si_explorer

            explorer = si_explorer.Explorer({path!r})
            explorer
            return (explorer,)


        if __name__ == "__main__":
            app.run()
        """
    )


def marker_x(page, t):
    marker = role(page, "trace-marker")
    expect(marker).to_have_attribute("data-time", str(t), timeout=30_000)
    box = marker.bounding_box()
    return box["x"]


def test_marimo_plane_sliders_roi_and_trace_image(new_page, live_screenshot, acquisition, tmp_path):
    if importlib.util.find_spec("marimo") is None:
        if os.environ.get("CI"):
            pytest.fail("marimo is not installed (pip install -e '.[test]')")
        pytest.skip("marimo is not installed (pip install -e '.[test]')")
    import si_explorer

    path = str(acquisition.paths[0])
    stack = si_explorer.open(path)
    n_times = stack.shape[1]
    app = tmp_path / "explorer_app.py"
    app.write_text(app_source(path))
    with marimo_server(app) as (url, log):
        page = new_page(viewport=(1500, 1000))
        with live_screenshot(page):
            page.goto(url, timeout=120_000)
            check_plane(page, stack, 0, 0, 0, timeout=120_000)
            role(page, "time-slider").fill("9")
            check_plane(page, stack, 0, 9, 0)
            role(page, "z-slider").fill("1")
            check_plane(page, stack, 0, 9, 1)

            # No ipympl here: the trace is a picture inside the explorer, beside the plane.
            image = role(page, "trace-image")
            expect(role(page, "trace")).to_be_visible(timeout=30_000)  # the empty figure
            assert trace_pixels(image.screenshot()) == 0
            drag_roi(page, stack, (10, 12), (30, 40))
            wait_trace_done(page, n_times)
            assert poll(page, lambda: trace_pixels(image.screenshot()) > 50), "no trace drawn"
            stage, box = role(page, "stage").bounding_box(), image.bounding_box()
            assert box["x"] >= stage["x"] + stage["width"], "the trace is not beside the plane"

            # The marker follows the time slider, linearly along the time axis.
            m9 = marker_x(page, 9)
            role(page, "time-slider").fill("0")
            m0 = marker_x(page, 0)
            role(page, "time-slider").fill(str(n_times - 1))
            m_last = marker_x(page, n_times - 1)
            assert m0 < m9 < m_last
            assert (m9 - m0) / (m_last - m0) == pytest.approx(9 / (n_times - 1), abs=0.02)

            # Clicking the plot moves the time slider to the time under the click.
            role(page, "time-slider").fill("0")
            marker_x(page, 0)
            page.mouse.click(m9 + 1, box["y"] + box["height"] / 2)
            expect(role(page, "time-slider")).to_have_value("9", timeout=30_000)
            check_plane(page, stack, 0, 9, 1)
            assert marker_x(page, 9) == pytest.approx(m9, abs=1)

            # Another selection (one pixel) re-renders the picture.
            before = image.get_attribute("src")
            page.mouse.click(*plane_point(page, stack, 20, 20))
            expect(image).not_to_have_attribute("src", before, timeout=30_000)
            wait_trace_done(page, n_times)
            expect(role(page, "error")).to_be_hidden()
        assert "Traceback" not in log.read_text()
