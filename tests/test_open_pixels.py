"""Pixel-for-pixel checks of every supported layout against tifffile and the generator's truth."""

from __future__ import annotations

import re
import shutil
import warnings

import numpy as np
import pytest
import tifffile

import si_explorer
from si_explorer import Layout, TruncatedFileWarning

from .conftest import BLANK_IPA, HOSTPIXELCORR, SI57_2CH, SLOWSTACK_2023

LAYOUTS = {
    "plain": dict(volumes=12, height=32, width=48),
    "two-colour": dict(volumes=6, channels=2, height=32, width=32),
    "lbm-30-planes": dict(volumes=4, channels=30, lbm=True, height=24, width=24),
    "mroi-resonant": dict(volumes=5, rois=((20, 24), (20, 24), (12, 24)), scanner="resonant"),
    "mroi-galvo": dict(volumes=5, rois=((16, 24), (10, 16)), scanner="galvo", dtype="uint16"),
    "slices-flyback": dict(volumes=4, slices=5, flyback=2, height=16, width=16),
    "averaging": dict(
        volumes=3, slices=2, frames_per_slice=4, log_average_factor=2, height=16, width=16
    ),
    "multi-file": dict(volumes=10, channels=2, frames_per_file=3, height=16, width=16),
    "multi-file-mid-volume": dict(volumes=4, slices=3, frames_per_file=5, height=16, width=16),
    "stride-break": dict(volumes=20, height=16, width=16, stride_break_at=13),
    "strips": dict(volumes=6, height=32, width=16, strips_per_page=8, dtype="uint16"),
}


def reference_pages(acq) -> dict[tuple[int, int, int, int], int]:
    """(field-independent) (t, z, channel) -> page, enumerated in ScanImage's write order."""
    saved = acq.frames_per_slice // acq.log_average_factor
    mapping, page = {}, 0
    for volume in range(acq.volumes):
        for s in range(acq.slices + acq.flyback):
            for r in range(saved):
                for c in range(acq.channels):
                    if s < acq.slices:
                        t = volume * saved + r
                        z, ch = (s * acq.channels + c, 0) if acq.lbm else (s, c)
                        mapping[t, z, ch] = page
                    page += 1
    return mapping


def tifffile_reference(files, channel: int) -> np.ndarray:
    """The whole stack rebuilt from tifffile's own page reads and the ROI geometry."""
    acq = files.acquisition
    pages = []
    for path in files.paths:
        with tifffile.TiffFile(path) as tif:
            pages.extend(p.asarray() for p in tif.pages)
    mapping = reference_pages(acq)
    n_f, n_t, n_z, height, width = files.shape
    out = np.zeros(files.shape, dtype=files.page(0).dtype)
    row = 0
    for f, (h, w) in enumerate(files.field_shapes):
        for t in range(n_t):
            for z in range(n_z):
                out[f, t, z, :h, :w] = pages[mapping[t, z, channel]][row : row + h, :w]
        row += h + files.gap
    return out


@pytest.fixture(params=sorted(LAYOUTS), scope="module")
def layout_case(request, synthetic):
    return request.param, synthetic(**LAYOUTS[request.param])


