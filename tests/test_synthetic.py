"""Synthetic ScanImage files: byte layout against the real sample, tifffile as the reference
reader, page order and content against independently written expectations."""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import pytest
import tifffile

from si_explorer.synthetic import (
    Acquisition,
    SyntheticFiles,
    _matlab_json,
    demo_acquisition,
    plan_acquisition,
    write_acquisition,
)

from .conftest import HOSTPIXELCORR as SAMPLE

UUID_KEYS = {"roiUuid", "roiUuiduint64"}


# --- raw readers, independent of the module under test -------------------------------------------


def si_header(buf: bytes) -> tuple[int, int, int, int, int]:
    """(first IFD offset, magic, version, size0, size1) from raw bytes."""
    assert buf[:8] == b"II\x2b\x00\x08\x00\x00\x00"
    (ifd0,) = struct.unpack_from("<Q", buf, 8)
    return (ifd0, *struct.unpack_from("<4I", buf, 16))


def read_ifd(buf: bytes, offset: int) -> tuple[list[tuple[int, int, int, bytes]], int]:
    """Tag entries (tag, type, count, raw 8-byte value) and the next-IFD offset."""
    (n,) = struct.unpack_from("<Q", buf, offset)
    entries = []
    for i in range(n):
        tag, typ, count = struct.unpack_from("<HHQ", buf, offset + 8 + 20 * i)
        value = buf[offset + 20 + 20 * i : offset + 28 + 20 * i]
        entries.append((tag, typ, count, value))
    (nxt,) = struct.unpack_from("<Q", buf, offset + 8 + 20 * n)
    return entries, nxt


def u64(value: bytes) -> int:
    return struct.unpack("<Q", value)[0]


def frame_data_lines(buf: bytes) -> list[tuple[str, str]]:
    _, _, _, size0, _ = si_header(buf)
    text = buf[32 : 32 + size0]
    assert text.endswith(b"\n\0")
    return [tuple(line.split(" = ", 1)) for line in text[:-2].decode("ascii").split("\n")]


def roi_json(buf: bytes) -> bytes:
    _, _, _, size0, size1 = si_header(buf)
    text = buf[32 + size0 : 32 + size0 + size1]
    assert text.endswith(b"}\n\0")
    return text[:-1]


def without_uuids(node):
    if isinstance(node, dict):
        return {k: without_uuids(v) for k, v in node.items() if k not in UUID_KEYS}
    if isinstance(node, list):
        return [without_uuids(v) for v in node]
    return node


def description_fields(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.strip().split("\n"))


