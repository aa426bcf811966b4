"""What one IFD says about its page: shape, dtype, where the pixels and the description are.

The index needs the same handful of facts for every page, whether it gets them from one IFD
decoded here (page 0, verification samples, odd pages of a walk) or vectorised over thousands of
pages (``walk.py``); the tag sets and the rules for "raw" live here so both agree.

:func:`read_first_page` is the one read of page 0 (header, first IFD, format, facts) that
indexing a file, extending its index and comparing files of one acquisition all start from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CorruptTiffError, SIExplorerError, TruncatedFileError
from .ifd import (
    INTEGER_TYPES,
    Ifd,
    IfdPastEnd,
    Tag,
    TiffHeader,
    decode_value,
    parse_ifd,
    read_header,
)
from .source import ByteSource

IMAGE_WIDTH = 256
IMAGE_LENGTH = 257
BITS_PER_SAMPLE = 258
COMPRESSION = 259
IMAGE_DESCRIPTION = 270
STRIP_OFFSETS = 273
SAMPLES_PER_PIXEL = 277
ROWS_PER_STRIP = 278
STRIP_BYTE_COUNTS = 279
PLANAR_CONFIGURATION = 284
PREDICTOR = 317
TILE_WIDTH = 322
TILE_LENGTH = 323
TILE_OFFSETS = 324
TILE_BYTE_COUNTS = 325
SAMPLE_FORMAT = 339
IMAGE_DEPTH = 32997

#: Tags whose values decide shape, dtype and pixel encoding: equal on every page of a uniform file.
FORMAT_TAGS = frozenset(
    {
        IMAGE_WIDTH,
        IMAGE_LENGTH,
        BITS_PER_SAMPLE,
        COMPRESSION,
        SAMPLES_PER_PIXEL,
        ROWS_PER_STRIP,
        PLANAR_CONFIGURATION,
        PREDICTOR,
        TILE_WIDTH,
        TILE_LENGTH,
        SAMPLE_FORMAT,
        IMAGE_DEPTH,
    }
)

#: Tags whose values are file offsets of per-page data (they move with the page).
DATA_OFFSET_TAGS = frozenset({STRIP_OFFSETS, TILE_OFFSETS})
DATA_COUNT_TAGS = frozenset({STRIP_BYTE_COUNTS, TILE_BYTE_COUNTS})

#: Tags whose values point at structures of unknown extent (sub-IFDs, EXIF, JPEG tables): a page
#: carrying one cannot be proven to be a shifted copy of page 0 by looking at its IFD alone.
OTHER_OFFSET_TAGS = frozenset({288, 330, 400, 513, 34665, 34853, 40965})

#: A page with more strips or tiles than this is treated as corrupt rather than allocated.
MAX_CHUNKS = 1 << 24

_UNLIMITED_ROWS = 2**32 - 1


class NonUniformPagesError(SIExplorerError):
    """The pages cannot be served as one (rows, columns) array of one numpy dtype.

    Raised when a page's shape or dtype differs from page 0's, or when page 0 itself is not a
    single-sample image of a plain numeric dtype (RGB, 12-bit, bilevel...). Internal: ``open``
    catches it and serves the file through tifffile's own series instead of this index.
    """


@dataclass(frozen=True)
class PageFormat:
    """Shape, dtype and pixel encoding of one page (equal on every page of a uniform file)."""

    shape: tuple[int, int]
    dtype: np.dtype
    compression: int
    predictor: int
    tiled: bool
    rows_per_strip: int  # clamped to the page height; tile height when tiled
    chunks: int  # number of strips (or tiles) a page must have

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    @property
    def raw_eligible(self) -> bool:
        """Uncompressed and untiled: pixels are raw bytes if the strips are also contiguous."""
        return self.compression == 1 and self.predictor == 1 and not self.tiled

    def strip_nbytes(self) -> np.ndarray:
        """The byte count each strip of an uncompressed page must have (last one shorter)."""
        row = self.shape[1] * self.dtype.itemsize
        counts = np.full(self.chunks, self.rows_per_strip * row, dtype=np.int64)
        counts[-1] = (self.shape[0] - (self.chunks - 1) * self.rows_per_strip) * row
        return counts

    def same_pixels(self, other: PageFormat) -> bool:
        return self.shape == other.shape and self.dtype == other.dtype


def pixel_dtype(bits: int, sample_format: int, byteorder: str) -> np.dtype | None:
    """numpy dtype of BitsPerSample ``bits`` and SampleFormat ``sample_format``, or None."""
    kind = {1: "u", 2: "i", 3: "f"}.get(sample_format)
    if kind is None or bits not in (8, 16, 32, 64) or (kind == "f" and bits == 8):
        return None
    return np.dtype(f"{byteorder}{kind}{bits // 8}")


def _first(values: dict[int, tuple | None], code: int, default: int | None) -> int | None:
    if code not in values:
        return default
    value = values[code]
    if not value or not isinstance(value[0], int):
        return None
    return value[0]


def page_format(ifd: Ifd, source: ByteSource, page: int) -> PageFormat:
    """Decode the format tags of ``ifd`` (page number ``page``, for errors).

    Out-of-line values that point past the end of ``source`` are not read at all (they decode
    as missing, which makes the page corrupt).

    Raises CorruptTiffError when a required tag is missing or impossible and
    NonUniformPagesError when the page is not one (rows, columns) plane of a numpy dtype.
    """
    path = source.name
    file_size = source.size
    values: dict[int, tuple | None] = {}
    for code in FORMAT_TAGS:
        tag = ifd.tags.get(code)
        if tag is None:
            continue
        value = tag.value
        fits = 0 <= tag.value_offset <= file_size - tag.nbytes
        if value is None and 0 < tag.nbytes <= 1024 and fits:
            # Only a multi-sample page stores these out of line; read them to say what it is.
            data = source.read(tag.value_offset, tag.nbytes)
            if len(data) == tag.nbytes:
                value = decode_value(tag.type, tag.count, data, ifd.header.byteorder)
        values[code] = value
    where = f"page {page} (IFD at byte {ifd.offset:,})"
    cols = _first(values, IMAGE_WIDTH, None)
    rows = _first(values, IMAGE_LENGTH, None)
    if not cols or not rows:
        raise CorruptTiffError(path, f"{where} has no valid ImageWidth/ImageLength")
    samples = _first(values, SAMPLES_PER_PIXEL, 1)
    if samples != 1:
        raise NonUniformPagesError(
            path, f"{where} has {samples} samples per pixel; only single-sample pages are indexed"
        )
    depth = _first(values, IMAGE_DEPTH, 1)
    if depth != 1:
        raise NonUniformPagesError(path, f"{where} is a volume (ImageDepth {depth})")
    bits = _first(values, BITS_PER_SAMPLE, 1)
    sample_format = _first(values, SAMPLE_FORMAT, 1)
    dtype = pixel_dtype(bits or 0, sample_format or 0, ifd.header.byteorder)
    if dtype is None:
        raise NonUniformPagesError(
            path, f"{where} has {bits}-bit samples of SampleFormat {sample_format}, no numpy dtype"
        )
    compression = _first(values, COMPRESSION, 1)
    predictor = _first(values, PREDICTOR, 1)
    tiled = TILE_WIDTH in ifd.tags or TILE_OFFSETS in ifd.tags
    if tiled:
        tile_w = _first(values, TILE_WIDTH, 0)
        tile_h = _first(values, TILE_LENGTH, 0)
        if not tile_w or not tile_h:
            raise CorruptTiffError(path, f"{where} is tiled but has no valid TileWidth/TileLength")
        chunks = -(-rows // tile_h) * -(-cols // tile_w)
        rows_per_strip = tile_h
    else:
        rows_per_strip = _first(values, ROWS_PER_STRIP, _UNLIMITED_ROWS) or _UNLIMITED_ROWS
        rows_per_strip = min(rows_per_strip, rows)
        chunks = -(-rows // rows_per_strip)
    if chunks > MAX_CHUNKS:
        raise CorruptTiffError(path, f"{where} would have {chunks:,} strips or tiles")
    return PageFormat(
        (rows, cols), dtype, compression or 0, predictor or 0, tiled, rows_per_strip, chunks
    )


@dataclass(frozen=True)
class PageFacts:
    """Where one page's pieces are, as the index stores them."""

    data_offset: int  # first strip/tile offset (-1 when the page has none)
    desc_offset: int  # ImageDescription bytes, -1 when absent
    desc_length: int
    raw: bool  # pixels are format.nbytes contiguous bytes at data_offset
    data_start: int  # lowest byte of the page's strips or tiles
    data_end: int  # one past their highest byte
    end: int  # one past the highest byte the page uses; > file size when the page is cut off


