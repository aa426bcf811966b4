"""The page index (si_explorer.tiff): exact offsets against tifffile and against files whose
layout the test wrote byte by byte, the stride fast path and its verification, truncated and
corrupt files, the on-disk cache, pickling and read_ifd."""

from __future__ import annotations

import mmap
import os
import pickle
import re
import shutil
import struct
import time

import numpy as np
import pytest
import tifffile

from si_explorer.errors import (
    CorruptTiffError,
    NotATiffError,
    SIExplorerError,
    SourceNotFoundError,
    TruncatedFileError,
)
from si_explorer.tiff import (
    NonUniformPagesError,
    PageIndex,
    build_index,
    read_first_page,
    read_ifd,
)
from si_explorer.tiff import cache as index_cache
from si_explorer.tiff.index import Progression
from si_explorer.tiff.source import CallableSource, LocalFile
from si_explorer.tiff.stride import sample_pages

from .conftest import BLANK_IPA, HOSTPIXELCORR

# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache directory, so no test sees another's cache entries."""
    folder = tmp_path / "index-cache"
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(folder))
    return folder


def tifffile_pages(path, pages=None):
    """tifffile's view of ``pages`` (default all): IFD offset, first data offset, description
    offset and count (-1, 0 when absent), shape and dtype."""
    rows = []
    with tifffile.TiffFile(path) as tif:
        numbers = range(len(tif.pages)) if pages is None else pages
        for k in numbers:
            page = tif.pages[int(k)]
            desc = page.tags.get(270)
            rows.append(
                (
                    page.offset,
                    page.dataoffsets[0],
                    -1 if desc is None else desc.valueoffset,
                    0 if desc is None else desc.count,
                    page.shape,
                    page.dtype,
                )
            )
    return rows


def assert_matches_tifffile(index: PageIndex, path, pages=None):
    """Every indexed field of ``pages`` (default all) equals what tifffile reads, and raw pixels
    read at the indexed data offsets equal tifffile's decoded pages."""
    if pages is None:
        pages = np.arange(index.n_pages)
    expected = tifffile_pages(path, pages)
    got = [
        (
            int(index.ifd_offsets[k]),
            int(index.data_offsets[k]),
            int(index.desc_offsets[k]),
            int(index.desc_lengths[k]),
            index.shape,
            index.dtype.newbyteorder("="),  # tifffile reports native-order dtypes
        )
        for k in pages
    ]
    assert got == expected
    if index.raw:
        with tifffile.TiffFile(path) as tif, open(path, "rb") as file:
            for k in list(pages)[:8]:
                file.seek(int(index.data_offsets[k]))
                raw = np.frombuffer(file.read(index.page_nbytes), index.dtype)
                np.testing.assert_array_equal(raw.reshape(index.shape), tif.pages[int(k)].asarray())


def write_pages(path, pages, *, byteorder="<", **options):
    """Write each of ``pages`` (a list of 2-D arrays) as its own tifffile series (IFD, values,
    pixels, page after page); options go to TiffWriter.write (e.g. description=...)."""
    descriptions = options.pop("descriptions", None)
    bigtiff = options.pop("bigtiff", False)
    with tifffile.TiffWriter(path, byteorder=byteorder, bigtiff=bigtiff) as writer:
        for k, page in enumerate(pages):
            extra = {} if descriptions is None else {"description": descriptions[k]}
            writer.write(page, metadata=None, software=False, **extra, **options)


def ramp(n, shape=(12, 10), dtype=np.uint16):
    return [(np.arange(np.prod(shape)).reshape(shape) + 7 * k).astype(dtype) for k in range(n)]


