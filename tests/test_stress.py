"""Concurrent reads: 16 threads hammering one stack with planes, traces, blocks and slices on
every backend give exactly the single-threaded results, and closing the stack leaves no file
descriptor behind."""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import si_explorer

from .conftest import HOSTPIXELCORR

THREADS = 16
BACKENDS = ("pread", "mmap", "tifffile")


def open_fds() -> set[tuple[str, str]]:
    """This process's descriptors on TIFF files. Only those: pipes, sockets and event-loop
    descriptors of earlier tests' servers and clusters close on their own threads, at times
    of their own, and are not what a stack's close() is about."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since it was listed
            continue
        if target.endswith((".tif", ".tiff")):
            found.add((fd, target))
    return found


def requests(stack, n: int, seed: int) -> list[tuple]:
    """Random reads of every kind a user (or the explorer) makes, as (kind, arguments)."""
    rng = random.Random(seed)
    n_f, n_t, n_z, n_y, n_x = stack.shape
    heights = stack.field_shapes
    out = []
    for _ in range(n):
        f, t, z = rng.randrange(n_f), rng.randrange(n_t), rng.randrange(n_z)
        h, w = heights[f]
        kind = rng.choice(["plane", "trace", "roi", "block", "slice"])
        if kind == "plane":
            out.append(("plane", (f, t, z)))
        elif kind == "trace":
            out.append(("trace", (rng.randrange(h), rng.randrange(w), f, z)))
        elif kind == "roi":
            y0, x0 = rng.randrange(h - 1), rng.randrange(w - 1)
            roi = (y0, rng.randrange(y0 + 1, h + 1), x0, rng.randrange(x0 + 1, w + 1))
            out.append(("roi", (roi, f, z)))
        elif kind == "block":
            out.append(("block", stack.block_of(f, t, z)))
        else:
            t1 = rng.randrange(t, min(n_t, t + 6)) + 1
            y0, x0 = rng.randrange(n_y), rng.randrange(n_x)
            out.append(("slice", (f, t, t1, y0, rng.randrange(y0, n_y) + 1, x0, n_x)))
    return out


def perform(stack, request) -> np.ndarray:
    kind, args = request
    if kind == "plane":
        return stack[args]
    if kind == "trace":
        y, x, f, z = args
        return stack.timeseries(y, x, field=f, z=z)
    if kind == "roi":
        roi, f, z = args
        return stack.timeseries(roi=roi, field=f, z=z)
    if kind == "block":
        return stack.read_block(args)
    f, t0, t1, y0, y1, x0, x1 = args
    return stack[f, t0:t1, :, y0:y1, x0:x1]


@pytest.fixture(scope="module")
def acquisitions(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("stress")
    write_acquisition(
        folder / "mroi_00001_00001.tif",
        Acquisition(rois=((40, 48), (24, 40)), volumes=24, slices=3, frames_per_file=30),
    )
    return {"multi-ROI, 3 files": str(folder / "mroi_*.tif"), "real sample": HOSTPIXELCORR}


@pytest.mark.parametrize("name", ["multi-ROI, 3 files", "real sample"])
def test_concurrent_reads_equal_single_threaded_reads(acquisitions, name, capsys):
    before = open_fds()
    source = acquisitions[name]
    stacks = {b: si_explorer.open(source, backend=b, chunks="frames:4") for b in BACKENDS}
    work = requests(stacks["pread"], 400, seed=11)
    for stack in stacks.values():
        # Touch every file once first: concurrent first touches leak a descriptor (see
        # test_concurrent_first_reads_of_a_file_leak_no_descriptor), which is not what this
        # test measures.
        for t in range(stack.shape[1]):
            stack[0, t, 0]
    # The reference: the tifffile backend, one thread, one request at a time.
    reference = [perform(stacks["tifffile"], r) for r in work]

    jobs = [(b, i) for b in BACKENDS for i in range(len(work))] * 2
    random.Random(5).shuffle(jobs)
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda job: (job, perform(stacks[job[0]], work[job[1]])), jobs))
    elapsed = time.perf_counter() - started
    for (backend, i), result in results:
        np.testing.assert_array_equal(result, reference[i], err_msg=f"{backend} {work[i]}")
        assert result.dtype == reference[i].dtype

    # dask's threaded scheduler over the same stacks: a reduction and a gather of blocks.
    for stack in stacks.values():
        mean = stack.data.mean(axis=1).compute(scheduler="threads", num_workers=THREADS)
        np.testing.assert_array_equal(mean, stack.data.mean(axis=1).compute(scheduler="sync"))

    for stack in stacks.values():
        stack.close()
    assert open_fds() == before, "file descriptors left open after close"
    with capsys.disabled():
        print(
            f"\nstress [{name}]: {len(jobs)} reads ({len(work)} distinct, 3 backends) on "
            f"{THREADS} threads in {elapsed:.2f} s = {len(jobs) / elapsed:,.0f} reads/s; "
            "all equal to single-threaded tifffile reads"
        )


def test_open_read_close_many_times_leaks_no_descriptor(acquisitions):
    source = acquisitions["multi-ROI, 3 files"]
    before = open_fds()
    for i in range(50):
        with si_explorer.open(source, backend=BACKENDS[i % 3]) as stack:
            stack[0, i % stack.shape[1], 0]
            stack.timeseries(1, 1, z=1)
    assert open_fds() == before


def test_concurrent_first_reads_of_a_file_leak_no_descriptor(acquisitions):
    source = acquisitions["multi-ROI, 3 files"]
    before = open_fds()
    for _ in range(10):
        stack = si_explorer.open(source)
        # Last time points first: they lie in the files that open() did not index.
        times = range(stack.shape[1] - 1, -1, -1)
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda t, s=stack: s[0, t, 0], times))
        stack.close()
    assert open_fds() == before
