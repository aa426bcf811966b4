"""The exact path: walk the IFD chain of any TIFF, then describe every page vectorised.

Two passes, touching only the file's IFD bytes:

1. Follow the next-IFD pointers with positioned reads (``readahead.IfdReader``: when the file is
   not cached, the IFDs predicted next are read ahead so many reads are in flight at once); one
   precompiled struct reads both the entry count and the next pointer of an IFD with page 0's
   entry count. Only the offsets are kept (an ``array('q')``, no per-page Python objects). Loops,
   pointers into the previous IFD and absurd entry counts are errors, found in bounded time and
   memory.
2. Group pages by tag layout: pages whose entries have the same codes, types, counts (ASCII
   counts may differ) and format values as a reference page are described with numpy gathers
   over a read-only memory map, a chunk of thousands of pages at a time. Up to
   ``MAX_REFERENCES`` layouts are learnt (tifffile, for one, gives page 0 a different
   description than the rest); pages that fit none are decoded one by one.
"""

from __future__ import annotations

import mmap
import struct
from array import array
from dataclasses import dataclass

import numpy as np

from ..errors import CorruptTiffError, SIExplorerError, TruncatedFileError
from .ifd import ASCII, FIRST_READ, INTEGER_TYPES, MAX_ENTRIES, TYPE_SIZES, Ifd, parse_ifd
from .page import (
    FORMAT_TAGS,
    IMAGE_DESCRIPTION,
    NonUniformPagesError,
    PageFormat,
    chunk_tags,
    offsets_wrap,
    page_facts,
    page_format,
)
from .readahead import BlockPrefetcher, IfdReader
from .source import ByteSource, MemorySource

#: Layouts learnt before the remaining odd pages are decoded one by one.
MAX_REFERENCES = 8

# Pages per progress update and per numpy chunk: big enough that the per-chunk overhead
# vanishes, small enough that a chunk's gathered IFD bytes stay a few MB.
PROGRESS_EVERY = 16384
CHUNK_BYTES = 8 << 20

_2GIB = 1 << 31
_4GIB = 1 << 32


@dataclass(frozen=True)
class WalkResult:
    ifd_offsets: np.ndarray
    data_offsets: np.ndarray
    desc_offsets: np.ndarray
    desc_lengths: np.ndarray
    raw: bool
    missing_bytes: int


def walk(
    source: ByteSource, ifd0: Ifd, format0: PageFormat, page0_extent: int, bar=None
) -> WalkResult:
    """Index every page of the chain starting at ``ifd0``.

    ``page0_extent`` (bytes page 0 spans) bounds how far past the end of the file a next
    pointer may point and still be read as a page being written. ``bar`` is a tqdm bar or None.
    ``source`` must support memory maps (``supports_mmap``) or ranged reads (``read_ranges``,
    a remote source: the IFDs are then fetched in large predicted batches, see
    ``readahead.BlockPrefetcher``, and each page is described from those blocks).
    """
    path = source.name
    size = source.size
    if not source.supports_mmap:
        if not hasattr(source, "read_ranges"):
            raise SIExplorerError(
                path, "cannot walk the IFD chain of a source without memory maps or ranged reads"
            )
        blocks = BlockPrefetcher(source, _metadata_span(ifd0), len(ifd0.raw))
        offsets, cut_chain = _follow_chain(blocks, ifd0, page0_extent, bar)
        described = _describe_each(blocks, offsets, ifd0, format0)
    else:
        offsets, cut_chain = _follow_chain(source, ifd0, page0_extent, bar)
        described = _describe_mapped(source, offsets, ifd0, format0)
    data_offsets, desc_offsets, desc_lengths, raw_pages, ends = described

    complete = ends <= size
    n = len(offsets)
    cut = int(np.argmin(complete)) if not complete.all() else n
    if cut < n and complete[cut:].any():
        later = cut + int(np.argmax(complete[cut:]))
        raise CorruptTiffError(
            path,
            f"page {cut} (IFD at byte {offsets[cut]:,}) uses bytes up to {ends[cut]:,}, past the "
            f"end of the file ({size:,} bytes), yet page {later} after it is complete",
        )
    if cut == 0:
        raise TruncatedFileError(
            path,
            f"the file ends at byte {size:,}, inside its first page (which needs "
            f"{int(ends[0]):,} bytes)",
        )
    missing = 0
    if cut < n or cut_chain:
        missing = max(0, size - int(ends[:cut].max()))

    def done(values: np.ndarray) -> np.ndarray:
        values = np.ascontiguousarray(values[:cut], dtype=np.int64)
        values.flags.writeable = False
        return values

    return WalkResult(
        done(offsets),
        done(data_offsets),
        done(desc_offsets),
        done(desc_lengths),
        bool(raw_pages[:cut].all()),
        missing,
    )


