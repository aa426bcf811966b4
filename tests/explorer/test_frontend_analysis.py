"""The analysis controls of the front end alone (view selector, histogram, metadata panel, ROI
geometry): the shipped bundle in a plain page with a fake model, messages delivered by hand."""

from __future__ import annotations

import pytest

from .test_frontend import H, W, canvas_point, gray, plane_pixels, sent

pytestmark = pytest.mark.browser


@pytest.fixture
def page(new_page, fake_site):
    p = new_page()
    p.goto(fake_site + "/index.html")
    p.wait_for_function("window.ready === true")
    p.evaluate("deliverPlane(0, 0, 0, 1)")
    return p


DELIVER_SUMMARY = """([view, done, total, win, f]) => {
  const data = new Float32Array(8 * 10);
  for (let i = 0; i < data.length; i++) data[i] = f * i;
  window.model.deliver({type: 'summary', view, field: 0, z: 0, frames_done: done,
    frames_total: total, done: done === total, image: true, height: 8, width: 10,
    padded: [8, 10], dtype: 'float32', window: win}, [data.buffer]);
}"""


def role(page, name):
    return page.locator(f'[data-role="{name}"]')


def test_a_summary_view_shows_its_progress_and_image_and_time_brings_the_frame_back(page):
    frame = plane_pixels(page)
    role(page, "view-select").select_option("max")
    assert sent(page, "view")[-1] == {"type": "view", "view": "max"}
    assert role(page, "stage").get_attribute("data-pending") == "1"  # not this view yet
    assert role(page, "status").text_content().startswith("max · field 0 · z 0")
    page.evaluate(DELIVER_SUMMARY, ["max", 4800, 12000, [0, 158], 2])
    assert role(page, "status").text_content() == "max · 40% of 12,000 frames · field 0 · z 0"
    assert role(page, "stage").get_attribute("data-pending") == ""
    # Pixel i holds 2 i, drawn through its own window [0, 158].
    assert page.evaluate("pixel(3, 2)")[0] == gray(2 * 23, 0, 158)
    assert role(page, "vmax").input_value() == "158"
    page.mouse.move(*canvas_point(page, 2, 3))
    assert role(page, "cursor").text_content() == "y 2, x 3, value 46"
    page.evaluate(DELIVER_SUMMARY, ["max", 12000, 12000, [0, 158], 2])
    assert role(page, "status").text_content() == "max of 12,000 frames · field 0 · z 0"
    # A plane arriving meanwhile (a field or z move) settles its request, the summary stays.
    before = plane_pixels(page)
    page.evaluate("deliverPlane(0, 0, 0, 2)")
    assert plane_pixels(page) == before and role(page, "status").text_content().startswith("max")
    # Another view's image, or another plane's, is not drawn over this one.
    page.evaluate(DELIVER_SUMMARY, ["mean", 12000, 12000, [0, 9], 1])
    assert plane_pixels(page) == before

    # The time slider: the frame view again at the frame's contrast, no view message needed.
    n_view = len(sent(page, "view"))
    role(page, "time-slider").fill("4")
    assert role(page, "view-select").input_value() == "frame"
    assert len(sent(page, "view")) == n_view
    assert role(page, "vmax").input_value() == "255"
    req = sent(page, "request")[-1]
    assert req["time"] == 4
    page.evaluate(f"deliverPlane(0, 4, 0, {req['id']})")
    assert role(page, "status").text_content() == "field 0 · time 4 · z 0"
    assert plane_pixels(page) == frame  # value y * 10 + x again, through [0, 255]


def test_choosing_the_frame_asks_for_it_and_a_pass_in_the_background_is_noted(page):
    role(page, "view-select").select_option("correlation")
    role(page, "view-select").select_option("frame")
    assert [m["view"] for m in sent(page, "view")] == ["correlation", "frame"]
    assert sent(page, "request")[-1]["time"] == 0  # the frame is asked for again
    page.evaluate(
        "window.model.deliver({type: 'summary', view: 'frame', field: 0, z: 0, "
        "frames_done: 300, frames_total: 1000, done: false, image: false})"
    )
    assert role(page, "summary-note").text_content() == "summaries of field 0 · z 0: 30%"
    # Python switched the view (user code): shown without telling Python again.
    page.evaluate("window.model.set('view', 'std')")
    assert role(page, "view-select").input_value() == "std"
    assert len(sent(page, "view")) == 2


