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


def test_a_smaller_field_keeps_the_padded_size_and_shows_padding_as_such(page):
    # Field 1 is 5x6 inside planes padded to 8x10, as a multi-ROI file's smaller field.
    page.evaluate("deliverPlane(1, 0, 0, 1, 5, 6, {padded: [8, 10]})")
    assert page.evaluate(
        "[document.querySelector('[data-role=plane]').width, "
        "document.querySelector('[data-role=plane]').height]"
    ) == [10, 8]
    for y in range(5):
        for x in range(6):
            g = gray(y * 10 + x)
            assert page.evaluate(f"pixel({x}, {y})") == [g, g, g, 255], (y, x)
    # The padding is not painted as data (transparent) but hatched on the overlay.
    assert page.evaluate("pixel(8, 2)")[3] == 0 and page.evaluate("pixel(2, 6)")[3] == 0
    box = page.locator('[data-role="overlay"]').bounding_box()
    scale = box["width"] / W
    assert page.evaluate(f"pixel({int(8.5 * scale)}, {int(2.5 * scale)}, 'overlay')")[3] == 255
    assert page.evaluate(f"pixel({int(2.5 * scale)}, {int(2.5 * scale)}, 'overlay')")[3] == 0
    assert page.locator('[data-role="stage"]').get_attribute("data-padding") == "5x6 of 8x10"

    page.mouse.move(*canvas_point(page, 2, 8))
    assert "padding, not data" in page.locator('[data-role="cursor"]').text_content()
    page.mouse.click(*canvas_point(page, 6, 2))  # a click on the padding selects nothing
    assert sent(page, "roi") == []
    # A drag that ends in the padding stops at the field's edge.
    page.mouse.move(*canvas_point(page, 1, 1))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, 7, 9), steps=5)
    page.mouse.up()
    assert sent(page, "roi")[-1]["roi"] == [1, 5, 1, 6]
    # Back to a full-size field: the old padding area shows data again.
    page.evaluate("deliverPlane(0, 0, 0, 2, 8, 10, {padded: [8, 10]})")
    assert page.evaluate("pixel(8, 2)") == [gray(28), gray(28), gray(28), 255]
    assert page.locator('[data-role="stage"]').get_attribute("data-padding") == ""