# --- the real sample ---------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2])
def test_reproduces_sample_byte_layout(tmp_path, channels):
    sample = SAMPLE.read_bytes()
    acq = Acquisition(
        height=512, width=512, channels=channels, volumes=1, frame_rate=30.0169, frames_per_file=1
    )
    files = write_acquisition(tmp_path / "sample_00001_00001.tif", acq)
    ours = files.paths[0].read_bytes()

    ifd0_s, magic_s, version_s, size0_s, size1_s = si_header(sample)
    ifd0, magic, version, size0, size1 = si_header(ours)
    assert (magic, version) == (magic_s, version_s) == (117637889, 4)
    # The first IFD follows the JSON at the next multiple of 4, in both files.
    for first, s0, s1 in ((ifd0_s, size0_s, size1_s), (ifd0, size0, size1)):
        assert first == (32 + s0 + s1 + 3) // 4 * 4
        assert first - (32 + s0 + s1) in (0, 1, 2, 3)
    assert ifd0_s == 21388

    stride = 526672
    assert len(ours) == ifd0 + channels * stride == files.file_sizes[0]
    sample_entries, _ = read_ifd(sample, ifd0_s)
    for k in range(channels):
        offset = ifd0 + k * stride
        entries, nxt = read_ifd(ours, offset)
        assert nxt == (0 if k == channels - 1 else offset + stride)
        assert [e[:2] for e in entries] == [e[:2] for e in sample_entries]
        assert len(entries) == 18
        for (tag, _, count, value), (_, _, count_s, value_s) in zip(
            entries, sample_entries, strict=True
        ):
            if tag == 270:
                assert count == count_s == 2001
                assert u64(value) == offset + 376
            elif tag == 273:
                assert u64(value) == offset + 376 + 2008
            elif tag == 305:
                assert (count, u64(value)) == (size0, 32)
            elif tag == 315:
                assert (count, u64(value)) == (size1, 32 + size0)
            else:  # sizes, types, resolution rationals, sample format: identical
                assert (count, value) == (count_s, value_s), tag
        # Same frame number and time stamp as the sample's first frame: identical slot bytes.
        slot = ours[offset + 376 : offset + 376 + 2008]
        assert slot == sample[ifd0_s + 376 : ifd0_s + 376 + 2008]
        assert slot[2000:] == bytes(8) and slot[1999:2000] == b" "

    # FrameData: same keys in the same order; only the channel vectors (written as columns,
    # the sample has rows) and the frame period (rounded from the stated rate) may differ.
    ours_lines, sample_lines = frame_data_lines(ours), frame_data_lines(sample)
    assert [k for k, _ in ours_lines] == [k for k, _ in sample_lines]
    differ = {k for (k, v), (_, v_s) in zip(ours_lines, sample_lines, strict=True) if v != v_s}
    allowed = {
        "SI.hChannels.channelSave",
        "SI.hChannels.channelsActive",
        "SI.hChannels.channelDisplay",
        "SI.hRoiManager.scanFramePeriod",
    }
    assert differ <= allowed, differ - allowed
    assert dict(ours_lines)["SI.hChannels.channelSave"] == ("1" if channels == 1 else "[1;2]")

    ours_json, sample_json = json.loads(roi_json(ours)), json.loads(roi_json(sample))
    assert without_uuids(ours_json) == without_uuids(sample_json)

    with tifffile.TiffFile(files.paths[0]) as tif, tifffile.TiffFile(SAMPLE) as ref:
        assert tif.is_scanimage and ref.is_scanimage
        assert len(tif.pages) == channels
        page, page_s = tif.pages[0], ref.pages[0]
        assert (page.shape, page.dtype) == (page_s.shape, page_s.dtype)
        assert sorted(page.tags.keys()) == sorted(page_s.tags.keys())
        assert page.description == page_s.description


def test_json_writer_reencodes_sample_exactly():
    text = roi_json(SAMPLE.read_bytes()).decode("ascii")
    assert _matlab_json(json.loads(text)) + "\n" == text


# --- every option, read back with tifffile -------------------------------------------------

CASES = {
    "basic": Acquisition(height=32, width=40, volumes=3),
    "channels_files_uint16": Acquisition(
        height=16, width=24, channels=3, volumes=5, frames_per_file=2, dtype="uint16"
    ),
    "stack_flyback_average": Acquisition(
        height=24,
        width=20,
        channels=2,
        volumes=2,
        slices=3,
        flyback=2,
        frames_per_slice=4,
        log_average_factor=2,
    ),
    "lbm": Acquisition(height=20, width=28, channels=4, lbm=True, volumes=3, slices=2, flyback=1),
    "mroi_resonant": Acquisition(rois=((20, 32), (16, 24), (12, 32)), channels=2, volumes=2),
    "mroi_galvo": Acquisition(rois=((20, 32), (16, 24)), scanner="galvo", volumes=3),
    "strips": Acquisition(height=32, width=16, strips_per_page=4, volumes=3, channels=2),
    "stride_break_files": Acquisition(
        height=16, width=16, channels=2, volumes=6, frames_per_file=4, stride_break_at=5
    ),
    "sparse": Acquisition(height=256, width=256, volumes=40, sparse=True),
    "mroi_strips_break": Acquisition(
        rois=((10, 16), (12, 12)),
        strips_per_page=2,
        stride_break_at=3,
        dtype="uint16",
        volumes=4,
        frames_per_file=3,
    ),
}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, SyntheticFiles]:
    root = tmp_path_factory.mktemp("synthetic")
    return {
        name: write_acquisition(root / f"{name}_00001_00001.tif", acq)
        for name, acq in CASES.items()
    }


