"""The front end alone: the shipped ESM bundle in a plain page, driven with a fake model."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

H, W = 8, 10  # the fake plane: value = y * 10 + x


def gray(value, vmin=0, vmax=255):
    v = (value - vmin) * 255 / (vmax - vmin)
    return int(min(255, max(0, v)))


@pytest.fixture
def page(new_page, fake_site):
    p = new_page()
    p.goto(fake_site + "/index.html")
    p.wait_for_function("window.ready === true")
    return p


def sent(page, kind=None):
    msgs = page.evaluate("window.model.sent")
    return [m for m in msgs if kind is None or m.get("type") == kind]


def plane_pixels(page):
    return [[page.evaluate(f"pixel({x}, {y})") for x in range(W)] for y in range(H)]


def test_render_requests_the_current_plane_and_draws_it_exactly(page):
    (first,) = sent(page, "request")
    assert (first["field"], first["time"], first["z"]) == (0, 0, 0)
    # Deliver the plane and move the slider at once, before the lone-ack timer can fire.
    page.evaluate(
        f"""() => {{
          deliverPlane(0, 0, 0, {first["id"]});
          const s = document.querySelector('[data-role="time-slider"]');
          s.value = "1";
          s.dispatchEvent(new Event("input", {{bubbles: true}}));
        }}"""
    )
    status = page.locator('[data-role="status"]')
    assert status.text_content() == "field 0 · time 0 · z 0"
    for y in range(H):
        for x in range(W):
            g = gray(y * 10 + x)
            assert page.evaluate(f"pixel({x}, {y})") == [g, g, g, 255], (y, x)
    # The browser's round-trip time rides on the next request, or goes alone after a pause.
    ack = sent(page, "request")[-1]["ack"]
    assert ack["id"] == first["id"] and ack["total_ms"] >= 0
    page.evaluate(f"deliverPlane(0, 1, 0, {first['id'] + 1})")
    page.wait_for_function("window.model.sent.some(m => m.type === 'drawn')")
    assert sent(page, "drawn")[0]["id"] == first["id"] + 1
    assert "cache miss" in page.locator('[data-role="timing"]').text_content()


def test_each_slider_sends_a_request_for_its_position(page):
    page.locator('[data-role="time-slider"]').fill("7")
    page.locator('[data-role="z-slider"]').fill("2")
    page.locator('[data-role="field-slider"]').fill("1")
    reqs = sent(page, "request")
    assert [(r["field"], r["time"], r["z"]) for r in reqs[-3:]] == [(0, 7, 0), (0, 7, 2), (1, 7, 2)]
    assert len({r["id"] for r in reqs}) == len(reqs)  # every request is numbered uniquely
    # The number box follows the slider, and typing in it moves the slider too.
    assert page.locator('[data-role="time-slider-number"]').input_value() == "7"
    page.locator('[data-role="time-slider-number"]').fill("11")
    page.locator('[data-role="time-slider-number"]').dispatch_event("change")
    assert page.locator('[data-role="time-slider"]').input_value() == "11"
    assert sent(page, "request")[-1]["time"] == 11


def test_arrow_keys_step_time_and_z(page):
    page.locator('[data-role="si-explorer"]').focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    last = sent(page, "request")[-1]
    assert (last["time"], last["z"]) == (2, 1)


def test_status_names_the_plane_drawn_not_the_slider(page):
    page.locator('[data-role="time-slider"]').fill("9")
    req = sent(page, "request")[-1]
    # Until the plane arrives the status still names what is on screen.
    page.evaluate("deliverPlane(0, 0, 0, -1)")
    assert page.locator('[data-role="status"]').text_content() == "field 0 · time 0 · z 0"
    page.evaluate(f"deliverPlane(0, 9, 0, {req['id']})")
    assert page.locator('[data-role="status"]').text_content() == "field 0 · time 9 · z 0"


def canvas_point(page, y, x):
    """Page coordinates of the centre of plane pixel (y, x) at zoom 1."""
    box = page.locator('[data-role="plane"]').bounding_box()
    return box["x"] + (x + 0.5) * box["width"] / W, box["y"] + (y + 0.5) * box["height"] / H


def test_roi_drag_and_pixel_click_send_selections(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    page.mouse.move(*canvas_point(page, 1, 2))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 3, 4), steps=5)
    page.mouse.move(*canvas_point(page, 5, 7), steps=5)
    page.mouse.up()
    (roi,) = sent(page, "roi")
    assert roi["roi"] == [1, 6, 2, 8] and roi["field"] == 0
    page.mouse.click(*canvas_point(page, 4, 3))
    assert sent(page, "roi")[-1]["pixel"] == [4, 3]
    # The cursor readout shows the value under the pointer.
    page.mouse.move(*canvas_point(page, 6, 5))
    assert page.locator('[data-role="cursor"]').text_content() == "y 6, x 5, value 65"


def test_colormap_and_contrast_change_pixels_and_tell_python(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    before = plane_pixels(page)
    page.locator('[data-role="colormap"]').select_option("viridis")
    assert page.evaluate("pixel(0, 0)") == [0x44, 0x01, 0x54, 255]  # viridis at the bottom
    assert sent(page, "config")[-1] == {"type": "config", "key": "colormap", "value": "viridis"}
    page.locator('[data-role="colormap"]').select_option("gray")
    assert plane_pixels(page) == before
    page.locator('[data-role="vmax"]').fill("40")
    page.locator('[data-role="vmax"]').dispatch_event("change")
    assert page.evaluate("pixel(2, 3)")[0] == gray(32, 0, 40)  # 204
    assert page.evaluate("pixel(2, 4)") == [255, 255, 255, 255]  # 42 is above the window
    assert page.evaluate("pixel(2, 1)")[0] == gray(12, 0, 40)
    assert sent(page, "config")[-1] == {"type": "config", "key": "vmax", "value": 40}


def test_python_side_contrast_change_redraws(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    page.evaluate("window.model.set('vmin', 20); window.model.set('vmax', 60)")
    assert page.evaluate("pixel(0, 1)")[0] == 0
    assert page.evaluate("pixel(0, 4)")[0] == gray(40, 20, 60)


def test_error_message_is_shown(page):
    page.evaluate("window.model.deliver({type: 'error', message: 'time 99 is out of range'})")
    err = page.locator('[data-role="error"]')
    assert err.is_visible() and "out of range" in err.text_content()


def test_chunk_map_and_timing_panel_are_filled(page):
    page.evaluate("deliverPlane(0, 4, 1, 1)")
    cmap = page.locator('[data-role="chunk-map"]')
    assert "12 × 3 chunks" in cmap.text_content()
    page.evaluate("window.model.deliver({type: 'reading', field: 0, block: [5, 1]})")
    assert cmap.get_attribute("data-reading") == "1"
    assert page.locator('[data-role="timing"]').get_attribute("data-cache") == "miss"


def test_play_requests_successive_frames_without_queueing(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    page.locator('[data-role="play"]').click()
    page.wait_for_function("window.model.sent.filter(m => m.type === 'request').length >= 2")
    page.wait_for_timeout(300)
    # No answer came, so play must not have piled up requests behind the first.
    plays = [r for r in sent(page, "request") if r.get("playing")]
    assert len(plays) == 1 and plays[0]["time"] == 1
    page.evaluate(f"deliverPlane(0, 1, 0, {plays[0]['id']})")
    page.wait_for_function(
        "window.model.sent.filter(m => m.type === 'request' && m.playing).length >= 2"
    )
    page.locator('[data-role="play"]').click()
    assert sent(page, "config")[-1] == {"type": "config", "key": "playing", "value": False}


def test_trace_image_fallback_click_sends_time(new_page, fake_site):
    page = new_page()
    page.goto(fake_site + "/index.html?trace=image")
    page.wait_for_function("window.ready === true")
    img = page.locator('[data-role="trace-image"]')
    assert img.is_hidden()  # no trace yet
    # A 1x1 PNG stands in for the matplotlib rendering.
    page.evaluate(
        """() => {
          const b64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD' +
            'hgGAWjR9awAAAABJRU5ErkJggg==';
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const img_style = document.querySelector('[data-role="trace-image"]').style;
          img_style.width = '400px'; img_style.height = '100px';
          window.model.set('trace_png', new DataView(bytes.buffer));
        }"""
    )
    assert img.is_visible()
    box = img.bounding_box()
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + box["height"] / 2)
    click = sent(page, "trace_click")[-1]
    assert click["x"] == pytest.approx(5.5, abs=0.2)


def test_cleanup_removes_every_listener_and_the_dom(page):
    assert page.evaluate("window.model.handlerCount()") > 0
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.handlerCount()") == 0
    assert page.locator('[data-role="si-explorer"]').count() == 0


def test_wheel_zooms_around_the_cursor_and_double_click_resets(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    before = plane_pixels(page)
    page.mouse.move(*canvas_point(page, 0, 0))
    page.mouse.wheel(0, -100)
    page.wait_for_timeout(100)
    zoomed = plane_pixels(page)
    assert zoomed != before
    assert zoomed[0][0] == before[0][0]  # the pixel under the cursor stays put
    page.mouse.dblclick(*canvas_point(page, 4, 4))
    assert plane_pixels(page) == before