def test_zoom_buttons_zoom_about_the_centre_and_fit_resets(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    before = plane_pixels(page)
    page.locator('[data-role="zoom-in"]').click()
    assert page.locator('[data-role="zoom"]').text_content() == "×1.5"
    zoomed = plane_pixels(page)
    assert zoomed != before
    # The plane's centre stays at the centre of the view.
    assert zoomed[4][5] == before[4][5]
    page.locator('[data-role="zoom-out"]').click()
    assert page.locator('[data-role="zoom"]').text_content() == "×1"
    assert plane_pixels(page) == before
    page.locator('[data-role="zoom-in"]').click()
    page.locator('[data-role="reset-view"]').click()
    assert plane_pixels(page) == before


def test_enter_applies_a_chunk_scheme_once_and_a_rejection_restores_the_input(page):
    scheme = page.locator('[data-role="chunk-scheme"]')
    scheme.fill("frames:zero")
    scheme.press("Enter")
    scheme.blur()  # the change event on blur must not send it a second time
    configs = [m for m in sent(page, "config") if m["key"] == "chunk_scheme"]
    assert configs == [{"type": "config", "key": "chunk_scheme", "value": "frames:zero"}]
    page.evaluate(
        "window.model.deliver({type: 'error', message: \"chunk scheme 'frames:zero': bad\"})"
    )
    assert page.locator('[data-role="error"]').is_visible()
    assert scheme.input_value() == "page"  # Python's value, still in force
    # Trying the same bad value again is sent again (the user may have fixed the file).
    scheme.fill("frames:zero")
    scheme.press("Enter")
    assert len([m for m in sent(page, "config") if m["key"] == "chunk_scheme"]) == 2


def test_a_plane_asked_for_in_python_moves_the_sliders_unless_the_user_moved_since(page):
    page.locator('[data-role="time-slider"]').fill("3")
    last = sent(page, "request")[-1]["id"]
    # Python (a click on the trace) asked for time 7 after seeing our last request.
    page.evaluate(f"deliverPlane(0, 7, 2, -1, 8, 10, {{seen: {last}}})")
    assert page.locator('[data-role="time-slider"]').input_value() == "7"
    assert page.locator('[data-role="z-slider"]').input_value() == "2"
    # Now the user moves on before Python's next plane arrives: the user's request is newer.
    page.locator('[data-role="time-slider"]').fill("4")
    page.evaluate(f"deliverPlane(0, 9, 2, -2, 8, 10, {{seen: {last}}})")
    assert page.locator('[data-role="time-slider"]').input_value() == "4"
    # The status names what is on screen, not the slider.
    assert page.locator('[data-role="status"]').text_content() == "field 0 · time 9 · z 2"


def test_a_python_plane_ends_the_wait_for_requests_it_superseded(page):
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    page.locator('[data-role="play"]').click()
    page.wait_for_function("window.model.sent.some(m => m.type === 'request' && m.playing)")
    first = [r for r in sent(page, "request") if r.get("playing")][-1]
    # Python served a plane of its own instead: our request will never be answered.
    page.evaluate(f"deliverPlane(0, 5, 0, -3, 8, 10, {{seen: {first['id']}}})")
    # Playing goes on at once instead of waiting for the stale-request timeout (3 s).
    page.wait_for_function(
        "window.model.sent.filter(m => m.type === 'request' && m.playing).length >= 2",
        timeout=1500,
    )
    page.locator('[data-role="play"]').click()


def test_keys_the_explorer_handles_never_reach_the_host(page):
    # A host that, like Notebook 7, takes keys in the capture phase on the document.
    page.evaluate(
        "window.hostKeys = []; document.addEventListener('keydown', "
        "e => window.hostKeys.push(e.key), true)"
    )
    page.locator('[data-role="si-explorer"]').focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+Enter")  # not ours: the host still runs its cell
    assert page.evaluate("window.hostKeys") == ["Shift", "Enter"]
    assert sent(page, "request")[-2]["time"] == 1
    # In an input the keys are the input's own (and the host's).
    page.locator('[data-role="fps"]').focus()
    page.keyboard.press("ArrowUp")
    assert page.evaluate("window.hostKeys")[-1] == "ArrowUp"
    assert sent(page, "request")[-1]["time"] == 1


def test_seconds_are_shown_beside_the_status_when_known(page):
    page.evaluate("deliverPlane(0, 3, 0, 1, 8, 10, {seconds: 0.1})")
    assert page.locator('[data-role="seconds"]').text_content() == "0.100 s"
    assert page.locator('[data-role="status"]').text_content() == "field 0 · time 3 · z 0"


def test_trace_image_marker_follows_the_time_slider(new_page, fake_site):
    page = new_page()
    page.goto(fake_site + "/index.html?trace=image")
    page.wait_for_function("window.ready === true")
    # Axes from 10% to 90% of the picture's width; time in seconds, 0.2 s per frame.
    page.evaluate(
        """() => {
          window.model.set('trace_axes', {box: [0.1, 0.9, 0.1, 0.8], xlim: [0, 2.2],
                                           t: [0, 11], x: [0, 2.2]});
          const b64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD' +
            'hgGAWjR9awAAAABJRU5ErkJggg==';
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          document.querySelector('[data-role="trace-image"]').style.height = '100px';
          window.model.set('trace_png', new DataView(bytes.buffer));
        }"""
    )
    img = page.locator('[data-role="trace-image"]').bounding_box()
    marker = page.locator('[data-role="trace-marker"]')

    def marker_fraction():
        return (marker.bounding_box()["x"] - img["x"]) / img["width"]

    assert marker_fraction() == pytest.approx(0.1, abs=0.01)  # time 0
    page.locator('[data-role="time-slider"]').fill("11")
    assert marker_fraction() == pytest.approx(0.9, abs=0.01)
    page.locator('[data-role="time-slider"]').fill("5")
    assert marker_fraction() == pytest.approx(0.1 + 0.8 * 5 / 11, abs=0.01)
    assert marker.get_attribute("data-time") == "5"
    mbox = marker.bounding_box()
    assert mbox["y"] == pytest.approx(img["y"] + 0.1 * img["height"], abs=1.5)
    assert mbox["height"] == pytest.approx(0.7 * img["height"], abs=1.5)
    # A click on the marker asks for the time under it, in the axis' unit (seconds).
    page.mouse.click(mbox["x"] + 0.5, img["y"] + img["height"] / 2)
    assert sent(page, "trace_click")[-1]["x"] == pytest.approx(1.0, abs=0.02)


def test_one_slow_load_does_not_flatten_the_load_time_chart(page):
    (first,) = sent(page, "request")
    page.wait_for_timeout(400)  # a cold start: the first plane takes 400 ms
    page.evaluate(f"deliverPlane(0, 0, 0, {first['id']})")
    slider = page.locator('[data-role="time-slider"]')
    for t in range(30):  # then quick ones
        slider.fill(str(t % 12))
        page.evaluate(f"deliverPlane(0, {t % 12}, 0, {sent(page, 'request')[-1]['id']})")
    timing = page.locator('[data-role="timing"]')
    assert int(timing.get_attribute("data-chart-top")) <= 100  # the scale fits the bulk...
    assert page.evaluate("pixel(0, 13, 'timing-chart')") == [0xA5, 0x0F, 0x15, 255]  # ...cut off
    assert "hits 25%" in timing.text_content()


# Slider moves, each answered after `delay` ms with the kernel reporting `server_ms` of work.
ROUND_TRIPS_JS = """
async ({n, delay, serverMs}) => {
  const slider = window.widgetEl.querySelector('[data-role="time-slider"]');
  for (let i = 0; i < n; i++) {
    slider.value = String((Number(slider.value) + 1) % 12);
    slider.dispatchEvent(new Event("input", {bubbles: true}));
    const req = window.model.sent.filter((m) => m.type === "request").at(-1);
    await new Promise((r) => setTimeout(r, delay));
    deliverPlane(0, req.time, 0, req.id, 8, 10, {timing: {server_ms: serverMs}});
  }
}
"""


def test_latency_hint_shows_when_round_trips_stay_far_above_the_widgets_own_work(page):
    (first,) = sent(page, "request")
    page.evaluate(f"deliverPlane(0, 0, 0, {first['id']})")
    hint = page.locator('[data-role="latency-hint"]')
    timing = page.locator('[data-role="timing"]')

    def round_trips(n, delay, server_ms=1.0):
        page.evaluate(ROUND_TRIPS_JS, {"n": n, "delay": delay, "serverMs": server_ms})

    # ~60 ms round trips for ~1 ms of kernel work: a stalled transport, but too few to judge.
    round_trips(18, 60)
    assert hint.is_hidden()
    round_trips(2, 60)
    assert hint.is_visible()
    text = hint.text_content()
    assert "delayed-ACK" in text and "pip install si-explorer" in text
    assert "jupyter server extension enable si_explorer.explorer.nodelay" in text
    assert float(timing.get_attribute("data-transport-ms")) > 40
    # A few replies escaping the stall do not hide it...
    round_trips(4, 0)
    assert hint.is_visible()
    # ...but once over a quarter of the recent round trips are fast, transport is fine.
    round_trips(2, 0)
    assert hint.is_hidden()
    assert float(timing.get_attribute("data-transport-ms")) < 30
    # Slow round trips that are the kernel's own work (a slow read) are not the server's fault.
    round_trips(20, 60, server_ms=58.0)
    assert hint.is_hidden()


def test_latency_hint_in_marimo_does_not_offer_the_jupyter_fix(new_page, fake_site):
    page = new_page()
    page.goto(fake_site + "/index.html?host=marimo")
    page.wait_for_function("window.ready === true")
    (first,) = sent(page, "request")
    page.evaluate(f"deliverPlane(0, 0, 0, {first['id']})")
    page.evaluate(ROUND_TRIPS_JS, {"n": 20, "delay": 60, "serverMs": 1.0})
    hint = page.locator('[data-role="latency-hint"]')
    assert hint.is_visible()
    assert "marimo" in hint.text_content() and "jupyter server extension" not in hint.text_content()


def test_settings_changed_in_python_show_in_the_controls(page):
    assert page.locator('[data-role="channel"]').is_visible()  # two colour channels
    page.evaluate(
        """() => {
          const m = window.model;
          m.set('chunk_scheme', 'frames:16'); m.set('backend', 'mmap');
          m.set('cache_mb', 64); m.set('prefetch', 3); m.set('fps', 12);
          m.set('colormap', 'cividis'); m.set('channel', 1);
        }"""
    )
    values = {
        r: page.locator(f'[data-role="{r}"]').input_value()
        for r in ("chunk-scheme", "backend", "cache-mb", "prefetch", "fps", "colormap", "channel")
    }
    assert values == {
        "chunk-scheme": "frames:16",
        "backend": "mmap",
        "cache-mb": "64",
        "prefetch": "3",
        "fps": "12",
        "colormap": "cividis",
        "channel": "1",
    }
    page.evaluate("window.model.set('channels', ['1'])")
    assert page.locator('[data-role="channel"]').is_hidden()  # nothing to choose from
    page.evaluate("window.model.set('playing', true)")
    assert page.locator('[data-role="play"]').text_content() == "❚❚ pause"
    page.evaluate("window.model.set('playing', false)")


def test_follow_checkbox_and_a_growing_time_axis(page):
    """Follow mode: the checkbox tells Python, and a longer time axis from Python extends the
    slider and its number box at once (the file grew while it was being acquired)."""
    box = page.locator('[data-role="follow"]')
    assert not box.is_checked()
    box.check()
    assert sent(page, "config")[-1] == {"type": "config", "key": "follow", "value": True}
    slider = page.locator('[data-role="time-slider"]')
    n = int(slider.get_attribute("max")) + 1
    page.evaluate(f"window.model.set('n_times', {n + 25})")
    assert slider.get_attribute("max") == str(n + 24)
    assert page.locator('[data-role="time-slider-number"]').get_attribute("max") == str(n + 24)
    page.evaluate("window.model.set('follow', false)")
    assert not box.is_checked()


def test_bidi_controls_send_settings_and_show_the_offset_of_the_plane_shown(page):
    mode = page.locator('[data-role="bidi-mode"]')
    offset = page.locator('[data-role="bidi-offset"]')
    assert mode.input_value() == "off"
    mode.select_option("auto")
    assert sent(page, "config")[-1] == {"type": "config", "key": "bidi", "value": "auto"}
    assert "estimating" in page.locator('[data-role="bidi-status"]').text_content()
    # Python applied it: the status and the offsets estimated per (field, z) arrive as traits.
    page.evaluate(
        """() => {
          const m = window.model;
          m.set('bidi', 'auto');
          m.set('bidi_offsets', [[0.5, 1.25, 2.0], [-0.75, 0.1, 0.2]]);
          m.set('bidi_status', 'bidi auto: -0.75..+2.00 px');
        }"""
    )
    assert page.locator('[data-role="bidi-status"]').text_content() == "bidi auto: -0.75..+2.00 px"
    assert offset.input_value() == "0.5"  # field 0, z 0
    page.evaluate("deliverPlane(1, 0, 2, -1)")
    assert offset.input_value() == "0.2"  # the field and z of the plane shown
    # A typed offset is a manual one.
    offset.fill("1.5")
    offset.dispatch_event("change")
    assert sent(page, "config")[-2:] == [
        {"type": "config", "key": "bidi_manual", "value": 1.5},
        {"type": "config", "key": "bidi", "value": "manual"},
    ]
    assert mode.input_value() == "manual"
    # Before/after and re-estimate.
    compare = page.locator('[data-role="bidi-compare"]')
    assert compare.is_enabled()
    compare.check()
    assert sent(page, "config")[-1] == {"type": "config", "key": "bidi_compare", "value": True}
    page.locator('[data-role="bidi-estimate"]').click()
    assert sent(page)[-1] == {"type": "bidi_estimate"}
    # Off again (from Python): nothing to compare with.
    page.evaluate("window.model.set('bidi', 'off'); window.model.set('bidi_offsets', [])")
    assert mode.input_value() == "off" and compare.is_disabled()


def test_float32_planes_are_drawn_with_the_contrast_window(page):
    page.evaluate(
        """() => {
          const values = new Float32Array(8 * 10);
          for (let i = 0; i < values.length; i++) values[i] = i * 0.5 + 0.25;
          window.model.deliver({
            type: "plane", id: -1, seen: 0, field: 0, time: 0, z: 0, height: 8, width: 10,
            dtype: "float32", block: [0, 0],
            timing: { cache: "hit", blocks: [], bytes: 320, read_ms: 0, server_ms: 1,
                      read_p50: null, read_p95: null, hit_rate: 1, cache_bytes: 0 },
          }, [values.buffer]);
          window.model.set('vmin', 0); window.model.set('vmax', 40);
        }"""
    )
    for y, x in [(0, 0), (3, 7), (7, 9)]:
        v = (y * 10 + x) * 0.5 + 0.25
        g = gray(v, 0, 40)
        assert page.evaluate(f"pixel({x}, {y})")[:3] == pytest.approx([g, g, g], abs=1), (y, x)


def test_aux_toggle_shows_with_triggers_and_tells_python(page):
    toggle = page.locator('[data-role="aux-toggle"]')
    assert toggle.is_hidden()  # no triggers in the file
    page.evaluate(
        """() => {
          window.model.set('aux_count', 14);
          window.model.set('timeline_note', 'time from frame timestamps · 1 dropped frame (6)');
        }"""
    )
    assert toggle.is_visible() and not toggle.is_checked()
    toggle.check()
    assert sent(page, "config")[-1] == {"type": "config", "key": "show_aux", "value": True}
    note = page.locator('[data-role="timeline-note"]').text_content()
    assert "1 dropped frame" in note


def test_chunk_map_outlines_the_time_blocks_after_dropped_frames(page):
    cmap = page.locator('[data-role="chunk-map"]')
    key = page.locator('[data-role="chunk-gap-key"]')
    page.evaluate("deliverPlane(0, 0, 0, 1)")
    assert cmap.get_attribute("data-gaps") == "" and key.is_hidden()
    page.evaluate(
        "deliverPlane(0, 1, 0, 2, 8, 10, {chunk_map: {rows: 3, cols: 12, bin: 1, gaps: [4]}})"
    )
    assert cmap.get_attribute("data-gaps") == "4" and key.is_visible()
    assert "1 after dropped frames" in cmap.text_content()
    # Column 4 of 12 on a 420-pixel canvas: its left edge is drawn red, its neighbours are not.
    left = [page.evaluate(f"pixel(141, {y}, 'chunk-canvas')") for y in range(2, 58)]
    assert any(p[0] > 180 and p[1] < 90 for p in left)
    other = [page.evaluate(f"pixel(106, {y}, 'chunk-canvas')") for y in range(2, 58)]
    assert not any(p[0] > 180 and p[1] < 90 for p in other)