def _describe_mapped(source: ByteSource, offsets, ifd0: Ifd, format0: PageFormat):
    # The chain pass has just brought every IFD block into the page cache; describing the pages
    # is then numpy gathers over a map of the same blocks, no system call per page.
    mapped = source.map()
    if hasattr(mapped, "madvise"):
        # Without this every IFD touched faults in the kernel's readahead window (128 KiB and
        # more) of the pixels around it: measured on a 300,000-page file under memory pressure,
        # 75 s and 9.5 GB of page cache for a walk that needs 1.2 GB of IFD pages (0.8 s).
        mapped.madvise(mmap.MADV_RANDOM)
    try:
        return _describe(MemorySource(mapped, source.name), offsets, ifd0, format0)
    finally:
        try:
            mapped.close()
        except BufferError:  # a view is still referenced (e.g. by a traceback): GC closes it
            pass


def _metadata_span(ifd0: Ifd) -> int:
    """Bytes from an IFD's start that hold it and the out-of-line values written right after
    it (descriptions, strip arrays; at most 1 MiB): what a remote walk fetches per IFD."""
    start = ifd0.offset
    span = max(len(ifd0.raw), FIRST_READ)
    for tag in ifd0.entries:
        end = tag.value_offset + max(tag.nbytes, 0)
        if not tag.inline and start <= tag.value_offset and end - start <= 1 << 20:
            span = max(span, end - start)
    return span


def _describe_each(source: ByteSource, offsets: np.ndarray, ifd0: Ifd, format0: PageFormat):
    """Per-page columns as :func:`_describe` gives them, decoding every page's IFD from
    ``source`` (a remote walk's fetched blocks: no vectorised gather over a map there)."""
    header = ifd0.header
    n = len(offsets)
    pages = _Pages(n)
    wrapped = offsets_wrap(header, source.size)
    for k, offset in enumerate(offsets.tolist()):
        ifd = ifd0 if k == 0 else parse_ifd(source, offset, header, k)
        fmt = page_format(ifd, source, k)
        _check_uniform(fmt, format0, source.name, k)
        facts = page_facts(ifd, fmt, source, k, wrapped)
        pages.set(
            k, (facts.data_offset, facts.desc_offset, facts.desc_length, facts.raw, facts.end)
        )
    return pages.columns()