def chunk_tags(ifd: Ifd, fmt: PageFormat) -> tuple[Tag | None, Tag | None]:
    """The (offsets, byte counts) tags of the page's strips or tiles."""
    if fmt.tiled:
        return ifd.tags.get(TILE_OFFSETS), ifd.tags.get(TILE_BYTE_COUNTS)
    return ifd.tags.get(STRIP_OFFSETS), ifd.tags.get(STRIP_BYTE_COUNTS)


def offsets_wrap(header, file_size: int) -> bool:
    """Whether this file's 32-bit offsets may have wrapped: a classic TIFF over 4 GiB."""
    return not header.bigtiff and file_size > 1 << 32


def unwrap32(value: int, near: int) -> int:
    """``value`` (an offset stored modulo 2**32) moved to within 2 GiB of byte ``near``.

    Classic TIFFs over 4 GiB (ScanImage 3.x/5 wrote them) store offsets modulo 2**32; the true
    offset of a page's own data is the one closest to the page's IFD.
    """
    return value + ((near - value + (1 << 31)) >> 32 << 32)


def page_facts(
    ifd: Ifd, fmt: PageFormat, source: ByteSource, page: int, wrapped: bool = False
) -> PageFacts:
    """Decode where page ``page``'s pixels and description are, and its byte extent.

    ``fmt`` is this page's own format. Out-of-line strip arrays that lie past the end of the
    file make the page incomplete (``end`` past the file size), not an error: the caller decides
    whether that is a truncated tail or corruption. ``wrapped`` unwraps 32-bit offsets of a
    classic TIFF larger than 4 GiB (see :func:`unwrap32`).
    """
    path = source.name
    file_size = source.size
    where = f"page {page} (IFD at byte {ifd.offset:,})"
    end = ifd.end

    def fix(value: int) -> int:
        return unwrap32(value, ifd.offset) if wrapped else value

    for tag in ifd.entries:
        if not tag.inline and tag.nbytes > 0 and (not wrapped or tag.code == IMAGE_DESCRIPTION):
            offset = fix(tag.value_offset)
            end = max(end, offset + tag.nbytes)

    desc = ifd.tags.get(IMAGE_DESCRIPTION)
    desc_offset = -1 if desc is None else fix(desc.value_offset)
    desc_length = 0 if desc is None else max(desc.nbytes, 0)

    offsets_tag, counts_tag = chunk_tags(ifd, fmt)
    if offsets_tag is None:
        raise CorruptTiffError(path, f"{where} has no StripOffsets/TileOffsets")
    arrays = []
    for tag in (offsets_tag, counts_tag):
        if tag is None:
            arrays.append(None)
            continue
        if tag.type not in INTEGER_TYPES:
            raise CorruptTiffError(path, f"{where}: tag {tag.code} has field type {tag.type}")
        if tag.count != fmt.chunks:
            raise CorruptTiffError(
                path, f"{where}: tag {tag.code} has {tag.count:,} values, expected {fmt.chunks:,}"
            )
        if tag.inline:
            values = tag.value
        else:
            offset = fix(tag.value_offset)
            if offset + tag.nbytes > file_size:
                cut = offset + tag.nbytes
                return PageFacts(-1, desc_offset, desc_length, False, cut, cut, max(end, cut))
            data = source.read(offset, tag.nbytes)
            values = decode_value(tag.type, tag.count, data, ifd.header.byteorder)
        arrays.append(np.asarray(values, dtype=np.int64))
    offsets, counts = arrays
    if wrapped:
        offsets = offsets + (((ifd.offset - offsets + (1 << 31)) >> 32) << 32)
    raw = fmt.raw_eligible
    if counts is None:
        if not raw:
            raise CorruptTiffError(path, f"{where} is compressed or tiled but has no byte counts")
        counts = fmt.strip_nbytes()
    elif fmt.raw_eligible:
        short = np.flatnonzero(counts < fmt.strip_nbytes())
        if short.size:
            # An uncompressed strip cannot hold fewer bytes than its rows: no reader can
            # decode it (tifffile fails on it deep inside a read), so say so at open.
            i = int(short[0])
            raise CorruptTiffError(
                path,
                f"{where}: uncompressed strip {i} holds {int(counts[i]):,} bytes, its rows need "
                f"{int(fmt.strip_nbytes()[i]):,}",
            )
        raw = bool(
            np.array_equal(counts, fmt.strip_nbytes())
            and np.array_equal(offsets[1:], offsets[:-1] + counts[:-1])
        )
    data_start = int(offsets.min())
    data_end = int((offsets + counts).max())
    end = max(end, data_end)
    return PageFacts(int(offsets[0]), desc_offset, desc_length, raw, data_start, data_end, end)


