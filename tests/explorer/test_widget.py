"""The Explorer's Python side on real synthetic files: messages in, planes and traces out."""

from __future__ import annotations

import io
import time

import matplotlib.image
import numpy as np
import pytest
import traitlets

import si_explorer
from si_explorer.explorer import Explorer
from si_explorer.explorer.messages import BadMessage, parse_message

from .stack_double import make_double


class Sent:
    """Captures what the widget sends to the browser (custom messages and their buffers)."""

    def __init__(self, widget):
        self.messages = []
        widget.send = lambda content, buffers=None: self.messages.append((content, buffers))

    def of(self, kind):
        return [(c, b) for c, b in self.messages if c.get("type") == kind]


@pytest.fixture(scope="module")
def files(synthetic):
    return synthetic(
        height=24, width=32, volumes=40, slices=3, channels=2, rois=((20, 32), (12, 20))
    )


@pytest.fixture
def ex(files):
    widget = Explorer(files.paths[0], trace="image", cache_mb=1)
    yield widget
    widget.close()


def front(widget, **content):
    """Deliver a message as the browser would."""
    widget._on_custom_msg(widget, content, [])


def test_request_from_the_browser_sends_the_raw_plane(ex):
    sent = Sent(ex)
    front(ex, type="request", id=7, field=1, time=12, z=2)
    assert ex.wait()
    (content, buffers), *_ = sent.of("plane")
    assert (content["id"], content["field"], content["time"], content["z"]) == (7, 1, 12, 2)
    h, w = ex.stack.field_shapes[1]
    plane = np.frombuffer(buffers[0], dtype=content["dtype"]).reshape(
        content["height"], content["width"]
    )
    np.testing.assert_array_equal(plane, ex.stack[1, 12, 2][:h, :w])
    assert (ex.field, ex.time, ex.z) == (1, 12, 2)  # Python mirrors the browser
    assert content["timing"]["cache"] == "miss" and content["chunk_map"]["rows"] == 3


def test_setting_time_from_python_shows_that_plane(ex):
    sent = Sent(ex)
    ex.time = 33
    ex.wait()
    content, _ = sent.of("plane")[-1]
    assert content["time"] == 33 and content["id"] < 0


@pytest.mark.parametrize(
    "message, problem",
    [
        ({"type": "request", "id": 1, "field": 0, "time": 40, "z": 0}, "time 40 is out of range"),
        ({"type": "request", "id": 1, "field": -1, "time": 0, "z": 0}, "field -1 is out of range"),
        ({"type": "request", "id": 1, "field": 0, "time": "3", "z": 0}, "whole number"),
        ({"type": "request", "id": 1, "field": 0, "time": 2.5, "z": 0}, "whole number"),
        ({"type": "roi", "field": 1, "roi": [5, 3, 0, 4]}, "non-empty rectangle"),
        ({"type": "roi", "field": 1, "roi": [0, 13, 0, 4]}, "inside the 12x20 field"),
        ({"type": "roi", "field": 0, "roi": [0, 1, 2]}, "roi must be"),
        ({"type": "roi", "field": 0, "pixel": [0, 32]}, "x 32 is out of range"),
        ({"type": "config", "key": "colormap", "value": "jet"}, "colormap must be one of"),
        ({"type": "config", "key": "cache_mb", "value": -5}, "cache_mb must be >= 0"),
        ({"type": "config", "key": "chunk_scheme", "value": "frames:zero"}, "chunk scheme"),
        ({"type": "config", "key": "__class__", "value": 1}, "unknown setting"),
        ({"type": "bogus"}, "unknown message type"),
    ],
)
def test_bad_messages_are_shown_and_change_nothing(ex, message, problem):
    sent = Sent(ex)
    before = (ex.field, ex.time, ex.z, ex.roi, ex.colormap, ex.cache_mb, ex.chunk_scheme)
    front(ex, **message)
    ex.wait()
    (error,) = sent.of("error")
    assert problem in error[0]["message"] and problem in ex.errors[-1]
    assert sent.of("plane") == []
    assert (ex.field, ex.time, ex.z, ex.roi, ex.colormap, ex.cache_mb, ex.chunk_scheme) == before


def test_a_message_that_is_not_an_object_is_rejected():
    with pytest.raises(BadMessage):
        parse_message(["request"], (1, 2, 1, 4, 4), [(4, 4)])


def test_roi_trace_equals_stack_timeseries(ex):
    front(ex, type="request", id=1, field=1, time=0, z=1)
    front(ex, type="roi", field=1, roi=[2, 9, 3, 15])
    assert ex.wait()
    assert ex.roi == (2, 9, 3, 15)
    want = ex.stack.timeseries(roi=(2, 9, 3, 15), field=1, z=1)
    np.testing.assert_allclose(ex.trace, want)
    np.testing.assert_allclose(ex.trace_figure.line.get_ydata(), want)
    assert ex.trace_png.startswith(b"\x89PNG")


