"""The public :class:`Stack`: a lazily read (field, time, z, y, x) view of an acquisition."""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Iterator

import numpy as np

from . import export, ops, timeline
from .chunking import DIMS, chunk_spec, parse_chunks
from .errors import FrameHeaderWarning, SIExplorerError, StackIndexError
from .read.corrected import BidiCorrected
from .read.pages import BACKENDS

#: ``with_options(bidi=KEEP)``: keep the stack's correction (None means raw pixels).
KEEP = object()


class _State:
    """What a stack reads (its plane source and chunk spec) and what follows from them (chunks,
    block edges, the dask array, the timeline), cached. ``Stack.refresh`` replaces the whole
    state in one assignment: a thread reading while the stack grows sees the old state or the
    new one, never chunks of one shape with block edges of another."""

    def __init__(self, planes, spec):
        self.planes = planes
        self.spec = spec
        self.derived: dict = {}

    def __getstate__(self):
        return {"planes": self.planes, "spec": self.spec}  # caches are rebuilt where unpickled

    def __setstate__(self, state):
        self.__init__(state["planes"], state["spec"])

    def cached(self, name: str, make):
        if name not in self.derived:
            self.derived[name] = make()
        return self.derived[name]

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        return self.cached("chunks", lambda: parse_chunks(self.spec, self.planes.shape))

    @property
    def edges(self) -> list[np.ndarray]:
        """Start of every block along each dimension, plus the end (for searchsorted)."""
        return self.cached(
            "edges", lambda: [np.concatenate([[0], np.cumsum(sizes)]) for sizes in self.chunks]
        )


class _BlockGetter:
    """What dask's ``from_array`` slices: every block read goes straight to the planes reader."""

    def __init__(self, planes, backend: str):
        self.planes, self.backend = planes, backend
        self.shape, self.dtype, self.ndim = tuple(planes.shape), planes.dtype, 5

    def __getitem__(self, key):
        ranges = [range(*k.indices(n)) for k, n in zip(key, self.shape)]
        f, t, z, y, x = ranges
        return self.planes.read(
            np.arange(f.start, f.stop),
            np.arange(t.start, t.stop),
            np.arange(z.start, z.stop),
            (y.start, y.stop),
            (x.start, x.stop),
            self.backend,
        )


