"""The explorer's acquisition timeline (issue #11) and bidi correction (issue #12) on synthetic
files: the trace's time axis from frame timestamps, dropped frames on the trace and the chunk
map, aux trigger ticks, and corrected, raw and re-estimated planes."""

from __future__ import annotations

import numpy as np
import pytest

import si_explorer
from si_explorer import bidi
from si_explorer.explorer import Explorer
from si_explorer.explorer.timeline_view import LABEL_INDEX, LABEL_STAMPS

from .test_widget import Sent, front

SLICES = 2


@pytest.fixture(scope="module")
def files(synthetic):
    return synthetic(
        height=48,
        width=64,
        volumes=40,
        slices=SLICES,
        timestamp_jitter=0.002,
        dropped=(5,),
        aux_every=3,
    )


@pytest.fixture
def ex(files):
    widget = Explorer(files.paths[0], trace="image", chunks="frames:4")
    assert widget.wait(60)
    yield widget
    widget.close()


def last_plane(sent):
    content, buffers = sent.of("plane")[-1]
    data = np.frombuffer(buffers[0], dtype=content["dtype"])
    return content, data.reshape(content["height"], content["width"])


def test_trace_time_axis_is_the_frame_timestamps_of_the_z_shown(ex, files):
    timeline = ex.stack.timeline()
    fig = ex.trace_figure
    assert fig.ax.get_xlabel() == LABEL_STAMPS
    np.testing.assert_allclose(fig.x, timeline.timestamp.sel(z=0).values)
    ex.z = 1
    ex.wait()
    np.testing.assert_allclose(fig.x, timeline.timestamp.sel(z=1).values)
    # A click on the axis in seconds finds its time point; the plane says its own timestamp.
    sent = Sent(ex)
    front(ex, type="trace_click", x=float(timeline.timestamp.sel(z=1).values[17]))
    ex.wait()
    content, _ = last_plane(sent)
    assert content["time"] == 17
    assert content["seconds"] == pytest.approx(float(timeline.timestamp.values[17, 1]), abs=1e-6)
    assert "time from frame timestamps" in ex.timeline_note


def test_dropped_frames_reach_the_trace_and_the_chunk_map(ex, files):
    timeline = ex.stack.timeline()
    assert list(timeline.attrs["dropped_frames"]) == files.dropped_numbers()
    numbers = timeline.frame_number.values
    # The time point after the gap is the first whose frames come after the lost number.
    (after,) = [t for t in range(len(numbers)) if numbers[t].max() > files.dropped_numbers()[0]][:1]
    assert after > 0 and numbers[after - 1].max() < files.dropped_numbers()[0]
    segments = ex.trace_figure.gap_lines.get_segments()
    assert [s[0][0] for s in segments] == pytest.approx([ex.trace_figure.x[after]])
    assert "1 dropped frame" in ex.timeline_note

    sent = Sent(ex)
    ex.field = 0
    ex._encoder.forget_map()
    ex.time = 3
    ex.wait()
    content, _ = sent.of("plane")[-1]
    # frames:4 chunks: the gap's time point lies in time block after // 4.
    assert content["chunk_map"]["gaps"] == [after // 4]


def test_no_gaps_key_without_dropped_frames(synthetic):
    files = synthetic(height=24, width=32, volumes=6)
    ex = Explorer(files.paths[0], trace="image")
    try:
        assert ex.wait(60)
        sent = Sent(ex)
        ex._encoder.forget_map()
        ex.time = 2
        ex.wait()
        content, _ = sent.of("plane")[-1]
        assert "gaps" not in content["chunk_map"]
        assert ex.aux_count == 0 and ex.trace_figure.gap_lines is None
    finally:
        ex.close()


def test_aux_trigger_ticks_follow_the_toggle(ex):
    timeline = ex.stack.timeline()
    assert ex.aux_count == int(np.isfinite(timeline.aux_trigger0.values).sum()) + int(
        np.isfinite(timeline.aux_trigger2.values).sum()
    )
    ticks = ex.trace_figure.aux_ticks
    assert sorted(ticks) == [0, 2]
    xs = sorted(s[0][0] for s in ticks[0].get_segments())
    want = np.sort(timeline.aux_trigger0.values[np.isfinite(timeline.aux_trigger0.values)])
    np.testing.assert_allclose(xs, want)
    assert not ex.show_aux and not any(t.get_visible() for t in ticks.values())
    png_off = ex.trace_png
    front(ex, type="config", key="show_aux", value=True)
    ex.wait()
    assert ex.show_aux and all(t.get_visible() for t in ticks.values())
    assert ex.trace_png != png_off  # the image fallback shows them
    front(ex, type="config", key="show_aux", value=False)
    assert not any(t.get_visible() for t in ticks.values())


def test_files_without_frame_headers_keep_the_nominal_axis(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.arange(6 * 16 * 16, dtype=np.uint16).reshape(6, 16, 16))
    ex = Explorer(path, trace="image")
    try:
        assert ex.wait(60)
        assert ex.timeline is None and ex.aux_count == 0 and ex.errors == []
        assert ex.trace_figure.ax.get_xlabel() == LABEL_INDEX
    finally:
        ex.close()


def test_manual_bidi_serves_corrected_float32_planes(ex, files):
    raw_stack = si_explorer.open(files.paths[0])
    sent = Sent(ex)
    front(ex, type="config", key="bidi_manual", value=1.5)
    front(ex, type="config", key="bidi", value="manual")
    assert ex.wait(60)
    assert ex.bidi == "manual" and ex.errors == []
    np.testing.assert_array_equal(ex.stack.bidi_offset, np.full((1, SLICES), 1.5))
    assert ex.bidi_offsets == [[1.5, 1.5]]
    front(ex, type="request", id=5, field=0, time=9, z=1)
    ex.wait()
    content, plane = last_plane(sent)
    assert content["dtype"] == "float32"
    row0 = raw_stack.plane_source.field_page_rows()[0]
    want = bidi.apply_offset(raw_stack[0, 9, 1], 1.5, row0)
    assert want.dtype == np.float32
    np.testing.assert_array_equal(plane, want)
    # Auto contrast works on float planes.
    vmin, vmax = ex.auto_contrast()
    assert np.isfinite([vmin, vmax]).all() and vmax > vmin

    # Before/after: the raw plane while comparing, the corrected one again after.
    front(ex, type="config", key="bidi_compare", value=True)
    ex.wait()
    content, plane = last_plane(sent)
    assert content["dtype"] == raw_stack.dtype.name
    np.testing.assert_array_equal(plane, raw_stack[0, 9, 1])
    front(ex, type="config", key="bidi_compare", value=False)
    ex.wait()
    content, plane = last_plane(sent)
    np.testing.assert_array_equal(plane, want)

    # Traces are of the corrected pixels.
    ex.roi = (4, 20, 6, 30)
    ex.wait()
    np.testing.assert_allclose(
        ex.trace, ex.stack.timeseries(roi=(4, 20, 6, 30), field=0, z=1), rtol=1e-6
    )

    front(ex, type="config", key="bidi", value="off")
    ex.wait()
    assert ex.stack.bidi_offset is None and ex.bidi_offsets == []
    content, plane = last_plane(sent)
    np.testing.assert_array_equal(plane, raw_stack[0, 9, 1])


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("bidi", "sometimes", "bidi must be one of"),
        ("bidi_manual", 100.0, "within ±64"),
        ("bidi_manual", "1", "not a valid float"),
    ],
)
def test_bad_bidi_settings_are_refused(ex, key, value, problem):
    sent = Sent(ex)
    front(ex, type="config", key=key, value=value)
    ex.wait()
    (error,) = sent.of("error")
    assert problem in error[0]["message"]
    assert ex.bidi == "off" and ex.stack.bidi_offset is None