def write_raw(
    path,
    desc_lengths,
    *,
    shape=(8, 6),
    bigtiff=False,
    byteorder="<",
    strips=1,
    pixels_first=False,
    sparse=False,
    start=None,
    fill=b"x",
    reversed_strips=False,
):
    """Write a TIFF byte by byte; return the true offsets of every page.

    Page k: its IFD, its description (``desc_lengths[k]`` bytes including the NUL), its strip
    arrays when they do not fit the entries, then its pixels (or the pixels first, as ScanImage
    3.8 does). Classic TIFF offsets are stored modulo 2**32, as ScanImage 3.x/5 did past 4 GiB.
    ``reversed_strips`` stores the strips of each page last first (valid, but not raw).
    """
    bo = byteorder
    rows, cols = shape
    itemsize = 2
    vs = 8 if bigtiff else 4
    cs, es = (8, 20) if bigtiff else (2, 12)
    off_letter = "Q" if bigtiff else "I"
    rps = -(-rows // strips)
    strip_rows = [min(rps, rows - i * rps) for i in range(strips)]
    strip_bytes = [r * cols * itemsize for r in strip_rows]
    n_tags = 11
    ifd_size = cs + n_tags * es + vs
    array_bytes = strips * vs
    arrays_inline = array_bytes <= vs
    pixel_bytes = rows * cols * itemsize
    position = start if start is not None else (16 if bigtiff else 8)
    truth = {"ifd": [], "data": [], "desc": [], "desc_len": []}
    chunks = []  # (offset, bytes)
    for k, length in enumerate(desc_lengths):
        if pixels_first:
            data = position
            position += pixel_bytes
        ifd = position
        position += ifd_size
        desc = ifd + cs + 5 * es + 4 + vs if length <= vs else position
        if length > vs:
            position += length
        arrays = position
        if not arrays_inline:
            position += 2 * array_bytes
        if not pixels_first:
            data = position
            position += pixel_bytes
        truth["ifd"].append(ifd)
        truth["data"].append(data)
        truth["desc"].append(desc)
        truth["desc_len"].append(length)
        offsets = [data + sum(strip_bytes[:i]) for i in range(strips)]
        if reversed_strips:
            offsets = [data + sum(strip_bytes[i + 1 :]) for i in range(strips)]

        def wrap(value):
            return value if bigtiff else value & 0xFFFFFFFF

        def entry(code, type_, count, value_bytes):
            head = struct.pack(f"{bo}HH{off_letter}", code, type_, count)
            return head + value_bytes.ljust(vs, b"\0")

        def scalar(code, value):
            return entry(code, 3, 1, struct.pack(bo + "H", value))

        def pointer(value):
            return struct.pack(bo + off_letter, wrap(value))

        offsets_type = 16 if bigtiff else 4
        letter = "Q" if bigtiff else "I"
        if arrays_inline:
            offsets_field = struct.pack(f"{bo}{strips}{letter}", *map(wrap, offsets))
            counts_field = struct.pack(f"{bo}{strips}{letter}", *strip_bytes)
        else:
            offsets_field = pointer(arrays)
            counts_field = pointer(arrays + array_bytes)
            chunks.append((arrays, struct.pack(f"{bo}{strips}{letter}", *map(wrap, offsets))))
            chunks.append(
                (arrays + array_bytes, struct.pack(f"{bo}{strips}{letter}", *strip_bytes))
            )
        text = (b"page %d " % k).ljust(length - 1, fill)[: length - 1] + b"\0"
        desc_field = text if length <= vs else pointer(desc)
        entries = [
            scalar(256, cols),
            scalar(257, rows),
            scalar(258, 16),
            scalar(259, 1),
            scalar(262, 1),
            entry(270, 2, length, desc_field),
            entry(273, offsets_type, strips, offsets_field),
            scalar(277, 1),
            scalar(278, rps),
            entry(279, offsets_type, strips, counts_field),
            scalar(339, 1),
        ]
        last = k == len(desc_lengths) - 1
        next_ifd = 0 if last else None  # patched below once known
        chunks.append(
            (ifd, [struct.pack(bo + ("Q" if bigtiff else "H"), n_tags), entries, next_ifd])
        )
        if length > vs:
            chunks.append((desc, text))
        if not sparse:
            values = (np.arange(rows * cols) + k).astype(np.dtype(bo + "u2")).tobytes()
            for i in range(strips):  # strip i holds the rows after those of strips 0..i-1
                at = sum(strip_bytes[:i])
                chunks.append((offsets[i], values[at : at + strip_bytes[i]]))
    size = position
    with open(path, "wb") as file:
        magic = b"II" if bo == "<" else b"MM"
        first = truth["ifd"][0]
        if bigtiff:
            file.write(magic + struct.pack(bo + "HHHQ", 43, 8, 0, first))
        else:
            file.write(magic + struct.pack(bo + "HI", 42, first))
        ifd_number = 0
        for offset, content in chunks:
            if isinstance(content, list):
                count, entries, next_ifd = content
                if next_ifd is None:
                    next_ifd = wrap(truth["ifd"][ifd_number + 1])
                content = count + b"".join(entries) + struct.pack(bo + off_letter, next_ifd)
                ifd_number += 1
            file.seek(offset)
            file.write(content)
        file.truncate(size)
    return {key: np.array(value, dtype=np.int64) for key, value in truth.items()}


def assert_matches_truth(index: PageIndex, truth, n=None):
    n = len(truth["ifd"]) if n is None else n
    assert index.n_pages == n
    np.testing.assert_array_equal(index.ifd_offsets, truth["ifd"][:n])
    np.testing.assert_array_equal(index.data_offsets, truth["data"][:n])
    np.testing.assert_array_equal(index.desc_offsets, truth["desc"][:n])
    np.testing.assert_array_equal(index.desc_lengths, truth["desc_len"][:n])


def patch(path, offset, data: bytes):
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(data)


def next_pointer_position(path, ifd_offset):
    """Byte position of the next-IFD pointer of the IFD at ``ifd_offset`` (tifffile's view)."""
    with tifffile.TiffFile(path) as tif:
        bigtiff = tif.is_bigtiff
        bo = tif.byteorder
    with open(path, "rb") as file:
        file.seek(ifd_offset)
        count = struct.unpack(bo + ("Q" if bigtiff else "H"), file.read(8 if bigtiff else 2))[0]
    return ifd_offset + (8 if bigtiff else 2) + count * (20 if bigtiff else 12), bo, bigtiff


# --- the real ScanImage samples ------------------------------------------------------------------


@pytest.mark.parametrize("sample", [HOSTPIXELCORR, BLANK_IPA], ids=["si2021", "si38"])
def test_real_samples_are_predicted_by_stride_and_match_tifffile(sample):
    index = build_index(sample)
    assert index.method == "stride"
    with tifffile.TiffFile(sample) as tif:
        assert index.n_pages == len(tif.pages)
        assert index.bigtiff == tif.is_bigtiff
        assert index.byteorder == tif.byteorder
        assert index.stride == tif.pages[1].offset - tif.pages[0].offset
    assert index.raw and index.missing_bytes == 0
    assert index.file_size == os.path.getsize(sample)
    assert index.mtime_ns == os.stat(sample).st_mtime_ns
    assert index.path == str(sample)
    assert_matches_tifffile(index, sample)


def test_real_sample_facts():
    """The documented layouts: SI 2021 int16 512x512 BigTIFF, SI 3.8 uint16 64x64 classic with
    two strips per page and pixels before each IFD."""
    a = build_index(HOSTPIXELCORR)
    assert (a.n_pages, a.shape, a.dtype, a.stride) == (2, (512, 512), np.dtype("<i2"), 526_672)
    assert list(a.ifd_offsets) == [21_388, 21_388 + 526_672]
    assert a.desc_lengths[0] == 2001
    b = build_index(BLANK_IPA)
    assert (b.n_pages, b.shape, b.dtype, b.stride) == (30, (64, 64), np.dtype("<u2"), 15_738)
    assert b.bigtiff is False
    assert (b.data_offsets < b.ifd_offsets).all()  # pixels precede their IFD


@pytest.mark.parametrize("sample", [HOSTPIXELCORR, BLANK_IPA], ids=["si2021", "si38"])
def test_walk_of_real_samples_equals_stride(sample, monkeypatch):
    predicted = build_index(sample)
    monkeypatch.setattr("si_explorer.tiff.index.predict_stride", lambda *a, **k: None)
    walked = build_index(sample, cache=False)
    assert walked.method == "walk" and walked.stride is None
    for name in ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths"):
        np.testing.assert_array_equal(getattr(walked, name), getattr(predicted, name))
    assert (walked.raw, walked.shape, walked.dtype) == (
        predicted.raw,
        predicted.shape,
        predicted.dtype,
    )


# --- files written by tifffile -------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, method",
    [
        ({}, "walk"),
        ({"bigtiff": True}, "stride"),
        ({"byteorder": ">"}, "walk"),
        ({"byteorder": ">", "bigtiff": True}, "stride"),
        ({"rowsperstrip": 5}, "walk"),
        ({"rowsperstrip": 5, "bigtiff": True, "byteorder": ">"}, "stride"),
    ],
    ids=["classic", "bigtiff", "classic-be", "bigtiff-be", "strips", "strips-bigtiff-be"],
)
def test_page_by_page_tifffile_files(tmp_path, options, method):
    """One tifffile series per page: IFD, values, pixels, page after page. In BigTIFFs the
    stride is constant; in classic TIFFs page 0's pixels are aligned differently (page 1 starts
    8 bytes later than the stride of the others), so those are walked."""
    path = tmp_path / "pages.tif"
    write_pages(path, ramp(9), descriptions=["fixed length"] * 9, **options)
    index = build_index(path)
    assert index.method == method
    assert index.raw
    assert index.byteorder == options.get("byteorder", "<")
    assert index.dtype == np.dtype(index.byteorder + "u2")
    assert_matches_tifffile(index, path)


