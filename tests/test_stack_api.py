"""The Stack's public API: pickling, distributed reads, xarray, mosaic, errors, blocks."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

import si_explorer

from .conftest import HOSTPIXELCORR


@pytest.fixture(scope="module")
def lbm(synthetic):
    return synthetic(volumes=6, channels=30, lbm=True, height=24, width=32)


def test_dims_and_repr(lbm):
    stack = si_explorer.open(lbm.paths[0])
    assert stack.dims == ("field", "time", "z", "y", "x")
    assert stack.shape == (1, 6, 30, 24, 32)
    assert "30" in repr(stack) and stack.name in repr(stack)
    assert stack.data.shape == stack.shape and stack.data.dtype == stack.dtype


def test_pickle_reopens_files(lbm):
    stack = si_explorer.open(lbm.paths[0])
    stack[0, 0, 0]  # open descriptors and maps first: they must not travel
    clone = pickle.loads(pickle.dumps(stack))
    np.testing.assert_array_equal(clone[0, 3], stack[0, 3])
    np.testing.assert_array_equal(clone.data[0, 2:4].compute(), stack[0, 2:4])
    assert len(pickle.dumps(stack)) < 50_000


@pytest.mark.slow
def test_distributed_processes_match_single_thread(lbm):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is a test extra")
    stack = si_explorer.open(lbm.paths[0], chunks="volume")
    expected = stack.data.compute(scheduler="synchronous")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = client.compute(stack.data).result()
        pids = set(client.run(os.getpid).values())
    np.testing.assert_array_equal(result, expected)
    assert os.getpid() not in pids


def test_to_xarray_has_units(lbm):
    stack = si_explorer.open(lbm.paths[0])
    array = stack.to_xarray()
    assert array.dims == stack.dims
    assert array.coords["time"].attrs.get("units") == "s"
    assert np.all(np.diff(array.coords["time"].values) > 0)
    np.testing.assert_array_equal(array.isel(time=2, z=5).values, stack[:, 2, 5])


def test_metadata_timestamps_are_read_lazily(lbm):
    stack = si_explorer.open(lbm.paths[0])
    stamps = stack.metadata.timestamps
    assert stamps.shape == (6,)
    assert np.all(np.diff(stamps) > 0)
    np.testing.assert_allclose(np.diff(stamps), np.diff(stack.time_seconds), rtol=0.05)


def test_mosaic_places_rois_side_by_side(synthetic):
    files = synthetic(volumes=2, rois=((20, 24), (20, 24)), scanner="resonant")
    split = si_explorer.open(files.paths[0])
    mosaic = si_explorer.open(files.paths[0], mosaic=True)
    assert mosaic.shape[0] == 1
    assert mosaic.shape[3] >= 20 and mosaic.shape[4] >= 48
    plane = mosaic[0, 1, 0]
    left, right = split[0, 1, 0], split[1, 1, 0]
    found_left = any(
        np.array_equal(plane[y : y + 20, x : x + 24], left)
        for y in range(plane.shape[0] - 19)
        for x in range(plane.shape[1] - 23)
    )
    found_right = any(
        np.array_equal(plane[y : y + 20, x : x + 24], right)
        for y in range(plane.shape[0] - 19)
        for x in range(plane.shape[1] - 23)
    )
    assert found_left and found_right


def test_blocks_follow_the_chunk_scheme(lbm):
    stack = si_explorer.open(lbm.paths[0], chunks="frames:4")
    assert stack.chunks[1] == (4, 2)
    block = stack.block_of(0, 5, 7)
    assert block == (0, 1, 0, 0, 0)
    np.testing.assert_array_equal(stack.read_block(block), stack[0:1, 4:6])
    assert stack.block_nbytes(block) == 2 * 30 * 24 * 32 * 2
    rechunked = stack.rechunk("page")
    assert rechunked.chunks[1] == (1,) * 6 and rechunked.block_of(0, 5, 7) == (0, 5, 7, 0, 0)


@pytest.mark.parametrize(
    "source, kwargs, error, text",
    [
        ("missing.tif", {}, si_explorer.SourceNotFoundError, "no such file"),
        ("nothing-*.tif", {}, si_explorer.SourceNotFoundError, "no file matches"),
        (".", {}, si_explorer.NotATiffError, "directory"),
        (HOSTPIXELCORR, {"chunks": "weekly"}, si_explorer.SIExplorerError, "weekly"),
        (HOSTPIXELCORR, {"backend": "gpu"}, si_explorer.SIExplorerError, "gpu"),
        (HOSTPIXELCORR, {"layout": si_explorer.Layout(frames=3)}, si_explorer.LayoutError, "2"),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, monkeypatch, source, kwargs, error, text):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=text) as info:
        si_explorer.open(source, **kwargs)
    assert "Traceback" not in str(info.value)


def test_not_a_tiff_names_the_file(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("these are my notes, not an image\n" * 10)
    with pytest.raises(si_explorer.NotATiffError, match="notes.tif"):
        si_explorer.open(path)


def test_bad_trace_requests(lbm):
    stack = si_explorer.open(lbm.paths[0])
    with pytest.raises(IndexError):
        stack.timeseries(24, 0)
    with pytest.raises(si_explorer.SIExplorerError, match="roi"):
        stack.timeseries(roi=(5, 5, 0, 3))
    with pytest.raises(si_explorer.SIExplorerError, match="z 30"):
        stack.timeseries(1, 1, z=30)


def test_files_are_opened_read_only(lbm, monkeypatch):
    opened = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        opened.append(flags)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    stack = si_explorer.open(lbm.paths[0], backend="mmap")
    stack[0, 1]
    stack.timeseries(3, 4)
    assert opened and all(flags & (os.O_WRONLY | os.O_RDWR) == 0 for flags in opened)