def test_pixel_trace_follows_z_and_channel(ex):
    front(ex, type="roi", field=0, pixel=[5, 7])
    ex.wait()
    np.testing.assert_array_equal(ex.trace, ex.stack.timeseries(5, 7, field=0, z=0))
    ex.z = 2
    ex.wait()
    np.testing.assert_array_equal(ex.trace, ex.stack.timeseries(5, 7, field=0, z=2))
    front(ex, type="config", key="channel", value=1)
    ex.wait()
    assert ex.stack.channel == 1
    np.testing.assert_array_equal(ex.trace, ex.stack.timeseries(5, 7, field=0, z=2))
    assert not np.array_equal(ex.trace, ex.stack.with_options(channel=0).timeseries(5, 7, z=2))


def test_trace_is_filled_progressively_in_slices(files, monkeypatch):
    from si_explorer.explorer import trace

    monkeypatch.setattr(trace, "MIN_SLICE", 4)
    monkeypatch.setattr(trace, "MAX_SLICE", 8)
    widget = Explorer(files.paths[0], trace="image")
    sent = Sent(widget)
    widget.roi = (3, 4)
    widget.wait()
    progress = [c["done"] for c, _ in sent.of("trace")]
    assert progress[0] == 0 and progress[-1] == 40 and len(progress) >= 5
    assert progress == sorted(progress)
    widget.close()


def test_clicking_the_trace_moves_time(ex):
    ex.trace_figure._on_click_time(ex.trace_figure.time_index(17.2 * ex.trace_figure.x[1]))
    assert ex.time == 17
    front(ex, type="trace_click", x=float(ex.trace_figure.x[9]))
    assert ex.time == 9


def test_chunk_scheme_backend_cache_and_prefetch_are_live(ex):
    sent = Sent(ex)
    ex.chunk_scheme = "volume"
    ex.wait()
    content, _ = sent.of("plane")[-1]
    assert content["timing"]["blocks"] == [[0, 0, 0, 0, 0]]
    assert content["timing"]["bytes"] == ex.stack.block_nbytes((0, 0, 0, 0, 0)) == 3 * 20 * 32 * 2
    assert ex.stack.chunk_scheme == "volume"
    ex.backend = "mmap"
    assert ex.stack.backend == "mmap"
    ex.cache_mb = 0.5
    assert ex.controller.cache.budget == 2**19
    front(ex, type="config", key="prefetch", value=3)
    assert ex.controller.prefetch == 3
    with pytest.raises(traitlets.TraitError):
        ex.chunk_scheme = "nonsense"
    assert ex.chunk_scheme == "volume"


def test_auto_contrast_reads_only_a_few_planes(files, monkeypatch):
    stack = si_explorer.open(files.paths[0])
    calls = []
    real_getitem = type(stack).__getitem__

    def counting(self, key):
        calls.append(key)
        return real_getitem(self, key)

    monkeypatch.setattr(type(stack), "__getitem__", counting)
    widget = Explorer(stack, trace="image")
    assert sorted(k[1] for k in calls) == [0, 13, 26, 39]  # 4 planes, not a scan of 40
    sample = np.concatenate([real_getitem(stack, (0, t, 0)).ravel() for t in (0, 13, 26, 39)])
    lo, hi = np.percentile(sample, [0.5, 99.5])
    assert (widget.vmin, widget.vmax) == pytest.approx((lo, hi), abs=1.0)
    widget.close()


def test_drawn_times_reported_by_the_browser_reach_the_timing_summary(ex):
    front(ex, type="request", id=3, field=0, time=1, z=0)
    ex.wait()
    front(ex, type="request", id=4, field=0, time=2, z=0, ack={"id": 3, "total_ms": 12.5})
    ex.wait()  # the browser acknowledges a plane only after it arrived
    front(ex, type="drawn", id=4, total_ms=20.0)
    drawn = {r["request_id"]: r["drawn_ms"] for r in ex.timings()}
    assert drawn[3] == 12.5 and drawn[4] == 20.0
    assert ex.timing_summary()["drawn_ms"]["p50"] == pytest.approx(16.25)


def test_displaying_gives_the_plane_view_and_the_ipympl_trace_together():
    widget = Explorer(make_double(), trace="ipympl")
    bundle = widget._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == widget._box.model_id
    assert widget._box.children == (widget, widget.trace_figure.canvas)
    widget.close()


def test_open_options_only_with_a_path():
    with pytest.raises(TypeError, match="only apply when Explorer opens a path"):
        Explorer(make_double(), chunks="volume")


