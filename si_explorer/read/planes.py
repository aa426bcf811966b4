"""(field, time, z) planes assembled from pages: the bridge from a layout to pixel reads.

:class:`PagedPlanes` serves any TIFF whose pages are uniform (every ScanImage file): a
:class:`~si_explorer.scanimage.layout.Layout` names the page of each (field, time, z) and
where each field sits inside it, and :class:`~si_explorer.read.pages.PageReader` copies
just those rows. :class:`SeriesPlanes` serves every other TIFF through tifffile's own series.

Both implement :class:`PlaneSource`, the one interface the :class:`~si_explorer.Stack` reads
through: ``read(fields, times, zs, rows, cols)`` for arrays of indices and a rectangle, and
both pickle to paths and indexes so that dask workers reopen files.
"""

from __future__ import annotations

import abc
import bisect
import os
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import LayoutError, SIExplorerError, tifffile_errors
from ..scanimage.layout import Layout
from ..tiff import PageIndex, build_index, extend_index
from ..tiff.source import (
    ByteSource,
    RemoteSource,
    is_url,
    open_source,
    register_storage_options,
)
from .pages import PageReader

_GROWTH_LOCK = threading.Lock()


@dataclass(frozen=True)
class FileFacts:
    """What one file of a stack holds and how its page index was built (for ``info``)."""

    path: str
    pages: int | None  # None where tifffile reads the file as a series
    #: "stride", "walk", "cache" (see PageIndex.method), None while predicted from its size,
    #: "series" for tifffile.
    index: str | None
    stride: int | None = None
    missing_bytes: int = 0


class PlaneSource(abc.ABC):
    """Where a :class:`~si_explorer.Stack` gets its pixels: (field, time, z) planes of one
    channel, any rectangle of them, read with a named backend ("pread", "mmap", "tifffile").

    The Stack holds one and replaces it (never mutates it) when the channel changes or the
    file grows, so that stacks and dask arrays made earlier keep reading what they knew.
    """

    #: Pages are plain uncompressed strips that "pread" and "mmap" can copy directly.
    raw: bool
    dtype: np.dtype
    channel: int
    #: The page layout, or None where tifffile maps a series onto the five dims.
    layout: Layout | None = None
    #: Multi-ROI fields drawn as one mosaic at their scanfield positions.
    mosaic: bool = False
    #: ``(field, z)`` bidirectional offsets corrected in the pixels served, or None for raw.
    bidi_offset: np.ndarray | None = None

    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int, int, int, int]:
        """(field, time, z, y, x)."""

    @property
    @abc.abstractmethod
    def paths(self) -> list[str]:
        """The files read, in acquisition order."""

    @abc.abstractmethod
    def files(self) -> list[FileFacts]:
        """One record per file."""

    @abc.abstractmethod
    def field_shapes(self) -> list[tuple[int, int]]:
        """True (height, width) of each field (planes are padded to the largest)."""

    @abc.abstractmethod
    def read(self, fields, times, zs, rows, cols, backend: str) -> np.ndarray:
        """Pixels ``[rows[0]:rows[1], cols[0]:cols[1]]`` of every (field, time, z)."""

    @abc.abstractmethod
    def read_plane(self, f: int, t: int, z: int, backend: str) -> np.ndarray:
        """One whole plane (the eager ``stack[f, t, z]`` path)."""

    @abc.abstractmethod
    def with_channel(self, channel: int) -> PlaneSource:
        """The same files and layout for another channel (the channel is checked by the caller)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the files (a later read reopens them)."""

    def field_page_rows(self) -> list[int]:
        """The page row each field's first row comes from (it decides which rows are odd)."""
        return [0] * self.shape[0]

    def uncorrected(self) -> PlaneSource:
        """The source of the raw pixels (itself, unless this source corrects another)."""
        return self

    def view(self, field: int, times: range, zs: range, rows, cols) -> np.ndarray | None:
        """A read-only zero-copy view of these pixels in the file's memory map, or None where
        the source cannot give one (the caller then reads a copy)."""
        return None

    def grown(self) -> PlaneSource | None:
        """This source extended by the complete time points written since it was made, or
        None when there are none (or the source cannot grow)."""
        return None


@dataclass(frozen=True)
class Placement:
    """A window of a page (``src`` = y0, x0, height, width) drawn at ``dest`` (y, x) of a plane."""

    src: tuple[int, int, int, int]
    dest: tuple[int, int]