@dataclass(frozen=True)
class FirstPage:
    """Page 0 of a file: what indexing it, extending its index and comparing it with the other
    files of an acquisition all start from."""

    header: TiffHeader
    ifd: Ifd
    format: PageFormat
    facts: PageFacts

    @property
    def extent(self) -> int:
        """Bytes page 0 spans (IFD to last pixel): how far a page being written may reach."""
        return self.facts.end - min(self.ifd.offset, self.facts.data_start)


def read_first_page(source: ByteSource) -> FirstPage:
    """Read and decode the header and page 0 of ``source``.

    Raises NotATiffError (empty, wrong magic), CorruptTiffError (no first IFD, or one inside
    the header; impossible tags), TruncatedFileError (the file ends inside the header, the first
    IFD or the first page) and NonUniformPagesError (page 0 is not one plane of a numpy dtype).
    """
    path = source.name
    size = source.size
    header = read_header(source)
    first = header.first_ifd
    if first == 0:
        raise CorruptTiffError(path, "the header points at no IFD (offset 0)")
    if first < header.nbytes:
        raise CorruptTiffError(path, f"the first IFD offset {first} lies inside the header")
    try:
        ifd0 = parse_ifd(source, first, header, 0)
    except IfdPastEnd:
        raise TruncatedFileError(
            path,
            f"the file ends at byte {size:,}, before the end of its first IFD at byte {first:,}",
        ) from None
    format0 = page_format(ifd0, source, 0)
    facts0 = page_facts(ifd0, format0, source, 0)
    if facts0.end > size:
        raise TruncatedFileError(
            path,
            f"the file ends at byte {size:,}, inside its first page (which needs "
            f"{facts0.end:,} bytes)",
        )
    return FirstPage(header, ifd0, format0, facts0)