def test_auto_bidi_applies_the_stacks_estimate(ex, files):
    front(ex, type="config", key="bidi", value="auto")
    assert ex.wait(60)
    want = si_explorer.open(files.paths[0], bidi="auto").bidi_offset
    np.testing.assert_allclose(ex.stack.bidi_offset, want)
    np.testing.assert_allclose(ex.bidi_offsets, np.round(want, 3))
    assert ex.bidi_status.startswith("bidi auto:")


def test_re_estimate_sets_the_offset_of_the_field_and_z_shown(ex, files):
    ex.bidi_manual = 1.5
    ex.bidi = "manual"
    ex.wait(60)
    ex.z, ex.time = 1, 30
    sent = Sent(ex)
    front(ex, type="bidi_estimate")
    assert ex.wait(60)
    raw = si_explorer.open(files.paths[0])
    # The 32 frames centred on time 30, moved back to end with the recording (40 time points).
    frames = np.asarray(raw[0, 8:40, 1], float)
    est = bidi.estimate_offset(frames.mean(axis=0), row0=raw.plane_source.field_page_rows()[0])
    assert est.reliable
    np.testing.assert_allclose(ex.stack.bidi_offset, [[1.5, est.offset]])
    assert ex.bidi == "manual" and ex.bidi_manual == pytest.approx(est.offset, abs=1e-3)
    assert "field 0 · z 1" in ex.bidi_status and "px" in ex.bidi_status
    content, plane = last_plane(sent)
    np.testing.assert_array_equal(
        plane, bidi.apply_offset(raw[0, 30, 1], est.offset, raw.plane_source.field_page_rows()[0])
    )


def test_the_timeline_is_read_again_when_the_file_grows(files, tmp_path):
    import warnings

    from si_explorer.errors import TruncatedFileWarning

    data = files.paths[0].read_bytes()
    path = tmp_path / "live_00001_00001.tif"
    path.write_bytes(data[: int(files.ifd_offsets[0][2 * SLICES])])  # 2 volumes, before the gap
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedFileWarning)
        ex = Explorer(path, trace="image")
    try:
        assert ex.wait(60)
        assert ex.n_times == 2 and ex.trace_figure.gap_lines is None
        path.write_bytes(data)
        assert ex.grow() == 38
        assert ex.wait(60)
        timeline = si_explorer.open(files.paths[0]).timeline()
        np.testing.assert_allclose(ex.trace_figure.x, timeline.timestamp.sel(z=0).values)
        assert len(ex.trace_figure.gap_lines.get_segments()) == 1
        assert ex.timeline.dropped == tuple(files.dropped_numbers())
    finally:
        ex.close()
