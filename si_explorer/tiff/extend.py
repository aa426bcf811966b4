"""Lengthen the index of a file that grew since it was indexed (ScanImage still acquiring).

The index is extended, not rebuilt: a stride index checks the new pages by file-size arithmetic
and a few decoded IFDs (``extend_stride``); a walked index, or a stride that broke in the new
part, continues the IFD walk from the last indexed page. Either way only complete pages are
indexed, so a page still being written is never served. The pages the old index knew are the
same in the new one, so readers of the old index keep working.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..errors import SIExplorerError
from .ifd import IfdPastEnd, parse_ifd
from .index import PageIndex, stride_arrays
from .page import read_first_page
from .source import ByteSource, open_source
from .stride import extend_stride
from .walk import walk


def extend_index(old: PageIndex, source: str | os.PathLike | ByteSource | None = None) -> PageIndex:
    """``old`` extended by the complete pages appended since it was built; ``old`` itself when
    the file has not grown by a complete page.

    ``source`` is the file as it is now: a path or an open :class:`ByteSource` (left open);
    None opens ``old.path``.
    """
    source, owned = open_source(old.path if source is None else source)
    try:
        return _extend(old, source)
    finally:
        if owned:
            source.close()


def _extend(old: PageIndex, source: ByteSource) -> PageIndex:
    path = source.name
    size = source.size
    if size < old.file_size:
        raise SIExplorerError(
            path,
            f"the file shrank from {old.file_size:,} to {size:,} bytes since it was opened; "
            "open it again",
        )
    if size == old.file_size:
        return old
    first = read_first_page(source)
    if first.ifd.offset != old.item("ifd_offsets", 0):
        raise SIExplorerError(path, "the file changed under an indexed page")
    n_old = old.n_pages

    if old.stride is not None:
        grown = extend_stride(source, first, old.stride, n_old)
        if grown is not None:
            if grown.n_pages == n_old:
                return old
            arrays = stride_arrays(first, grown)
            return _grown(old, source, "stride", old.stride, arrays, grown.missing_bytes, old.raw)

    # Continue the walk from the last indexed page (it is walked again: its next pointer
    # is what changed). Its page format must still be page 0's.
    last_offset = old.item("ifd_offsets", n_old - 1)
    try:
        last = parse_ifd(source, last_offset, first.header, n_old - 1)
    except IfdPastEnd:
        raise SIExplorerError(path, "the file changed under an indexed page") from None
    result = walk(source, last, first.format, first.extent)
    if len(result.ifd_offsets) <= 1:
        return old
    arrays = {}
    for name in ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths"):
        previous = getattr(old, name)[:-1]
        arrays[name] = np.concatenate([previous, getattr(result, name)])
    raw = old.raw and result.raw
    return _grown(old, source, "walk", None, arrays, result.missing_bytes, raw)


def _grown(old: PageIndex, source: ByteSource, method, stride, arrays, missing, raw) -> PageIndex:
    # Shape, dtype and byte order stay the old index's: readers made from it rely on them.
    return dataclasses.replace(
        old,
        file_size=source.size,
        mtime_ns=source.version,
        raw=raw,
        method=method,
        stride=stride,
        missing_bytes=missing,
        **arrays,
    )