def _follow_chain(source: ByteSource, ifd0: Ifd, page0_extent: int, bar) -> tuple[np.ndarray, bool]:
    """The offsets of every IFD in the chain that lies completely inside the file.

    Returns (offsets, cut): ``cut`` is True when the chain points at an IFD that is past the end
    of the file or only partly in it (a file cut off while being written).
    """
    path = source.name
    size = source.size
    header = ifd0.header
    bo = header.byteorder
    cs, es, vs = header.count_size, header.entry_size, header.offset_size
    count_of = struct.Struct(bo + header.count_format).unpack
    next_of = struct.Struct(bo + header.offset_format).unpack
    n0 = (len(ifd0.raw) - cs - vs) // es
    # Page 0's entry count and next pointer in one call: the common page costs one unpack.
    both = struct.Struct(f"{bo}{header.count_format}{n0 * es}x{header.offset_format}")
    both_at = both.unpack_from
    ifd0_size = both.size
    last_start = size - ifd0_size  # an IFD with n0 entries at or before this fits in the file
    wrapped = offsets_wrap(header, size)
    # Positioned reads, not the memory map: a read that misses the page cache is the moment to
    # queue the predicted next IFDs (readahead.py), which a page fault gives no chance to do.
    reader = IfdReader(source, ifd0_size)
    read = reader.read

    offsets = array("q")
    append = offsets.append
    floor = 0  # the next IFD must start at or after the end of the previous one...
    seen: set[int] | None = None  # ...unless the chain went backwards once; then remember all
    reported = 0
    offset = ifd0.offset
    cut = False
    while offset:
        for _ in range(PROGRESS_EVERY):
            if floor <= offset <= last_start:
                count, next_offset = both_at(read(offset, offsets))
                if count == n0:
                    append(offset)
                    floor = offset + ifd0_size
                    offset = next_offset
                    if not offset:
                        break
                    continue
            # Anything unusual: a different entry count, a backward pointer, the end of the file.
            k = len(offsets)
            if wrapped and offset < floor:
                # A classic TIFF over 4 GiB stores offsets modulo 2**32 (ScanImage 3.x/5 did);
                # the chain only ever moves forward, so take the next such position.
                offset += (floor - offset + _4GIB - 1) // _4GIB * _4GIB
            if offset + cs > size:
                cut = _past_end(offsets, offset, source, page0_extent)
                offset = 0
                break
            (count,) = count_of(reader.read_bytes(offset, cs))
            if count == 0 or count > MAX_ENTRIES:
                raise CorruptTiffError(
                    path, f"the IFD of page {k} at byte {offset:,} claims {count:,} entries"
                )
            end = offset + cs + count * es + vs
            if end > size:
                cut = _past_end(offsets, offset, source, page0_extent)
                offset = 0
                break
            if offset < floor:
                if seen is None:
                    if k and offset > offsets[-1]:
                        raise CorruptTiffError(
                            path,
                            f"the IFD of page {k - 1} at byte {offsets[-1]:,} links to byte "
                            f"{offset:,}, inside itself",
                        )
                    seen = set(offsets)
                if offset in seen:
                    first = offsets.index(offset)
                    raise CorruptTiffError(
                        path,
                        f"the IFD chain loops: page {k - 1} (IFD at byte {offsets[-1]:,}) links "
                        f"back to the IFD of page {first} at byte {offset:,}",
                    )
            if seen is not None:
                seen.add(offset)
                floor = size + 1  # keep every later page on this checked path
            else:
                floor = end
            append(offset)
            (offset,) = next_of(reader.read_bytes(end - vs, vs))
            if not offset:
                break
        if bar is not None:
            bar.update(len(offsets) - reported)
            reported = len(offsets)
    if bar is not None:  # the total was an estimate from page 0's stride
        bar.total = len(offsets)
        bar.refresh()
    return np.frombuffer(offsets, dtype=np.int64).copy(), cut


def truncation_slack(page_extent: int) -> int:
    """How far past the end of a file a page cut off while being written may reach.

    A writer puts the next IFD and a page's pixels right after the page it is writing, so
    less than about one page; much further is a broken pointer.
    """
    return 2 * page_extent + (64 << 10)


def _past_end(offsets: array, offset: int, source: ByteSource, page0_extent: int) -> bool:
    """Decide whether a pointer to an IFD that is not (completely) in the file means the file
    was cut off while being written (True) or is corrupt (raises)."""
    size = source.size
    k = len(offsets)
    delta = offsets[-1] - offsets[-2] if k >= 2 else 0
    if offset - size > truncation_slack(max(abs(delta), page0_extent)):
        raise CorruptTiffError(
            source.name,
            f"the IFD of page {k - 1} at byte {offsets[-1]:,} links to byte {offset:,}, far past "
            f"the end of the file ({size:,} bytes)",
        )
    return True


