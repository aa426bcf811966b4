"""Follow mode: the explorer on a file that is still being written, as ScanImage writes it.

A writer thread appends a complete synthetic file's bytes in steps that end anywhere (mid-IFD,
mid-pixels); the explorer polls with ``Stack.refresh``. The slider must grow by complete
volumes only, the newest plane stay on screen, the trace extend, and nothing served may differ
from the complete file's ground truth.
"""

from __future__ import annotations

import os
import random
import threading
import time
import warnings

import numpy as np
import pytest

from si_explorer.errors import TruncatedFileWarning
from si_explorer.explorer import Explorer

from .test_widget import Sent, front

SLICES = 3


@pytest.fixture
def growing(synthetic, tmp_path):
    """(complete files, path of a copy holding its first 2 volumes, append(n_bytes))."""
    files = synthetic(height=20, width=28, volumes=30, slices=SLICES, frames_per_slice=1)
    data = files.paths[0].read_bytes()
    path = tmp_path / "live_00001_00001.tif"
    written = int(files.ifd_offsets[0][2 * SLICES])  # first byte after volume 2
    path.write_bytes(data[:written])
    state = {"written": written}

    def append(n: int) -> None:
        end = min(len(data), state["written"] + n)
        with open(path, "ab", buffering=0) as out:
            out.write(data[state["written"] : end])
        state["written"] = end

    append.done = lambda: state["written"] == len(data)
    return files, path, append


def descriptors_on(path) -> int:
    """How many of this process's open file descriptors are on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:  # closed since it was listed
            pass
    return count


def open_explorer(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedFileWarning)
        return Explorer(path, trace="image", **options)


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_grow_extends_slider_follows_the_newest_plane_and_extends_the_trace(growing):
    files, path, append = growing
    ex = open_explorer(path, chunks="frames:4")
    try:
        sent = Sent(ex)
        assert ex.n_times == 2
        ex.time = 1  # the last time point: following keeps the newest plane on screen
        ex.roi = (3, 9, 4, 12)
        assert ex.wait()
        append(10**9)
        assert ex.grow() == files.shape[1] - 2
        assert ex.wait()
        n = files.shape[1]
        assert ex.n_times == n and ex.time == n - 1
        content, buffers = sent.of("plane")[-1]
        assert content["time"] == n - 1
        plane = np.frombuffer(buffers[0], content["dtype"]).reshape(content["height"], -1)
        np.testing.assert_array_equal(plane, files.expected(0, n - 1, 0))
        truth = np.array([files.expected(0, t, 0)[3:9, 4:12].mean() for t in range(n)])
        np.testing.assert_allclose(ex.trace, truth)
        assert sent.of("trace")[-1][0] == {"type": "trace", "state": "done", "done": n, "total": n}
        # Time block 0 (frames 0-3) was cached holding frames 0-1 only; it must be read again.
        for t in range(4):
            ex.time = t
            assert ex.wait()
            content, buffers = sent.of("plane")[-1]
            plane = np.frombuffer(buffers[0], content["dtype"]).reshape(content["height"], -1)
            np.testing.assert_array_equal(plane, files.expected(0, t, 0))
        assert ex.grow() == 0  # nothing new
    finally:
        ex.close()


def test_a_plane_not_at_the_end_stays_where_it_is(growing):
    files, path, append = growing
    ex = open_explorer(path)
    try:
        ex.time = 0
        append(int(files.ifd_offsets[0][4 * SLICES] - files.ifd_offsets[0][2 * SLICES]))
        assert ex.grow() == 2
        assert (ex.n_times, ex.time) == (4, 0)
    finally:
        ex.close()


def test_a_growth_seen_after_another_z_was_chosen_reads_that_z_from_the_start(growing):
    """The follower's thread notices growth while the kernel's thread switches z: the trace
    of the old z was complete, the extension is asked for the new z. Its first values must be
    read again, not kept from the old z (the race test_follow_mode_tracks_a_writer_thread
    used to lose now and then)."""
    import si_explorer
    from si_explorer.explorer.trace_session import TraceSession

    files, path, append = growing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedFileWarning)
        stack = si_explorer.open(path)
    errors = []
    session = TraceSession(
        "image",
        stack.shape[1],
        stack.time_seconds,
        send=lambda message: None,
        show_error=errors.append,
        time_shown=lambda: 0,
        publish_png=lambda png, geometry: None,
    )
    try:
        session.start(stack, (5, 6), 0, 0)
        assert wait_for(session.done.is_set)
        old = stack.shape[1]
        append(10**9)
        assert stack.refresh() > 0
        session.grew(stack, (5, 6), 0, 2, old)  # z 2 chosen; z 0's trace was complete
        assert wait_for(session.done.is_set) and errors == []
        truth = [files.expected(0, t, 2)[5, 6] for t in range(files.shape[1])]
        np.testing.assert_array_equal(session.values, truth)
    finally:
        session.close()
        stack.close()


def test_follow_mode_tracks_a_writer_thread(growing):
    """The writer appends in random steps; the browser asks for the newest plane as a user
    watching the acquisition would. Every plane served equals the complete file's."""
    files, path, append = growing
    n = files.shape[1]
    ex = open_explorer(path, follow=True, follow_interval=0.05)
    fds = descriptors_on(path)
    try:
        sent = Sent(ex)
        ex.time = ex.n_times - 1
        ex.roi = (5, 6)
        rng = random.Random(3)
        errors = []

        def writer():
            try:
                while not append.done():
                    append(rng.randrange(1, 6000))
                    # About 1.5 s of acquisition: several polls see it grow even on a busy
                    # machine, where one poll (refresh, resize, redraw) can take 100 ms.
                    time.sleep(0.03)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        seen = set()
        request_id = 0
        while thread.is_alive() or ex.n_times < n:
            request_id += 1
            front(ex, type="request", id=request_id, field=0, time=ex.n_times - 1, z=2)
            seen.add(ex.n_times)
            time.sleep(0.02)
            if not thread.is_alive() and not wait_for(lambda: ex.n_times == n, 5):
                break
        thread.join()
        assert errors == [] and ex.errors == []
        assert ex.n_times == n and ex.follow
        assert len(seen) > 3, f"the slider grew in too few steps to test anything: {seen}"
        assert ex.wait()
        for content, buffers in sent.of("plane"):
            plane = np.frombuffer(buffers[0], content["dtype"]).reshape(content["height"], -1)
            expected = files.expected(content["field"], content["time"], content["z"])
            np.testing.assert_array_equal(plane, expected)
        assert wait_for(lambda: ex._trace.done.is_set() and len(ex.trace) == n)
        truth = [files.expected(0, t, 2)[5, 6] for t in range(n)]  # z 2: the z shown
        np.testing.assert_array_equal(ex.trace, truth)
        # One reader and descriptor for the file however many refreshes followed.
        # (Counted on the file itself: matplotlib opens its fonts when the trace is first drawn.)
        assert descriptors_on(path) <= fds + 1
        ex.follow = False
        assert not ex._follower.running
    finally:
        ex.close()


