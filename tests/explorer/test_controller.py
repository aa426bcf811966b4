"""The plane controller without a browser: latest request wins, cancellation, the byte cache."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from si_explorer.explorer.cache import BlockCache
from si_explorer.explorer.chunkmap import CACHED, READ
from si_explorer.explorer.controller import PlaneController, config_key
from si_explorer.explorer.messages import PlaneRequest

from .stack_double import make_double


class Recorder:
    def __init__(self):
        self.planes = []
        self.errors = []
        self.event = threading.Event()

    def plane(self, result):
        self.planes.append(result)
        self.event.set()

    def error(self, req, exc):
        self.errors.append((req, exc))
        self.event.set()


def make_controller(stack, **kwargs):
    rec = Recorder()
    c = PlaneController(stack, on_plane=rec.plane, on_error=rec.error, **kwargs)
    return c, rec


def test_serves_the_requested_plane_cropped_to_the_field():
    stack = make_double(field_shapes=[(16, 20), (10, 12)])
    c, rec = make_controller(stack)
    c.request(PlaneRequest(1, field=1, time=7, z=2))
    assert c.wait_idle()
    (res,) = rec.planes
    np.testing.assert_array_equal(res.plane, stack[1, 7, 2][:10, :12])
    assert res.plane.flags.c_contiguous
    assert (res.timing.cache, res.timing.blocks_read) == ("miss", [(1, 7, 2, 0, 0)])
    assert res.timing.bytes_read == 16 * 20 * 2
    c.close()


def test_rapid_requests_never_queue_and_the_last_one_wins():
    stack = make_double(read_delay=0.02)
    c, rec = make_controller(stack)
    for t in range(12):
        c.request(PlaneRequest(t + 1, field=0, time=t, z=0))
    assert c.wait_idle()
    # Requests that arrived while a read was running replaced each other in the single slot:
    # far fewer than 12 reads happened, and the plane served last is the last one asked for.
    assert rec.planes[-1].request.time == 11
    np.testing.assert_array_equal(rec.planes[-1].plane, stack[0, 11, 0])
    assert len(stack.reads) < 6
    assert c.stats["superseded"] >= 6
    c.close()


def test_result_read_while_a_newer_request_arrived_is_dropped_but_cached():
    stack = make_double(read_delay=0.15)
    c, rec = make_controller(stack)
    c.request(PlaneRequest(1, field=0, time=3, z=0))
    time.sleep(0.05)  # the read of time 3 is now running
    c.request(PlaneRequest(2, field=0, time=4, z=0))
    assert c.wait_idle()
    assert [r.request.time for r in rec.planes] == [4]
    assert c.stats["discarded"] == 1
    cfg = config_key(stack)
    assert (cfg, stack.block_of(0, 3, 0)) in c.cache  # the stale read was not wasted
    c.close()


def test_superseded_before_its_read_began_is_cancelled_without_reading():
    stack = make_double(read_delay=0.1, chunks="page")
    c, rec = make_controller(stack)
    c.request(PlaneRequest(1, field=0, time=0, z=0))
    time.sleep(0.03)
    c.request(PlaneRequest(2, field=0, time=1, z=0))  # waits in the slot...
    c.request(PlaneRequest(3, field=0, time=2, z=0))  # ...and is replaced before it starts
    assert c.wait_idle()
    read_times = [block[1] for _, _, block in stack.reads]
    assert 1 not in read_times
    assert rec.planes[-1].request.time == 2
    c.close()


def test_second_request_for_a_cached_block_is_a_hit():
    stack = make_double(chunks="volume")
    c, rec = make_controller(stack)
    c.request(PlaneRequest(1, field=0, time=5, z=0))
    c.wait_idle()
    c.request(PlaneRequest(2, field=0, time=5, z=2))  # same volume block, another z
    c.wait_idle()
    assert [r.timing.cache for r in rec.planes] == ["miss", "hit"]
    assert len(stack.reads) == 1
    np.testing.assert_array_equal(rec.planes[1].plane, stack[0, 5, 2])
    c.close()


def test_frames_scheme_plane_is_sliced_from_the_right_block_position():
    stack = make_double(chunks="frames:5")
    c, rec = make_controller(stack)
    for i, t in enumerate([0, 4, 7, 11]):
        c.request(PlaneRequest(i + 1, field=1, time=t, z=1))
        c.wait_idle()
        np.testing.assert_array_equal(rec.planes[-1].plane, stack[1, t, 1])
    assert [r.timing.cache for r in rec.planes] == ["miss", "hit", "miss", "miss"]
    c.close()


def test_cache_evicts_least_recently_used_by_bytes():
    evicted = []
    cache = BlockCache(100, on_evict=evicted.append)
    cache.put("a", np.zeros(40, np.uint8))
    cache.put("b", np.zeros(40, np.uint8))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", np.zeros(40, np.uint8))
    assert evicted == ["b"] and cache.nbytes == 80
    assert cache.put("huge", np.zeros(101, np.uint8)) == [] and "huge" not in cache
    cache.budget = 40
    assert evicted == ["b", "a"] and cache.keys() == ["c"]


def test_controller_eviction_updates_the_chunk_map():
    stack = make_double(chunks="page")
    plane_bytes = 16 * 20 * 2
    c, rec = make_controller(stack, cache_bytes=2 * plane_bytes)
    for t in range(3):
        c.request(PlaneRequest(t + 1, field=0, time=t, z=0))
        c.wait_idle()
    cfg = config_key(stack)
    grid, _ = c.chunk_map.snapshot(cfg, 0, *c.grid_shape())
    assert grid[0, :3].tolist() == [READ, CACHED, CACHED]
    assert c.cache.nbytes == 2 * plane_bytes
    c.close()


def test_prefetch_reads_ahead_only_while_playing():
    stack = make_double(chunks="page")
    c, rec = make_controller(stack, prefetch=3)
    c.request(PlaneRequest(1, field=0, time=2, z=0))
    c.wait_idle()
    assert len(stack.reads) == 1
    c.request(PlaneRequest(2, field=0, time=2, z=1, playing=True))
    c.wait_idle()
    assert sorted(b[1] for _, _, b in stack.reads[1:]) == [2, 3, 4, 5]
    c.request(PlaneRequest(3, field=0, time=3, z=1, playing=True))
    c.wait_idle()
    assert rec.planes[-1].timing.cache == "hit"
    c.close()


def test_read_errors_are_reported_not_raised():
    stack = make_double()

    def broken(block):
        raise OSError("disk went away")

    stack.read_block = broken
    c, rec = make_controller(stack)
    c.request(PlaneRequest(1, field=0, time=0, z=0))
    c.wait_idle()
    assert rec.planes == [] and isinstance(rec.errors[0][1], OSError)
    # The reader thread survived and serves the next request.
    stack.read_block = make_double().read_block
    c.request(PlaneRequest(2, field=0, time=1, z=0))
    c.wait_idle()
    assert rec.planes[-1].request.time == 1
    c.close()


def test_switching_the_stack_changes_blocks_and_keys():
    stack = make_double(chunks="page")
    c, rec = make_controller(stack)
    c.request(PlaneRequest(1, field=0, time=0, z=0))
    c.wait_idle()
    vol = stack.with_options(chunks="volume")
    c.set_stack(vol)
    c.request(PlaneRequest(2, field=0, time=0, z=0))
    c.wait_idle()
    assert rec.planes[-1].timing.cache == "miss"  # another scheme: its own blocks
    assert rec.planes[-1].timing.blocks_read == [(0, 0, 0, 0, 0)]
    assert rec.planes[-1].timing.bytes_read == 3 * 16 * 20 * 2
    c.close()


def test_request_after_close_is_refused():
    c, _ = make_controller(make_double())
    c.close()
    with pytest.raises(RuntimeError):
        c.request(PlaneRequest(1, field=0, time=0, z=0))


def test_read_percentiles_leave_out_cache_hits():
    from si_explorer.explorer.timing import PlaneTiming, TimingLog

    log = TimingLog()
    for i, (cache, read_ms) in enumerate(
        [("miss", 4.0), ("hit", 0.0), ("hit", 0.0), ("miss", 8.0)]
    ):
        log.add(PlaneTiming(i, 0, i, 0, cache, read_ms=read_ms))
    assert log.recent_percentiles("read_ms", reads_only=True) == [6.0, 7.8]
    assert log.recent_percentiles("read_ms")[0] == 2.0
    assert log.recent_hit_rate() == 0.5


def test_latest_wins_runs_the_newest_job_and_lets_a_stale_one_stop():
    from si_explorer.explorer.latest import LatestWins

    started = threading.Event()
    release = threading.Event()
    ran, stale = [], []

    def run(job, generation):
        ran.append(job)
        if job == "slow":
            started.set()
            release.wait(5)
        if not worker.is_current(generation):
            stale.append(job)

    worker = LatestWins(run, name="test-latest")
    worker.submit("slow")
    assert started.wait(5)
    for job in ("a", "b", "c"):  # each replaces the one before it in the slot
        worker.submit(job)
    release.set()
    assert worker.wait_idle(5)
    assert ran == ["slow", "c"] and stale == ["slow"]
    assert (worker.submitted, worker.replaced) == (4, 2)
    worker.close()


def test_latest_wins_reports_errors_of_jobs_but_not_of_background_work():
    from si_explorer.explorer.latest import LatestWins

    errors, done = [], []

    def run(job, generation):
        worker.add_background(["bg"], generation)
        raise ValueError(job)

    def background(item):
        done.append(item)
        raise OSError("nobody asked for this")

    worker = LatestWins(
        run, name="test-latest", on_error=lambda j, e: errors.append((j, e)), background=background
    )
    worker.submit("job")
    assert worker.wait_idle(5)
    assert [(j, str(e)) for j, e in errors] == [("job", "job")] and done == ["bg"]
    worker.close()