@pytest.mark.parametrize("name", list(CASES))
def test_tifffile_reads_every_page(written, name):
    files = written[name]
    acq = files.acquisition
    assert len(files.paths) == len(files.pages_per_file)
    assert sum(files.pages_per_file) == files.n_pages
    k = 0
    for i, path in enumerate(files.paths):
        assert path.stat().st_size == files.file_sizes[i]
        with tifffile.TiffFile(path) as tif:
            assert tif.is_scanimage
            meta = tif.scanimage_metadata
            assert meta["version"] == 4
            assert "imagingRoiGroup" in meta["RoiGroups"]
            frame_data = meta["FrameData"]
            assert len(tif.pages) == files.pages_per_file[i]
            assert [p.offset for p in tif.pages] == files.ifd_offsets[i].tolist()
            for page in tif.pages:
                assert page.shape == files.page_shape
                assert page.dtype == np.dtype(acq.dtype)
                assert page.compression == 1
                assert len(page.dataoffsets) == acq.strips_per_page
                np.testing.assert_array_equal(page.asarray(), files.page(k))
                k += 1
    assert k == files.n_pages

    fd = frame_data
    assert np.ravel(fd["SI.hChannels.channelSave"]).tolist() == list(range(1, acq.channels + 1))
    assert fd["SI.hStackManager.actualNumSlices"] == acq.slices
    stack = acq.slices > 1 or acq.flyback > 0
    # ScanImage's framesPerSlice: per slice in a stack, the whole acquisition without one.
    frames = acq.frames_per_slice if stack else acq.volumes * acq.frames_per_slice
    assert fd["SI.hStackManager.framesPerSlice"] == frames
    assert fd["SI.hScan2D.logAverageFactor"] == acq.log_average_factor
    flyback = (
        fd["SI.hStackManager.numFramesPerVolumeWithFlyback"]
        - fd["SI.hStackManager.numFramesPerVolume"]
    )
    assert flyback == acq.flyback
    assert fd["SI.hFastZ.numDiscardFlybackFrames"] == acq.flyback
    assert fd["SI.hRoiManager.mroiEnable"] == bool(acq.rois)
    assert fd["SI.hScan2D.channelsDataType"] == acq.dtype
    assert fd["SI.hScan2D.scannerType"] == ("RGG" if acq.scanner == "resonant" else "GG")
    expected_per_file = math.inf if acq.frames_per_file is None else acq.frames_per_file
    assert fd["SI.hScan2D.logFramesPerFile"] == expected_per_file


def test_frame_numbers_and_timestamps(written):
    """All channels of a frame share frameNumbers; numbers continue over files."""
    files = written["channels_files_uint16"]
    acq = files.acquisition
    numbers, stamps, ends = [], [], []
    for path in files.paths:
        with tifffile.TiffFile(path) as tif:
            for page in tif.pages:
                d = description_fields(page.description)
                numbers.append(int(d["frameNumbers"]))
                stamps.append(float(d["frameTimestamps_sec"]))
                ends.append(int(d["endOfAcquisition"]))
                assert page.tags[270].count == 2001  # 2000 space-padded characters + NUL
    n_frames = files.n_pages // acq.channels
    assert numbers == [f + 1 for f in range(n_frames) for _ in range(acq.channels)]
    np.testing.assert_allclose(stamps, (np.array(numbers) - 1) / acq.frame_rate, atol=1e-9)
    assert ends == [0] * (files.n_pages - acq.channels) + [1] * acq.channels


def test_flyback_and_averaged_frames_number_acquired_frames(written):
    files = written["stack_flyback_average"]
    with tifffile.TiffFile(files.paths[0]) as tif:
        numbers = [int(description_fields(p.description)["frameNumbers"]) for p in tif.pages[::2]]
    # Per volume: 3 slices x 4 acquired frames averaged by 2 (logged at frames 2, 4), 2 flyback.
    one_volume = [2, 4, 6, 8, 10, 12, 13, 14]
    assert numbers == one_volume + [n + 14 for n in one_volume]