class SourceFile:
    """One file of an acquisition: indexed on first touch, then read through a PageReader.

    ``expected_pages`` comes from the first file's geometry and this file's size; the real
    index must agree, or the stack's shape would be wrong, so a mismatch is an error.
    """

    def __init__(
        self,
        path: str,
        expected_pages: int,
        index: PageIndex | None = None,
        storage_options: dict | None = None,
        source: ByteSource | None = None,
    ):
        """``path`` is a local path or a URL (then ``storage_options`` are its fsspec options,
        and ``source`` may be the open remote file ``index`` was built from)."""
        self.path = path
        self.expected_pages = expected_pages
        self.storage_options = storage_options
        if storage_options and is_url(path):
            # For code that reopens the file by its name (refresh's extend_index).
            register_storage_options(path, storage_options)
        self._index = index
        remote = source if isinstance(source, RemoteSource) else None
        self._reader = PageReader(index, storage_options, remote) if index is not None else None
        # Threads that touch a not-yet-indexed file at once must share one index and one reader
        # (one descriptor); without the lock all but one reader leaked.
        self._lock = threading.Lock()

    def __getstate__(self):
        return {
            "path": self.path,
            "expected_pages": self.expected_pages,
            "index": self._index,
            "storage_options": self.storage_options,
        }

    def __setstate__(self, state):
        self.__init__(
            state["path"], state["expected_pages"], state["index"], state.get("storage_options")
        )

    @property
    def indexed(self) -> bool:
        return self._index is not None

    @property
    def index(self) -> PageIndex:
        if self._index is not None:
            return self._index
        with self._lock:
            if self._index is None:
                self._index = self._checked_index()
        return self._index

    def _checked_index(self) -> PageIndex:
        with open_source(self.path, self.storage_options)[0] as source:
            index = build_index(source)
        if index.n_pages != self.expected_pages:
            raise LayoutError(
                self.path,
                f"has {index.n_pages:,} complete pages, but the acquisition's first file "
                f"and this file's size predicted {self.expected_pages:,}; "
                "the files of this acquisition do not match",
            )
        return index

    @property
    def reader(self) -> PageReader:
        if self._reader is None:
            index = self.index
            with self._lock:
                if self._reader is None:
                    self._reader = PageReader(index, self.storage_options)
        return self._reader

    def grow(self, index: PageIndex) -> None:
        """Adopt ``index`` extended by pages appended since (:func:`si_explorer.refresh`)."""
        with self._lock:
            # The reader first: it refuses a remote object that is another recording, and the
            # file must then keep the index it had.
            if self._reader is not None:
                self._reader.grow(index)
            self._index = index
            self.expected_pages = index.n_pages

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def placements_for(layout: Layout, mosaic: bool) -> tuple[list[list[Placement]], tuple[int, int]]:
    """Where each field's pixels come from, and the plane shape of the stack.

    Split (default): one field per ROI, each drawn at (0, 0) of a plane padded to the
    largest ROI. Mosaic: one field with every ROI drawn at its scanfield centre.
    """
    windows = [layout.field_window(f) for f in range(layout.n_fields)]
    if not mosaic or layout.n_fields == 1:
        fields = [[Placement((y0, x0, y1 - y0, x1 - x0), (0, 0))] for y0, y1, x0, x1 in windows]
        return fields, layout.plane_shape
    rois = layout.rois
    if any(r.center_xy is None or r.size_xy is None for r in rois):
        raise LayoutError(None, "a mosaic needs the scanfield centre and size of every ROI")
    # Scan angle per pixel from the first ROI; ScanImage forces square pixels within a group.
    deg_per_px_x = rois[0].size_xy[0] / rois[0].width
    deg_per_px_y = rois[0].size_xy[1] / rois[0].height
    lefts = [(r.center_xy[0] - r.size_xy[0] / 2) / deg_per_px_x for r in rois]
    tops = [(r.center_xy[1] - r.size_xy[1] / 2) / deg_per_px_y for r in rois]
    x_origin, y_origin = min(lefts), min(tops)
    placements = []
    height = width = 0
    for (y0, y1, x0, x1), left, top in zip(windows, lefts, tops):
        dy, dx = int(round(top - y_origin)), int(round(left - x_origin))
        placements.append(Placement((y0, x0, y1 - y0, x1 - x0), (dy, dx)))
        height, width = max(height, dy + y1 - y0), max(width, dx + x1 - x0)
    return [placements], (height, width)


