"""The widget under load: thousands of browser messages as fast as the kernel delivers them.

A fast slider drag, ROI changes, chunk-scheme and backend switches, play with prefetch, and
malformed messages mixed in. Memory stays bounded, no thread is left behind, every malformed
message is rejected visibly, and the plane finally shown is the one last asked for.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import psutil
import pytest

from si_explorer.explorer import Explorer

from .test_widget import front

REQUESTS = 5000
CACHE_MB = 4


class Counting:
    """Keeps only the newest plane message and counts the others: the capture itself must not
    be what grows."""

    def __init__(self, widget):
        self.counts: dict[str, int] = {}
        self.last_plane = None
        widget.send = self.send

    def send(self, content, buffers=None):
        kind = content.get("type")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if kind == "plane":
            self.last_plane = (content, bytes(buffers[0]))


@pytest.fixture(scope="module")
def files(synthetic):
    return synthetic(height=64, width=48, volumes=300, slices=4, rois=((64, 48), (40, 30)))


def test_thousands_of_messages_never_wedge_the_widget(files, capsys):
    process = psutil.Process()
    threads_before = len(_threads())
    ex = Explorer(files.paths[0], trace="image", cache_mb=CACHE_MB, prefetch=4)
    sent = Counting(ex)
    rng = random.Random(11)
    F, T, Z = ex.stack.shape[:3]
    # Warm up what the first plane, trace and PNG import and allocate once.
    front(ex, type="roi", field=0, roi=[0, 4, 0, 4])
    front(ex, type="request", id=0, field=0, time=1, z=1)
    assert ex.wait(60)
    rss_before = process.memory_info().rss
    rss_peak = rss_before
    bad = 0
    last = None
    try:
        for i in range(1, REQUESTS + 1):
            last = (rng.randrange(F), rng.randrange(T), rng.randrange(Z))
            front(ex, type="request", id=i, field=last[0], time=last[1], z=last[2],
                  playing=i % 7 == 0)  # fmt: skip
            if i % 250 == 0:  # a malformed message from a buggy or hostile front end
                bad += 1
                front(ex, type="request", id=i, field=0, time=T + i, z=0)
            if i % 500 == 0:
                h, w = ex.stack.field_shapes[last[0]]
                y0, x0 = rng.randrange(h - 4), rng.randrange(w - 4)
                front(ex, type="roi", field=last[0], roi=[y0, y0 + 4, x0, x0 + 4])
            if i % 1000 == 0:
                scheme = ("page", "volume", "frames:8")[i // 1000 % 3]
                front(ex, type="config", key="chunk_scheme", value=scheme)
                front(ex, type="config", key="backend", value=("pread", "mmap")[i // 1000 % 2])
            if i % 100 == 0:
                rss_peak = max(rss_peak, process.memory_info().rss)
            if i % 4 == 0:
                # A drag delivers input events a few hundred microseconds apart at most; the
                # pause lets the reader thread serve some of them, as it does in a browser.
                time.sleep(0.0005)
        assert ex.wait(60)
        content, raw = sent.last_plane
        assert (content["field"], content["time"], content["z"]) == last
        # The last config switch re-requested the plane from Python; that answer tells the
        # browser its last request is served too, or the browser would wait for it.
        assert content["seen"] == REQUESTS
        h, w = ex.stack.field_shapes[last[0]]
        plane = np.frombuffer(raw, content["dtype"]).reshape(content["height"], content["width"])
        np.testing.assert_array_equal(plane, files.expected(*last)[:h, :w])
        assert len(ex.errors) == bad and all("out of range" in e for e in ex.errors)
        assert ex.controller.cache.nbytes <= CACHE_MB * 2**20
        assert len(ex.timings()) <= 1000  # the timing log is a bounded window
        stats = ex.controller.stats
        assert stats["requested"] >= REQUESTS  # and those the config switches made
        # Latest wins: most requests were superseded before being read, none queued up.
        assert stats["superseded"] > 0
        rss_growth = (rss_peak - rss_before) / 2**20
        assert rss_growth < 100, f"RSS grew by {rss_growth:.0f} MB"
    finally:
        ex.close()
    assert _wait_threads(threads_before), _threads()
    with capsys.disabled():
        print(
            f"\nwidget stress: {REQUESTS} requests + {bad} malformed, {sent.counts['plane']} "
            f"planes served, {stats['superseded']} superseded, "
            f"{stats['blocks_read']} blocks read, RSS +{rss_growth:.1f} MB, "
            f"threads back to {threading.active_count()}"
        )


def _threads() -> list[threading.Thread]:
    """Live threads, without tqdm's monitor: tqdm starts it with the first progress bar of the
    process (the timeline read shows one when it lasts) and keeps it for the process's life."""
    return [t for t in threading.enumerate() if t.name != "tqdm_monitor"]


def _wait_threads(count: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while len(_threads()) > count and time.monotonic() < end:
        time.sleep(0.05)
    return len(_threads()) <= count