class Stack:
    """A ScanImage acquisition (or any TIFF) as a lazy ``(field, time, z, y, x)`` array.

    Created by :func:`si_explorer.open`. Eager indexing (``stack[f, t, z]``) and
    :meth:`timeseries` read only the bytes they need, without dask; :attr:`data` is the
    same pixels as a dask array with the stack's chunk scheme.

    >>> import si_explorer                                     # doctest: +SKIP
    >>> with si_explorer.open("rec_00001_00001.tif") as stack:  # doctest: +SKIP
    ...     plane = stack[0, 10, 3]          # (y, x) numpy array
    ...     trace = stack.timeseries(100, 200, z=3)
    """

    dims = DIMS
    #: Indexing reads in the calling thread (see MappedStack, whose reads go through dask).
    reads_in_parallel = False

    def __init__(
        self,
        planes,
        *,
        metadata=None,
        channels=(1,),
        channel=0,
        chunks="page",
        backend="auto",
        warnings=(),
    ):
        self._state = _State(planes, chunk_spec(chunks, tuple(int(n) for n in planes.shape)))
        self._metadata = metadata
        self.channels = list(channels)
        self.channel = channel
        self.chunk_scheme = chunks
        self._requested_backend = backend
        self.backend = self._resolve_backend(backend)
        self.warnings = tuple(warnings)

    def _resolve_backend(self, backend: str) -> str:
        if backend == "auto":
            return "pread" if self._planes.raw else "tifffile"
        if backend not in BACKENDS:
            raise SIExplorerError(
                None, f"backend {backend!r}: choose one of auto, {', '.join(BACKENDS)}"
            )
        if backend != "tifffile" and not self._planes.raw:
            raise SIExplorerError(
                self.paths[0],
                f"backend {backend!r} reads uncompressed strips directly, but this file's pages "
                "are compressed, tiled or not plain pages; use backend='tifffile' (or 'auto')",
            )
        return backend

    # ------------------------------------------------------------------ description

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return tuple(int(n) for n in self._planes.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._planes.dtype

    ndim = 5

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def field_shapes(self) -> list[tuple[int, int]]:
        """True (height, width) of each field; planes are zero-padded to the largest."""
        return self._planes.field_shapes()

    @property
    def _planes(self):
        return self._state.planes

    @property
    def chunks(self) -> tuple[tuple[int, ...], ...]:
        """Dask-style chunks: per dimension, the sizes of its blocks."""
        return self._state.chunks

    @property
    def layout(self):
        """The :class:`~si_explorer.Layout` that maps pages to (field, time, z), if paged."""
        return self._planes.layout

    @property
    def paths(self) -> list[str]:
        return self._planes.paths

    def files(self) -> list:
        """One :class:`~si_explorer.read.planes.FileFacts` per file: its pages and how its page
        index was built (what ``si-explorer info`` prints)."""
        return self._planes.files()

    @property
    def name(self) -> str:
        import os

        first = os.path.basename(self.paths[0])
        return first if len(self.paths) == 1 else f"{first} (+{len(self.paths) - 1} files)"

    @property
    def bidi_offset(self) -> np.ndarray | None:
        """``(field, z)`` float array: how far the odd page rows were displaced toward +x
        relative to the even rows, in pixels, as corrected in every read (for ``bidi="auto-x"``
        each curve's mean); None when the pixels are served raw (``bidi=None``).

        Corrected pixels are float32 (a subpixel shift is not an integer); raw ones keep the
        page dtype.
        """
        return self._planes.bidi_offset

    @property
    def plane_source(self):
        """The :class:`~si_explorer.read.planes.PlaneSource` this stack reads through (replaced,
        never changed, when the stack grows or another channel is chosen)."""
        return self._planes

    @property
    def metadata(self):
        """ScanImage metadata (see :class:`si_explorer.metadata.StackMetadata`), or None."""
        return self._metadata

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return (
            f"<si_explorer.Stack {self.name} ({dims}) {self.dtype} "
            f"channel {self.channel} of {len(self.channels)}, chunks={self.chunk_scheme!r}, "
            f"backend={self.backend!r}>"
        )

    # ------------------------------------------------------------------ options

    def with_options(self, *, channel=None, chunks=None, backend=None, bidi=KEEP) -> Stack:
        """A stack over the same files with another channel, chunk scheme, backend or
        bidirectional correction (``bidi`` as for :func:`si_explorer.open`; None for raw).

        Cheap: file indexes and metadata are shared, nothing is re-read (except the sampled
        frames an "auto" estimate averages).

        Args:
            channel: index into ``stack.channels``; None keeps this stack's.
            chunks: ``"page"``, ``"volume"``, ``"frames:k"`` or 5 sizes; None keeps this stack's.
            backend: ``"auto"``, ``"pread"``, ``"mmap"`` or ``"tifffile"``; None keeps it.
            bidi: None (raw pixels), ``"auto"``, ``"auto-x"``, a number or an array of offsets
                per (field, z); left out, keeps this stack's correction.

        Returns:
            A new :class:`Stack`; this one is unchanged.

        Raises:
            SIExplorerError: a channel that does not exist, or a backend that cannot read
                these pages.

        >>> raw = stack.with_options(bidi=None, chunks="volume")   # doctest: +SKIP
        """
        planes = self._planes if bidi is KEEP else self._planes.uncorrected()
        if channel is not None and channel != self.channel:
            planes = planes.with_channel(checked_channel(channel, self.channels, self.paths[0]))
        if bidi is not KEEP and bidi is not None:
            planes = BidiCorrected.build(planes, bidi)
        return Stack(
            planes,
            metadata=self._metadata,
            channels=self.channels,
            channel=self.channel if channel is None else channel,
            chunks=self.chunk_scheme if chunks is None else chunks,
            backend=self._requested_backend if backend is None else backend,
        )

    def rechunk(self, chunks) -> Stack:
        """The same stack with another chunk scheme (see :func:`parse_chunks`)."""
        return self.with_options(chunks=chunks)

    # ------------------------------------------------------------------ dask

    @property
    def data(self):
        """The pixels as a dask array ``(field, time, z, y, x)`` with this stack's chunks."""
        state = self._state
        return state.cached("data", lambda: self._dask_array(state))

    def _dask_array(self, state: _State):
        import dask.array as da
        from dask.base import tokenize

        planes = state.planes
        getter = _BlockGetter(planes, self.backend)
        token = tokenize(
            planes.paths, planes.layout, self.channel, self.backend, state.chunks, planes.mosaic
        )
        return da.from_array(
            getter,
            chunks=state.chunks,
            name=f"si-explorer-{token}",
            asarray=False,
            fancy=False,
            meta=np.empty((0,) * 5, dtype=planes.dtype),
            inline_array=True,
        )

    def __array__(self, dtype=None, copy=None):
        array = self[...]
        return array if dtype is None else array.astype(dtype)

    # ------------------------------------------------------------------ blocks

    def block_of(self, f: int, t: int, z: int) -> tuple[int, int, int, int, int]:
        """Index of the chunk (block) that holds plane (f, t, z)."""
        position = [
            int(np.searchsorted(edges, value, side="right")) - 1
            for value, edges in zip((f, t, z), self._state.edges[:3])
        ]
        return (*position, 0, 0)

    def block_bounds(self, block) -> list[tuple[int, int]]:
        """``(start, stop)`` along each of the five dims of chunk ``block``.

        >>> stack.block_bounds(stack.block_of(0, 10, 3))  # doctest: +SKIP
        [(0, 1), (10, 11), (3, 4), (0, 512), (0, 512)]
        """
        bounds = []
        for i, edges in zip(block, self._state.edges):
            if not 0 <= i < len(edges) - 1:
                raise StackIndexError(None, f"block {tuple(block)} is outside the chunk grid")
            bounds.append((int(edges[i]), int(edges[i + 1])))
        return bounds

    def read_block(self, block, *, zero_copy: bool = False) -> np.ndarray:
        """Read one chunk directly (no dask); thread-safe.

        ``zero_copy``: return a read-only view of the file's memory map instead of a copy
        where the chunk is one evenly strided run of pages (plain files, one field, backend
        "auto" or "mmap"); a full pass then reads the page cache directly.
        """
        (f0, f1), (t0, t1), (z0, z1), rows, cols = self.block_bounds(block)
        if zero_copy and f1 - f0 == 1:
            view = self.zero_copy_view(f0, range(t0, t1), range(z0, z1), rows, cols)
            if view is not None:
                return view
        return self._planes.read(
            np.arange(f0, f1), np.arange(t0, t1), np.arange(z0, z1), rows, cols, self.backend
        )

    def zero_copy_view(self, field: int, times: range, zs: range, rows, cols):
        """A read-only ``(1, time, z, y, x)`` view of the memory map holding these pixels, or
        None where the reads may not use the map or the pixels are not one evenly strided run
        of pages (then read a copy)."""
        if not self._mmap_allowed:
            return None
        return self._planes.view(field, times, zs, rows, cols)

    @property
    def _mmap_allowed(self) -> bool:
        """Whether reads that gain from the memory map may use it: the user chose "mmap", or
        left the choice to us ("auto") on a file of plain uncompressed pages."""
        return self.backend == "mmap" or (self._requested_backend == "auto" and self._planes.raw)

    def block_nbytes(self, block) -> int:
        return math.prod(b - a for a, b in self.block_bounds(block)) * self.dtype.itemsize

    # ------------------------------------------------------------------ eager reads

    def __getitem__(self, key) -> np.ndarray:
        """Numpy-style indexing over the five dimensions, read eagerly and directly."""
        if type(key) is tuple and len(key) == 3 and all(type(k) is int for k in key):
            # stack[f, t, z], the explorer's and most users' access: no index arrays.
            f, t, z = (k + n if k < 0 else k for k, n in zip(key, self.shape))
            if all(0 <= k < n for k, n in zip((f, t, z), self.shape)):
                return self._planes.read_plane(f, t, z, self.backend)
        picks, rect, post, squeeze = self._normalise_key(key)
        out = self._planes.read(*picks, *rect, self.backend)
        out = out[post]
        return (
            out.reshape([n for n, s in zip(out.shape, squeeze) if not s]) if any(squeeze) else out
        )

    def _normalise_key(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (5 - len(key) + 1) + key[i + 1 :]
        if len(key) > 5:
            raise StackIndexError(None, f"too many indices ({len(key)}) for dims {self.dims}")
        key = key + (slice(None),) * (5 - len(key))
        picks, rect, post, squeeze = [], [], [], []
        for dim, (k, n) in enumerate(zip(key, self.shape)):
            if isinstance(k, slice):
                r = range(*k.indices(n))
                squeeze.append(False)
                if dim < 3:
                    picks.append(np.arange(r.start, r.stop, r.step, dtype=np.int64))
                    post.append(slice(None))
                elif r.step == 1 or not len(r):
                    rect.append((r.start, r.stop) if len(r) else (0, 0))
                    post.append(slice(None))
                else:
                    # Read the covering rows once, then pick every step-th (any sign).
                    lo = min(r[0], r[-1])
                    rect.append((lo, max(r[0], r[-1]) + 1))
                    post.append(np.asarray(r, dtype=np.int64) - lo)
                continue
            try:
                i = operator.index(k)
                scalar = True
                values = np.array([i], dtype=np.int64)
            except TypeError:
                scalar = False
                values = np.asarray(k)
                if values.dtype == bool:
                    values = np.flatnonzero(values)
                if values.dtype.kind not in "iu" or values.ndim != 1:
                    raise StackIndexError(
                        None, f"index {k!r} for {DIMS[dim]}: use ints, slices or 1-D integer arrays"
                    ) from None
                values = values.astype(np.int64)
            if ((values < -n) | (values >= n)).any():
                raise StackIndexError(
                    None, f"index {k!r} is out of range for {DIMS[dim]} of size {n}"
                )
            values = np.where(values < 0, values + n, values)
            squeeze.append(scalar)
            if dim < 3:
                picks.append(values)
                post.append(slice(None))
            else:
                lo = int(values.min()) if len(values) else 0
                hi = int(values.max()) + 1 if len(values) else 0
                rect.append((lo, hi))
                post.append(values - lo)
        # Two array indices in y and x must not broadcast together like numpy's: index them
        # one after the other (orthogonal indexing, as dask and zarr do).
        post_t = tuple(post)
        if isinstance(post[3], np.ndarray) and isinstance(post[4], np.ndarray):
            post_t = (slice(None),) * 3 + (post[3][:, None], post[4][None, :])
        return picks, rect, post_t, squeeze

    # ------------------------------------------------------------------ traces

    def iter_timeseries(
        self, y=None, x=None, *, roi=None, field=0, z=0, t=slice(None), block=None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(time_indices, values)`` blocks of a pixel or ROI-mean trace, in time order.

        This is what fills a plot progressively; :meth:`timeseries` joins the blocks.
        """
        rows, cols = self._trace_region(y, x, roi, field)
        _, n_t, n_z, _, _ = self.shape
        if not 0 <= z < n_z:
            raise StackIndexError(None, f"z {z} is out of range for {n_z} planes")
        times = np.arange(n_t, dtype=np.int64)[t]
        npix = (rows[1] - rows[0]) * (cols[1] - cols[0])
        if block is None:
            # About 32 MB of pixels per read keeps memory flat for huge ROIs and still amortises
            # the per-read overhead for single pixels.
            block = max(256, (1 << 24) // max(npix, 1))
        backend = "mmap" if self._mmap_allowed else self.backend
        for start in range(0, len(times), block):
            part = times[start : start + block]
            pixels = self._planes.read([field], part, [z], rows, cols, backend)
            pixels = pixels.reshape(len(part), -1)
            values = pixels[:, 0] if npix == 1 and roi is None else pixels.mean(axis=1)
            yield part, values

    def timeseries(
        self, y=None, x=None, *, roi=None, field=0, z=0, t=slice(None), progress=None
    ) -> np.ndarray:
        """A pixel's values over time, or the mean of a ROI ``(y0, y1, x0, x1)`` over time.

        Reads only the pixel (or the ROI's rows) of each page, never whole planes.

        Args:
            y, x: the pixel (row, column) within the field; give these or ``roi``.
            roi: ``(y0, y1, x0, x1)``, half-open bounds of a rectangle whose mean is taken.
            field: the field (multi-ROI) index.
            z: the plane.
            t: the time points, a slice or an index array (all by default).
            progress: show a progress bar (None: only beyond 200,000 time points).

        Returns:
            A 1-D numpy array, one value per time point: the stack's dtype for a pixel,
            float64 for a ROI mean.

        Raises:
            StackIndexError: a pixel, ROI, field or plane outside the stack.

        >>> stack.timeseries(100, 200, field=0, z=3)          # doctest: +SKIP
        >>> stack.timeseries(roi=(90, 110, 190, 210), z=3)    # doctest: +SKIP
        """
        blocks = self.iter_timeseries(y, x, roi=roi, field=field, z=z, t=t)
        n = (
            len(range(*t.indices(self.shape[1])))
            if isinstance(t, slice)
            else len(np.arange(self.shape[1])[t])
        )
        if progress or (progress is None and n > 200_000):
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc="trace", unit="frame")
            parts = []
            for times, values in blocks:
                parts.append(values)
                bar.update(len(times))
            bar.close()
        else:
            parts = [values for _, values in blocks]
        if not parts:
            return np.empty(0, dtype=self.dtype if roi is None else np.float64)
        return np.concatenate(parts)

    def _trace_region(self, y, x, roi, field):
        n_f = self.shape[0]
        if not 0 <= field < n_f:
            raise StackIndexError(None, f"field {field} is out of range for {n_f} fields")
        height, width = self.field_shapes[field]
        if roi is not None:
            if y is not None or x is not None:
                raise StackIndexError(None, "give either a pixel (y, x) or roi=(y0, y1, x0, x1)")
            try:
                y0, y1, x0, x1 = (operator.index(v) for v in roi)
            except (TypeError, ValueError):
                raise StackIndexError(
                    None, f"roi {roi!r}: expected four ints (y0, y1, x0, x1)"
                ) from None
            if not (0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width):
                raise StackIndexError(
                    None, f"roi {roi!r} is empty or outside field {field} of size {height}x{width}"
                )
            return (y0, y1), (x0, x1)
        if y is None or x is None:
            raise StackIndexError(None, "timeseries needs a pixel (y, x) or roi=(y0, y1, x0, x1)")
        y, x = operator.index(y), operator.index(x)
        if not (0 <= y < height and 0 <= x < width):
            raise StackIndexError(
                None, f"pixel ({y}, {x}) is outside field {field} of size {height}x{width}"
            )
        return (y, y + 1), (x, x + 1)

    # ------------------------------------------------------------------ time and xarray

    @property
    def time_seconds(self) -> np.ndarray | None:
        """Nominal acquisition time of each time point in seconds, or None when unknown."""
        md = self._metadata
        return None if md is None else md.time_seconds(self.shape[1])

    def timeline(self, progress=None):
        """Every frame header as an :class:`xarray.Dataset` with dims ``("time", "z")``.

        Variables: ``frame_number``, ``timestamp`` (s, ``frameTimestamps_sec``),
        ``acquisition_number``, ``frame_number_acquisition``, ``end_of_acquisition``,
        ``acq_trigger_timestamp``, ``next_file_marker_timestamp`` and ``header_ok`` per plane
        of this channel (Light Beads: each beam's own page; multi-ROI fields share their
        page's header); ``aux_trigger0`` .. ``aux_trigger3`` ``(time, event)``: each time
        point's trigger times, NaN-padded; ``i2c_data`` ``(time,)``: the I2CData text.
        ``attrs["dropped_frames"]`` lists frame numbers missing from the sequence (across the
        files of an acquisition; flyback frames are not dropped), and the measured and
        configured frame rates, the time span and the epoch are attrs too.

        Reads only the description bytes of each frame (one gather where the page stride is
        constant) and caches the result with the stack. Raises :class:`SIExplorerError` for
        files without frame headers (ScanImage 3.x, other TIFFs); headers that cannot be read
        give NaN / -1 and a :class:`~si_explorer.errors.FrameHeaderWarning` naming the first
        such page.

        >>> tl = stack.timeline()                               # doctest: +SKIP
        >>> tl.timestamp.sel(z=0).values[:3], tl.attrs["dropped_frames"]  # doctest: +SKIP
        """
        return self._state.cached("timeline", lambda: timeline.build(self, progress=progress))

    def to_xarray(self):
        """A dask-backed :class:`xarray.DataArray` with named dims and coordinates.

        Time is in seconds: each time point's first plane's ``frameTimestamps_sec`` where the
        frame headers have them (ScanImage 2016+, see :meth:`timeline`), else the nominal frame
        period; ``attrs["time_source"]`` says which. y/x are in micrometres where the metadata
        says so; otherwise indices. Displays in napari as it is.
        """
        import xarray as xr

        f, t, z, y, x = self.shape
        coords = {"field": np.arange(f), "z": np.arange(z)}
        seconds, source = self._measured_times()
        if seconds is None:
            seconds = self.time_seconds
            source = "nominal frame period (1 / frame rate)" if seconds is not None else "index"
        coords["time"] = (
            xr.Variable("time", seconds, {"units": "s"}) if seconds is not None else np.arange(t)
        )
        pixel = None if self._metadata is None else self._metadata.pixel_size_um
        for dim, n, size in (("y", y, pixel and pixel[0]), ("x", x, pixel and pixel[1])):
            coords[dim] = (
                xr.Variable(dim, np.arange(n) * size, {"units": "µm"}) if size else np.arange(n)
            )
        attrs = {"source": self.paths[0], "channel": self.channel, "time_source": source}
        return xr.DataArray(self.data, dims=self.dims, coords=coords, attrs=attrs, name=self.name)

    def _measured_times(self) -> tuple[np.ndarray | None, str | None]:
        """Each time point's timestamp from the frame headers, when every one was read."""
        if self._metadata is None or self._metadata.flavor != "scanimage":
            return None, None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FrameHeaderWarning)  # then the nominal times
            stamps = self.timeline().timestamp.values[:, 0]
        if not np.isfinite(stamps).all():
            return None, None
        return stamps, "frameTimestamps_sec"

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the files (a later read reopens them)."""
        self._planes.close()

    def refresh(self) -> int:
        """Pick up the complete time points appended to the last file since it was opened (a
        recording still being acquired); returns how many are new (0 when none are).

        Stacks and dask arrays made before keep their shape and keep working.

        Returns:
            The number of time points added.

        >>> stack.refresh()      # doctest: +SKIP
        """
        grown = self._planes.grown()
        if grown is None:
            return 0
        added = grown.shape[1] - self.shape[1]
        if self._metadata is not None:
            # A new object: stacks made by with_options share the old one.
            self._metadata = self._metadata.for_planes(grown)
        shape = tuple(int(n) for n in grown.shape)
        self._state = _State(grown, chunk_spec(self.chunk_scheme, shape))
        return int(added)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ lazy operations, export

    def map(self, func, *, dtype=None):
        """``func`` applied lazily to each chunk: a :class:`~si_explorer.ops.MappedStack`.

        ``func`` gets 5-D numpy blocks of this stack's chunk scheme and must keep their shape
        (see :func:`si_explorer.ops.map_stack`).

        >>> scaled = stack.map(lambda block: block * 0.5, dtype="float32")   # doctest: +SKIP
        >>> scaled[0, 10, 3]                   # reads and maps one chunk     # doctest: +SKIP
        """
        return ops.map_stack(self, func, dtype=dtype)

    def project(self, stat="max", axis="time", *, progress=None, chunks=None):
        """Reduce ``axis`` with "max", "min", "mean", "std" or "correlation" (the local
        correlation image, over time only), or a tuple of them, in one pass
        through dask.

        Returns numpy without the reduced dims (a tuple for a tuple of stats); see
        :func:`si_explorer.ops.project`.

        Args:
            stat: ``"max"``, ``"min"``, ``"mean"``, ``"std"`` or ``"correlation"``, or a tuple
                of them (computed in the same pass over the file).
            axis: a dim name (``"time"``, ``"z"``...) or a tuple of them.
            progress: show a progress bar (None: only when the pass takes long).
            chunks: read blocks for the pass (None: whole volumes, up to about 32 MB).

        Returns:
            A numpy array (the stack's dtype for ``"max"`` and ``"min"``, float64 otherwise),
            or a tuple of them.

        >>> stack.project("max").shape                    # (field, z, y, x)  # doctest: +SKIP
        >>> mean, mip = stack.project(("mean", "max"), progress=True)         # doctest: +SKIP
        >>> std, corr = stack.project(("std", "correlation"))  # summary images  # doctest: +SKIP
        """
        return ops.project(self, stat, axis, progress=progress, chunks=chunks)

    def to_references(self, path) -> dict:
        """Write kerchunk references (JSON, "version 1") presenting this stack's raw pages as
        Virtual Zarr (see :mod:`si_explorer.references`); returns them.

        Args:
            path: the JSON file to write.

        Returns:
            The references as a dict (``"version": 1``, ``"refs"``).

        Raises:
            LayoutError: a mosaic, a bidirectional correction, or compressed or tiled pages,
                which no byte range can express.

        >>> stack.to_references("rec.json")                                  # doctest: +SKIP
        >>> m = fsspec.get_mapper("reference://", fo="rec.json")             # doctest: +SKIP
        >>> zarr.open(m, mode="r")["data"][0, 5, 0]                          # doctest: +SKIP
        """
        from . import references

        return references.to_references(self._planes, path)

    def to_zarr(
        self,
        path,
        *,
        selection=None,
        chunks=None,
        shard_mb=32,
        compress=True,
        overwrite=False,
        progress=None,
    ):
        """Write a selection to OME-Zarr 0.5 (see :func:`si_explorer.export.to_zarr`).

        Block by block, never the whole selection in memory; the source is never written to.

        Args:
            path: the ``.ome.zarr`` folder to write.
            selection: ints and slices over ``(field, time, z, y, x)``; None for everything.
            chunks: Zarr chunk sizes by dim name (``{"time": 8}``); missing dims default to
                one plane per chunk.
            shard_mb: group chunks into shards (files) of about this many MB; None or 0
                writes one file per chunk.
            compress: compress the chunks.
            overwrite: replace an existing target.
            progress: show a progress bar (None: only when it takes long).

        Returns:
            The path of the written store.

        Raises:
            TargetExistsError: the target exists and ``overwrite`` is False.
            SourceOverwriteError: the target is (or contains) a source file.
            StackIndexError: a selection outside the stack.

        >>> stack.to_zarr("part.ome.zarr", selection=(0, slice(0, 100)))     # doctest: +SKIP
        """
        return export.to_zarr(
            self,
            path,
            selection=selection,
            chunks=chunks,
            shard_mb=shard_mb,
            compress=compress,
            overwrite=overwrite,
            progress=progress,
        )

    def to_tiff(self, path, *, selection=None, overwrite=False, progress=None, bigtiff=None):
        """Write a selection to an OME-TIFF (see :func:`si_explorer.export.to_tiff`).

        Args:
            path: the ``.ome.tif`` file to write.
            selection: ints and slices over ``(field, time, z, y, x)``; None for everything.
            overwrite: replace an existing target.
            progress: show a progress bar (None: only when it takes long).
            bigtiff: write a BigTIFF (None: when the data needs it).

        Returns:
            The path of the written file.

        Raises:
            TargetExistsError: the target exists and ``overwrite`` is False.
            SourceOverwriteError: the target is the source file.
            StackIndexError: a selection outside the stack.

        >>> stack.to_tiff("part.ome.tif", selection=(0, slice(0, 100)))      # doctest: +SKIP
        """
        return export.to_tiff(
            self,
            path,
            selection=selection,
            overwrite=overwrite,
            progress=progress,
            bigtiff=bigtiff,
        )


def checked_channel(channel: int, channels: list, path: str) -> int:
    """``channel`` when it indexes ``channels``, else a clear error naming the file."""
    if not 0 <= channel < len(channels):
        raise SIExplorerError(
            path,
            f"channel {channel} does not exist: saved channels are {channels} "
            f"(give channel=0..{len(channels) - 1})",
        )
    return channel