class PagedPlanes(PlaneSource):
    """Planes of a (possibly multi-file) paged acquisition, for one colour channel."""

    def __init__(
        self,
        sources: list[SourceFile],
        layout: Layout,
        channel: int = 0,
        mosaic: bool = False,
    ):
        self.sources = sources
        self.layout = layout
        self.channel = channel
        self.mosaic = mosaic
        self.fields, self.plane_shape = placements_for(layout, mosaic)
        counts = np.array([f.expected_pages for f in sources], dtype=np.int64)
        self._file_starts = np.concatenate([[0], np.cumsum(counts)])
        self._starts = self._file_starts.tolist()
        first = sources[0].index
        self.dtype = first.dtype.newbyteorder("=")
        self.raw = first.raw

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("sources", "layout", "channel", "mosaic")}

    def __setstate__(self, state):
        self.__init__(**state)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return (len(self.fields), self.layout.frames, self.layout.planes, *self.plane_shape)

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.sources]

    def files(self) -> list[FileFacts]:
        facts = []
        for source in self.sources:
            if not source.indexed:
                facts.append(FileFacts(source.path, source.expected_pages, None))
                continue
            index = source.index
            facts.append(
                FileFacts(
                    source.path, index.n_pages, index.method, index.stride, index.missing_bytes
                )
            )
        return facts

    def with_channel(self, channel: int) -> PagedPlanes:
        return PagedPlanes(self.sources, self.layout, channel, self.mosaic)

    def field_page_rows(self) -> list[int]:
        return [placements[0].src[0] for placements in self.fields]

    def grown(self) -> PagedPlanes | None:
        """Only the last file of an acquisition grows. Its index is extended, not rebuilt
        (:func:`~si_explorer.tiff.extend_index`), and only complete pages are indexed, so a
        page still being written is never served and time grows by complete volumes only.

        The last file keeps its reader, now with the longer index: sources made before read
        only the pages they knew, which are the same in the longer index, and one file keeps
        one descriptor however often it is refreshed (follow mode refreshes every second).
        """
        with _GROWTH_LOCK:  # two refreshes at once would both extend the same old index
            last = self.sources[-1]
            if last.indexed:
                index = extend_index(last.index)
                if index is last.index:
                    return None
            else:
                # Predicted from its size at open and never read: SourceFile.index would now
                # find more pages than predicted and call the files mismatched, so index it.
                index = build_index(last.path)
                if index.n_pages < last.expected_pages:
                    raise SIExplorerError(
                        last.path,
                        f"has {index.n_pages:,} complete pages, fewer than the "
                        f"{last.expected_pages:,} it had when it was opened; open it again",
                    )
            layout = self.layout.with_frames(int(self._file_starts[-2]) + index.n_pages)
            if layout.frames <= self.layout.frames:
                # Only part of a volume is new: keep the old index, so that the next refresh
                # sees these pages as new again.
                return None
            last.grow(index)
            return PagedPlanes(self.sources, layout, self.channel, self.mosaic)

    @property
    def n_pages(self) -> int:
        return int(self._file_starts[-1])

    def field_shapes(self) -> list[tuple[int, int]]:
        if self.mosaic:
            return [self.plane_shape]
        return [(p[0].src[2], p[0].src[3]) for p in self.fields]

    def page_numbers(self, f, t, z) -> np.ndarray:
        """Global page numbers (over all files) for broadcast index arrays."""
        return self.layout.page_numbers(f, t, z, self.channel)

    def read_plane(self, f: int, t: int, z: int, backend: str) -> np.ndarray:
        """One whole plane with no index arrays: the eager ``stack[f, t, z]`` path."""
        (placement,) = self.fields[f] if len(self.fields[f]) == 1 else (None,)
        if placement is None or placement.dest != (0, 0) or placement.src[2:] != self.plane_shape:
            return self.read(
                [f], [t], [z], (0, self.plane_shape[0]), (0, self.plane_shape[1]), backend
            )[0, 0, 0]
        page = self.layout.page_number(f, t, z, self.channel)
        file_number = bisect.bisect_right(self._starts, page) - 1
        sy, sx, h, w = placement.src
        out = np.empty((1, h, w), self.dtype)
        local = np.array([page - self._starts[file_number]])
        self.sources[file_number].reader.read(local, (sy, sy + h), (sx, sx + w), out, backend)
        return out[0]

    def read(
        self,
        fields: np.ndarray,
        times: np.ndarray,
        zs: np.ndarray,
        rows: tuple[int, int],
        cols: tuple[int, int],
        backend: str,
    ) -> np.ndarray:
        """Pixels ``[rows[0]:rows[1], cols[0]:cols[1]]`` of every (field, time, z) combination."""
        fields, times, zs = (np.asarray(a, dtype=np.int64).ravel() for a in (fields, times, zs))
        ny, nx = rows[1] - rows[0], cols[1] - cols[0]
        shape = (len(fields), len(times), len(zs), ny, nx)
        pages = self.page_numbers(fields[:, None, None], times[None, :, None], zs[None, None, :])
        covered = all(self._covers(self.fields[f], rows, cols) for f in set(fields.tolist()))
        out = np.empty(shape, self.dtype) if covered else np.zeros(shape, self.dtype)
        for i, field in enumerate(fields.tolist()):
            field_pages = pages[i].reshape(-1)
            planes = out[i].reshape(-1, ny, nx)
            for placement in self.fields[field]:
                self._read_placement(placement, field_pages, rows, cols, planes, backend)
        return out

    def view(self, field: int, times: range, zs: range, rows, cols) -> np.ndarray | None:
        """A (1, times, zs, rows, cols) zero-copy view of one field's pixels, or None where
        the pixels are not one evenly strided run of one file's pages (see
        :meth:`PageReader.grid_view`), or the rectangle is not inside one page window."""
        placements = self.fields[field]
        if len(placements) != 1 or not self._covers(placements, rows, cols):
            return None
        ((sy, sx, _, _), (dy, dx)) = placements[0].src, placements[0].dest
        pages = self.page_numbers(field, np.asarray(times)[:, None], np.asarray(zs)[None, :])
        file_number = bisect.bisect_right(self._starts, int(pages.min())) - 1
        start, end = self._starts[file_number], self._starts[file_number + 1]
        if pages.max() >= end:
            return None
        page_rows = (sy + rows[0] - dy, sy + rows[1] - dy)
        page_cols = (sx + cols[0] - dx, sx + cols[1] - dx)
        reader = self.sources[file_number].reader
        grid = reader.grid_view(pages - start, page_rows, page_cols)
        return None if grid is None else grid[None]

    @staticmethod
    def _covers(placements: list[Placement], rows, cols) -> bool:
        return any(
            p.dest[0] <= rows[0]
            and p.dest[1] <= cols[0]
            and p.dest[0] + p.src[2] >= rows[1]
            and p.dest[1] + p.src[3] >= cols[1]
            for p in placements
        )

    def _read_placement(self, placement, pages, rows, cols, planes, backend) -> None:
        sy, sx, h, w = placement.src
        dy, dx = placement.dest
        # The part of the requested rectangle that this window paints, in plane coordinates.
        y0, y1 = max(rows[0], dy), min(rows[1], dy + h)
        x0, x1 = max(cols[0], dx), min(cols[1], dx + w)
        if y0 >= y1 or x0 >= x1:
            return
        page_rows = (sy + y0 - dy, sy + y1 - dy)
        page_cols = (sx + x0 - dx, sx + x1 - dx)
        target = planes[:, y0 - rows[0] : y1 - rows[0], x0 - cols[0] : x1 - cols[0]]
        if len(self.sources) == 1:
            self.sources[0].reader.read(pages, page_rows, page_cols, target, backend)
            return
        file_of = np.searchsorted(self._file_starts, pages, side="right") - 1
        for file_number in range(int(file_of.min()), int(file_of.max()) + 1):
            mask = file_of == file_number
            if not mask.any():
                continue
            local = pages[mask] - self._starts[file_number]
            reader = self.sources[file_number].reader
            if mask.all():
                reader.read(local, page_rows, page_cols, target, backend)
                continue
            part = np.empty((len(local), *target.shape[1:]), self.dtype)
            reader.read(local, page_rows, page_cols, part, backend)
            target[mask] = part

    def page_description(self, page: int) -> str:
        """The ImageDescription text of one global page ('' when it has none)."""
        file_number = bisect.bisect_right(self._starts, page) - 1
        source = self.sources[file_number]
        local = page - self._starts[file_number]
        offset = source.index.item("desc_offsets", local)
        if offset < 0:
            return ""
        raw = source.reader.read_bytes(offset, source.index.item("desc_lengths", local))
        return raw.split(b"\0", 1)[0].decode("latin-1")

    def description_rows(self, pages: np.ndarray, on_rows=None) -> np.ndarray:
        """The ImageDescription bytes of global ``pages`` as one ``(len(pages), width)`` uint8
        array, NUL-padded. ``on_rows(n)`` is called as rows arrive (progress).

        ScanImage pads each description to a 2,000-byte slot, of which a frame header uses
        about 420: only a window a little longer than the first page's text is read of each
        page, and the slots whose text fills that window are read again whole. Measured on
        100,000 pages: 0.29 s with one positioned read per page, against 0.82 s for a strided
        copy out of the memory map (a page fault per description) and 2.1 s for whole slots.
        """
        pages = np.asarray(pages, dtype=np.int64)
        file_of = np.searchsorted(self._file_starts, pages, side="right") - 1
        parts = []
        for file_number in np.unique(file_of).tolist():
            source = self.sources[file_number]
            local = pages[file_of == file_number] - self._starts[file_number]
            offsets = source.index.desc_offsets[local].tolist()
            lengths = source.index.desc_lengths[local].tolist()
            if is_url(source.path):
                parts.append(_read_descriptions(source.reader.read_many, offsets, lengths, on_rows))
                continue
            # A descriptor of its own: a positioned read per page, with nothing in between.
            descriptor = os.open(source.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                parts.append(_read_descriptions(descriptor, offsets, lengths, on_rows))
            finally:
                os.close(descriptor)
        width = max((p.shape[1] for p in parts), default=0)
        out = np.zeros((len(pages), width), np.uint8)
        row = 0
        for part in parts:
            out[row : row + len(part), : part.shape[1]] = part
            row += len(part)
        return out

    def close(self) -> None:
        for source in self.sources:
            source.close()


#: Rows read between two progress callbacks.
_ROWS_PER_BLOCK = 8192


def _read_descriptions(descriptor, offsets: list, lengths: list, on_rows) -> np.ndarray:
    """Rows of description text at ``offsets`` (slots ``lengths`` long), NUL-padded.

    ``descriptor`` is a local file's descriptor, or a ``read_many(offsets, sizes)`` function
    (a remote file: each block of rows is one batch of merged concurrent requests)."""
    n = len(offsets)
    if not n:
        return np.zeros((0, 0), np.uint8)
    if callable(descriptor):
        read_many = descriptor

        def pread(_, nbytes, offset):
            return bytes(read_many([offset], [nbytes])[0])

        def block(window, offsets, lengths):
            wanted = [i for i, o in enumerate(offsets) if o >= 0]
            got = read_many([offsets[i] for i in wanted], [min(window, lengths[i]) for i in wanted])
            rows = [bytes(window)] * len(offsets)
            for i, data in zip(wanted, got):
                rows[i] = bytes(data).ljust(window, b"\0")
            return b"".join(rows)
    else:
        pread = os.pread

        def block(window, offsets, lengths):
            if min(offsets) >= 0 and min(lengths) >= window:
                # Every slot holds the whole window (ScanImage's fixed-size slots): a bare
                # list of reads, joined once, unless the file ended early.
                rows = [pread(descriptor, window, o) for o in offsets]
                if all(len(r) == window for r in rows):
                    return b"".join(rows)
            return b"".join(
                pread(descriptor, min(window, length), o).ljust(window, b"\0")
                if o >= 0
                else bytes(window)
                for o, length in zip(offsets, lengths)
            )

    first = pread(descriptor, lengths[0], offsets[0]) if offsets[0] >= 0 else b""
    used = len(first.split(b"\0", 1)[0].rstrip(b" "))
    window = min(max(lengths), max(256, used * 5 // 4 + 64))
    chunks = []
    for start in range(0, n, _ROWS_PER_BLOCK):
        stop = min(n, start + _ROWS_PER_BLOCK)
        chunks.append(block(window, offsets[start:stop], lengths[start:stop]))
        if on_rows is not None:
            on_rows(stop - start)
    rows = np.frombuffer(b"".join(chunks), np.uint8).reshape(n, window)
    # A text that reaches the end of the window may go on: read those slots whole.
    longer = np.flatnonzero((rows[:, -1] != 0) & (rows[:, -1] != 32))
    longer = [i for i in longer.tolist() if lengths[i] > window]
    if not longer:
        return rows
    whole = np.zeros((n, max(lengths[i] for i in longer)), np.uint8)
    whole[:, :window] = rows
    for i in longer:
        text = pread(descriptor, lengths[i], offsets[i])
        whole[i, : len(text)] = np.frombuffer(text, np.uint8)
    return whole


# Which of the five dimensions each tifffile axis letter becomes; letters not named here
# (I, Q, E, H, A, L, V, ...) are all sequences of images and are folded into time.
_AXIS_ROLE = {
    "M": "field",
    "P": "field",
    "Z": "z",
    "C": "channel",
    "S": "channel",
    "Y": "y",
    "X": "x",
}


class SeriesPlanes(PlaneSource):
    """Planes of any other TIFF (OME, ImageJ with odd axes, pyramids, mixed pages) via tifffile.

    tifffile's first series is mapped onto (field, time, z, y, x): axis letters are sorted
    into roles by ``_AXIS_ROLE`` and every other axis becomes time, in file order.
    """

    def __init__(self, path: str, channel: int = 0):
        import tifffile

        self.path = path
        self.channel = channel
        with tifffile_errors(path), tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            self.axes = series.axes
            self.series_shape = tuple(series.shape)
            self.dtype = np.dtype(series.dtype).newbyteorder("=")
        roles = {"field": [], "time": [], "z": [], "channel": [], "y": [], "x": []}
        for i, letter in enumerate(self.axes):
            roles[_AXIS_ROLE.get(letter, "time")].append(i)
        if len(roles["y"]) != 1 or len(roles["x"]) != 1:
            raise SIExplorerError(path, f"series axes {self.axes!r} have no single Y and X axis")
        self._roles = roles
        size = {
            k: int(np.prod([self.series_shape[i] for i in v], dtype=np.int64))
            for k, v in roles.items()
        }
        self.n_channels = size["channel"]
        if not 0 <= channel < self.n_channels:
            raise SIExplorerError(
                path, f"channel {channel} does not exist; it has {self.n_channels}"
            )
        self._shape = (size["field"], size["time"], size["z"], size["y"], size["x"])
        self.raw = False
        self._array = None

    def __getstate__(self):
        return {"path": self.path, "channel": self.channel}

    def __setstate__(self, state):
        self.__init__(state["path"], state["channel"])

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return self._shape

    @property
    def paths(self) -> list[str]:
        return [self.path]

    def files(self) -> list[FileFacts]:
        return [FileFacts(self.path, None, "series")]

    def with_channel(self, channel: int) -> SeriesPlanes:
        return SeriesPlanes(self.path, channel)

    def field_shapes(self) -> list[tuple[int, int]]:
        return [self.shape[3:]] * self.shape[0]

    def _five_d(self):
        """The series as a 5-D zarr-backed dask array for this channel (built once per process)."""
        if self._array is None or self._array[0] != os.getpid():
            import dask.array as da
            import tifffile
            import zarr

            store = tifffile.imread(self.path, aszarr=True, series=0, level=0)
            array = da.from_zarr(zarr.open(store, mode="r"))
            order = [
                i for role in ("field", "time", "z", "channel", "y", "x") for i in self._roles[role]
            ]
            array = array.transpose(order)
            f, t, z, y, x = self.shape
            array = array.reshape((f, t, z, self.n_channels, y, x))[:, :, :, self.channel]
            self._array = (os.getpid(), array, store)
        return self._array[1]

    def read_plane(self, f: int, t: int, z: int, backend: str) -> np.ndarray:
        return self.read([f], [t], [z], (0, self.shape[3]), (0, self.shape[4]), backend)[0, 0, 0]

    def read(self, fields, times, zs, rows, cols, backend) -> np.ndarray:
        fields, times, zs = (np.asarray(a, dtype=np.int64).ravel() for a in (fields, times, zs))
        with tifffile_errors(self.path, "tifffile cannot decode its pages"):
            array = self._five_d()
            picked = array[fields][:, times][:, :, zs][..., rows[0] : rows[1], cols[0] : cols[1]]
            return np.asarray(picked.compute(scheduler="synchronous"), dtype=self.dtype)

    def close(self) -> None:
        if self._array is not None:
            self._array[2].close()
            self._array = None