def test_multi_file_split(written):
    files = written["channels_files_uint16"]
    assert [p.name for p in files.paths] == [
        "channels_files_uint16_00001_00001.tif",
        "channels_files_uint16_00001_00002.tif",
        "channels_files_uint16_00001_00003.tif",
    ]
    assert files.pages_per_file == [6, 6, 3]
    with tifffile.TiffFile(files.paths[1]) as tif:
        assert description_fields(tif.pages[0].description)["frameNumbers"] == "3"


def test_stride_break_changes_the_stride(written):
    files = written["stride_break_files"]
    # 2 channels, 4 frames a file: pages 0-7 in file 1, the break at global page 5.
    with tifffile.TiffFile(files.paths[0]) as tif:
        offsets = np.array([p.offset for p in tif.pages])
        counts = [p.tags[270].count for p in tif.pages]
    steps = np.diff(offsets)
    normal = 376 + 2008 + 16 * 16 * 2
    # Page 4 is the last short one: the step from it to page 5 is still the short stride.
    assert steps.tolist() == [normal] * 5 + [normal + 64] * 2
    assert counts == [2001] * 5 + [2065] * 3
    with tifffile.TiffFile(files.paths[1]) as tif:  # entirely after the break
        assert np.diff([p.offset for p in tif.pages]).tolist() == [normal + 64] * 3


def test_strips(written):
    files = written["strips"]
    with tifffile.TiffFile(files.paths[0]) as tif:
        page = tif.pages[3]
        assert page.rowsperstrip == 8
        assert len(page.dataoffsets) == 4
        assert list(page.databytecounts) == [8 * 16 * 2] * 4
        # Contiguous strips right after the out-of-line offset and count arrays.
        assert np.diff(page.dataoffsets).tolist() == [8 * 16 * 2] * 3
        assert page.dataoffsets[0] == page.offset + 376 + 2008 + 2 * 4 * 8


def test_sparse_files_are_sparse_and_valid(written):
    files = written["sparse"]
    st = files.paths[0].stat()
    assert st.st_size == files.file_sizes[0] > 40 * 256 * 256 * 2
    assert st.st_blocks * 512 < st.st_size / 10
    assert not files.page(39).any()
    with tifffile.TiffFile(files.paths[0]) as tif:
        assert not tif.pages[39].asarray().any()
        assert description_fields(tif.pages[39].description)["frameNumbers"] == "40"


def test_big_sparse_file_is_valid(tmp_path):
    """Open-time benchmarks write hundred-thousand-page sparse files the same way."""
    acq = Acquisition(height=512, width=512, channels=10, lbm=True, volumes=2000, sparse=True)
    files = write_acquisition(tmp_path / "big_00001_00001.tif", acq)
    assert files.n_pages == 20000
    assert files.file_sizes[0] > 10e9
    with tifffile.TiffFile(files.paths[0]) as tif:
        assert tif.pages[19999].offset == int(files.ifd_offsets[0][19999])


def test_mroi_resonant_gap_and_padding(written):
    files = written["mroi_resonant"]
    heights = (20, 16, 12)
    with tifffile.TiffFile(files.paths[0]) as tif:
        meta = tif.scanimage_metadata
        raw = [p.asarray() for p in tif.pages]
    fd = meta["FrameData"]
    gap = 2 * math.ceil(
        fd["SI.hScan2D.flytoTimePerScanfield"] / fd["SI.hRoiManager.linePeriod"] / 2
    )
    assert files.gap == gap == 16
    assert files.page_shape == (sum(heights) + 2 * gap, 32)
    assert (fd["SI.hRoiManager.linesPerFrame"], fd["SI.hRoiManager.pixelsPerLine"]) == (20, 32)
    rois = meta["RoiGroups"]["imagingRoiGroup"]["rois"]
    assert [r["scanfields"]["pixelResolutionXY"] for r in rois] == [[32, 20], [24, 16], [32, 12]]
    centres = [tuple(r["scanfields"]["centerXY"]) for r in rois]
    assert len(set(centres)) == 3
    xs = [c[0] for c in centres]
    assert xs == sorted(xs)  # side by side in x
    for page in raw:
        assert not page[20:36].any() and not page[52:68].any()  # the two gaps
        assert not page[36:52, 24:].any()  # the narrower ROI's padding
        assert page[:20].all() and page[36:52, :24].all() and page[68:].all()
    assert files.field_rows == [0, 36, 68]


