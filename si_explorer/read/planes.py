"""(field, time, z) planes assembled from pages: the bridge from a layout to pixel reads.

:class:`PagedPlanes` serves any TIFF whose pages are uniform (every ScanImage file): a
:class:`~si_explorer.scanimage.layout.Layout` names the page of each (field, time, z) and
where each field sits inside it, and :class:`~si_explorer.read.pages.PageReader` copies
just those rows. :class:`SeriesPlanes` serves every other TIFF through tifffile's own series.

Both answer one question, ``read(fields, times, zs, rows, cols)``, for arrays of indices
and a rectangle, and both pickle to paths and indexes so that dask workers reopen files.
"""

from __future__ import annotations

import bisect
import os
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import LayoutError, SIExplorerError, tifffile_errors
from ..scanimage.layout import Layout
from ..tiff import PageIndex, build_index
from .pages import PageReader


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

    def __init__(self, path: str, expected_pages: int, index: PageIndex | None = None):
        self.path = path
        self.expected_pages = expected_pages
        self._index = index
        self._reader = PageReader(index) if index is not None else None
        # Threads that touch a not-yet-indexed file at once must share one index and one reader
        # (one descriptor); without the lock all but one reader leaked.
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"path": self.path, "expected_pages": self.expected_pages, "index": self._index}

    def __setstate__(self, state):
        self.__init__(state["path"], state["expected_pages"], state["index"])

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
        index = build_index(self.path)
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
                    self._reader = PageReader(index)
        return self._reader

    def grow(self, index: PageIndex) -> None:
        """Adopt ``index`` extended by pages appended since (:func:`si_explorer.refresh`)."""
        with self._lock:
            self._index = index
            self.expected_pages = index.n_pages
            if self._reader is not None:
                self._reader.grow(index)

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


class PagedPlanes:
    """Planes of a (possibly multi-file) paged acquisition, for one colour channel."""

    def __init__(
        self,
        files: list[SourceFile],
        layout: Layout,
        channel: int = 0,
        mosaic: bool = False,
    ):
        self.files = files
        self.layout = layout
        self.channel = channel
        self.mosaic = mosaic
        self.fields, self.plane_shape = placements_for(layout, mosaic)
        counts = np.array([f.expected_pages for f in files], dtype=np.int64)
        self._file_starts = np.concatenate([[0], np.cumsum(counts)])
        self._starts = self._file_starts.tolist()
        first = files[0].index
        self.dtype = first.dtype.newbyteorder("=")
        self.raw = first.raw

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("files", "layout", "channel", "mosaic")}

    def __setstate__(self, state):
        self.__init__(**state)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return (len(self.fields), self.layout.frames, self.layout.planes, *self.plane_shape)

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
        self.files[file_number].reader.read(local, (sy, sy + h), (sx, sx + w), out, backend)
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
        reader = self.files[file_number].reader
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
        if len(self.files) == 1:
            self.files[0].reader.read(pages, page_rows, page_cols, target, backend)
            return
        file_of = np.searchsorted(self._file_starts, pages, side="right") - 1
        for file_number in range(int(file_of.min()), int(file_of.max()) + 1):
            mask = file_of == file_number
            if not mask.any():
                continue
            local = pages[mask] - self._starts[file_number]
            reader = self.files[file_number].reader
            if mask.all():
                reader.read(local, page_rows, page_cols, target, backend)
                continue
            part = np.empty((len(local), *target.shape[1:]), self.dtype)
            reader.read(local, page_rows, page_cols, part, backend)
            target[mask] = part

    def page_description(self, page: int) -> str:
        """The ImageDescription text of one global page ('' when it has none)."""
        file_number = bisect.bisect_right(self._starts, page) - 1
        source = self.files[file_number]
        local = page - self._starts[file_number]
        offset = source.index.item("desc_offsets", local)
        if offset < 0:
            return ""
        raw = source.reader.read_bytes(offset, source.index.item("desc_lengths", local))
        return raw.split(b"\0", 1)[0].decode("latin-1")

    def close(self) -> None:
        for source in self.files:
            source.close()


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


class SeriesPlanes:
    """Planes of any other TIFF (OME, ImageJ with odd axes, pyramids, mixed pages) via tifffile.

    tifffile's first series is mapped onto (field, time, z, y, x): axis letters are sorted
    into roles by ``_AXIS_ROLE`` and every other axis becomes time, in file order.
    """

    def __init__(self, path: str, channel: int = 0):
        import tifffile

        self.path = path
        self.channel = channel
        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                self.axes = series.axes
                self.series_shape = tuple(series.shape)
                self.dtype = np.dtype(series.dtype).newbyteorder("=")
        except (tifffile.TiffFileError, ValueError, IndexError, OSError) as exc:
            raise SIExplorerError(path, f"tifffile cannot read this TIFF: {exc}") from None
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
        self.shape = (size["field"], size["time"], size["z"], size["y"], size["x"])
        self.raw = False
        self._array = None

    def __getstate__(self):
        return {"path": self.path, "channel": self.channel}

    def __setstate__(self, state):
        self.__init__(state["path"], state["channel"])

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
