"""The walk's read-ahead of predicted IFDs: what it asks the kernel for, and that a cold walk (every
read a miss, some predictions wrong) still gives the exact index."""

import os

import numpy as np
import pytest

import si_explorer.tiff.readahead as readahead
from si_explorer.tiff import build_index
from si_explorer.tiff.source import LocalFile

pytestmark = pytest.mark.skipif(
    not readahead._CAN_PREFETCH, reason="needs preadv(RWF_NOWAIT) and posix_fadvise"
)


@pytest.fixture
def advised(monkeypatch):
    """The (offset, length) of every WILLNEED hint the reader gives."""
    calls = []

    def record(fd, offset, length, advice):
        if advice == os.POSIX_FADV_WILLNEED:  # (LocalFile asks for RANDOM when it opens)
            calls.append((offset, length))

    monkeypatch.setattr(readahead.os, "posix_fadvise", record)
    return calls


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(100_000))
    with LocalFile(str(path)) as opened:
        yield opened


def test_no_prediction_before_a_stride_repeats(source, advised):
    reader = readahead.IfdReader(source, 100, window=4)
    assert reader.ahead(1000, [0]) == readahead._NEVER  # one distance: no stride yet
    assert reader.ahead(2500, [0, 1000]) == readahead._NEVER  # 1000 then 1500
    assert advised == []


def test_window_of_predicted_ifds_and_refill(source, advised):
    reader = readahead.IfdReader(source, 100, window=4)
    refill = reader.ahead(2000, [0, 1000])
    assert advised == [(3000, 100), (4000, 100), (5000, 100), (6000, 100)]
    assert refill == 2000 + 2 * 1000  # half a window on
    advised.clear()
    reader.ahead(4000, [0, 1000, 2000, 3000])  # the prediction held: only the new ones
    assert advised == [(7000, 100), (8000, 100)]


def test_stride_change_restarts_the_window(source, advised):
    reader = readahead.IfdReader(source, 100, window=2)
    reader.ahead(2000, [0, 1000])
    advised.clear()
    reader.ahead(2900, [0, 1000, 2000])  # the stride broke: nothing to predict from
    assert advised == []
    reader.ahead(3800, [0, 1000, 2000, 2900])
    assert advised == [(4700, 100), (5600, 100)]


def test_no_hints_past_the_end(source, advised):
    reader = readahead.IfdReader(source, 100, window=8)
    reader.ahead(97_000, [95_000, 96_000])
    assert advised == [(98_000, 100), (99_000, 100)]  # 99,900 is the last start that fits


def test_cold_walk_with_wrong_predictions_is_exact(synthetic, monkeypatch):
    """Every read misses (as on a cold disk), so the reader predicts throughout, and the stride
    changes mid-file, so some predictions are wrong: the index must not notice."""
    files = synthetic(height=32, width=32, volumes=3_000, sparse=True, stride_break_at=1_700)
    real_preadv = os.preadv
    hints = []

    def cold_preadv(fd, buffers, offset, flags=0):
        if flags & readahead._NOWAIT:
            raise BlockingIOError
        return real_preadv(fd, buffers, offset)

    def hint(fd, offset, length, advice):
        if advice == os.POSIX_FADV_WILLNEED:
            hints.append(offset)

    monkeypatch.setattr(readahead.os, "preadv", cold_preadv)
    monkeypatch.setattr(readahead.os, "posix_fadvise", hint)
    index = build_index(files.paths[0], cache=False)
    assert index.method == "walk"
    np.testing.assert_array_equal(index.ifd_offsets, files.ifd_offsets[0])
    hinted = np.unique(hints)
    assert np.isin(files.ifd_offsets[0][2:], hinted).mean() > 0.99
    wrong = np.setdiff1d(hinted, files.ifd_offsets[0])
    assert 0 < wrong.size <= 2 * readahead.WINDOW  # the guesses past the stride break


def test_warm_walk_gives_no_hints(synthetic, advised):
    files = synthetic(height=32, width=32, volumes=3_000, sparse=True, stride_break_at=1_700)
    build_index(files.paths[0], cache=False)  # warms the page cache
    index = build_index(files.paths[0], cache=False)
    assert index.method == "walk"
    assert advised == []


def test_filesystem_without_nowait_reads_falls_back(synthetic, monkeypatch):
    files = synthetic(height=32, width=32, volumes=3_000, sparse=True, stride_break_at=1_700)
    real_preadv = os.preadv

    def no_nowait(fd, buffers, offset, flags=0):
        if flags:
            raise OSError(95, "Operation not supported")
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(readahead.os, "preadv", no_nowait)
    index = build_index(files.paths[0], cache=False)
    np.testing.assert_array_equal(index.ifd_offsets, files.ifd_offsets[0])