def test_mroi_galvo_packs_rois_and_pads_columns(written):
    files = written["mroi_galvo"]
    assert files.gap == 0
    assert files.page_shape == (36, 32)
    for k in range(files.n_pages):
        page = files.page(k)
        assert not page[20:, 24:].any()
        assert page[:20].all() and page[20:, :24].all()


@pytest.mark.parametrize("name", ["mroi_resonant", "mroi_galvo", "mroi_strips_break", "lbm"])
def test_expected_is_the_field_crop_of_its_page(written, name):
    files = written[name]
    acq = files.acquisition
    n_fields, n_t, n_z, h_max, w_max = files.shape
    assert n_fields == len(files.field_shapes)
    assert (h_max, w_max) == tuple(np.max(files.field_shapes, axis=0))
    channels = 1 if acq.lbm else acq.channels
    for t in range(n_t):
        for z in range(n_z):
            for c in range(channels):
                page = files.page(files.page_number(t, z, c))
                for f, ((h, w), y0) in enumerate(
                    zip(files.field_shapes, files.field_rows, strict=True)
                ):
                    plane = files.expected(f, t, z, c)
                    assert plane.shape == (h_max, w_max)
                    np.testing.assert_array_equal(plane[:h, :w], page[y0 : y0 + h, :w])
                    assert not plane[h:].any() and not plane[:, w:].any()


@pytest.mark.parametrize("name", ["stack_flyback_average", "lbm", "channels_files_uint16"])
def test_page_order_matches_nested_loops(written, name):
    """Walk the documented disk order with plain loops and compare with page_number()."""
    files = written[name]
    acq = files.acquisition
    saved = acq.frames_per_slice // acq.log_average_factor
    k = 0
    seen = set()
    for volume in range(acq.volumes):
        for slot in range(acq.slices + acq.flyback):
            for frame in range(saved if slot < acq.slices else 1):
                for channel in range(acq.channels):
                    if slot < acq.slices:
                        t = volume * saved + frame
                        if acq.lbm:
                            z, c = slot * acq.channels + channel, 0
                        else:
                            z, c = slot, channel
                        assert files.page_number(t, z, c) == k
                        seen.add((t, z, c))
                    k += 1
    assert k == files.n_pages
    n_channels = 1 if acq.lbm else acq.channels
    assert len(seen) == files.shape[1] * files.shape[2] * n_channels
    assert files.shape[1] == acq.volumes * saved
    assert files.shape[2] == acq.slices * (acq.channels if acq.lbm else 1)
    if acq.lbm:
        with pytest.raises(ValueError):
            files.expected(0, 0, 0, channel=1)


def test_flyback_pages_have_content_but_no_coordinates(written):
    files = written["stack_flyback_average"]
    # Volume 0: kept frames are pages 0..11 (3 slices x 2 saved x 2 channels), flyback 12..15.
    assert files.page(12).any()
    kept = {files.page_number(t, z, c) for t in range(4) for z in range(3) for c in range(2)}
    assert kept.isdisjoint({12, 13, 14, 15, 28, 29, 30, 31})


# --- content --------------------------------------------------------------------------------


