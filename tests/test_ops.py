"""Lazy operations: stack.map (per-chunk, lazy) and stack.project (one pass, any scheduler)."""

from __future__ import annotations

import math
import os
import pickle
from collections import Counter

import numpy as np
import pytest

import si_explorer
from si_explorer.ops import (
    MappedStack,
    project,
    projection_chunks,
    resolve_axes,
)
from si_explorer.read.planes import PagedPlanes
from si_explorer.summary import exact_sum

from .references import caiman_local_correlations


@pytest.fixture(scope="module")
def files(synthetic):
    # Stacked acquisition with flyback: page order differs from (t, z) order, so a read that
    # mixed up pages would show.
    return synthetic(volumes=12, slices=4, flyback=1, height=24, width=20, seed=3)


@pytest.fixture(scope="module")
def truth(files):
    stack = si_explorer.open(files.paths[0])
    full = np.stack([np.stack([files.expected(0, t, z) for z in range(4)]) for t in range(12)])[
        None
    ]
    np.testing.assert_array_equal(stack[...], full)  # the reference itself is right
    return full


@pytest.fixture
def page_reads(monkeypatch):
    """Every (field, time, z) plane PagedPlanes.read is asked for, with repeats."""
    seen = Counter()
    real = PagedPlanes.read

    def spy(self, fields, times, zs, rows, cols, backend):
        for f in np.asarray(fields).ravel():
            for t in np.asarray(times).ravel():
                for z in np.asarray(zs).ravel():
                    seen[int(f), int(t), int(z)] += 1
        return real(self, fields, times, zs, rows, cols, backend)

    monkeypatch.setattr(PagedPlanes, "read", spy)
    return seen


@pytest.fixture
def page_views(monkeypatch):
    """Every (field, time, z) plane PagedPlanes.view served as a zero-copy view."""
    seen = Counter()
    real = PagedPlanes.view

    def spy(self, field, times, zs, rows, cols):
        view = real(self, field, times, zs, rows, cols)
        if view is not None:
            seen.update((field, t, z) for t in times for z in zs)
        return view

    monkeypatch.setattr(PagedPlanes, "view", spy)
    return seen


# ---------------------------------------------------------------------- map


def test_map_is_lazy_until_pixels_are_asked_for(files, truth, page_reads):
    stack = si_explorer.open(files.paths[0])
    calls = []

    def scale(block):
        calls.append(block.shape)
        return block.astype(np.float32) * 0.5

    mapped = stack.map(scale, dtype=np.float32)
    assert isinstance(mapped, MappedStack)
    assert not page_reads and not calls
    assert mapped.dims == stack.dims and mapped.shape == stack.shape
    assert mapped.dtype == np.float32 and mapped.chunks == stack.chunks
    plane = mapped[0, 7, 2]
    # One page chunk read and mapped for one plane, nothing else.
    assert calls == [(1, 1, 1, 24, 20)]
    assert set(page_reads) == {(0, 7, 2)}
    np.testing.assert_array_equal(plane, truth[0, 7, 2].astype(np.float32) * 0.5)


def test_map_runs_per_chunk_of_the_scheme(files, truth):
    stack = si_explorer.open(files.paths[0], chunks="volume")
    shapes = []

    def record(block):
        shapes.append(block.shape)
        return block

    np.testing.assert_array_equal(stack.map(record, dtype=stack.dtype)[0, 3:5], truth[0, 3:5])
    assert shapes == [(1, 1, 4, 24, 20)] * 2


def test_map_infers_dtype_and_chains(files, truth):
    stack = si_explorer.open(files.paths[0])
    mapped = stack.map(lambda b: b.astype(np.float64)).map(np.sqrt)
    assert mapped.dtype == np.float64
    assert "sqrt" in repr(mapped) and files.paths[0].name in repr(mapped)
    np.testing.assert_allclose(mapped[0, 1], np.sqrt(truth[0, 1].astype(np.float64)))
    np.testing.assert_allclose(np.asarray(mapped)[0, 11, 3], np.sqrt(truth[0, 11, 3]))


def test_map_to_xarray_keeps_coordinates(files):
    stack = si_explorer.open(files.paths[0])
    array = stack.map(lambda b: b + 1).to_xarray()
    reference = stack.to_xarray()
    assert array.dims == stack.dims
    np.testing.assert_array_equal(array.coords["time"], reference.coords["time"])
    assert array.coords["time"].attrs["units"] == "s"
    np.testing.assert_array_equal(array.isel(time=3, z=1).values, stack[:, 3, 1] + 1)


def test_map_refuses_functions_that_change_the_block_shape(files):
    stack = si_explorer.open(files.paths[0])
    summed = stack.map(lambda b: b.sum(axis=-1), dtype=np.int64)
    with pytest.raises(si_explorer.SIExplorerError, match="keep the block's shape"):
        summed[0, 0, 0]