@pytest.mark.parametrize(
    "options, raw",
    [
        ({}, True),
        ({"bigtiff": True}, True),
        ({"byteorder": ">"}, True),
        ({"rowsperstrip": 3}, True),
        ({"compression": "zlib"}, False),
        ({"tile": (16, 16)}, False),
        ({"tile": (16, 16), "bigtiff": True, "byteorder": ">"}, False),
    ],
    ids=["classic", "bigtiff", "be", "rowsperstrip", "zlib", "tiled", "tiled-bigtiff-be"],
)
def test_imwrite_files_match_tifffile(tmp_path, options, raw):
    """tifffile's imwrite puts the IFDs of pages 1.. after all pixel data (no constant stride
    from page 0): the walk must index them exactly."""
    path = tmp_path / "stack.tif"
    data = np.stack(ramp(7, shape=(40, 30), dtype=np.int16))
    options = dict(options)
    byteorder = options.pop("byteorder", "<")
    tifffile.imwrite(path, data, byteorder=byteorder, metadata=None, **options)
    index = build_index(path)
    assert index.method == "walk"
    assert index.raw is raw
    assert index.shape == (40, 30) and index.dtype == np.dtype(byteorder + "i2")
    assert_matches_tifffile(index, path)


@pytest.mark.parametrize(
    "dtype", ["u1", "i1", "u2", "i2", "u4", "i4", "f4", "u8", "i8", "f8", "f2"]
)
def test_dtypes(tmp_path, dtype):
    path = tmp_path / "dtype.tif"
    write_pages(path, ramp(3, dtype=np.dtype(dtype)), byteorder=">")
    index = build_index(path)
    assert index.dtype == np.dtype(">" + dtype)
    assert_matches_tifffile(index, path)


def test_descriptions_of_varying_length_break_the_stride(tmp_path):
    path = tmp_path / "desc.tif"
    descriptions = ["d" * (37 * k + 1) for k in range(12)]
    write_pages(path, ramp(12), descriptions=descriptions)
    index = build_index(path)
    assert index.method == "walk"
    assert_matches_tifffile(index, path)
    assert list(index.desc_lengths) == [len(d) + 1 for d in descriptions]


def test_first_page_with_another_layout_still_walks_vectorised(tmp_path):
    """tifffile's shaped series: only page 0 has a description, so page 0 is its own layout."""
    path = tmp_path / "shaped.tif"
    tifffile.imwrite(path, np.stack(ramp(30)))
    index = build_index(path)
    assert index.desc_offsets[0] > 0 and (index.desc_offsets[1:] == -1).all()
    assert_matches_tifffile(index, path)