def _window(buffer: np.ndarray, width: int) -> np.ndarray:
    """Every ``width``-byte window of ``buffer`` as rows of a read-only 2-D view (no copy):
    fancy-indexing it with offsets gathers the bytes at each offset in one C loop."""
    return np.lib.stride_tricks.as_strided(
        buffer, shape=(buffer.size - width + 1, width), strides=(1, 1), writeable=False
    )


class _Pages:
    """The per-page columns being filled in: data offset, description, raw flag, extent end."""

    def __init__(self, n: int):
        self.data_offsets = np.empty(n, np.int64)
        self.desc_offsets = np.empty(n, np.int64)
        self.desc_lengths = np.empty(n, np.int64)
        self.raw = np.empty(n, bool)
        self.ends = np.empty(n, np.int64)

    def set(self, pages, values) -> None:
        self.data_offsets[pages], self.desc_offsets[pages], self.desc_lengths[pages] = values[:3]
        self.raw[pages], self.ends[pages] = values[3:]

    def columns(self):
        return self.data_offsets, self.desc_offsets, self.desc_lengths, self.raw, self.ends


def _describe(mapped: MemorySource, offsets: np.ndarray, ifd0: Ifd, format0: PageFormat):
    """Per-page data offset, description offset/length, raw flag and byte extent end.

    ``mapped`` is the file's memory map: the IFDs decoded one by one are read from it too.
    """
    header = ifd0.header
    n = len(offsets)
    pages = _Pages(n)
    buffer = np.frombuffer(mapped.data, dtype=np.uint8)
    wrapped = offsets_wrap(header, mapped.size)

    def one(ifd: Ifd, k: int) -> None:
        # The slow path, for pages of a layout no reference has.
        fmt = page_format(ifd, mapped, k)
        _check_uniform(fmt, format0, mapped.name, k)
        facts = page_facts(ifd, fmt, mapped, k, wrapped)
        values = (facts.data_offset, facts.desc_offset, facts.desc_length, facts.raw, facts.end)
        pages.set(k, values)

    try:
        count_dtype = np.dtype(header.byteorder + ("u8" if header.bigtiff else "u2"))
        counts = _window(buffer, header.count_size)[offsets].view(count_dtype)[:, 0]
        pending = np.arange(n)
        references = 0
        while pending.size and references < MAX_REFERENCES:
            k = int(pending[0])
            ifd = ifd0 if k == 0 else parse_ifd(mapped, int(offsets[k]), header, k)
            layout = _Layout(ifd, format0, mapped, k, wrapped)
            candidates = pending[counts[pending] == layout.n_entries]
            done = np.zeros(n, bool)
            step = max(16, CHUNK_BYTES // layout.page_bytes)
            for lo in range(0, candidates.size, step):
                chunk = candidates[lo : lo + step]
                ok, values = layout.gather(buffer, offsets[chunk])
                pages.set(chunk[ok], values)
                done[chunk[ok]] = True
            if not done[k]:  # cannot happen for a consistent layout; never loop on it
                one(ifd, k)
                done[k] = True
            pending = pending[~done[pending]]
            references += 1
        for k in pending.tolist():
            one(parse_ifd(mapped, int(offsets[k]), header, k), k)
    finally:
        del buffer
    return pages.columns()


def _check_uniform(fmt: PageFormat, format0: PageFormat, path: str, k: int) -> None:
    if not fmt.same_pixels(format0):
        raise NonUniformPagesError(
            path,
            f"page {k} is {fmt.shape[0]}x{fmt.shape[1]} {fmt.dtype}, page 0 is "
            f"{format0.shape[0]}x{format0.shape[1]} {format0.dtype}",
        )


#: What an unsigned 64-bit offset or count that does not fit int64 becomes (no real one does):
#: past the end of any file, and small enough that adding a count to it cannot overflow.
BEYOND = 1 << 62


def _int64(values: np.ndarray) -> np.ndarray:
    """Offsets or counts read from the file as int64, damaged huge ones clipped to BEYOND (a
    bare astype would wrap them to negative numbers, which index from the end of arrays)."""
    if values.dtype.itemsize == 8 and values.dtype.kind == "u":
        values = np.minimum(values, np.uint64(BEYOND))
    return values.astype(np.int64)


class _Layout:
    """The tag layout of a reference page, and how to read the same fields of every page that
    shares it straight out of the mapped file."""

    def __init__(self, ifd: Ifd, format0: PageFormat, source: ByteSource, k: int, wrapped: bool):
        header = ifd.header
        self.header = header
        self.wrapped = wrapped
        self.size = source.size
        self.path = path = source.name
        fmt = page_format(ifd, source, k)
        _check_uniform(fmt, format0, path, k)
        self.format = fmt
        cs, es, vs = header.count_size, header.entry_size, header.offset_size
        self.n_entries = len(ifd.entries)
        self.block = self.n_entries * es
        self.entries_at = cs  # entries start after the count field
        self.ifd_size = cs + self.block + vs
        bo = header.byteorder
        self.pointer_dtype = np.dtype(bo + ("u8" if header.bigtiff else "u4"))
        self.count_dtype = self.pointer_dtype  # entry count fields are as wide as offsets

        reference = np.frombuffer(ifd.raw, np.uint8, self.block, cs)
        compare = np.zeros(self.block, bool)
        self.ascii = []  # (value field position, count position) of variable-length strings
        self.fixed = []  # (value field position, nbytes) of fixed-size out-of-line values
        self.desc = None
        for i, tag in enumerate(ifd.entries):
            at = i * es
            compare[at : at + 4] = True  # code and type
            variable = tag.type == ASCII and tag.code not in FORMAT_TAGS
            if not variable:
                compare[at + 4 : at + 4 + vs] = True  # count
            if tag.code in FORMAT_TAGS:
                compare[at + 4 + vs : at + 4 + 2 * vs] = True  # value (or pointer)
            if tag.code == IMAGE_DESCRIPTION and self.desc is None:
                self.desc = (at + 4 + vs, at + 4, TYPE_SIZES.get(tag.type, 1))
            if tag.nbytes < 0 or (wrapped and tag.code != IMAGE_DESCRIPTION):
                continue
            if variable:
                self.ascii.append((at + 4 + vs, at + 4))
            elif not tag.inline:
                self.fixed.append((at + 4 + vs, tag.nbytes))
        self.columns = np.flatnonzero(compare)
        self.reference = reference[self.columns]

        offsets_tag, counts_tag = chunk_tags(ifd, fmt)
        if offsets_tag is None:
            raise CorruptTiffError(path, f"page {k} (IFD at byte {ifd.offset:,}) has no strips")
        self.chunk_fields = []
        for tag in (offsets_tag, counts_tag):
            if tag is None:
                self.chunk_fields.append(None)
                continue
            item = TYPE_SIZES.get(tag.type)
            if tag.type not in INTEGER_TYPES:
                raise CorruptTiffError(path, f"page {k}: tag {tag.code} has type {tag.type}")
            if tag.count != fmt.chunks:
                raise CorruptTiffError(
                    path, f"page {k}: tag {tag.code} has {tag.count:,} values, not {fmt.chunks:,}"
                )
            dtype = np.dtype(f"{bo}u{item}")
            position = (ifd.entries.index(tag)) * es + 4 + vs
            self.chunk_fields.append((position, dtype, tag.count, tag.inline))
        self.expected_counts = fmt.strip_nbytes() if fmt.raw_eligible else None
        # Bytes gathered per page: the entries plus both strip arrays as int64 (a page can have
        # thousands of strips, so the chunk size must not depend on the entries alone).
        self.page_bytes = self.block + 2 * 8 * fmt.chunks

    def _field(self, rows: np.ndarray, position: int, dtype: np.dtype) -> np.ndarray:
        return np.ascontiguousarray(rows[:, position : position + dtype.itemsize]).view(dtype)[:, 0]

    def _unwrap(self, values: np.ndarray, near: np.ndarray) -> np.ndarray:
        if not self.wrapped:
            return values
        return values + (((near - values + _2GIB) >> 32) << 32)

    def gather(self, buffer: np.ndarray, offsets: np.ndarray):
        """Describe the pages at IFD ``offsets`` that share this layout.

        Returns (matched mask, (data offsets, desc offsets, desc lengths, raw, ends)) with the
        value arrays covering only the matched pages.
        """
        size = self.size
        rows = _window(buffer, self.block)[offsets + self.entries_at]
        ok = (rows[:, self.columns] == self.reference).all(axis=1)
        rows = rows[ok]
        offsets = offsets[ok]
        entries = offsets + self.entries_at
        vs = self.header.offset_size
        ends = offsets + self.ifd_size

        # The description: inline when it fits the value field, else where the field points.
        if self.desc is None:
            desc_offsets = np.full(offsets.size, -1, np.int64)
            desc_lengths = np.zeros(offsets.size, np.int64)
        else:
            value_at, count_at, item = self.desc
            counts = _int64(self._field(rows, count_at, self.count_dtype))
            desc_lengths = counts * item  # bytes (ASCII: the count, NUL included)
            pointers = _int64(self._field(rows, value_at, self.pointer_dtype))
            inline = desc_lengths <= vs
            desc_offsets = np.where(inline, entries + value_at, self._unwrap(pointers, offsets))
            ends = np.maximum(ends, np.where(inline, 0, desc_offsets + desc_lengths))
        for value_at, count_at in self.ascii:
            length = _int64(self._field(rows, count_at, self.count_dtype))
            pointers = _int64(self._field(rows, value_at, self.pointer_dtype))
            ends = np.maximum(ends, np.where(length <= vs, 0, pointers + length))
        for value_at, nbytes in self.fixed:
            pointers = _int64(self._field(rows, value_at, self.pointer_dtype))
            ends = np.maximum(ends, pointers + nbytes)

        arrays = []
        bad = np.zeros(offsets.size, bool)  # pages whose strip arrays are cut off
        for spec in self.chunk_fields:
            if spec is None:
                arrays.append(None)
                continue
            position, dtype, count, inline = spec
            width = count * dtype.itemsize
            if inline:
                values = np.ascontiguousarray(rows[:, position : position + width]).view(dtype)
            else:
                pointers = _int64(self._field(rows, position, self.pointer_dtype))
                pointers = self._unwrap(pointers, offsets)
                array_ends = pointers + width
                bad |= array_ends > size
                ends = np.maximum(ends, array_ends)
                safe = np.where(array_ends > size, 0, pointers)
                values = _window(buffer, width)[safe].view(dtype)
            arrays.append(_int64(values))
        chunk_offsets, chunk_counts = arrays
        chunk_offsets = self._unwrap(chunk_offsets, offsets[:, None])
        if chunk_counts is None:
            if self.expected_counts is None:
                raise CorruptTiffError(self.path, "compressed or tiled pages have no byte counts")
            chunk_counts = np.broadcast_to(self.expected_counts, chunk_offsets.shape)
        if self.expected_counts is not None:
            raw = (chunk_counts == self.expected_counts).all(axis=1) & (
                chunk_offsets[:, 1:] == chunk_offsets[:, :-1] + chunk_counts[:, :-1]
            ).all(axis=1)
        else:
            raw = np.zeros(offsets.size, bool)
        # Pages with cut-off strip arrays already end past the file through array_ends.
        ends = np.maximum(ends, (chunk_offsets + chunk_counts).max(axis=1))
        data_offsets = np.where(bad, -1, chunk_offsets[:, 0])
        return ok, (data_offsets, desc_offsets, desc_lengths, raw & ~bad, ends)
