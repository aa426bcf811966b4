"""``Stack.refresh()`` on files that grow while they are read, as ScanImage writes them.

A complete synthetic acquisition is written once; a "growing" copy receives its bytes in chunks
that end anywhere (mid-IFD, mid-description, mid-pixels), as a file being acquired does. Every
plane the stack serves must equal the ground truth of the complete file.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
import warnings

import numpy as np
import pytest

import si_explorer
from si_explorer.errors import SIExplorerError, TruncatedFileWarning
from si_explorer.synthetic import Acquisition, write_acquisition


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "index-cache"))


def complete(tmp_path, **fields):
    folder = tmp_path / "complete"
    return write_acquisition(folder / "rec_00001_00001.tif", Acquisition(**fields))


class Growing:
    """A copy of a complete file that receives its bytes in steps, like a file being written."""

    def __init__(self, source, target):
        self.data = source.read_bytes()
        self.path = target
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.written = 0
        self.path.write_bytes(b"")

    def grow_to(self, size: int) -> None:
        size = min(size, len(self.data))
        with open(self.path, "ab", buffering=0) as handle:
            handle.write(self.data[self.written : size])
        self.written = size

    @property
    def done(self) -> bool:
        return self.written == len(self.data)


def page_end(files, k: int, file: int = 0) -> int:
    """First byte after page k of a synthetic file (the next page's IFD, or the end)."""
    offsets = files.ifd_offsets[file]
    return int(offsets[k + 1]) if k + 1 < len(offsets) else files.file_sizes[file]


def open_quietly(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedFileWarning)
        return si_explorer.open(path, **options)


def assert_served_planes_are_true(stack, files, times=None):
    f_n, t_n, z_n = stack.shape[:3]
    for t in range(t_n) if times is None else times:
        for z in range(z_n):
            np.testing.assert_array_equal(stack[0, t, z], files.expected(0, t, z))


@pytest.mark.parametrize("stride_break_at", [None, 7, 31])
def test_refresh_extends_by_complete_volumes(tmp_path, stride_break_at):
    """Stride index (no break), walked index (break before open) and a stride that breaks in
    the appended part (extended by continuing the walk): the same volumes either way."""
    files = complete(
        tmp_path, height=24, width=16, volumes=20, slices=2, stride_break_at=stride_break_at
    )
    growing = Growing(files.paths[0], tmp_path / "grow" / "rec_00001_00001.tif")
    # 9 complete pages and half of the 10th: 4 volumes of 2 planes.
    growing.grow_to(page_end(files, 8) + 300)
    stack = open_quietly(growing.path)
    assert stack.shape == (1, 4, 2, 24, 16)
    expected_method = "walk" if stride_break_at == 7 else "stride"
    assert stack.files()[-1].index == expected_method
    dask_before = stack.data
    assert stack.refresh() == 0  # nothing new yet

    growing.grow_to(page_end(files, 10) - 1)  # page 10 misses its last byte: not served
    assert stack.refresh() == 1
    assert stack.shape[1] == 5 and stack.data.shape[1] == 5 and len(stack.chunks[1]) == 5
    assert stack.data is not dask_before
    assert_served_planes_are_true(stack, files)

    growing.grow_to(len(growing.data))
    assert stack.refresh() == 15
    assert stack.shape == files.shape
    assert_served_planes_are_true(stack, files)
    np.testing.assert_array_equal(
        stack.data[0, :, 1, 5, 7].compute(), [files.expected(0, t, 1)[5, 7] for t in range(20)]
    )
    np.testing.assert_array_equal(
        stack.timeseries(3, 4, z=0), [files.expected(0, t, 0)[3, 4] for t in range(20)]
    )
    assert stack.refresh() == 0
    stack.close()


def test_refresh_picks_up_only_the_last_file_of_an_acquisition(tmp_path):
    files = complete(tmp_path, height=16, width=16, volumes=12, frames_per_file=5)
    folder = tmp_path / "grow"
    folder.mkdir()
    for path in files.paths[:-1]:
        shutil.copy(path, folder / path.name)
    last = Growing(files.paths[-1], folder / files.paths[-1].name)
    last.grow_to(page_end(files, 0, file=2) + 17)  # one page of the last file, and a bit
    stack = open_quietly(str(folder / "rec_*.tif"))
    assert stack.shape[1] == 11
    last.grow_to(len(last.data))
    assert stack.refresh() == 1
    assert_served_planes_are_true(stack, files)
    stack.close()


def test_refresh_of_a_last_file_that_was_predicted_not_indexed(tmp_path):
    """A last file that ended on a page boundary at open is predicted from its size, not
    indexed; when it grows before any read, refresh indexes it instead of calling the files
    mismatched."""
    files = complete(tmp_path, height=16, width=16, volumes=12, frames_per_file=5)
    folder = tmp_path / "grow"
    folder.mkdir()
    for path in files.paths[:-1]:
        shutil.copy(path, folder / path.name)
    last = Growing(files.paths[-1], folder / files.paths[-1].name)
    last.grow_to(page_end(files, 0, file=2))
    stack = open_quietly(str(folder / "rec_*.tif"))
    assert stack.shape[1] == 11 and stack.files()[-1].index is None
    last.grow_to(len(last.data))
    assert stack.refresh() == 1
    assert_served_planes_are_true(stack, files)
    stack.close()


def test_refresh_of_a_shrunk_file_is_an_error(tmp_path):
    files = complete(tmp_path, height=16, width=16, volumes=6)
    path = tmp_path / "copy.tif"
    shutil.copy(files.paths[0], path)
    stack = si_explorer.open(path)
    path.write_bytes(files.paths[0].read_bytes()[: page_end(files, 2)])
    with pytest.raises(SIExplorerError, match="shrank"):
        stack.refresh()
    stack.close()


def test_refresh_keeps_other_channels_and_with_options(tmp_path):
    files = complete(tmp_path, height=16, width=16, volumes=8, channels=2)
    growing = Growing(files.paths[0], tmp_path / "grow" / "rec_00001_00001.tif")
    growing.grow_to(page_end(files, 5))
    stack = open_quietly(growing.path, channel=1, chunks="frames:2")
    assert stack.shape[1] == 3
    growing.grow_to(len(growing.data))
    assert stack.refresh() == 5
    assert stack.chunks[1] == (2, 2, 2, 2)
    for t in range(8):
        np.testing.assert_array_equal(stack[0, t, 0], files.expected(0, t, 0, channel=1))
    stack.close()


@pytest.mark.parametrize("backend", ["pread", "mmap"])
def test_refresh_while_a_writer_appends_and_a_reader_reads(tmp_path, backend):
    """A writer thread appends chunks ending anywhere; a reader thread refreshes and reads
    random planes, the newest volume and a trace. Nothing served may differ from the truth."""
    files = complete(tmp_path, height=32, width=24, volumes=60, slices=3)
    growing = Growing(files.paths[0], tmp_path / "grow" / "rec_00001_00001.tif")
    growing.grow_to(page_end(files, 3) + 5)
    stack = open_quietly(growing.path, backend=backend)
    truth = {(t, z): files.expected(0, t, z) for t in range(files.shape[1]) for z in range(3)}
    errors: list[BaseException] = []
    stats = {"refreshes": 0, "grew": 0, "planes": 0}
    rng = random.Random(7)
    cuts = sorted(rng.sample(range(len(growing.data)), 80)) + [len(growing.data)]

    def writer():
        try:
            for cut in cuts:
                growing.grow_to(cut)
                time.sleep(0.002)
        except BaseException as exc:
            errors.append(exc)

    def reader():
        try:
            while True:
                finished = growing.done
                added = stack.refresh()
                stats["refreshes"] += 1
                stats["grew"] += added > 0
                n_t = stack.shape[1]
                for _ in range(4):
                    t, z = rng.randrange(n_t), rng.randrange(3)
                    np.testing.assert_array_equal(stack[0, t, z], truth[t, z])
                    stats["planes"] += 1
                newest = stack.data[0, n_t - 1].compute(scheduler="threads")
                for z in range(3):
                    np.testing.assert_array_equal(newest[z], truth[n_t - 1, z])
                trace = stack.timeseries(2, 3, z=1)
                assert len(trace) == n_t
                assert trace[-1] == truth[n_t - 1, 1][2, 3]
                if finished:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "writer or reader hung"
    assert errors == []
    assert stack.shape == files.shape
    assert stats["grew"] >= 10, stats  # the reader really saw the file grow step by step
    stack.close()