def test_histogram_counts_the_image_and_its_handles_set_the_contrast(page):
    hist = role(page, "histogram")
    page.wait_for_function("document.querySelector('[data-role=histogram]').dataset.count === '80'")
    # Values 0..79 (y * 10 + x), one bin per value: the range and the bins say so.
    assert (hist.get_attribute("data-lo"), hist.get_attribute("data-hi")) == ("0", "79")
    assert hist.get_attribute("data-bins") == "80"
    assert "0 … 79 · 80 pixels · log counts" in role(page, "histogram-text").text_content()
    box = role(page, "histogram-canvas").bounding_box()
    y = box["y"] + box["height"] / 2
    # vmax 255 lies past the image's range: its handle waits at the right edge. Drag the min
    # handle (at value 0, the left edge) to the middle.
    page.mouse.move(box["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    vmin = float(role(page, "vmin").input_value())
    assert 37 <= vmin <= 42 and vmin == int(vmin)  # whole numbers for an integer image
    assert sent(page, "config") == []  # told to Python on release only
    assert page.evaluate("pixel(0, 0)")[0] == 0  # the picture follows the drag at once
    page.mouse.up()
    configs = sent(page, "config")
    assert configs == [
        {"type": "config", "key": "vmin", "value": vmin},
        {"type": "config", "key": "vmax", "value": 255},
    ]
    assert page.evaluate("pixel(9, 7)")[0] == gray(79, vmin, 255)


def test_metadata_panel_asks_once_filters_and_shows_the_frame_header(page):
    panel = role(page, "metadata")
    assert sent(page, "metadata") == []  # nothing read until the panel is opened
    panel.locator("summary").click()
    page.wait_for_function("window.model.sent.some(m => m.type === 'frame_header')")
    assert len(sent(page, "metadata")) == 1
    assert sent(page, "frame_header")[-1] == {"type": "frame_header", "field": 0, "time": 0, "z": 0}
    page.evaluate(
        """window.model.deliver({type: 'metadata', note: 'ScanImage 2021 · 3 header keys',
          entries: [['ScanImage header', 'SI.hRoiManager.linesPerFrame', '512'],
                    ['ScanImage header', 'SI.hRoiManager.scanFrameRate', '30.02'],
                    ['ROI group', 'RoiGroups.imagingRoiGroup.rois[0].scanfields.centerXY',
                     '[0, 0]']]})"""
    )
    page.evaluate(
        """window.model.deliver({type: 'frame_header', field: 0, time: 0, z: 0, note: '',
          entries: [['frameNumbers', '1'], ['frameTimestamps_sec', '0.0']]})"""
    )
    rows = page.locator('[data-role="metadata-list"] .six-meta-row')
    assert rows.count() == 3
    role(page, "metadata-search").fill("linesperframe")
    assert page.locator('[data-key="SI.hRoiManager.linesPerFrame"]').is_visible()
    assert page.locator('[data-key="SI.hRoiManager.scanFrameRate"]').is_hidden()
    assert page.locator('[data-section="ROI group"]').is_hidden()  # no match: no heading
    assert role(page, "metadata-count").text_content() == "1 of 3 keys"
    role(page, "metadata-search").fill("rois centerxy")  # every word must match
    assert page.locator('[data-section="ROI group"] .six-meta-row').is_visible()
    role(page, "metadata-search").fill("frame")
    assert page.locator('[data-role="frame-header"] [data-key="frameNumbers"]').is_visible()
    assert "field 0 · time 0 · z 0" in page.locator(".six-metadata h5").last.text_content()
    # A new page shown asks for its header (throttled while sliding), the metadata is not
    # asked for again.
    page.evaluate("deliverPlane(0, 5, 0, -1)")
    page.wait_for_function(
        "window.model.sent.filter(m => m.type === 'frame_header').some(m => m.time === 5)"
    )
    assert len(sent(page, "metadata")) == 1


def test_roi_geometry_draws_each_scanfield_and_a_click_shows_its_field(page):
    assert role(page, "roi-geometry").is_hidden()  # a single field: nothing to draw
    page.evaluate(
        """window.model.set('scanfields', [
          {field: 0, name: 'ROI 1', center: [-0.5, 0], size: [1, 0.6], rotation: 0},
          {field: 1, name: 'ROI 2', center: [0.8, 0.1], size: [0.6, 0.4], rotation: 30}])"""
    )
    geometry = role(page, "roi-geometry")
    assert geometry.is_visible()
    rects = geometry.locator("rect[data-field]")
    assert rects.count() == 2
    assert "six-current" in rects.nth(0).get_attribute("class")
    assert rects.nth(1).get_attribute("transform") == "rotate(30 0.8 0.1)"
    # (Playwright's bounding_box of a rotated SVG element is not its drawn extent.)
    b0, b1 = (
        r.evaluate("r => r.getBoundingClientRect().toJSON()") for r in (rects.nth(0), rects.nth(1))
    )
    assert b0["right"] <= b1["left"]  # ROI 2 lies right of ROI 1, as in scan space
    assert b0["width"] > b1["width"]
    rects.nth(1).click()
    req = sent(page, "request")[-1]
    assert req["field"] == 1
    page.evaluate(f"deliverPlane(1, 0, 0, {req['id']})")
    assert "six-current" in rects.nth(1).get_attribute("class")
    assert "six-current" not in (rects.nth(0).get_attribute("class") or "")
    assert (H, W) == (8, 10)