def test_trace_marker_ends_at_the_last_time_after_a_burst():
    import time

    widget = Explorer(make_double(), trace="ipympl")
    widget.roi = (2, 3)
    widget.wait()
    for t in range(1, 8):  # faster than the marker's redraw interval
        widget.time = t
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and widget.trace_figure.marker.get_xdata()[0] != 7:
        time.sleep(0.05)
    assert widget.trace_figure.marker.get_xdata()[0] == 7
    widget.close()


def test_plane_messages_carry_the_padded_size_and_the_seconds(ex):
    sent = Sent(ex)
    front(ex, type="request", id=5, field=1, time=3, z=0)
    ex.wait()
    content, _ = sent.of("plane")[-1]
    assert (content["height"], content["width"]) == ex.stack.field_shapes[1] == (12, 20)
    assert content["padded"] == [20, 32]  # every field padded to the largest
    assert content["seen"] == 5
    assert content["seconds"] == pytest.approx(ex.stack.time_seconds[3])


def test_a_plane_asked_for_in_python_names_the_browser_requests_it_supersedes(ex):
    sent = Sent(ex)
    front(ex, type="request", id=11, field=0, time=2, z=0)
    ex.wait()
    ex.time = 30  # e.g. a click on the trace
    ex.wait()
    content, _ = sent.of("plane")[-1]
    assert content["time"] == 30 and content["id"] < 0 and content["seen"] == 11


def test_a_roi_outside_the_next_field_is_cleared_and_one_inside_is_traced_there(ex):
    front(ex, type="request", id=1, field=0, time=0, z=0)
    front(ex, type="roi", field=0, roi=[2, 5, 3, 8])  # fits field 1 (12x20) too
    ex.wait()
    front(ex, type="request", id=2, field=1, time=0, z=0)
    ex.wait()
    assert ex.roi == (2, 5, 3, 8)
    np.testing.assert_allclose(ex.trace, ex.stack.timeseries(roi=(2, 5, 3, 8), field=1, z=0))
    front(ex, type="request", id=3, field=0, time=0, z=0)
    front(ex, type="roi", field=0, roi=[14, 18, 3, 8])  # rows 14..17: field 1 has 12
    ex.wait()
    front(ex, type="request", id=4, field=1, time=0, z=0)
    ex.wait()
    assert ex.roi == () and ex.trace is None
    assert ex.errors == []  # cleared, not failed


def test_image_fallback_has_a_picture_from_the_start_and_geometry_for_each_render(ex):
    assert ex.trace_png.startswith(b"\x89PNG")  # the empty figure, with its hint
    assert not ex.trace_figure.marker.get_visible()  # the browser draws the marker
    empty = ex.trace_axes
    assert empty["t"][0] == 0 and empty["t"][-1] == 39 and len(empty["t"]) == len(empty["x"])
    np.testing.assert_allclose(empty["x"], ex.stack.time_seconds[empty["t"]])
    left, right, top, bottom = empty["box"]
    assert 0 < left < right < 1 and 0 < top < bottom < 1
    assert empty["xlim"][0] < ex.stack.time_seconds[0] < ex.stack.time_seconds[-1]
    ex.roi = (2, 9, 3, 15)
    ex.wait()
    # Values in the thousands widen the y tick labels: the axes moved, and the geometry too.
    assert ex.trace_axes["box"][0] != left
    # Shown at its own size by the front end (.six-trace-img in style.js), so text stays crisp.
    assert matplotlib.image.imread(io.BytesIO(ex.trace_png)).shape[:2] == (288, 442)


def test_trace_geometry_thins_long_recordings_to_a_few_hundred_knots():
    from si_explorer.explorer.trace import MAX_KNOTS, TraceFigure

    seconds = np.cumsum(np.full(100_000, 0.033))
    fig = TraceFigure("image", 100_000, seconds)
    fig.png()
    g = fig.geometry()
    assert len(g["t"]) == MAX_KNOTS and g["t"][0] == 0 and g["t"][-1] == 99_999
    np.testing.assert_allclose(g["x"], seconds[g["t"]])


def test_switching_channel_sets_contrast_from_the_new_channel(files):
    from si_explorer.explorer.contrast import auto_window

    widget = Explorer(files.paths[0], trace="image")
    first = (widget.vmin, widget.vmax)
    front(widget, type="config", key="channel", value=1)
    widget.wait()
    want = auto_window(widget.stack, 0, 0, 0)
    deadline = time.monotonic() + 10
    while (widget.vmin, widget.vmax) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (widget.vmin, widget.vmax) == pytest.approx(want)
    assert want != pytest.approx(first)  # the synthetic channels differ in brightness
    widget.close()


def test_a_new_trace_starts_with_the_marker_at_the_time_shown():
    widget = Explorer(make_double(), trace="ipympl")
    widget.time = 6
    widget.roi = (2, 3)
    widget.wait()
    assert widget.trace_figure.marker.get_xdata()[0] == 6
    widget.close()