def test_follow_stops_with_a_visible_error_when_the_file_shrinks(growing):
    files, path, append = growing
    ex = open_explorer(path, follow=True, follow_interval=0.05)
    try:
        sent = Sent(ex)
        with open(path, "r+b") as out:  # the user replaced the file by a shorter one
            out.truncate(1000)
        assert wait_for(lambda: not ex.follow)
        assert "shrank" in ex.errors[-1] and "following stopped" in ex.errors[-1]
        assert sent.of("error")
    finally:
        ex.close()


def test_follow_from_the_browser_is_a_checked_config(growing):
    _, path, _ = growing
    ex = open_explorer(path)
    try:
        front(ex, type="config", key="follow", value=True)
        assert ex.follow and ex._follower.running
        front(ex, type="config", key="follow", value="yes")
        assert ex.follow and "follow" in ex.errors[-1]
        front(ex, type="config", key="follow", value=False)
        assert not ex.follow and not ex._follower.running
    finally:
        ex.close()


def test_waiting_for_the_first_volume_then_showing_it(synthetic, tmp_path):
    """A Light Beads file whose first volume (30 beams) is not complete: the explorer opens
    with no time points and says it is waiting; following, it shows the first plane as soon
    as the volume is complete, with a contrast window from real data."""
    files = synthetic(height=16, width=16, volumes=3, channels=30, lbm=True)
    data = files.paths[0].read_bytes()
    path = tmp_path / "beams_00001_00001.tif"
    path.write_bytes(data[: int(files.ifd_offsets[0][17])])
    ex = open_explorer(path, follow=True, follow_interval=0.05)
    try:
        sent = Sent(ex)
        assert ex.n_times == 0
        assert ex.file_note.startswith("waiting for the first complete volume")
        assert "17 pages after the last complete time point" in ex.file_note
        time.sleep(0.3)  # several polls find nothing complete: no plane, no error
        assert sent.of("plane") == [] and ex.errors == []
        with open(path, "ab") as out:
            out.write(data[int(files.ifd_offsets[0][17]) : int(files.ifd_offsets[0][31]) + 40])
        assert wait_for(lambda: ex.n_times == 1 and sent.of("plane"))
        assert ex.wait()
        content, buffers = sent.of("plane")[-1]
        assert (content["time"], content["z"]) == (0, 0)
        plane = np.frombuffer(buffers[0], content["dtype"]).reshape(content["height"], -1)
        np.testing.assert_array_equal(plane, files.expected(0, 0, 0))
        assert ex.file_note == "" and ex.errors == []
        assert (ex.vmin, ex.vmax) != (0.0, 1.0)
    finally:
        ex.close()