def test_pages_of_different_shape_or_dtype_are_non_uniform(tmp_path):
    shape = tmp_path / "shape.tif"
    write_pages(shape, ramp(3) + ramp(1, shape=(11, 10)))
    with pytest.raises(NonUniformPagesError, match="page 3 is 11x10"):
        build_index(shape)
    dtype = tmp_path / "dtype.tif"
    write_pages(dtype, ramp(2) + ramp(1, dtype=np.int16))
    with pytest.raises(NonUniformPagesError, match="page 2"):
        build_index(dtype)
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.zeros((2, 8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(NonUniformPagesError, match="3 samples per pixel"):
        build_index(rgb)
    assert issubclass(NonUniformPagesError, SIExplorerError)
    assert str(shape) in str(pytest.raises(NonUniformPagesError, build_index, shape).value)


def test_single_page_file(tmp_path):
    path = tmp_path / "one.tif"
    tifffile.imwrite(path, ramp(1)[0])
    index = build_index(path)
    assert index.n_pages == 1
    assert_matches_tifffile(index, path)


# --- files written byte by byte ------------------------------------------------------------------


@pytest.mark.parametrize("bigtiff", [False, True])
@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("pixels_first", [False, True])
def test_raw_files_strided_and_walked(tmp_path, bigtiff, byteorder, pixels_first, monkeypatch):
    path = tmp_path / "raw.tif"
    truth = write_raw(
        path, [41] * 50, bigtiff=bigtiff, byteorder=byteorder, strips=3, pixels_first=pixels_first
    )
    index = build_index(path)
    assert index.method == "stride"
    assert_matches_truth(index, truth)
    assert index.raw
    assert_matches_tifffile(index, path, pages=[0, 1, 25, 49])
    monkeypatch.setattr("si_explorer.tiff.index.predict_stride", lambda *a, **k: None)
    assert_matches_truth(build_index(path, cache=False), truth)


@pytest.mark.parametrize("pixels_first", [False, True])
def test_stride_that_changes_mid_file_is_walked(tmp_path, pixels_first):
    lengths = [200] * 60 + [264] * 40  # e.g. a longer frame counter from page 60 on
    truth = write_raw(tmp_path / "b.tif", lengths, strips=2, pixels_first=pixels_first)
    index = build_index(tmp_path / "b.tif")
    assert index.method == "walk"
    assert_matches_truth(index, truth)


def test_inline_descriptions(tmp_path):
    """Descriptions of up to 4 bytes live inside the IFD entry (classic), longer ones outside."""
    truth = write_raw(tmp_path / "i.tif", [3, 4, 5, 2, 40, 4])
    index = build_index(tmp_path / "i.tif")
    assert_matches_truth(index, truth)
    assert_matches_tifffile(index, tmp_path / "i.tif")


@pytest.mark.parametrize("strided", [True, False])
def test_strips_out_of_order_are_not_raw(tmp_path, strided):
    path = tmp_path / "reversed.tif"
    lengths = [40] * 20 if strided else [40 + k for k in range(20)]
    truth = write_raw(path, lengths, strips=3, reversed_strips=True)
    index = build_index(path)
    assert index.method == ("stride" if strided else "walk")
    assert not index.raw
    assert_matches_tifffile(index, path)
    # rows per strip 3: strips of 3, 3 and 2 rows; the first strip is stored after the others
    np.testing.assert_array_equal(index.data_offsets, truth["data"] + (3 + 2) * 6 * 2)
    with tifffile.TiffFile(path) as tif:  # the strips are valid, just not one block in order
        assert tif.pages[3].asarray()[0, 1] == 3 + 1


def test_pages_sharing_a_layout_are_not_decoded_one_by_one(tmp_path, monkeypatch):
    """The walk describes pages of a known tag layout with numpy, whatever their description
    lengths: the per-page decoder runs for no page of a file with two layouts."""
    path = tmp_path / "shaped.tif"
    tifffile.imwrite(path, np.stack(ramp(50)))  # page 0 has a description, pages 1.. do not
    import si_explorer.tiff.walk as walk_module

    calls = []
    original = walk_module.page_facts

    def counting(*args, **kwargs):
        calls.append(args[-2] if len(args) > 5 else None)
        return original(*args, **kwargs)

    monkeypatch.setattr(walk_module, "page_facts", counting)
    assert build_index(path).n_pages == 50
    varying = walked_file(tmp_path)
    assert build_index(varying).method == "walk"
    assert calls == []


def test_walk_speed(synthetic, monkeypatch):
    files = synthetic(height=256, width=256, volumes=20_000, sparse=True)
    monkeypatch.setattr("si_explorer.tiff.index.predict_stride", lambda *a, **k: None)
    build_index(files.paths[0], cache=False)  # warm the page cache
    start = time.perf_counter()
    index = build_index(files.paths[0], cache=False)
    elapsed = time.perf_counter() - start
    assert index.method == "walk"
    np.testing.assert_array_equal(index.ifd_offsets, files.ifd_offsets[0])
    assert elapsed < 1.0  # measured ~55 ms (300,000 pages: ~0.8 s)


def compensated_break(tmp_path, page):
    """100 pages at a constant stride except that page ``page`` has a description 64 bytes
    longer and page ``page + 1`` one 64 bytes shorter: page ``page + 1``'s IFD is displaced,
    but every other page and the file size are exactly where the stride predicts."""
    lengths = [300] * 100
    lengths[page] += 64
    lengths[page + 1] -= 64
    path = tmp_path / f"break{page}.tif"
    truth = write_raw(path, lengths)
    regular = write_raw(tmp_path / "regular.tif", [300] * 100)
    assert os.path.getsize(path) == os.path.getsize(tmp_path / "regular.tif")
    assert (truth["ifd"] != regular["ifd"]).sum() == 1
    return path, truth


@pytest.mark.parametrize("where", ["late", "sampled-break-page", "sampled-displaced-page"])
def test_compensated_stride_break_is_caught(tmp_path, where):
    """A break the size arithmetic cannot see. Near the end, the checks of pages n-2 and n-1
    catch it; elsewhere, a sampled page catches it: the page before the displaced one has
    another description count and links to the displaced IFD, and the displaced page has no
    IFD where predicted. Between samples such a break is invisible to any check cheaper than a
    walk (see stride.py)."""
    samples = sample_pages(100)
    middle = [k for k in samples if 10 < k < 90 and k + 1 not in samples and k - 1 not in samples]
    page = {
        "late": 97,  # displaces page 98 = n-2
        "sampled-break-page": middle[0],  # its next pointer points at the displaced IFD
        "sampled-displaced-page": middle[0] - 1,  # the sampled page itself is displaced
    }[where]
    path, truth = compensated_break(tmp_path, page)
    index = build_index(path)
    assert index.method == "walk"
    assert_matches_truth(index, truth)


def test_sampled_page_that_differs_is_caught(tmp_path):
    """Chain links intact, IFDs where predicted, but a sampled page's IFD says another height,
    or its pixels are elsewhere: the byte comparison with page 0 sends the file to the walk,
    which finds the truth."""
    k = next(k for k in sample_pages(100) if 10 < k < 90)
    path = tmp_path / "format.tif"
    write_raw(path, [300] * 100)
    with tifffile.TiffFile(path) as tif:
        height = tif.pages[k].tags[257].valueoffset
        strip = tif.pages[k].tags[273].valueoffset
    patch(path, height, struct.pack("<H", 7))
    with pytest.raises(NonUniformPagesError, match=f"page {k} is 7x6"):
        build_index(path)
    truth = write_raw(path, [300] * 100)
    moved = int(truth["data"][k]) - 2
    patch(path, strip, struct.pack("<I", moved))
    index = build_index(path)
    assert index.method == "walk"
    assert index.data_offsets[k] == moved and index.raw  # one strip, elsewhere: still raw
    assert_matches_tifffile(index, path, pages=[k - 1, k, k + 1])


def test_stride_prediction_costs_a_few_small_reads(synthetic, monkeypatch):
    """Opening a 20,000-page file reads a bounded number of bytes, independent of its pages."""
    files = synthetic(height=256, width=256, volumes=20_000, sparse=True)
    calls = []
    original = LocalFile.read

    def counting(self, offset, size):
        data = original(self, offset, size)
        calls.append(len(data))
        return data

    monkeypatch.setattr(LocalFile, "read", counting)
    index = build_index(files.paths[0])
    assert index.method == "stride" and index.n_pages == 20_000
    assert len(calls) < 100 and sum(calls) < 128 << 10
    # ...and builds no per-page arrays until they are used.
    assert isinstance(index.__dict__["_ifd_offsets"], Progression)
    assert index.ifd_offsets[-1] == files.ifd_offsets[0][-1]


def test_synthetic_scanimage_20k_pages_sparse(synthetic):
    files = synthetic(height=256, width=256, volumes=20_000, sparse=True)
    path = files.paths[0]
    start = time.perf_counter()
    index = build_index(path)
    elapsed = time.perf_counter() - start
    assert index.method == "stride"
    assert elapsed < 0.05  # measured ~0.3 ms; generous for slow CI machines
    np.testing.assert_array_equal(index.ifd_offsets, files.ifd_offsets[0])
    assert index.file_size == files.file_sizes[0]
    pages = sorted({0, 1, 2, 9_999, 19_998, 19_999, *range(0, 20_000, 1_733)})
    assert_matches_tifffile(index, path, pages=pages)


def test_any_byte_source_is_indexed_through_the_same_interface(synthetic):
    """A source that is not a local file (here bytes behind a read function, as a remote
    object would be) gets the same stride index, named by its own name; a walk needs a memory
    map, which such a source does not offer."""
    files = synthetic(height=32, width=32, volumes=500, sparse=True)
    with open(files.paths[0], "rb") as file:
        data = file.read()
    remote = CallableSource(lambda o, n: data[o : o + n], len(data), "https://host/a.tif")
    index = build_index(remote)
    local = build_index(files.paths[0])
    assert index.path == "https://host/a.tif" and index.method == "stride"
    for name in ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths"):
        np.testing.assert_array_equal(getattr(index, name), getattr(local, name))
    first = read_first_page(remote)
    assert first.ifd.offset == local.ifd_offsets[0] and first.format.shape == local.shape
    broken = synthetic(height=32, width=32, volumes=500, sparse=True, stride_break_at=200)
    with open(broken.paths[0], "rb") as file:
        data = file.read()
    with pytest.raises(SIExplorerError, match=r"^https://host/b.tif: cannot walk"):
        build_index(CallableSource(lambda o, n: data[o : o + n], len(data), "https://host/b.tif"))


def test_read_first_page_errors_name_the_source(tmp_path):
    path = tmp_path / "cut.tif"
    truth = write_raw(path, [100] * 3)
    with open(path, "r+b") as file:
        file.truncate(int(truth["ifd"][0]) + 4)
    with LocalFile(path) as source, pytest.raises(TruncatedFileError, match="first IFD"):
        read_first_page(source)


def test_synthetic_stride_break_is_walked(synthetic):
    files = synthetic(height=64, width=64, volumes=3_000, sparse=True, stride_break_at=2_000)
    index = build_index(files.paths[0])
    assert index.method == "walk"
    np.testing.assert_array_equal(index.ifd_offsets, files.ifd_offsets[0])
    assert_matches_tifffile(index, files.paths[0], pages=[0, 1999, 2000, 2001, 2999])


def test_big_classic_file_with_wrapped_offsets(tmp_path, monkeypatch):
    """Classic TIFFs over 4 GiB (ScanImage 3.x/5) store offsets modulo 2**32; both paths unwrap
    them to the true positions."""
    path = tmp_path / "big.tif"
    truth = write_raw(path, [500] * 72, shape=(4096, 8192), sparse=True, strips=4)
    assert os.path.getsize(path) > 1 << 32
    index = build_index(path)
    assert index.method == "stride"
    assert_matches_truth(index, truth)
    monkeypatch.setattr("si_explorer.tiff.index.predict_stride", lambda *a, **k: None)
    walked = build_index(path, cache=False)
    assert walked.method == "walk"
    assert_matches_truth(walked, truth)


# --- truncated files -----------------------------------------------------------------------------


def cut_copy(source, target, size):
    with open(source, "rb") as file:
        data = file.read(size)
    with open(target, "wb") as file:
        file.write(data)
    return target


@pytest.mark.parametrize("sample", [HOSTPIXELCORR, BLANK_IPA], ids=["si2021", "si38"])
def test_truncated_samples(tmp_path, sample):
    full = build_index(sample)
    stride = full.stride
    size = full.file_size
    cases = {
        "mid-last-pixels": size - 1000,
        "mid-last-ifd": int(full.ifd_offsets[-1]) + 30,
        "last-page-missing": size - stride,
    }
    for name, cut in cases.items():
        path = cut_copy(sample, tmp_path / f"{name}.tif", cut)
        index = build_index(path)
        complete = full.n_pages - 1
        assert index.n_pages == complete, name
        end = size - stride  # every page of the samples ends where the next one starts
        assert index.missing_bytes == cut - end, name
        np.testing.assert_array_equal(index.ifd_offsets, full.ifd_offsets[:complete])


def test_truncated_strided_file_keeps_the_stride_path(synthetic, tmp_path):
    files = synthetic(height=64, width=48, volumes=40)
    full = build_index(files.paths[0])
    for cut in (
        full.file_size - 5,
        int(full.ifd_offsets[30]) + 100,
        int(full.data_offsets[30]) + 1,
    ):
        path = cut_copy(files.paths[0], tmp_path / "cut.tif", cut)
        index = build_index(path)
        assert index.method == "stride"
        n = 39 if cut > full.ifd_offsets[39] else 30
        assert index.n_pages == n
        assert index.missing_bytes == cut - (int(full.ifd_offsets[0]) + n * full.stride)


@pytest.mark.parametrize("pixels_first", [False, True])
def test_truncated_walked_file(tmp_path, pixels_first):
    lengths = [100 + 13 * k for k in range(20)]
    truth = write_raw(tmp_path / "full.tif", lengths, pixels_first=pixels_first, strips=2)
    page_end = (
        np.maximum(truth["desc"] + truth["desc_len"], truth["data"] + 96)
        if not pixels_first
        else truth["desc"] + truth["desc_len"] + 16
    )  # pixels_first: the two 8-byte strip arrays follow the description
    size = os.path.getsize(tmp_path / "full.tif")
    for cut in range(int(page_end[15]) - 40, size, 7):
        path = cut_copy(tmp_path / "full.tif", tmp_path / "cut.tif", cut)
        index = build_index(path, cache=False)
        complete = int(np.searchsorted(page_end, cut, side="right"))
        assert index.method == "walk"
        assert_matches_truth(index, truth, complete)
        assert index.missing_bytes == (cut - page_end[complete - 1] if complete < 20 else 0)


def test_no_complete_page(tmp_path):
    for cut in (8, 12, 200, os.path.getsize(HOSTPIXELCORR) // 2 - 300_000):
        path = cut_copy(HOSTPIXELCORR, tmp_path / f"cut{cut}.tif", cut)
        with pytest.raises(TruncatedFileError, match=re.escape(str(path))):
            build_index(path)


# --- not TIFFs and corrupt TIFFs -----------------------------------------------------------------


def test_not_a_tiff(tmp_path):
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    text = tmp_path / "text.tif"
    text.write_bytes(b"hello, this is not an image\n")
    one = tmp_path / "one.tif"
    one.write_bytes(b"I")
    wrong_version = tmp_path / "v.tif"
    wrong_version.write_bytes(b"II\x2c\x00" + bytes(100))
    for path in (empty, text, one, wrong_version, tmp_path):
        with pytest.raises(NotATiffError, match=re.escape(str(path))):
            build_index(path)
    with pytest.raises(SourceNotFoundError, match="missing.tif"):
        build_index(tmp_path / "missing.tif")


def test_source_is_opened_read_only_and_closed(tmp_path):
    path = tmp_path / "ro.tif"
    shutil.copy(BLANK_IPA, path)
    os.chmod(path, 0o444)
    before = set(os.listdir("/proc/self/fd"))
    build_index(path)
    with pytest.raises(SIExplorerError):
        build_index(tmp_path / "missing.tif")
    assert set(os.listdir("/proc/self/fd")) == before
    assert path.read_bytes() == BLANK_IPA.read_bytes()


def corrupt_case(tmp_path, name):
    """A 12-page tifffile file with a different description per page (so that it is walked)."""
    path = tmp_path / f"{name}.tif"
    write_pages(path, ramp(12), descriptions=[f"p{k}" * (k + 3) for k in range(12)])
    return path, [row[0] for row in tifffile_pages(path)]


def timed_raise(error, path, match):
    start = time.perf_counter()
    with pytest.raises(error, match=match) as caught:
        build_index(path)
    assert time.perf_counter() - start < 2
    assert str(path) in str(caught.value)
    return caught.value


@pytest.mark.parametrize("target", [0, 4, 7])
def test_ifd_loop(tmp_path, target):
    path, offsets = corrupt_case(tmp_path, "loop")
    position, bo, bigtiff = next_pointer_position(path, offsets[7])
    patch(path, position, struct.pack(bo + "I", offsets[target]))
    timed_raise(CorruptTiffError, path, "loops|inside itself")


def test_ifd_pointing_into_itself(tmp_path):
    path, offsets = corrupt_case(tmp_path, "self")
    position, bo, _ = next_pointer_position(path, offsets[3])
    patch(path, position, struct.pack(bo + "I", offsets[3] + 6))
    timed_raise(CorruptTiffError, path, "inside itself")


def test_loop_in_a_big_strided_file(synthetic, tmp_path):
    files = synthetic(height=32, width=32, volumes=30_000, sparse=True)
    path = tmp_path / "loop.tif"
    shutil.copy(files.paths[0], path)
    offsets = files.ifd_offsets[0]
    position, bo, _ = next_pointer_position(path, int(offsets[-1]))
    patch(path, position, struct.pack(bo + "Q", int(offsets[100])))
    timed_raise(CorruptTiffError, path, "loops")


def test_next_ifd_far_past_the_end(tmp_path):
    path, offsets = corrupt_case(tmp_path, "past")
    position, bo, _ = next_pointer_position(path, offsets[5])
    patch(path, position, struct.pack(bo + "I", 50_000_000))
    timed_raise(CorruptTiffError, path, "far past the end")


def test_strip_offset_past_the_end(tmp_path):
    path, offsets = corrupt_case(tmp_path, "strip")
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[4].tags[273]
        position = tag.valueoffset
        bo = tif.byteorder
    patch(path, position, struct.pack(bo + "I", 90_000_000))
    timed_raise(CorruptTiffError, path, "page 4 .* past the end")


@pytest.mark.parametrize("count", [0, 5000, 65535])
def test_absurd_entry_count(tmp_path, count):
    path, offsets = corrupt_case(tmp_path, "count")
    patch(path, offsets[6], struct.pack("<H", count))
    timed_raise(CorruptTiffError, path, f"claims {count:,} entries")


def test_absurd_first_ifd(tmp_path):
    path = tmp_path / "first.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 0) + bytes(100))
    timed_raise(CorruptTiffError, path, "no IFD")
    path.write_bytes(b"II*\x00" + struct.pack("<I", 4) + bytes(100))
    timed_raise(CorruptTiffError, path, "inside the header")
    path.write_bytes(b"II*\x00" + struct.pack("<I", 10_000) + bytes(100))
    timed_raise(TruncatedFileError, path, "before the end of its first IFD")


def test_absurd_strip_count(tmp_path):
    path = tmp_path / "strips.tif"
    write_raw(path, [40] * 3)
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags[273]
    patch(path, tag.offset + 4, struct.pack("<I", 0x7FFFFFFF))
    timed_raise(CorruptTiffError, path, "values")


# --- the on-disk cache ---------------------------------------------------------------------------


def walked_file(tmp_path, name="walked.tif", fill=b"d", lengths=None):
    """Ten pages with descriptions of different lengths: no constant stride, so walked."""
    path = tmp_path / name
    write_raw(path, lengths or [30 * k + 50 for k in range(10)], fill=fill)
    return path


def test_cache_hit_after_walk(tmp_path, private_cache):
    path = walked_file(tmp_path)
    first = build_index(path)
    assert first.method == "walk"
    assert index_cache.cache_file(str(path)).exists()
    second = build_index(path)
    assert second.method == "cache"
    for name in ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths"):
        np.testing.assert_array_equal(getattr(second, name), getattr(first, name))
        assert not getattr(second, name).flags.writeable
    assert (second.raw, second.shape, second.dtype, second.missing_bytes) == (
        first.raw,
        first.shape,
        first.dtype,
        first.missing_bytes,
    )
    assert build_index(path, cache=False).method == "walk"


def test_cache_is_not_written_for_strided_files_or_without_cache(tmp_path, private_cache):
    build_index(HOSTPIXELCORR)
    build_index(walked_file(tmp_path), cache=False)
    assert not private_cache.exists() or not list(private_cache.iterdir())


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_cache_invalidated_when_the_file_changes(tmp_path, keep_mtime):
    path = walked_file(tmp_path)
    before = build_index(path)
    stat = os.stat(path)
    size = stat.st_size
    # Same size, different content: other description text, and page 3's description shorter
    # while page 4's is longer by the same amount.
    lengths = [30 * k + 50 for k in range(10)]
    lengths[3] -= 8
    lengths[4] += 8
    walked_file(tmp_path, "other.tif", fill=b"e", lengths=lengths)
    other = tmp_path / "other.tif"
    assert os.path.getsize(other) == size
    os.replace(other, path)
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = build_index(path)
    assert after.method == "walk"
    assert not np.array_equal(after.desc_offsets, before.desc_offsets)
    assert_matches_tifffile(after, path)
    assert build_index(path).method == "cache"


def test_cache_invalidated_by_last_ifd(tmp_path):
    """A change after the first 64 KiB that keeps size and mtime: the last IFD's hash."""
    path = tmp_path / "long.tif"
    write_pages(path, ramp(40, shape=(64, 64)), descriptions=["x" * (k + 1) for k in range(40)])
    assert os.path.getsize(path) > 2 * index_cache.HEAD_BYTES
    build_index(path)
    stat = os.stat(path)
    last = int(build_index(path).ifd_offsets[-1])
    with tifffile.TiffFile(path) as tif:
        width_entry = tif.pages[-1].tags[256].offset
    patch(path, width_entry + 8, struct.pack("<H", 63))  # page 39 now 63 columns wide
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert last > index_cache.HEAD_BYTES
    with pytest.raises(NonUniformPagesError):
        build_index(path)


def test_corrupt_cache_file_is_ignored_and_rewritten(tmp_path):
    path = walked_file(tmp_path)
    build_index(path)
    entry = index_cache.cache_file(str(path))
    for garbage in (b"", b"not a zip file", entry.read_bytes()[:100]):
        entry.write_bytes(garbage)
        assert build_index(path).method == "walk"
        assert build_index(path).method == "cache"


def test_unwritable_cache_dir_does_not_fail(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(blocker / "cache"))
    path = walked_file(tmp_path)
    assert build_index(path).method == "walk"
    assert build_index(path).method == "walk"
    assert not list(tmp_path.glob("**/*.tmp"))


def test_cache_dir_default(monkeypatch):
    monkeypatch.delenv("SI_EXPLORER_CACHE_DIR")
    expected = os.path.join(os.path.expanduser("~"), ".cache", "si-explorer", "index")
    assert str(index_cache.cache_dir()) == expected


# --- pickling, progress, read_ifd ----------------------------------------------------------------


def test_pickle_is_small_and_exact(tmp_path, synthetic):
    files = synthetic(height=256, width=256, volumes=20_000, sparse=True)
    regular = build_index(files.paths[0])
    irregular = build_index(walked_file(tmp_path))
    broken = build_index(
        synthetic(height=64, width=64, volumes=3_000, sparse=True, stride_break_at=2_000).paths[0]
    )
    for index, limit in ((regular, 1_000), (broken, 2_000), (irregular, 5_000)):
        data = pickle.dumps(index)
        assert len(data) < limit
        copy = pickle.loads(data)
        assert repr(copy) == repr(index)
        for name in ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths"):
            np.testing.assert_array_equal(getattr(copy, name), getattr(index, name))
            assert getattr(copy, name).dtype == np.int64
            assert not getattr(copy, name).flags.writeable
        assert copy.dtype == index.dtype and copy.shape == index.shape


@pytest.mark.parametrize("n_runs", [1, 2, 3, 64, 65, 200])
def test_runs_round_trip(n_runs):
    from si_explorer.tiff import runs

    rng = np.random.default_rng(n_runs)
    values = np.cumsum(np.repeat(rng.integers(-5, 50, n_runs), 50)).astype(np.int64)
    encoded = runs.encode(values)
    assert encoded is not None and len(encoded) <= n_runs
    decoded = runs.decode(encoded, values.size)
    np.testing.assert_array_equal(decoded, values)
    assert decoded.dtype == np.int64 and not decoded.flags.writeable
    assert runs.encode(rng.integers(0, 1 << 40, 1000)) is None  # irregular: kept as is
    np.testing.assert_array_equal(runs.decode(runs.encode(values[:1]), 1), values[:1])


def test_progress_bar(tmp_path, capsys):
    path = walked_file(tmp_path)
    build_index(path, progress=True, cache=False)
    assert "indexing walked.tif" in capsys.readouterr().err
    build_index(path, cache=False)  # 10 pages: no bar by default
    build_index(path, progress=False, cache=False)
    assert capsys.readouterr().err == ""


def test_read_ifd_matches_tifffile(tmp_path):
    index = build_index(HOSTPIXELCORR)
    ifd = read_ifd(HOSTPIXELCORR, int(index.ifd_offsets[1]))
    with tifffile.TiffFile(HOSTPIXELCORR) as tif:
        page = tif.pages[1]
        assert ifd.offset == page.offset
        assert ifd.next_offset == 0
        assert ifd.scalar(256) == page.imagewidth and ifd.scalar(257) == page.imagelength
        assert ifd.get(273) == page.dataoffsets
        assert ifd.get(279) == page.databytecounts
        assert ifd.get(282)[0] == page.tags[282].value
        assert ifd.get(270).rstrip(b"\0").decode().rstrip() == page.tags[270].value.rstrip()
        assert ifd.get(305).rstrip(b"\0").decode().rstrip() == page.tags[305].value
        assert ifd.tags[270].value_offset == page.tags[270].valueoffset
    small = read_ifd(HOSTPIXELCORR, int(index.ifd_offsets[1]), max_value_bytes=1000)
    assert small.get(305) is None and small.tags[305].nbytes == 19_207
    with open(BLANK_IPA, "rb") as file:
        file.seek(123)
        from_file = read_ifd(file)  # the first IFD by default
        assert file.tell() == 123
    from_bytes = read_ifd(BLANK_IPA.read_bytes(), 8200)
    with open(BLANK_IPA, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as m:
        from_map = read_ifd(m, 8200)
    assert from_file.get(273) == from_bytes.get(273) == from_map.get(273) == (8, 4104)
    with pytest.raises(CorruptTiffError):
        read_ifd(BLANK_IPA, os.path.getsize(BLANK_IPA) - 10)