def test_content_looks_like_calcium_imaging(tmp_path):
    acq = Acquisition(height=128, width=128, channels=2, volumes=300, frame_rate=30.0, seed=5)
    files = plan_acquisition(tmp_path / "c.tif", acq)
    movie = np.stack([files.expected(0, t, 0) for t in range(300)]).astype(np.float64)
    other = np.stack([files.expected(0, t, 0, channel=1) for t in range(0, 300, 10)])
    baseline = np.median(movie, axis=0)
    assert 100 <= np.median(baseline) <= 500
    assert movie.min() >= 0
    # Transients: a few hundred to a few thousand counts over baseline, in a minority of pixels.
    rise = movie.max(axis=0) - baseline
    assert 1000 < movie.max() < 15000
    active = rise > 300
    assert 0.01 < active.mean() < 0.5
    # Noise grows with the signal (shot-like): brighter pixels fluctuate more frame to frame.
    jitter = np.diff(movie, axis=0).std(axis=0)
    bright, dim = baseline > np.percentile(baseline, 90), baseline < np.percentile(baseline, 10)
    assert np.median(jitter[bright]) > 1.2 * np.median(jitter[dim])
    # Each channel has its own cells.
    a, b = baseline.ravel(), np.median(other, axis=0).ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.5
    # Deterministic from the seed alone.
    again = plan_acquisition(tmp_path / "c.tif", acq)
    np.testing.assert_array_equal(again.page(123), files.page(123))
    reseeded = plan_acquisition(tmp_path / "c.tif", Acquisition(**{**vars(acq), "seed": 6}))
    assert not np.array_equal(reseeded.page(123), files.page(123))


def test_uint16_content_in_range(written):
    files = written["channels_files_uint16"]
    page = files.page(4)
    assert page.dtype == np.uint16
    assert 50 < np.median(page) < 1000


# --- API contract ------------------------------------------------------------------------------


def test_refuses_to_overwrite(tmp_path):
    acq = Acquisition(height=8, width=8, volumes=4, frames_per_file=2)
    second = tmp_path / "x_00001_00002.tif"
    second.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        write_acquisition(tmp_path / "x_00001_00001.tif", acq)
    assert not (tmp_path / "x_00001_00001.tif").exists()  # checked before writing anything
    assert second.read_bytes() == b"keep"
    files = write_acquisition(tmp_path / "x_00001_00001.tif", acq, overwrite=True)
    assert second.stat().st_size == files.file_sizes[1]


def test_other_names_get_numbered_suffixes(tmp_path):
    acq = Acquisition(height=8, width=8, volumes=3, frames_per_file=1)
    files = plan_acquisition(tmp_path / "run.tif", acq)
    assert [p.name for p in files.paths] == ["run.tif", "run_00002.tif", "run_00003.tif"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strips_per_page": 5, "height": 32},
        {"scanner": "polygon"},
        {"dtype": "float32"},
        {"stride_break_at": 10, "volumes": 10},
        {"frames_per_slice": 1, "log_average_factor": 2},
        {"rois": ((0, 10),)},
        {"channels": 0},
    ],
)
def test_invalid_acquisitions(kwargs):
    with pytest.raises(ValueError):
        Acquisition(**kwargs)


def test_page_bounds(written):
    files = written["basic"]
    with pytest.raises(IndexError):
        files.page(files.n_pages)
    with pytest.raises(IndexError):
        files.expected(0, files.shape[1], 0)
    assert files.locate(2) == (0, 2)


def test_demo_acquisition(tmp_path):
    files = demo_acquisition(tmp_path)
    assert files.paths == [tmp_path / "demo_00001_00001.tif"]
    assert files.shape == (1, 300, 8, 256, 256)
    with tifffile.TiffFile(files.paths[0]) as tif:
        fd = tif.scanimage_metadata["FrameData"]
        assert np.ravel(fd["SI.hChannels.channelSave"]).tolist() == list(range(1, 9))
        page = tif.pages[8 * 150 + 5]
        np.testing.assert_array_equal(page.asarray(), files.expected(0, 150, 5))
    assert os.path.getsize(files.paths[0]) == files.file_sizes[0]
