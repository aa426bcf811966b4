"""Summary images (mean, max, std, local correlation): the one-read kernel against plain numpy
and a CaImAn-style local correlation, on arrays, synthetic files and the real samples."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import si_explorer
from si_explorer.read.planes import PagedPlanes
from si_explorer.summary import PARTIALS, SUMMARIES, block_partials, finish, plane_summaries

from .references import caiman_local_correlations

DATA = Path(__file__).parent / "data"


def neuron_movie(frames=60, height=33, width=29, dtype=np.int16, offset=1000, seed=0):
    """Cells whose pixels share a fluctuating signal over a flat background, with noise: a
    local correlation image with real structure (high inside cells, near 0 outside)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    movie = np.full((frames, height, width), float(offset))
    for _ in range(4):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        footprint = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8.0)
        movie += 300 * rng.gamma(1.0, 1.0, (frames, 1, 1)) * footprint
    movie += rng.normal(0, 20, movie.shape)
    return np.clip(np.rint(movie), 0, np.iinfo(dtype).max).astype(dtype)


def summed(movie, splits):
    """The partials of ``movie`` (time, y, x) summed over the blocks cut at ``splits``."""
    names = sorted({p for stat in SUMMARIES for p in PARTIALS[stat]})
    totals = {}
    for a, b in zip([0, *splits], [*splits, len(movie)]):
        for name, part in block_partials(movie[None, a:b, None], names).items():
            if name not in totals:
                totals[name] = part
            elif name == "max":
                totals[name] = np.maximum(totals[name], part)
            else:
                totals[name] = totals[name] + part
    return totals


def summary_images(totals, count):
    """The four images of one (field, z) from its summed partials."""
    return {stat: image[0, 0, 0] for stat, image in finish(SUMMARIES, totals, count).items()}


