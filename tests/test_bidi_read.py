"""Bidirectional correction in the read path: ``si_explorer.open(..., bidi=...)``.

The oracle is :func:`si_explorer.bidi.apply_offset` on the raw planes tifffile reads; every way
of reading (planes, dask blocks, traces, projections, export) must give the same values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import tifffile

import si_explorer
from si_explorer import bidi
from si_explorer.synthetic import Acquisition, write_acquisition

from .conftest import BLANK_IPA, HOSTPIXELCORR
from .test_bidi import reference_correction


def displaced_recording(
    path, offset, *, frames=24, shape=(128, 160), dtype="int16", seed=0, noise=True
):
    """A plain TIFF of one scene whose odd rows are displaced by ``offset`` px (a known
    truth), with Poisson noise of its own in every frame (about 20 counts a photon)."""
    scene = bidi.synthetic_bidi_image(shape, offset, seed=seed, clean=True)
    rng = np.random.default_rng(seed)
    if noise:
        photons = rng.poisson(np.clip(scene, 0, None)[None] / 20.0, (frames, *shape))
        planes = (photons * 20).astype(dtype)
    else:
        planes = np.repeat(np.round(scene)[None], frames, axis=0).astype(dtype)
    tifffile.imwrite(path, planes, photometric="minisblack")
    return planes


@pytest.mark.parametrize("offset", [0.6, -2.3, 1.0])
@pytest.mark.parametrize("dtype", ["int16", "uint16"])
def test_auto_finds_the_offset_and_every_read_agrees(tmp_path, offset, dtype):
    path = tmp_path / f"bidi_{dtype}.tif"
    raw = displaced_recording(path, offset, dtype=dtype)
    stack = si_explorer.open(path, bidi="auto", chunks="frames:5")
    assert stack.bidi_offset.shape == (1, 1)
    assert abs(stack.bidi_offset[0, 0] - offset) < 0.05
    assert stack.dtype == np.float32
    applied = float(stack.bidi_offset[0, 0])
    truth = bidi.apply_offset(raw, applied)  # (t, y, x)
    np.testing.assert_array_equal(stack[0, 7, 0], truth[7])
    np.testing.assert_array_equal(stack.data[0, :, 0].compute(), truth)
    np.testing.assert_array_equal(stack[0, 3:9, 0, 10:20, 40:50], truth[3:9, 10:20, 40:50])
    # A pixel trace reads a few columns per page, and equals the full-plane correction.
    np.testing.assert_array_equal(stack.timeseries(11, 0), truth[:, 11, 0])
    np.testing.assert_array_equal(stack.timeseries(12, 159), truth[:, 12, 159])
    np.testing.assert_allclose(
        stack.timeseries(roi=(5, 9, 30, 37)), truth[:, 5:9, 30:37].mean(axis=(1, 2)), rtol=1e-6
    )
    mean, mip = stack.project(("mean", "max"))
    np.testing.assert_allclose(mean[0, 0], truth.mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_array_equal(mip[0, 0], truth.max(axis=0))
    stack.to_zarr(tmp_path / "out.ome.zarr")
    import zarr

    exported = zarr.open(tmp_path / "out.ome.zarr", mode="r")["0"][:]
    np.testing.assert_array_equal(np.squeeze(exported), truth)
    # Raw stays raw, bit for bit.
    plain = si_explorer.open(path)
    assert plain.bidi_offset is None and plain.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(plain[0, 7, 0], raw[7])


def test_multi_roi_fields_use_page_row_parity(tmp_path):
    files = write_acquisition(
        tmp_path / "m_00001_00001.tif",
        Acquisition(volumes=6, channels=1, rois=((21, 40), (14, 40)), height=8, width=8),
    )
    offsets = np.array([[0.7], [-1.2]])
    stack = si_explorer.open(files.paths[0], bidi=offsets)
    np.testing.assert_array_equal(stack.bidi_offset, offsets)
    rows0 = files.field_rows
    assert rows0[1] % 2 == 1  # the second field starts on an odd page row
    for f in range(2):
        h, w = files.field_shapes[f]
        for t in (0, 5):
            want = bidi.apply_offset(files.expected(f, t, 0)[:h, :w], offsets[f, 0], row0=rows0[f])
            got = stack[f, t, 0]
            np.testing.assert_array_equal(got[:h, :w], want)
            assert not got[h:].any() and not got[:, w:].any()  # padding stays zero


@pytest.mark.parametrize("dtype", ["int16", "uint16"])
def test_multi_roi_reads_equal_a_straightforward_reference(tmp_path, dtype):
    """Fields of odd and even heights starting on odd and even page rows, random subpixel and
    per-column offsets: every way of reading equals the reference correction of the raw field."""
    files = write_acquisition(
        tmp_path / "r_00001_00001.tif",
        Acquisition(volumes=5, channels=1, rois=((21, 40), (14, 33), (9, 20)), dtype=dtype),
    )
    rows0 = files.field_rows
    assert {r % 2 for r in rows0} == {0, 1}
    rng = np.random.default_rng(len(dtype))
    for offsets in (rng.uniform(-3, 3, (3, 1)), rng.uniform(-2, 2, (3, 1, 40))):
        with si_explorer.open(files.paths[0], bidi=offsets) as stack:
            data = stack.data.compute()
            for f, (h, w) in enumerate(files.field_shapes):
                offset = offsets[f, 0] if offsets.ndim == 2 else offsets[f, 0, :w]
                raw = np.stack([files.expected(f, t, 0)[:h, :w] for t in range(5)])
                want = reference_correction(raw, offset, row0=rows0[f])
                for t in (0, 4):
                    np.testing.assert_array_equal(stack[f, t, 0][:h, :w], want[t])
                np.testing.assert_array_equal(data[f, :, 0, :h, :w], want)
                part = stack[f, 1:4, 0, 3:h, 2 : w - 1]
                np.testing.assert_array_equal(part, want[1:4, 3:, 2:-1])
                trace = stack.timeseries(h - 1, w - 1, field=f)
                np.testing.assert_array_equal(trace, want[:, -1, -1])


def test_light_beads_planes_each_get_their_own_offset(tmp_path):
    files = write_acquisition(
        tmp_path / "l_00001_00001.tif",
        Acquisition(volumes=4, channels=5, lbm=True, height=24, width=32),
    )
    offsets = np.linspace(-1, 1, 5)[None, :]
    stack = si_explorer.open(files.paths[0], bidi=offsets)
    for z in range(5):
        want = bidi.apply_offset(files.expected(0, 2, z), offsets[0, z])
        np.testing.assert_array_equal(stack[0, 2, z], want)


def test_auto_x_follows_a_curve_better_than_a_constant(tmp_path):
    width = 256

    def curve(x):
        u = (np.asarray(x, dtype=float) - (width - 1) / 2) / ((width - 1) / 2)
        return 2.0 * np.sqrt(1 - (0.9 * u) ** 2)

    path = tmp_path / "curve.tif"
    displaced_recording(path, curve, frames=4, shape=(192, width), noise=False)
    clean = bidi.synthetic_bidi_image((192, width), 0.0, seed=0, clean=True)
    constant = si_explorer.open(path, bidi="auto")
    curved = si_explorer.open(path, bidi="auto-x")
    assert curved.bidi_offset.shape == (1, 1)
    error_constant = np.sqrt(np.mean((constant[0, 0, 0] - clean) ** 2))
    error_curve = np.sqrt(np.mean((curved[0, 0, 0] - clean) ** 2))
    assert error_curve < 0.8 * error_constant, (error_curve, error_constant)


def test_tiny_pages_and_flat_images_never_give_a_wild_number(tmp_path):
    path = tmp_path / "tiny.tif"
    displaced_recording(path, 1.0, frames=8, shape=(20, 20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bidi.BidiWarning)
        tiny = si_explorer.open(path, bidi="auto")
    assert abs(tiny.bidi_offset[0, 0] - 1.0) <= 1.5
    flat = tmp_path / "flat.tif"
    tifffile.imwrite(flat, np.full((6, 32, 32), 100, np.uint16), photometric="minisblack")
    with pytest.warns(bidi.BidiWarning):
        stack = si_explorer.open(flat, bidi="auto")
    assert stack.bidi_offset[0, 0] == 0.0
    np.testing.assert_array_equal(stack[0, 0, 0], np.full((32, 32), 100, np.float32))


def test_switching_correction_and_channel_keeps_the_rest(tmp_path):
    path = tmp_path / "s.tif"
    raw = displaced_recording(path, 0.8, frames=6)
    stack = si_explorer.open(path, chunks="frames:2")
    corrected = stack.with_options(bidi=0.8)
    assert corrected.chunk_scheme == "frames:2" and corrected.bidi_offset[0, 0] == 0.8
    np.testing.assert_array_equal(corrected[0, 1, 0], bidi.apply_offset(raw[1], 0.8))
    back = corrected.with_options(bidi=None)
    assert back.bidi_offset is None
    np.testing.assert_array_equal(back[0, 1, 0], raw[1])
    kept = corrected.with_options(chunks="page")
    assert kept.bidi_offset[0, 0] == 0.8


@pytest.mark.parametrize("bad", ["sideways", [1, 2, 3], float("nan")])
def test_bad_bidi_options_are_clear_errors(tmp_path, bad):
    path = tmp_path / "b.tif"
    displaced_recording(path, 0.5, frames=3, shape=(16, 16))
    with pytest.raises(si_explorer.SIExplorerError, match=f"{path}: bidi"):
        si_explorer.open(path, bidi=bad)


@pytest.mark.parametrize("sample", [HOSTPIXELCORR, BLANK_IPA])
def test_real_samples_give_a_finite_estimate(sample):
    """What the real samples give (reported in the closing note): a finite number, and the
    planes still match the raw ones where the offset is 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bidi.BidiWarning)
        stack = si_explorer.open(sample, bidi="auto")
    assert np.isfinite(stack.bidi_offset).all()
    assert (np.abs(stack.bidi_offset) < 10).all()
    print(sample.name, stack.bidi_offset.ravel())