def test_map_needs_dtype_when_it_cannot_be_inferred(files):
    stack = si_explorer.open(files.paths[0])

    def picky(block):
        if block.shape[-1] == 1:
            raise ValueError("too small")
        return block

    with pytest.raises(si_explorer.SIExplorerError, match="dtype"):
        stack.map(picky)
    assert stack.map(picky, dtype=stack.dtype)[0, 0, 0].shape == (24, 20)
    with pytest.raises(si_explorer.SIExplorerError, match="callable"):
        stack.map("sqrt")


def test_mapped_stack_pickles(files, truth):
    stack = si_explorer.open(files.paths[0])
    clone = pickle.loads(pickle.dumps(stack.map(np.negative)))
    np.testing.assert_array_equal(clone[0, 2], -truth[0, 2])


# ---------------------------------------------------------------------- project


@pytest.mark.parametrize("stat", ["max", "min", "mean", "std"])
@pytest.mark.parametrize("axis", ["time", "z", ("time", "z"), 4])
def test_project_matches_numpy(files, truth, stat, axis):
    stack = si_explorer.open(files.paths[0])
    result = stack.project(stat, axis=axis, progress=False)
    axes = resolve_axes(axis)
    if stat in ("mean", "std"):
        expected = getattr(np, stat)(truth, axis=axes, dtype=np.float64)
        assert result.dtype == np.float64
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-9)
    else:
        expected = getattr(np, stat)(truth, axis=axes)
        assert result.dtype == stack.dtype
        np.testing.assert_array_equal(result, expected)
    assert result.shape == tuple(n for i, n in enumerate(stack.shape) if i not in axes)


def test_project_mean_and_std_do_not_overflow_the_native_dtype(files, truth):
    stack = si_explorer.open(files.paths[0])
    # Bright uint16 pixels: a sum over 12 time points in uint16 would wrap around.
    bright = stack.map(lambda b: (b + 30000).astype(np.uint16))
    full = truth.astype(np.float64) + 30000
    assert full.sum(axis=1).max() > np.iinfo(np.uint16).max  # the trap is real
    np.testing.assert_allclose(bright.project("mean", progress=False), full.mean(axis=1))
    np.testing.assert_allclose(bright.project("std", progress=False), full.std(axis=1))
    assert bright.project("max", progress=False).dtype == np.uint16


@pytest.mark.parametrize("backend", ["auto", "pread"])
def test_several_stats_come_from_one_read_of_each_plane(
    files, truth, page_reads, page_views, backend
):
    stack = si_explorer.open(files.paths[0], backend=backend)
    names = ("mean", "max", "std", "correlation", "min")
    mean, peak, std, corr, low = stack.project(names, progress=False, chunks="frames:5")
    seen = page_views if backend == "auto" else page_reads
    assert len(seen) == math.prod(stack.shape[:3]) and set(seen.values()) == {1}
    assert not (page_reads if backend == "auto" else page_views)
    np.testing.assert_allclose(mean, truth.mean(axis=1, dtype=np.float64), rtol=1e-12)
    np.testing.assert_array_equal(peak, truth.max(axis=1))
    np.testing.assert_array_equal(low, truth.min(axis=1))
    np.testing.assert_allclose(std, truth.std(axis=1, dtype=np.float64), rtol=1e-9)
    for f in range(stack.shape[0]):
        for z in range(stack.shape[2]):
            expected = caiman_local_correlations(truth[f, :, z])
            np.testing.assert_allclose(corr[f, z], expected, rtol=1e-7, atol=1e-9)
    with pytest.raises(si_explorer.SIExplorerError, match="at least one"):
        stack.project(())


@pytest.mark.parametrize("backend", ["auto", "mmap", "pread", "tifffile"])
def test_one_pass_max_min_mean_on_every_backend(files, truth, page_reads, page_views, backend):
    """max, min and mean reduce each block inside the task that reads it: through zero-copy
    views of the file where the backend allows the memory map, else through copies."""
    stack = si_explorer.open(files.paths[0], backend=backend)
    # Blocks stated: by default a probe of the first volume (one more view) picks them.
    mean, peak, low = stack.project(("mean", "max", "min"), progress=False, chunks="frames:5")
    np.testing.assert_allclose(mean, truth.mean(axis=1, dtype=np.float64), rtol=1e-12)
    np.testing.assert_array_equal(peak, truth.max(axis=1))
    np.testing.assert_array_equal(low, truth.min(axis=1))
    seen = page_views if backend in ("auto", "mmap") else page_reads
    assert len(seen) == math.prod(stack.shape[:3]) and set(seen.values()) == {1}
    assert not (page_reads if backend in ("auto", "mmap") else page_views)