def check_against_references(images, movie):
    reference = np.asarray(movie, np.float64)
    np.testing.assert_allclose(images["mean"], reference.mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(images["max"], reference.max(axis=0))
    np.testing.assert_allclose(images["std"], reference.std(axis=0), rtol=1e-5, atol=1e-4)
    expected = caiman_local_correlations(reference)
    np.testing.assert_allclose(images["correlation"], expected, atol=2e-6)


@pytest.mark.parametrize("dtype", [np.int16, np.uint16])
@pytest.mark.parametrize("splits", [[], [1], [7, 30, 31]])
def test_partials_in_any_blocks_give_the_reference_statistics(dtype, splits):
    movie = neuron_movie(dtype=dtype)
    totals = summed(movie, splits)
    images = summary_images(totals, len(movie))
    check_against_references(images, movie)
    # The structure is real: cells correlate with their neighbours, the background does not.
    assert images["correlation"].max() > 0.8 and np.median(images["correlation"]) < 0.3


def test_float_pixels_and_bright_pixels_with_little_variance():
    # uint16 near the top of its range with a std of 2: the squares (4e9) dwarf the variance;
    # summing raw squares in float32 would lose it entirely.
    rng = np.random.default_rng(1)
    bright = (65000 + rng.integers(-3, 4, (150, 12, 10))).astype(np.uint16)  # 64-frame groups
    for movie in (bright, bright.astype(np.float32) / 7):
        totals = summed(movie, [33])
        images = summary_images(totals, len(movie))
        check_against_references(images, movie)


def test_flat_pixels_have_zero_correlation_and_no_time_points_give_nan():
    movie = neuron_movie(frames=20)
    movie[:, 5, :] = 1234  # a row that never changes: its pairs are undefined, counted as 0
    totals = summed(movie, [10])
    corr = finish(["correlation"], totals, 20)["correlation"][0, 0, 0]
    assert np.isfinite(corr).all() and (corr[5] == 0).all()
    np.testing.assert_allclose(corr, caiman_local_correlations(movie), atol=2e-6)
    assert (finish(["std"], totals, 20)["std"][0, 0, 0][5] == 0).all()
    assert np.isnan(finish(["correlation"], totals, 0)["correlation"]).all()


def test_one_pixel_wide_and_single_frame_planes():
    for shape in ((5, 1, 9), (5, 9, 1), (1, 4, 4), (6, 2, 2)):
        movie = neuron_movie(frames=shape[0], height=shape[1], width=shape[2])
        totals = summed(movie, [])
        images = summary_images(totals, shape[0])
        check_against_references(images, movie)


# ------------------------------------------------------------------ plane_summaries on files


def test_plane_summaries_refine_then_match_the_references(synthetic):
    files = synthetic(volumes=40, slices=3, flyback=1, height=40, width=36, seed=5)
    stack = si_explorer.open(files.paths[0])
    truth = np.stack([files.expected(0, t, 2) for t in range(40)])
    snapshots = list(plane_summaries(stack, 0, 2, interval=0, block_frames=7))
    assert [s.frames_done for s in snapshots] == [7, 14, 21, 28, 35, 40]
    assert [s.done for s in snapshots] == [False] * 5 + [True]
    for snap in snapshots:
        assert snap.field == 0 and snap.z == 2 and snap.frames_total == 40
        assert all(image.dtype == np.float32 for image in snap.images.values())
        reference = truth[: snap.frames_done]
        np.testing.assert_allclose(snap.images["mean"], reference.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(
            snap.images["correlation"], caiman_local_correlations(reference), atol=1e-5
        )
    check_against_references(snapshots[-1].images, truth)


def test_plane_summaries_read_each_page_once_and_stop_when_closed(synthetic, monkeypatch):
    files = synthetic(volumes=30, slices=2, height=16, width=16, seed=6)
    stack = si_explorer.open(files.paths[0], backend="pread")
    reads = Counter()
    real = PagedPlanes.read

    def spy(self, fields, times, zs, rows, cols, backend):
        reads.update((int(t), int(z)) for t in np.ravel(times) for z in np.ravel(zs))
        return real(self, fields, times, zs, rows, cols, backend)

    monkeypatch.setattr(PagedPlanes, "read", spy)
    list(plane_summaries(stack, 0, 1, interval=0, block_frames=5))
    assert reads == Counter({(t, 1): 1 for t in range(30)})
    reads.clear()
    running = plane_summaries(stack, 0, 1, interval=0, block_frames=5)
    assert next(running).frames_done == 5
    running.close()
    assert sum(reads.values()) == 5


def test_plane_summaries_of_a_small_multi_roi_field_and_of_no_time_points(synthetic, tmp_path):
    files = synthetic(volumes=12, rois=((20, 16), (12, 10)), seed=7)
    stack = si_explorer.open(files.paths[0])
    last = list(plane_summaries(stack, 1, 0))[-1]
    truth = np.stack([files.expected(1, t, 0) for t in range(12)])[:, :12, :10]
    assert last.images["correlation"].shape == (12, 10)  # the field, not its padding
    check_against_references(last.images, truth)

    two = synthetic(volumes=3, channels=2, height=8, width=8, seed=7)
    cut = tmp_path / "cut_00001_00001.tif"
    cut.write_bytes(two.paths[0].read_bytes()[: int(two.ifd_offsets[0][1])])  # 1 of 2 channels
    with pytest.warns(si_explorer.TruncatedFileWarning):
        empty = si_explorer.open(cut)
    (only,) = plane_summaries(empty, 0, 0)
    assert only.done and only.frames_total == 0
    assert all(np.isnan(image).all() for image in only.images.values())
    with pytest.raises(IndexError, match="outside"):
        next(plane_summaries(stack, 2, 0))


def test_plane_summaries_of_a_corrected_stack_use_the_corrected_values(synthetic):
    files = synthetic(volumes=10, height=24, width=30, seed=8)
    stack = si_explorer.open(files.paths[0], bidi=0.6)
    truth = np.stack([stack[0, t, 0] for t in range(10)])
    assert truth.dtype == np.float32
    check_against_references(list(plane_summaries(stack, 0, 0))[-1].images, truth)


def test_project_correlation_of_a_mapped_stack_and_of_split_chunks(synthetic):
    files = synthetic(volumes=9, slices=2, height=20, width=18, seed=9)
    stack = si_explorer.open(files.paths[0])
    truth = stack[...].astype(np.float64)
    split = stack.project("correlation", chunks=(1, 4, 1, 7, 5), progress=False)
    doubled = stack.map(lambda b: b.astype(np.float32) * 2 - 5)
    mapped, std = doubled.project(("correlation", "std"), progress=False)
    for z in range(2):
        expected = caiman_local_correlations(truth[0, :, z])
        np.testing.assert_allclose(split[0, z], expected, atol=1e-6)
        np.testing.assert_allclose(mapped[0, z], expected, atol=1e-5)
    np.testing.assert_allclose(std, 2 * truth.std(axis=1), rtol=1e-5)
    with pytest.raises(si_explorer.SIExplorerError, match="over time only"):
        stack.project("correlation", axis=("time", "z"))


@pytest.mark.parametrize(
    "name", ["hostpixelcorr_noavg_00001_00001.tif", "scanimage2023_slowstack_ch1-4.tif"]
)
def test_real_samples(name):
    """What the summaries give on real recordings (too short for cells to show; the values are
    checked against the references, and printed for the record)."""
    stack = si_explorer.open(DATA / name)
    images = stack.project(("mean", "max", "std", "correlation"), progress=False)
    for f, z in np.ndindex(stack.shape[0], stack.shape[2]):
        truth = np.stack([stack[f, t, z] for t in range(stack.shape[1])])
        check_against_references({s: image[f, z] for s, image in zip(SUMMARIES, images)}, truth)
    print(name, stack.shape, "median local correlation", np.median(images[3]))
