"""``Stack.refresh()``: pick up the pages ScanImage appended while it was still acquiring.

Only the last file of an acquisition grows. Its index is extended, not rebuilt: a stride index
checks the new pages by file-size arithmetic and a few decoded IFDs (``extend_stride``); a
walked index, or a stride that broke in the new part, continues the IFD walk from the last
indexed page. Either way only complete pages are indexed, so a page still being written is
never served, and the time axis grows by complete volumes only.

Stacks, dask arrays and readers made before a refresh keep working: the last file's reader is
the same object, with the longer index, and they read only the pages they knew, which are the
same in the longer index. One file therefore keeps one descriptor however often it is
refreshed (follow mode refreshes every second).
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np

from .errors import SIExplorerError
from .read.planes import PagedPlanes
from .tiff import PageIndex, build_index
from .tiff.ifd import ByteSource, IfdPastEnd, parse_ifd, read_header
from .tiff.index import Progression
from .tiff.page import page_facts, page_format
from .tiff.stride import extend_stride
from .tiff.walk import walk

_lock = threading.Lock()


def refresh(stack) -> int:
    """Extend ``stack`` by the complete volumes appended to its last file since it was opened
    (or last refreshed); return the number of new time points (0 when nothing is new)."""
    with _lock:  # two refreshes at once would both extend the same old index
        return _refresh(stack)


def _refresh(stack) -> int:
    planes = stack._planes
    if not isinstance(planes, PagedPlanes):
        return 0  # a tifffile series (OME, odd pages) is read as a whole; it does not grow
    last = planes.files[-1]
    if last.indexed:
        index = extend_index(last.index)
        if index is last.index:
            return 0
    else:
        # Predicted from its size at open and never read: SourceFile.index would now find
        # more pages than predicted and call the files mismatched, so index it here.
        index = build_index(last.path)
        if index.n_pages < last.expected_pages:
            raise SIExplorerError(
                last.path,
                f"has {index.n_pages:,} complete pages, fewer than the {last.expected_pages:,} "
                "it had when it was opened; open it again",
            )
    n_pages = int(planes._file_starts[-2]) + index.n_pages
    layout = planes.layout.with_frames(n_pages)
    added = layout.frames - planes.layout.frames
    if added <= 0:
        # Only a partial volume is new: keep the old index, so that the next refresh sees
        # these pages as new again and the stack and its index stay consistent.
        return 0
    last.grow(index)
    new = PagedPlanes(planes.files, layout, planes.channel, planes.mosaic)

    from .stack import DERIVED, chunk_spec

    spec = chunk_spec(stack.chunk_scheme, new.shape)
    metadata = stack._metadata
    if metadata is not None:
        # A new object: other stacks made by with_options share the old one.
        stack._metadata = type(metadata)(metadata.scanimage, new)
    stack._chunk_spec = spec
    stack._planes = new
    for name in DERIVED:
        stack.__dict__.pop(name, None)
    return int(added)


def extend_index(old: PageIndex) -> PageIndex:
    """``old`` extended by the complete pages appended since it was built; ``old`` itself when
    the file has not grown by a complete page."""
    path = old.path
    with ByteSource(path) as source:
        size = source.size
        if size < old.file_size:
            raise SIExplorerError(
                path,
                f"the file shrank from {old.file_size:,} to {size:,} bytes since it was opened; "
                "open it again",
            )
        if size == old.file_size:
            return old
        header = read_header(source)
        first = old.item("ifd_offsets", 0)
        ifd0 = parse_ifd(source.read, first, header, size, path, 0)
        format0 = page_format(ifd0, source.read, path, 0, size)
        facts0 = page_facts(ifd0, format0, source.read, size, path, 0)
        n_old = old.n_pages

        if old.stride is not None:
            grown = extend_stride(source, ifd0, facts0, path, old.stride, n_old)
            if grown is not None:
                if grown.n_pages == n_old:
                    return old
                step = 0 if facts0.desc_offset < 0 or grown.desc_shared else old.stride
                n = grown.n_pages
                arrays = {
                    "ifd_offsets": Progression(first, old.stride, n),
                    "data_offsets": Progression(facts0.data_offset, old.stride, n),
                    "desc_offsets": Progression(facts0.desc_offset, step, n),
                    "desc_lengths": Progression(facts0.desc_length, 0, n),
                }
                missing = grown.missing_bytes
                return _make(old, source, "stride", old.stride, arrays, missing, old.raw)

        # Continue the walk from the last indexed page (it is walked again: its next pointer
        # is what changed). Its page format must still be page 0's.
        last_offset = old.item("ifd_offsets", n_old - 1)
        try:
            last = parse_ifd(source.read, last_offset, header, size, path, n_old - 1)
        except IfdPastEnd:
            raise SIExplorerError(path, "the file changed under an indexed page") from None
        extent0 = facts0.end - min(ifd0.offset, facts0.data_start)
        result = walk(source, last, format0, extent0, path)
        if len(result.ifd_offsets) <= 1:
            return old
        arrays = {}
        for name in ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths"):
            previous = getattr(old, name)[:-1]
            arrays[name] = np.concatenate([previous, getattr(result, name)])
        raw = old.raw and result.raw
        return _make(old, source, "walk", None, arrays, result.missing_bytes, raw)


def _make(old: PageIndex, source, method, stride, arrays, missing, raw) -> PageIndex:
    return dataclasses.replace(
        old,
        file_size=source.size,
        mtime_ns=source.mtime_ns,
        raw=raw,
        method=method,
        stride=stride,
        missing_bytes=missing,
        **arrays,
    )