def test_zero_copy_blocks_are_read_only_views_equal_to_copies(synthetic):
    lbm = synthetic(height=16, width=24, volumes=9, channels=6, lbm=True)
    mroi = synthetic(height=20, width=16, volumes=5, slices=2, rois=((20, 16), (12, 10)))
    broken = synthetic(height=16, width=16, volumes=10, slices=2, stride_break_at=7)
    # The padding of the smaller multi-ROI field (1) is not in the file: its blocks are
    # copies; a stride that breaks mid-file leaves no constant stride to view through.
    for files, viewable in ((lbm, {0}), (mroi, {0}), (broken, set())):
        stack = si_explorer.open(files.paths[0]).with_options(chunks="frames:4")
        for block in np.ndindex(*stack.data.numblocks):
            view = stack.read_block(block, zero_copy=True)
            np.testing.assert_array_equal(view, stack.read_block(block))
            is_view = view.base is not None and not view.flags.writeable
            assert is_view == (block[0] in viewable), block
    pread = si_explorer.open(lbm.paths[0], backend="pread")
    assert pread.read_block((0, 0, 0, 0, 0), zero_copy=True).flags.writeable


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8])
@pytest.mark.parametrize("frames", [100, 40_000, 70_000])
def test_integer_sums_are_exact_at_the_extremes(dtype, frames):
    """The int32 fast path must not wrap: all pixels at the dtype's largest magnitude, more
    frames than int32 can hold for uint16 (40,000) and for int16 (70,000)."""
    info = np.iinfo(dtype)
    for value in (info.max, info.min):
        block = np.full((1, frames, 1, 2, 3), value, dtype)
        got = exact_sum(block, (1,), keepdims=True)
        assert got.dtype == np.int64 and got.shape == (1, 1, 1, 2, 3)
        assert (got == int(value) * frames).all()


@pytest.mark.parametrize("chunks", [None, "page", "volume", "frames:5"])
def test_projection_reads_every_plane_exactly_once(files, page_reads, page_views, chunks):
    stack = si_explorer.open(files.paths[0])
    stack.project(("std", "correlation"), axis="time", progress=False, chunks=chunks)
    seen = page_reads + page_views
    f, t, z = stack.shape[:3]
    # The default blocks are picked after a probe: one more view of the first volume.
    probe = {(0, 0, k): 1 for k in range(z)} if chunks is None else {}
    assert len(seen) == f * t * z
    assert seen - Counter(probe) == Counter({key: 1 for key in seen})


def test_projection_graph_grows_with_chunks_not_pixels(files):
    stack = si_explorer.open(files.paths[0], chunks="page")
    data = stack.with_options(chunks=(1, 3, 4, 24, 20)).data
    n_chunks = data.npartitions
    graph = dict(data.max(axis=1).__dask_graph__())
    # One read task per chunk, plus a reduction tree that is smaller than the reads.
    reads = [k for k in graph if isinstance(k, tuple) and k[0] == data.name]
    assert len(reads) == n_chunks == 4
    assert len(graph) < 3 * n_chunks


def test_projection_picks_large_blocks():
    # 15 MB volumes, 32 MB blocks: two volumes a block.
    assert projection_chunks((1, 1000, 30, 512, 512), 2) == (1, 2, 30, 512, 512)
    # Volumes larger than a block: split along z.
    assert projection_chunks((1, 30, 200, 1024, 1024), 2) == (1, 1, 16, 1024, 1024)
    # A small stack is still cut in 16 blocks or more, whole volumes each.
    assert projection_chunks((1, 64, 4, 64, 64), 2) == (1, 4, 4, 64, 64)
    assert projection_chunks((1, 5, 1, 8, 8), 2) == (1, 1, 1, 8, 8)


def test_project_of_a_mapped_stack(files, truth):
    stack = si_explorer.open(files.paths[0], chunks="volume")
    mapped = stack.map(lambda b: b.astype(np.float32) ** 2)
    expected = (truth.astype(np.float32) ** 2).max(axis=1)
    np.testing.assert_allclose(mapped.project("max", progress=False), expected)
    # The mapped function was defined on these chunks: another read scheme would change it.
    with pytest.raises(si_explorer.SIExplorerError, match="chunks"):
        project(mapped, "max", chunks="page")


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"stat": "median"}, "median"),
        ({"axis": "channel"}, "channel"),
        ({"axis": 7}, "out of range"),
        ({"axis": ()}, "at least one"),
        ({"axis": 1.5}, "name or number"),
    ],
)
def test_project_rejects_bad_arguments(files, kwargs, text):
    stack = si_explorer.open(files.paths[0])
    with pytest.raises(si_explorer.SIExplorerError, match=text):
        stack.project(**{"stat": "max", **kwargs})


def test_progress_bar_is_shown_when_asked(files, capsys):
    stack = si_explorer.open(files.paths[0])
    stack.project("max", progress=True)
    err = capsys.readouterr().err
    assert "max over time" in err and "100%" in err
    stack.project("max", progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_project_runs_on_a_distributed_cluster(files, truth):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is a test extra")
    stack = si_explorer.open(files.paths[0])
    mapped = stack.map(lambda b: b.astype(np.float32) + 1)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as tasks,
    ):
        mean = stack.project("mean", axis="time", progress=True)
        peak = mapped.project("max", axis="z", progress=False)
        worker_pids = set(client.run(os.getpid).values())
        workers = set(client.scheduler_info()["workers"])
    np.testing.assert_allclose(mean, truth.mean(axis=1, dtype=np.float64), rtol=1e-12)
    np.testing.assert_array_equal(peak, truth.max(axis=2).astype(np.float32) + 1)
    # The work ran in the worker processes, not in this one.
    assert tasks.data and os.getpid() not in worker_pids
    assert {t["worker"] for t in tasks.data} <= workers
