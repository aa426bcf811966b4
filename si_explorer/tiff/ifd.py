"""Decode TIFF headers and IFDs (image file directories) straight from bytes.

This is the small, dependency-free TIFF layer under the page index: it knows the classic and
BigTIFF header and entry layouts in both byte orders and nothing about images. The index uses it
for the few IFDs it decodes one by one (page 0, page 1, the verification samples, pages whose tag
layout differs from their neighbours); the bulk of a walk is vectorised elsewhere. Every read goes
through a :class:`~si_explorer.tiff.source.ByteSource`, which also names the file in errors.

:func:`read_ifd` is the public entry point for other modules (the reader may need the tag values
of a page it only knows by IFD offset).
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple

from ..errors import CorruptTiffError, NotATiffError, TruncatedFileError
from .source import ByteSource, CallableSource, MemorySource

#: Bytes per value of each TIFF field type (TIFF 6.0 plus the BigTIFF additions 16, 17, 18).
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4,
              16: 8, 17: 8, 18: 8}  # fmt: skip

#: struct format letter of one value of each numeric type (rationals are two of them).
TYPE_FORMATS = {1: "B", 3: "H", 4: "I", 5: "I", 6: "b", 8: "h", 9: "i", 10: "i", 11: "f", 12: "d",
                13: "I", 16: "Q", 17: "q", 18: "Q"}  # fmt: skip

#: Unsigned integer types an offset or byte count may be stored in.
INTEGER_TYPES = frozenset({1, 3, 4, 13, 16, 18})

ASCII = 2

#: TIFF (and tifffile) reject IFDs with more entries than this; real pages have 10 to 30.
MAX_ENTRIES = 4096

#: No tag value is larger than this (1 TiB): a larger count is a damaged entry.
MAX_VALUE_BYTES = 1 << 40

#: read_ifd leaves larger out-of-line values unread (ScanImage's Software tag can be tens of MB).
DEFAULT_MAX_VALUE_BYTES = 1 << 20

# One read at an IFD offset usually covers the whole IFD: ScanImage IFDs are 376 bytes, tifffile's
# under 400; a bigger first read would cost more than the rare second one.
FIRST_READ = 2048


@dataclass(frozen=True)
class TiffHeader:
    """The file header: byte order, classic or BigTIFF, and where the first IFD is."""

    byteorder: str  # "<" or ">"
    bigtiff: bool
    first_ifd: int

    @property
    def count_size(self) -> int:
        """Bytes of the entry-count field that starts an IFD."""
        return 8 if self.bigtiff else 2

    @property
    def entry_size(self) -> int:
        """Bytes of one IFD entry (tag, type, count, value field)."""
        return 20 if self.bigtiff else 12

    @property
    def offset_size(self) -> int:
        """Bytes of an offset, of an entry's value field and of an entry's count field."""
        return 8 if self.bigtiff else 4

    @property
    def offset_format(self) -> str:
        return "Q" if self.bigtiff else "I"

    @property
    def count_format(self) -> str:
        return "Q" if self.bigtiff else "H"

    @property
    def nbytes(self) -> int:
        """Size of the header itself."""
        return 16 if self.bigtiff else 8


class Tag(NamedTuple):
    """One IFD entry.

    ``value_offset`` is the absolute file offset of the value bytes: inside the entry itself when
    the value fits in the entry's value field (``inline``), else where the field points.
    ``value`` is the decoded value (a tuple of numbers, a tuple of (numerator, denominator) pairs
    for rationals, ``bytes`` for ASCII and UNDEFINED) or None when it was not loaded.
    """

    code: int
    type: int
    count: int
    entry_offset: int
    value_offset: int
    nbytes: int  # count * bytes per value; -1 for an unknown field type
    inline: bool
    value: Any = None


@dataclass(frozen=True, eq=False)
class Ifd:
    """One decoded IFD: its entries, the next-IFD pointer and the raw IFD bytes."""

    offset: int
    next_offset: int
    raw: bytes  # entry count + entries + next pointer, as stored
    entries: tuple[Tag, ...]  # in file order
    header: TiffHeader
    tags: dict[int, Tag] = field(repr=False)  # first entry of each code

    @property
    def nbytes(self) -> int:
        """Size of the IFD structure (not counting out-of-line values)."""
        return len(self.raw)

    @property
    def end(self) -> int:
        return self.offset + len(self.raw)

    def get(self, code: int, default: Any = None) -> Any:
        """The decoded value of tag ``code``, or ``default`` when absent or not loaded."""
        tag = self.tags.get(code)
        return default if tag is None or tag.value is None else tag.value

    def scalar(self, code: int, default: Any = None) -> Any:
        """The first value of numeric tag ``code`` (most tags hold one), or ``default``."""
        value = self.get(code)
        return default if value is None or len(value) == 0 else value[0]


class IfdPastEnd(Exception):
    """Internal: the IFD at ``offset`` does not fit in the file (``needed`` bytes from it).

    Whether that is a truncated file or a corrupt one depends on where the IFD was found, so the
    caller turns it into the public error.
    """

    def __init__(self, offset: int, needed: int):
        super().__init__(offset, needed)
        self.offset = offset
        self.needed = needed


def parse_header(data: bytes, path: str, file_size: int) -> TiffHeader:
    """Decode the first 16 bytes of a file into a :class:`TiffHeader`.

    Raises NotATiffError for anything that does not start like a TIFF.
    """
    if file_size == 0:
        raise NotATiffError(path, "the file is empty")
    order = data[:2]
    if order == b"II":
        byteorder = "<"
    elif order == b"MM":
        byteorder = ">"
    else:
        raise NotATiffError(path, f"not a TIFF file (it starts with {data[:4]!r})")
    if len(data) < 4:
        raise NotATiffError(path, f"not a TIFF file (only {file_size} bytes long)")
    (version,) = struct.unpack_from(byteorder + "H", data, 2)
    if version in (42, 43) and len(data) < (8 if version == 42 else 16):
        raise TruncatedFileError(path, f"the file ends at byte {len(data)}, inside the TIFF header")
    if version == 42:
        (first,) = struct.unpack_from(byteorder + "I", data, 4)
        return TiffHeader(byteorder, False, first)
    if version == 43:
        offset_size, zero, first = struct.unpack_from(byteorder + "HHQ", data, 4)
        if offset_size != 8 or zero != 0:
            raise NotATiffError(path, f"not a TIFF file (BigTIFF offset size {offset_size})")
        return TiffHeader(byteorder, True, first)
    raise NotATiffError(path, f"not a TIFF file (version number {version}, expected 42 or 43)")


def parse_ifd(source: ByteSource, offset: int, header: TiffHeader, page: int | None = None) -> Ifd:
    """Decode the IFD at ``offset`` (entries and inline values; out-of-line values not read).

    ``page`` (None when unknown) only words errors. Raises :class:`IfdPastEnd` when the IFD
    runs past the end of ``source`` and CorruptTiffError for an impossible entry count, so that
    a broken file costs one small read, never a huge allocation.
    """
    path = source.name
    file_size = source.size
    cs, es, os_ = header.count_size, header.entry_size, header.offset_size
    bo = header.byteorder
    if offset + cs > file_size:
        raise IfdPastEnd(offset, cs)
    data = source.read(offset, FIRST_READ)
    (count,) = struct.unpack_from(bo + header.count_format, data, 0)
    where = f"the IFD at byte {offset:,}" + ("" if page is None else f" (page {page})")
    if count == 0 or count > MAX_ENTRIES:
        raise CorruptTiffError(path, f"{where} claims {count:,} entries")
    size = cs + count * es + os_
    if offset + size > file_size:
        raise IfdPastEnd(offset, size)
    if len(data) < size:
        data = source.read(offset, size)
    raw = bytes(data[:size])
    (next_offset,) = struct.unpack_from(bo + header.offset_format, raw, size - os_)

    entry_format = bo + ("HHQ8s" if header.bigtiff else "HHI4s")
    pointer = struct.Struct(bo + header.offset_format)
    entries = []
    tags: dict[int, Tag] = {}
    position = offset + cs
    for code, type_, n, value_field in struct.iter_unpack(entry_format, raw[cs : size - os_]):
        item = TYPE_SIZES.get(type_)
        if item is None:
            # Unknown field type: the entry cannot be interpreted, but it does not stop the
            # rest of the IFD from being read (tifffile also skips such entries).
            tag = Tag(code, type_, n, position, position + 4 + os_, -1, True, None)
        else:
            nbytes = n * item
            if nbytes > MAX_VALUE_BYTES:
                # Offsets and extents are int64 arithmetic downstream; a count this large is
                # a damaged entry, not a value (no file holds a terabyte-sized tag).
                raise CorruptTiffError(
                    path, f"{where}: tag {code} claims {n:,} values of field type {type_}"
                )
            if nbytes <= os_:
                tag = Tag(code, type_, n, position, position + 4 + os_, nbytes, True)
                tag = tag._replace(value=decode_value(type_, n, value_field, bo))
            else:
                tag = Tag(code, type_, n, position, pointer.unpack(value_field)[0], nbytes, False)
        entries.append(tag)
        tags.setdefault(code, tag)
        position += es
    return Ifd(offset, next_offset, raw, tuple(entries), header, tags)


def decode_value(type_: int, count: int, data: bytes, byteorder: str) -> Any:
    """Decode ``count`` values of TIFF field type ``type_`` from the start of ``data``."""
    if type_ in (ASCII, 7):
        return bytes(data[:count])
    letter = TYPE_FORMATS.get(type_)
    if letter is None:
        return None
    if type_ in (5, 10):
        flat = struct.unpack_from(f"{byteorder}{2 * count}{letter}", data, 0)
        return tuple(zip(flat[::2], flat[1::2], strict=True))
    return struct.unpack_from(f"{byteorder}{count}{letter}", data, 0)


def load_value(tag: Tag, source: ByteSource, header: TiffHeader, page: int | None) -> Any:
    """The decoded value of an out-of-line ``tag`` (read from the file), checked to fit in it."""
    if tag.inline or tag.value is not None:
        return tag.value
    file_size = source.size
    if tag.value_offset + tag.nbytes > file_size:
        where = "" if page is None else f" of page {page}"
        raise CorruptTiffError(
            source.name,
            f"tag {tag.code}{where} (IFD entry at byte {tag.entry_offset:,}) points at "
            f"{tag.nbytes:,} bytes at {tag.value_offset:,}, past the end of the file "
            f"({file_size:,} bytes)",
        )
    data = source.read(tag.value_offset, tag.nbytes)
    return decode_value(tag.type, tag.count, data, header.byteorder)


def with_values(
    ifd: Ifd,
    source: ByteSource,
    page: int | None,
    codes: frozenset[int] | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> Ifd:
    """A copy of ``ifd`` with the out-of-line values of ``codes`` (default all) loaded.

    Values larger than ``max_value_bytes`` stay unloaded (``value`` None).
    """
    entries = []
    for tag in ifd.entries:
        if (
            not tag.inline
            and tag.nbytes <= max_value_bytes
            and (codes is None or tag.code in codes)
        ):
            tag = tag._replace(value=load_value(tag, source, ifd.header, page))
        entries.append(tag)
    tags: dict[int, Tag] = {}
    for tag in entries:
        tags.setdefault(tag.code, tag)
    return Ifd(ifd.offset, ifd.next_offset, ifd.raw, tuple(entries), ifd.header, tags)


def read_header(source: ByteSource) -> TiffHeader:
    """Read and decode the header of an open :class:`ByteSource`."""
    return parse_header(source.read(0, 16), source.name, source.size)


def read_ifd(
    source: ByteSource | str | os.PathLike | BinaryIO | bytes | bytearray | memoryview,
    offset: int | None = None,
    *,
    header: TiffHeader | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> Ifd:
    """Decode the IFD at byte ``offset`` of a TIFF into an :class:`Ifd` with its tag values.

    ``source`` is an open :class:`~si_explorer.tiff.ByteSource` (left open), a path (opened
    read-only and closed again), a binary file object opened for reading (positioned reads; its
    position is restored), or the file's bytes (``bytes``, ``memoryview`` or ``mmap``).
    ``offset`` defaults to the first IFD. Out-of-line values
    larger than ``max_value_bytes`` are not read (their ``value`` is None; ``value_offset`` and
    ``nbytes`` say where they are), so that a ScanImage page's multi-MB Software tag does not
    cost a read.
    ``header`` skips reading the header again when the caller already has it (e.g. from a
    :class:`~si_explorer.tiff.PageIndex`: ``TiffHeader(index.byteorder, index.bigtiff, 0)``).

    Example::

        ifd = read_ifd(path, int(index.ifd_offsets[k]))
        ifd.scalar(259)          # compression
        ifd.get(273)             # strip offsets (a tuple)
    """
    if isinstance(source, ByteSource):
        return _read_ifd(source, offset, header, max_value_bytes)
    if isinstance(source, (str, os.PathLike)):
        with ByteSource(source) as opened:
            return _read_ifd(opened, offset, header, max_value_bytes)
    if isinstance(source, (bytes, bytearray, memoryview, mmap.mmap)) or not hasattr(source, "read"):
        return _read_ifd(MemorySource(source), offset, header, max_value_bytes)
    path = getattr(source, "name", None)
    path = path if isinstance(path, str) else None
    position = source.tell()
    try:
        source.seek(0, os.SEEK_END)
        size = source.tell()

        def read(o: int, n: int) -> bytes:
            source.seek(o)
            return source.read(n)

        return _read_ifd(CallableSource(read, size, path), offset, header, max_value_bytes)
    finally:
        source.seek(position)


def _read_ifd(
    source: ByteSource, offset: int | None, header: TiffHeader | None, max_value_bytes: int
) -> Ifd:
    if header is None:
        header = read_header(source)
    if offset is None:
        offset = header.first_ifd
    try:
        ifd = parse_ifd(source, offset, header, None)
    except IfdPastEnd as exc:
        raise CorruptTiffError(
            source.name,
            f"the IFD at byte {exc.offset:,} runs past the end of the file ({source.size:,} bytes)",
        ) from None
    return with_values(ifd, source, None, None, max_value_bytes)
