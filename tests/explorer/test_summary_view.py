"""The explorer as an analysis surface, Python side: summary views (their pass, progress,
cancellation, cache, contrast, the return to the frame), the metadata and frame header
messages, and the scanfield geometry of a multi-ROI file."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import traitlets

import si_explorer
from si_explorer import summary
from si_explorer.explorer import Explorer, summary_session
from si_explorer.explorer.contrast import image_window
from si_explorer.explorer.metadata_view import (
    flatten_json,
    frame_header_entries,
    metadata_entries,
    scanfield_geometry,
)

from .test_widget import Sent, front

pytestmark = pytest.mark.filterwarnings("ignore::si_explorer.errors.FrameHeaderWarning")

ROIS = ((20, 32), (12, 20))


@pytest.fixture(scope="module")
def files(synthetic):
    return synthetic(height=24, width=32, volumes=40, slices=2, channels=2, rois=ROIS)


@pytest.fixture
def ex(files):
    widget = Explorer(files.paths[0], trace="image")
    assert widget.wait(60)
    yield widget
    widget.close()


@pytest.fixture
def small_blocks(monkeypatch):
    """Passes read a few time points per block and refine after every block (before ``ex``)."""
    monkeypatch.setattr(summary, "PLANE_BLOCK_BYTES", 3 * 20 * 32 * 2)
    monkeypatch.setattr(summary_session, "REFINE_INTERVAL_S", 0.0)


def local_correlations(movie: np.ndarray) -> np.ndarray:
    """Each pixel's mean correlation over time with its 8 neighbours (CaImAn's
    ``local_correlations`` with ``eight_neighbours=True``), written out plainly."""
    y = np.asarray(movie, np.float64)
    y = y - y.mean(axis=0)
    std = y.std(axis=0)
    z = np.divide(y, std, out=np.zeros_like(y), where=std > 0)
    t, h, w = z.shape
    padded = np.zeros((t, h + 2, w + 2))
    padded[:, 1:-1, 1:-1] = z
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    ones = np.zeros((h + 2, w + 2))
    ones[1:-1, 1:-1] = 1
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            shifted = padded[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
            total += (z * shifted).mean(axis=0)
            count += ones[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    return total / count


def movie_of(stack, field, z):
    h, w = stack.field_shapes[field]
    return np.asarray(stack[field, :, z], np.float64)[:, :h, :w]


def check_images(images, movie):
    np.testing.assert_allclose(images["mean"], movie.mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(images["max"], movie.max(axis=0))
    np.testing.assert_allclose(images["std"], movie.std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(images["correlation"], local_correlations(movie), atol=1e-5)


def summaries(sent):
    return [(c, b) for c, b in sent.of("summary")]


def image_of(content, buffers):
    data = np.frombuffer(buffers[0], dtype=content["dtype"])
    return data.reshape(content["height"], content["width"])


def test_a_summary_view_sends_the_image_refined_as_it_reads_then_exact(small_blocks, ex):
    sent = Sent(ex)
    ex.field, ex.z = 1, 1
    ex.wait()
    ex.view = "max"
    assert ex.wait(60)
    shown = [(c, b) for c, b in summaries(sent) if c["image"]]
    done = [c["frames_done"] for c, _ in shown]
    # Refined block by block (3 time points each), the last one over every time point.
    assert len(shown) >= 5 and done == sorted(done) and done[-1] == 40
    assert all(c["view"] == "max" and (c["field"], c["z"]) == (1, 1) for c, _ in shown)
    first, _ = summaries(sent)[0]
    assert first["image"] is False and first["frames_done"] == 0  # "starting": no image yet
    movie = movie_of(ex.stack, 1, 1)
    content, buffers = shown[-1]
    assert content["done"] and content["frames_total"] == 40
    assert (content["height"], content["width"]) == ROIS[1] and content["padded"] == [20, 32]
    np.testing.assert_array_equal(image_of(content, buffers), movie.max(axis=0))
    # A partial image is the summary of the time points read so far.
    middle, mbuf = shown[len(shown) // 2]
    k = middle["frames_done"]
    np.testing.assert_array_equal(image_of(middle, mbuf), movie[:k].max(axis=0))
    check_images(ex.summary.images, movie)
    # Contrast: the image's own window, sent with it and then set as the traits.
    assert content["window"] == pytest.approx(image_window(movie.max(axis=0)))
    assert (ex.vmin, ex.vmax) == pytest.approx(tuple(content["window"]))


def test_switching_among_summaries_is_instant_and_a_plane_comes_back_from_the_cache(ex):
    ex.view = "mean"
    assert ex.wait(60)
    sessions = ex._summaries
    passes = sessions.passes
    sent = Sent(ex)
    for view in ("max", "std", "correlation"):
        ex.view = view  # no wait: the image is sent before the assignment returns
        content, buffers = summaries(sent)[-1]
        assert content["view"] == view and content["done"]
        np.testing.assert_allclose(image_of(content, buffers), ex.summary.images[view])
    assert sessions.passes == passes
    ex.z = 1
    assert ex.wait(60)
    assert sessions.passes == passes + 1
    sent = Sent(ex)
    ex.z = 0
    content, buffers = summaries(sent)[-1]
    assert (content["z"], content["done"]) == (0, True) and sessions.passes == passes + 1
    check_images(ex.summary.images, movie_of(ex.stack, 0, 0))


def test_a_newer_request_closes_the_running_pass_and_planes_stay_responsive(
    small_blocks, ex, monkeypatch
):
    closed, finished = [], []
    real = summary_session.plane_summaries

    def slow(stack, field, z, *, interval):
        gen = real(stack, field, z, interval=interval)
        try:
            for snap in gen:
                time.sleep(0.1)
                yield snap
            finished.append((field, z))
        finally:
            closed.append((field, z))
            gen.close()

    monkeypatch.setattr(summary_session, "plane_summaries", slow)
    sent = Sent(ex)
    ex.view = "correlation"
    deadline = time.monotonic() + 30
    while not any(c["image"] for c, _ in summaries(sent)) and time.monotonic() < deadline:
        time.sleep(0.01)
    # The pass of z 0 is running: a plane is served meanwhile, on its own thread.
    t0 = time.perf_counter()
    front(ex, type="request", id=1, field=0, time=0, z=0)
    assert ex.controller.wait_idle(5)
    assert time.perf_counter() - t0 < 1.0
    assert sent.of("plane")[-1][0]["id"] == 1
    assert ex.summary is not None and not ex.summary.done
    # Another plane: the running pass is closed, the new one runs to the end.
    front(ex, type="request", id=2, field=0, time=0, z=1)
    assert ex.wait(60)
    assert closed[0] == (0, 0) and (0, 0) not in finished and finished == [(0, 1)]
    later = summaries(sent)[[c["z"] for c, _ in summaries(sent)].index(1) :]
    assert all(c["z"] == 1 for c, _ in later)  # nothing more of z 0 once z 1 was asked for
    check_images(ex.summary.images, movie_of(ex.stack, 0, 1))


def test_a_move_in_time_returns_to_the_frame_with_its_contrast(ex):
    frame_window = (ex.vmin, ex.vmax)
    front(ex, type="view", view="max")
    assert ex.wait(60)
    assert ex.view == "max" and (ex.vmin, ex.vmax) != pytest.approx(frame_window)
    sent = Sent(ex)
    front(ex, type="request", id=5, field=0, time=7, z=0)  # the browser's time slider
    assert ex.wait()
    assert ex.view == "frame" and (ex.vmin, ex.vmax) == pytest.approx(frame_window)
    assert [c["time"] for c, _ in sent.of("plane")] == [7]  # one plane, the browser's
    ex.view = "std"
    assert ex.wait(60)
    sent = Sent(ex)
    ex.time = 9  # from Python: the frame is sent
    assert ex.wait()
    assert ex.view == "frame" and sent.of("plane")[-1][0]["time"] == 9
    # Field and z moves stay in a summary view: that plane's summary is shown.
    ex.view = "mean"
    ex.wait(60)
    front(ex, type="request", id=6, field=1, time=9, z=1)
    assert ex.wait(60)
    assert ex.view == "mean"
    content, _ = summaries(sent)[-1]
    assert (content["field"], content["z"], content["done"]) == (1, 1, True)


def test_a_contrast_set_by_the_user_is_kept_for_that_summary_view(ex):
    ex.view = "max"
    assert ex.wait(60)
    front(ex, type="config", key="vmin", value=100.0)
    front(ex, type="config", key="vmax", value=900.0)
    ex.z = 1
    assert ex.wait(60)
    assert (ex.vmin, ex.vmax) == (100.0, 900.0)
    ex.view = "mean"  # another view: its own window
    assert (ex.vmin, ex.vmax) == pytest.approx(image_window(ex.summary.images["mean"]))
    ex.view = "max"
    assert (ex.vmin, ex.vmax) == (100.0, 900.0)
    assert ex.auto_contrast() == pytest.approx(image_window(ex.summary.images["max"]))
    ex.z = 0
    assert ex.wait(60)
    assert (ex.vmin, ex.vmax) == pytest.approx(image_window(ex.summary.images["max"]))


def test_summaries_follow_the_channel_and_the_bidi_correction(ex):
    ex.view = "mean"
    assert ex.wait(60)
    front(ex, type="config", key="channel", value=1)
    assert ex.wait(60)
    assert ex.stack.channel == 1
    check_images(ex.summary.images, movie_of(ex.stack, 0, 0))
    assert not np.allclose(
        ex.summary.images["mean"], movie_of(ex.stack.with_options(channel=0), 0, 0).mean(axis=0)
    )
    front(ex, type="config", key="bidi_manual", value=1.5)
    front(ex, type="config", key="bidi", value="manual")
    assert ex.wait(60)
    corrected = ex.stack
    assert corrected.bidi_offset is not None
    check_images(ex.summary.images, movie_of(corrected, 0, 0))
    front(ex, type="config", key="bidi_compare", value=True)  # the raw planes are shown
    assert ex.wait(60)
    check_images(ex.summary.images, movie_of(corrected.with_options(bidi=None), 0, 0))


def test_a_second_front_end_asks_again_and_bad_views_are_refused(ex):
    ex.view = "std"
    assert ex.wait(60)
    sent = Sent(ex)
    front(ex, type="view", view="std")  # unchanged: the summary is sent again
    content, _ = summaries(sent)[-1]
    assert content["view"] == "std" and content["image"]
    front(ex, type="view", view="median")
    assert "view must be one of" in ex.errors[-1]
    with pytest.raises(traitlets.TraitError):
        ex.view = "median"
    front(ex, type="view", view="frame")
    assert ex.view == "frame"


def test_a_pass_keeps_running_in_the_frame_view_and_reports_progress(small_blocks, ex):
    ex.view = "correlation"
    sent = Sent(ex)
    front(ex, type="request", id=3, field=0, time=4, z=0)  # back to the frame at once
    assert ex.wait(60)
    assert ex.view == "frame"
    quiet = [c for c, _ in summaries(sent)]
    assert quiet and not any(c["image"] for c in quiet) and quiet[-1]["done"]
    ex.view = "correlation"  # done meanwhile: from the cache
    content, _ = summaries(sent)[-1]
    assert content["image"] and content["done"]


def test_metadata_and_frame_header_messages(ex):
    sent = Sent(ex)
    front(ex, type="metadata")
    (content, _), *_ = sent.of("metadata")
    rows = {key: (section, value) for section, key, value in content["entries"]}
    md = ex.stack.metadata
    assert rows["SI.hRoiManager.linesPerFrame"] == (
        "ScanImage header",
        md.raw("SI.hRoiManager.linesPerFrame"),
    )
    centers = [k for k in rows if k.endswith("scanfields.centerXY")]
    assert len(centers) == 2 and rows[centers[1]][0] == "ROI group"
    assert "header keys" in content["note"] and "ROI group" in content["note"]
    front(ex, type="frame_header", field=1, time=3, z=1)
    assert ex.wait()
    (header, _), *_ = sent.of("frame_header")
    assert (header["field"], header["time"], header["z"]) == (1, 3, 1)
    want = md.page_description(1, 3, 1)
    got = dict(header["entries"])
    assert got["frameNumbers"] == str(want["frameNumbers"]) and header["note"] == ""
    front(ex, type="frame_header", field=0, time=40, z=0)
    assert "time 40 is out of range" in ex.errors[-1]


def test_metadata_of_a_plain_tiff_says_there_is_none(tmp_path):
    import tifffile

    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint16), photometric="minisblack")
    stack = si_explorer.open(path)
    assert metadata_entries(stack) == ([], "no ScanImage metadata: not a ScanImage file")
    assert frame_header_entries(stack, 0, 0, 0)[0] == []
    assert scanfield_geometry(stack) == []


def test_scanfields_of_a_two_roi_file_and_none_for_a_single_field(ex, synthetic):
    fields = ex.scanfields
    assert [s["field"] for s in fields] == [0, 1]
    rois = ex.stack.layout.rois
    for s, roi in zip(fields, rois, strict=True):
        assert tuple(s["center"]) == pytest.approx(roi.center_xy)
        assert tuple(s["size"]) == pytest.approx(roi.size_xy)
        assert s["rotation"] == 0
    single = synthetic(height=16, width=16, volumes=3)
    assert scanfield_geometry(si_explorer.open(single.paths[0])) == []


def test_long_values_are_cut_short_and_json_is_flattened():
    rows = flatten_json({"RoiGroups": {"rois": [{"a": [[1, 0], [0, 1]]}, {"a": None}]}})
    assert rows == [("RoiGroups.rois[0].a", "[[1, 0], [0, 1]]"), ("RoiGroups.rois[1].a", "null")]
    from si_explorer.explorer.metadata_view import MAX_VALUE_CHARS, shorten

    long = "[" + " ".join(["1.5"] * 1000) + "]"
    short = shorten(long)
    assert len(short) < MAX_VALUE_CHARS + 30 and short.endswith(f"({len(long):,} characters)")


def test_summary_session_keeps_complete_results_within_its_budget(files):
    stack = si_explorer.open(files.paths[0])
    got = []
    done = threading.Event()

    def snapshot(key, snap):
        got.append(snap)
        if snap.done:
            done.set()

    s = summary_session.SummarySession(
        on_snapshot=snapshot, on_error=lambda k, e: got.append(e), cache_bytes=4 * 20 * 32 * 4
    )
    key, now = s.show(stack, 0, 0)
    assert now is None and s.wait_idle(60) and got[-1].done
    assert s.show(stack, 0, 0)[1] is got[-1] and s.hits == 1
    s.show(stack, 0, 1)
    assert s.wait_idle(60)
    # Room for one plane's four images: the first was dropped for the second.
    assert s.latest(key) is None and s.latest(s.show(stack, 0, 1)[0]).done
    assert s.last_pass_s > 0
    s.close()