@pytest.mark.parametrize("backend", ["pread", "mmap", "tifffile"])
def test_every_layout_matches_tifffile_and_truth(layout_case, backend):
    name, files = layout_case
    channels = 1 if files.acquisition.lbm else files.acquisition.channels
    for channel in range(channels):
        stack = si_explorer.open(files.paths, channel=channel, backend=backend)
        assert stack.shape == files.shape, name
        assert stack.field_shapes == [tuple(s) for s in files.field_shapes]
        got = stack[...]
        np.testing.assert_array_equal(got, tifffile_reference(files, channel), err_msg=name)
        n_f, n_t, n_z = files.shape[:3]
        for f, t, z in [(0, 0, 0), (n_f - 1, n_t - 1, n_z - 1), (n_f // 2, n_t // 2, n_z // 2)]:
            np.testing.assert_array_equal(stack[f, t, z], files.expected(f, t, z, channel))
        stack.close()


@pytest.mark.parametrize("chunks", ["page", "volume", "frames:3", (1, 2, 1, 7, 5)])
def test_dask_array_equals_eager_reads(layout_case, chunks):
    _, files = layout_case
    stack = si_explorer.open(files.paths, chunks=chunks)
    np.testing.assert_array_equal(stack.data.compute(scheduler="threads"), stack[...])
    assert stack.data.chunksize[0] == 1


def test_timeseries_equal_numpy(layout_case):
    _, files = layout_case
    stack = si_explorer.open(files.paths)
    full = stack[...]
    f, z = stack.shape[0] - 1, stack.shape[2] - 1
    h, w = stack.field_shapes[f]
    y, x = h // 2, w // 3
    np.testing.assert_array_equal(stack.timeseries(y, x, field=f, z=z), full[f, :, z, y, x])
    roi = (1, h - 1, 2, w)
    expected = full[f, :, z, 1 : h - 1, 2:w].reshape(stack.shape[1], -1).mean(axis=1)
    np.testing.assert_allclose(stack.timeseries(roi=roi, field=f, z=z), expected)
    part = stack.timeseries(y, x, field=f, z=z, t=slice(1, None, 2))
    np.testing.assert_array_equal(part, full[f, 1::2, z, y, x])


def test_numpy_style_indexing_matches_numpy(synthetic):
    files = synthetic(**LAYOUTS["mroi-resonant"])
    stack = si_explorer.open(files.paths[0])
    full = stack[...]
    keys = [
        (0,),
        (1, 2),
        (-1, -1, 0),
        (slice(None), 3),
        (0, slice(1, 4), 0, slice(2, 9), slice(None, None, 3)),
        (Ellipsis, 5),
        (0, [0, 2, 4], 0, slice(None, None, -2)),
        (2, 1, 0, 7, [1, 3, 20]),
        (Ellipsis, slice(3, 1, -1), slice(None)),
    ]
    for key in keys:
        np.testing.assert_array_equal(stack[key], full[key], err_msg=repr(key))
    with pytest.raises(IndexError):
        stack[3]
    with pytest.raises(si_explorer.SIExplorerError):
        stack[0, 99]


def test_real_sample_two_channels():
    stack = si_explorer.open(HOSTPIXELCORR)
    assert stack.shape == (1, 1, 1, 512, 512)
    assert stack.dtype == np.int16
    assert stack.channels == [1, 2]
    with tifffile.TiffFile(HOSTPIXELCORR) as tif:
        pages = [p.asarray() for p in tif.pages]
    np.testing.assert_array_equal(stack[0, 0, 0], pages[0])
    second = si_explorer.open(HOSTPIXELCORR, channel=1)
    np.testing.assert_array_equal(second[0, 0, 0], pages[1])
    np.testing.assert_array_equal(stack.with_options(channel=1)[0, 0, 0], pages[1])
    assert stack.metadata["SI.hChannels.channelSave"] is not None
    assert stack.metadata.frame_rate == pytest.approx(30.0169)
    with pytest.raises(si_explorer.SIExplorerError, match="channel 2"):
        si_explorer.open(HOSTPIXELCORR, channel=2)


def test_real_scanimage3_sample():
    stack = si_explorer.open(BLANK_IPA)
    reference = tifffile.imread(BLANK_IPA)
    assert stack.shape == (1, 30, 1, 64, 64)
    np.testing.assert_array_equal(stack[0, :, 0], reference)
    np.testing.assert_array_equal(stack.timeseries(10, 20), reference[:, 10, 20])


def test_truncated_file_serves_complete_pages(synthetic, tmp_path):
    files = synthetic(volumes=9, height=32, width=32)
    cut = tmp_path / "cut_00001_00001.tif"
    shutil.copyfile(files.paths[0], cut)
    size = cut.stat().st_size
    stride = size // files.n_pages
    with open(cut, "r+b") as fh:  # a copy, never the fixture itself
        fh.truncate(size - stride // 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack = si_explorer.open(cut)
    notes = [str(w.message) for w in caught if issubclass(w.category, TruncatedFileWarning)]
    assert any("complete pages" in note for note in notes), notes
    assert any("describes an acquisition of 9 frames" in note for note in notes), notes
    assert stack.shape[1] == 8
    for t in range(8):
        np.testing.assert_array_equal(stack[0, t, 0], files.expected(0, t, 0))


def test_imagej_hyperstack(tmp_path):
    data = np.random.default_rng(1).integers(0, 4000, (5, 3, 2, 20, 24), dtype=np.uint16)
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZCYX"})
    stack = si_explorer.open(path, channel=1)
    assert stack.shape == (1, 5, 3, 20, 24)
    np.testing.assert_array_equal(stack[0], data[:, :, 1])
    np.testing.assert_array_equal(stack.data[0].compute(), data[:, :, 1])


def test_compressed_and_tiled_tiffs_read_through_tifffile(tmp_path):
    data = np.random.default_rng(2).integers(-500, 3000, (7, 64, 48), dtype=np.int16)
    for name, options in {"zlib": dict(compression="zlib"), "tiled": dict(tile=(16, 16))}.items():
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, data, **options)
        stack = si_explorer.open(path)
        assert stack.backend == "tifffile"
        assert stack.shape == (1, 7, 1, 64, 48)
        np.testing.assert_array_equal(stack[0, :, 0], data)
        np.testing.assert_array_equal(
            stack.timeseries(roi=(3, 9, 4, 40)), data[:, 3:9, 4:40].reshape(7, -1).mean(axis=1)
        )
        with pytest.raises(si_explorer.SIExplorerError, match="compressed"):
            si_explorer.open(path, backend="pread")


def test_ome_tiff_uses_tifffile_series(tmp_path):
    data = np.arange(2 * 3 * 16 * 16, dtype=np.uint16).reshape(2, 3, 16, 16)
    path = tmp_path / "image.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "TZYX"})
    stack = si_explorer.open(path)
    assert stack.shape == (1, 2, 3, 16, 16)
    np.testing.assert_array_equal(stack[0], data)


def test_stated_layout_seed_order(tmp_path):
    fields, frames, planes = 4, 6, 3
    rng = np.random.default_rng(3)
    data = rng.integers(0, 1000, (frames, fields, planes, 8, 8), dtype=np.int16)
    path = tmp_path / "seed.tif"
    tifffile.imwrite(path, data.reshape(-1, 8, 8))  # page = (t*F + f)*Z + z
    layout = Layout(fields=fields, frames=frames, planes=planes, order="tfz")
    stack = si_explorer.open(path, layout=layout)
    np.testing.assert_array_equal(stack[...], data.transpose(1, 0, 2, 3, 4))
    with pytest.raises(si_explorer.LayoutError, match="72"):
        si_explorer.open(
            path, layout=Layout(fields=fields, frames=frames + 1, planes=planes, order="tfz")
        )


def test_multi_file_glob_and_lazy_indexing(synthetic):
    files = synthetic(**LAYOUTS["multi-file"])
    assert len(files.paths) > 2
    pattern = str(files.paths[0]).replace("_00001.tif", "_*.tif")
    stack = si_explorer.open(pattern)
    assert stack.shape == files.shape
    methods = [f.index for f in stack.files()]  # None: predicted from its size, not indexed
    assert methods[0] == "stride" and methods[1:] == [None] * (len(methods) - 1)
    stack[0, 0, 0]
    assert stack.files()[-1].index is None, "reading the first file must not index the last"
    np.testing.assert_array_equal(stack[0, -1, 0], files.expected(0, files.shape[1] - 1, 0))
    assert stack.files()[-1].index == "stride"


def test_missing_middle_file_is_named(synthetic, tmp_path):
    files = synthetic(**LAYOUTS["multi-file"])
    chosen = [files.paths[0], files.paths[2]]
    with pytest.raises(si_explorer.SourceNotFoundError, match="_00002.tif is missing"):
        si_explorer.open(chosen)


def test_warning_free_open_of_clean_files(synthetic):
    files = synthetic(**LAYOUTS["plain"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        si_explorer.open(files.paths[0])


def test_real_scanimage2023_slow_stack_two_frames_per_slice():
    """Pages are volume, slice, frame, channel (tests/data/README.md); saved channels 1 and 4."""
    stack = si_explorer.open(SLOWSTACK_2023)
    assert stack.shape == (1, 6, 2, 256, 256) and stack.channels == [1, 4]
    pages = tifffile.imread(SLOWSTACK_2023).reshape(-1, 256, 256)
    for channel in (0, 1):
        data = si_explorer.open(SLOWSTACK_2023, channel=channel).data.compute()
        for t in range(6):
            volume, frame = divmod(t, 2)
            for z in range(2):
                page = ((volume * 2 + z) * 2 + frame) * 2 + channel
                np.testing.assert_array_equal(data[0, t, z], pages[page])
    assert stack.metadata.frame_rate == pytest.approx(58.2068)  # consecutive frames of a slice


def test_real_scanimage57_two_channels():
    stack = si_explorer.open(SI57_2CH, channel=1)
    assert stack.shape == (1, 2, 1, 64, 64) and stack.channels == [1, 2]
    pages = tifffile.imread(SI57_2CH).reshape(-1, 64, 64)  # frame, channel
    np.testing.assert_array_equal(stack[0, :, 0], pages[1::2])
    assert stack.metadata.frame_rate == pytest.approx(198.247)


def test_scanimage38_averaging_of_one_frame_keeps_the_header_rate(tmp_path):
    """ScanImage 3.8 with averaging on but numAvgFramesSave = 1 averages nothing: the frame
    rate is the header's 3.90625 Hz. The header promises 1,220 frames; an excerpt of 30 pages
    keeps that rate and reports the shortfall."""
    with tifffile.TiffFile(BLANK_IPA) as tif:
        header = tif.pages[0].description
        pages = tif.asarray()
    for key, value in (
        ("averaging", "1"),
        ("numAvgFramesSave", "1"),
        ("numberOfFrames", "1220"),
        ("frameRate", "3.90625"),
    ):
        header, found = re.subn(rf"state\.acq\.{key}=[^\r]*", f"state.acq.{key}={value}", header)
        assert found == 1, key
    excerpt = tmp_path / "excerpt.tif"
    with tifffile.TiffWriter(excerpt) as out:
        for page in pages:
            out.write(page, description=header, metadata=None, contiguous=False)
    with pytest.warns(TruncatedFileWarning, match=r"1,220 frames .* hold 30 pages"):
        stack = si_explorer.open(excerpt)
    assert stack.metadata.flavor == "scanimage3"
    assert stack.metadata.frame_rate == pytest.approx(3.90625)
    assert stack.shape == (1, 30, 1, 64, 64)
    np.testing.assert_array_equal(stack[0, :, 0], pages)
    assert stack.time_seconds[1] == pytest.approx(1 / 3.90625)
