"""Write a stack, or any selection of it, to OME-Zarr (zarr v3) or TIFF, block by block.

Nothing here holds a whole selection in memory: pixels are read in blocks of about 32 MB, written
and dropped, with a progress bar for long exports. The source files are only ever read (the
readers open them read-only), and an export refuses, even with ``overwrite=True``, any target
that is one of the stack's source files (same resolved path, or :func:`os.path.samefile`, which
also catches hard links) or, for a Zarr directory that would be replaced, contains one.

- :func:`to_zarr`: an OME-Zarr 0.5 image (zarr v3): one array ``0`` with dims
  ``(time, field, z, y, x)``, OME ``multiscales`` axes with units, scales and translations from
  ``stack.to_xarray()`` coordinates where they are known.
- :func:`to_tiff`: an OME-TIFF, one OME Image (TZYX) per field, BigTIFF when it can pass 4 GB.
- :class:`TiffAppender`: a new TIFF that planes are appended to, each written to disk at once.

Why ``(time, field, z, y, x)`` and not the stack's ``(field, time, z, y, x)``: OME-NGFF 0.5
requires the time axis first, then at most one channel or custom axis, then the space axes. The
field axis is that custom axis; it has no ``type`` (the spec's "null / custom type"), which the
spec and the common validators and readers accept at that position.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
import shutil
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .chunking import DIMS
from .errors import SIExplorerError, StackIndexError

#: Dims of an exported Zarr array (OME-NGFF orders axes time, custom, space).
OUTPUT_DIMS = ("time", "field", "z", "y", "x")
#: Stack dim of each output dim.
_TO_OUTPUT = tuple(DIMS.index(d) for d in OUTPUT_DIMS)

#: Bytes read and written per block. Big enough that per-block overhead vanishes, small enough
#: that the few blocks in flight never matter for memory.
BLOCK_BYTES = 32 << 20

#: Largest file tifffile writes as classic TIFF (its own threshold: 4 GB less 32 MB of room for
#: IFDs and metadata).
CLASSIC_TIFF_LIMIT = 2**32 - 2**25
#: Last byte a classic TIFF can address (32-bit offsets).
CLASSIC_TIFF_MAX = 2**32 - 1

# Units of to_xarray() coordinates -> OME-NGFF (UDUNITS-2) unit names.
_OME_UNITS = {
    "s": "second",
    "ms": "millisecond",
    "µm": "micrometer",
    "um": "micrometer",
    "nm": "nanometer",
    "mm": "millimeter",
}


class TargetExistsError(SIExplorerError, FileExistsError):
    """The export target exists and ``overwrite`` was not given."""


class SourceOverwriteError(SIExplorerError, PermissionError):
    """The export target is (or contains) a source file of the stack: refused, always."""


# ---------------------------------------------------------------------- selections


def normalize_selection(selection, shape) -> tuple[range, ...]:
    """Five ranges ``(field, time, z, y, x)`` of stack indices for an export selection.

    ``selection`` is None (everything) or a tuple of up to five ints and slices, in the stack's
    dim order; an Ellipsis stands for the dims it skips. An int keeps its dim with length 1, so
    every export has the five named dims. Steps must be positive.

    >>> normalize_selection((0, slice(0, 100, 2)), (2, 500, 3, 64, 64))
    (range(0, 1), range(0, 100, 2), range(0, 3), range(0, 64), range(0, 64))
    >>> normalize_selection((..., slice(8, 24)), (1, 5, 3, 64, 64))[-1]
    range(8, 24)
    """
    if selection is None:
        selection = ()
    elif not isinstance(selection, tuple):
        selection = (selection,)
    if sum(item is Ellipsis for item in selection) > 1:
        raise StackIndexError(None, "a selection can hold only one Ellipsis (...)")
    if Ellipsis in selection:
        i = selection.index(Ellipsis)
        missing = 5 - (len(selection) - 1)
        selection = selection[:i] + (slice(None),) * missing + selection[i + 1 :]
    if len(selection) > 5:
        raise StackIndexError(None, f"selection {selection!r} has more than five entries {DIMS}")
    selection = selection + (slice(None),) * (5 - len(selection))
    ranges = []
    for dim, item, n in zip(DIMS, selection, shape):
        if isinstance(item, slice):
            r = range(*item.indices(n))
            if r.step < 1:
                raise StackIndexError(
                    None, f"selection of {dim}: {item!r} has a negative step; exports keep order"
                )
            ranges.append(r)
            continue
        try:
            i = operator.index(item)
        except TypeError:
            raise StackIndexError(
                None, f"selection of {dim}: {item!r} is not an int or a slice"
            ) from None
        if not -n <= i < n:
            raise StackIndexError(None, f"selection of {dim}: {i} is out of range for size {n}")
        i %= n
        ranges.append(range(i, i + 1))
    return tuple(ranges)


class _Reader:
    """Reads 5-D pieces of a Stack (directly, no dask) or of a MappedStack (through dask):
    both index eagerly to numpy."""

    def __init__(self, source):
        self.source = source
        self.mapped = source.reads_in_parallel

    def read(self, ranges) -> np.ndarray:
        return self.source[tuple(slice(r.start, r.stop, r.step) for r in ranges)]


def _sub(ranges, dim: int, start: int, stop: int) -> tuple[range, ...]:
    out = list(ranges)
    out[dim] = ranges[dim][start:stop]
    return tuple(out)


# ---------------------------------------------------------------------- targets


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_zarr_store(path: Path) -> bool:
    return any((path / name).is_file() for name in ("zarr.json", ".zgroup", ".zarray"))


def prepare_target(path, protect, *, overwrite: bool, kind: str) -> Path:
    """Check an export target and clear it when ``overwrite`` allows; return it as a Path.

    ``protect`` are the source files. A target that is one of them (resolved path or same
    inode) is refused even with ``overwrite``; so is a Zarr target directory that contains
    one, since replacing the directory would delete it. ``kind`` is "tiff" (a file) or "zarr"
    (a directory); an existing directory is only replaced when it is a Zarr store.
    """
    target = Path(os.fspath(path)).expanduser()
    resolved = target.resolve()
    exists = target.exists() or target.is_symlink()
    for source in protect:
        source_path = Path(source)
        if resolved == source_path.resolve() or _same_file(target, source_path):
            raise SourceOverwriteError(
                target,
                f"is a source file of this stack ({source}); exports never write over their "
                "source, even with overwrite=True",
            )
        if exists and kind == "zarr" and source_path.resolve().is_relative_to(resolved):
            raise SourceOverwriteError(
                target,
                f"contains a source file of this stack ({source}); replacing it would delete "
                "the source",
            )
    if not exists:
        return target
    if not overwrite:
        raise TargetExistsError(target, "exists; pass overwrite=True to replace it")
    if target.is_symlink() or target.is_file():
        # Unlinking replaces the name only: another name (hard link) of the old file keeps its
        # bytes, and the new file is created with O_EXCL, never written through a link.
        target.unlink()
    elif target.is_dir():
        if kind != "zarr" or not _is_zarr_store(target):
            raise SIExplorerError(
                target,
                "is a directory"
                + ("" if kind != "zarr" else " that is not a Zarr store")
                + "; overwrite=True only replaces files"
                + (" and Zarr stores" if kind == "zarr" else ""),
            )
        shutil.rmtree(target)
    else:
        raise SIExplorerError(target, "exists and is not a regular file or directory")
    return target


def _create_file(target: Path):
    try:
        # "xb" is O_CREAT | O_EXCL: whatever appeared at the path since the checks (a file, a
        # symlink to a source) makes this fail instead of being written through.
        return open(target, "xb")
    except FileExistsError:
        raise TargetExistsError(target, "appeared while the export was starting") from None
    except OSError as exc:
        raise SIExplorerError(target, f"cannot create: {exc.strerror or exc}") from None


def _progress_bar(progress, total: int, desc: str, unit: str = "B"):
    """tqdm bar: always (True), never (False), or once the work has lasted 2 s (None)."""
    if progress is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit == "B",
        unit_divisor=1024,
        delay=0 if progress else 2.0,
    )


# ---------------------------------------------------------------------- OME-Zarr


def _uniform_spacing(values: np.ndarray) -> float | None:
    if len(values) < 2:
        return None
    steps = np.diff(values)
    step = float(steps[0])
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=0):
        return None
    return step


def ome_axes(source, ranges) -> tuple[list[dict], list[float], list[float], dict]:
    """OME-NGFF axes, scale and translation of an export, plus exact coordinates that a scale
    cannot express (non-uniform time), keyed by dim.

    Dims whose ``to_xarray()`` coordinate has a unit and a uniform spacing get that unit, the
    spacing times the selection's step, and the physical position of the first selected index;
    the others are in index units (scale = step, translation = first index).
    """
    coords = source.to_xarray().coords
    axes, scale, translation, exact = [], [], [], {}
    for dim in OUTPUT_DIMS:
        r = ranges[DIMS.index(dim)]
        axis = {"name": dim}
        if dim == "time":
            axis["type"] = "time"
        elif dim != "field":
            axis["type"] = "space"
        coord = coords[dim]
        values = np.asarray(coord.values, dtype=np.float64)
        unit = _OME_UNITS.get(coord.attrs.get("units"))
        spacing = _uniform_spacing(values)
        if unit and spacing is not None:
            axis["unit"] = unit
            scale.append(spacing * r.step)
            translation.append(float(values[r.start]) if len(r) else 0.0)
        else:
            scale.append(float(r.step))
            translation.append(float(r.start))
            if unit and len(r):
                exact[dim] = {"unit": unit, "values": values[r.start : r.stop : r.step].tolist()}
        axes.append(axis)
    return axes, scale, translation, exact


def _zarr_chunks(chunks, out_shape) -> tuple[int, ...]:
    # Default: one plane per chunk, so a viewer decodes exactly the plane it shows.
    sizes = {"time": 1, "field": 1, "z": 1, "y": out_shape[3], "x": out_shape[4]}
    if chunks is not None:
        if not isinstance(chunks, dict) or not set(chunks) <= set(OUTPUT_DIMS):
            raise SIExplorerError(
                None, f"chunks {chunks!r}: give a dict of sizes by dim name, e.g. {{'time': 16}}"
            )
        for dim, value in chunks.items():
            try:
                value = operator.index(value)
            except TypeError:
                value = 0
            if value < 1:
                raise SIExplorerError(None, f"chunks[{dim!r}] must be an int >= 1")
            sizes[dim] = value
    return tuple(max(1, min(sizes[d], n)) for d, n in zip(OUTPUT_DIMS, out_shape))


def _block_shape(chunk, out_shape, itemsize: int, target: int) -> tuple[int, ...]:
    """Chunk-aligned write blocks (output order): whole planes and volumes, ~target bytes."""
    ct, cf, cz, cy, cx = chunk
    _, _, nz, ny, nx = out_shape
    ry, rx = math.ceil(ny / cy) * cy, math.ceil(nx / cx) * cx
    rz = math.ceil(nz / cz) * cz
    volume = ct * cf * rz * ry * rx * itemsize
    if volume > target:
        slab = ct * cf * cz * ry * rx * itemsize
        return (ct, cf, cz * max(1, target // slab), ry, rx)
    rt = math.ceil(out_shape[0] / ct) * ct
    return (min(rt, ct * max(1, target // volume)), cf, rz, ry, rx)


def _block_starts(out_shape, block):
    return itertools.product(*(range(0, max(n, 1), b) for n, b in zip(out_shape, block)))


def to_zarr(
    source,
    path,
    *,
    selection=None,
    chunks: dict | None = None,
    shard_mb: float | None = 32,
    compress: bool = True,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Write ``selection`` of a stack to an OME-Zarr 0.5 image (zarr v3) at ``path``.

    The image is a group with OME ``multiscales`` metadata and one array ``"0"`` of dims
    ``(time, field, z, y, x)`` (OME-NGFF puts time first; ``field`` is a custom axis). Axes
    carry units where ``stack.to_xarray()`` has them: time in seconds, y and x in micrometres;
    scale is the coordinate spacing times the selection's step, translation the position of the
    first selected index. Time that is not uniformly spaced (several frames per slice) is kept
    exactly under the group attribute ``si_explorer.coordinates``.

    Parameters
    ----------
    selection : tuple of ints and slices over ``(field, time, z, y, x)``, or None for all
        ``(0, slice(0, 100))`` is field 0, time points 0-99, every plane. Ints keep their dim.
    chunks : dict of sizes by dim name, or None
        Zarr chunk shape; missing dims default to one plane per chunk (time, field and z 1).
    shard_mb : float or None
        Group chunks into shards (zarr v3 sharding) of about this many MB, so an export of
        10^5 planes is a few hundred files, not 10^5. None or 0 writes one file per chunk.
    compress : bool
        zstd (zarr's default codec); False stores raw chunks.
    overwrite : bool
        Replace an existing file or Zarr store at ``path``. A directory that is not a Zarr
        store, or that holds a source file, is never replaced.
    progress : bool or None
        True always shows a bar, False never, None once the export has lasted 2 s.

    Returns the path of the store.

    >>> import tempfile, pathlib, zarr, si_explorer
    >>> from si_explorer.synthetic import Acquisition, write_acquisition
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = pathlib.Path(tmp)
    ...     files = write_acquisition(folder / "z_00001_00001.tif", Acquisition(volumes=8))
    ...     with si_explorer.open(files.paths[0]) as stack:
    ...         store = stack.to_zarr(folder / "part.ome.zarr", selection=(0, slice(2, 6)))
    ...         image = zarr.open_group(store, mode="r")
    ...         axes = [a["name"] for a in image.attrs["ome"]["multiscales"][0]["axes"]]
    ...         same = bool((image["0"][1, 0, 0] == stack[0, 3, 0]).all())
    ...         print(image["0"].shape, axes, same)
    (4, 1, 1, 128, 128) ['time', 'field', 'z', 'y', 'x'] True
    """
    import zarr

    reader = _Reader(source)
    ranges = normalize_selection(selection, source.shape)
    out_shape = tuple(len(ranges[d]) for d in _TO_OUTPUT)
    dtype = np.dtype(source.dtype)
    chunk = _zarr_chunks(chunks, out_shape)
    target_bytes = int(shard_mb * 2**20) if shard_mb else BLOCK_BYTES
    block = _block_shape(chunk, out_shape, dtype.itemsize, target_bytes)
    axes, scale, translation, exact = ome_axes(source, ranges)
    name = getattr(source, "name", "si-explorer export")
    attributes = {
        "ome": {
            "version": "0.5",
            "multiscales": [
                {
                    "name": name,
                    "axes": axes,
                    "datasets": [
                        {
                            "path": "0",
                            "coordinateTransformations": [
                                {"type": "scale", "scale": scale},
                                {"type": "translation", "translation": translation},
                            ],
                        }
                    ],
                }
            ],
        },
        "si_explorer": {
            "sources": [str(p) for p in source.paths],
            "selection": {d: [r.start, r.stop, r.step] for d, r in zip(DIMS, ranges)},
            "channel": getattr(getattr(source, "stack", source), "channel", None),
            "coordinates": exact,
        },
    }
    target = prepare_target(path, source.paths, overwrite=overwrite, kind="zarr")
    try:
        group = zarr.create_group(store=str(target), zarr_format=3, attributes=attributes)
        array = group.create_array(
            "0",
            shape=out_shape,
            dtype=dtype,
            chunks=chunk,
            shards=block if shard_mb else None,
            compressors="auto" if compress else None,
            fill_value=0,
            dimension_names=OUTPUT_DIMS,
        )
        if math.prod(out_shape):
            _write_blocks(reader, array, ranges, out_shape, block, dtype, progress, target.name)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _write_blocks(reader, array, ranges, out_shape, block, dtype, progress, desc) -> None:
    starts = list(_block_starts(out_shape, block))
    bar = _progress_bar(progress, math.prod(out_shape) * dtype.itemsize, desc)

    def one(start):
        stops = [min(s + b, n) for s, b, n in zip(start, block, out_shape)]
        picked = list(ranges)
        for out_dim, stack_dim in enumerate(_TO_OUTPUT):
            picked[stack_dim] = ranges[stack_dim][start[out_dim] : stops[out_dim]]
        pixels = reader.read(picked).transpose(_TO_OUTPUT)
        array[tuple(slice(s, e) for s, e in zip(start, stops))] = pixels
        return pixels.nbytes

    # Blocks are whole shards, so concurrent writes never touch the same file. Reads are
    # thread-safe positioned reads; a mapped stack already computes in parallel inside dask.
    workers = 2 if reader.mapped else min(4, os.cpu_count() or 1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending = deque()
            for start in starts:
                pending.append(pool.submit(one, start))
                # A bounded window keeps memory at a few blocks however long the export is.
                if len(pending) >= 2 * workers:
                    done = pending.popleft().result()
                    if bar is not None:
                        bar.update(done)
            while pending:
                done = pending.popleft().result()
                if bar is not None:
                    bar.update(done)
    finally:
        if bar is not None:
            bar.close()


# ---------------------------------------------------------------------- TIFF


class TiffAppender:
    """A new TIFF file that planes are appended to, each written to disk when appended.

    The first plane sets the page shape and dtype; later planes must match. Every
    :meth:`append` writes the pages and flushes them to the operating system, so a crash leaves a
    valid TIFF of the planes appended so far (plain pages, no metadata that would have to be
    fixed up at the end; tifffile reads them as one ``(n, y, x)`` series).

    The file must be new: an existing path is refused unless ``overwrite=True``, and a path in
    ``protect`` (pass ``stack.paths``) is refused always, compared by resolved path and by
    :func:`os.path.samefile`. The file is created with O_EXCL, never opened for appending.

    BigTIFF by default: when the first plane is written nobody knows how many will follow, and a
    classic TIFF cannot grow past 4 GB. Every current reader (tifffile, Fiji/ImageJ, napari,
    ScanImage's own) reads BigTIFF; ``bigtiff=False`` writes a classic TIFF for old software and
    refuses the plane that would take it past 4 GB.

    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "planes.tif"
    ...     with TiffAppender(path) as out:
    ...         out.append(np.zeros((4, 5), np.uint16))
    ...         out.append(np.ones((2, 4, 5), np.uint16))    # a stack appends each plane
    ...     print(out.n_planes, tifffile.imread(path).shape)
    3 (3, 4, 5)
    """

    def __init__(
        self,
        path,
        *,
        overwrite: bool = False,
        bigtiff: bool = True,
        protect=(),
    ):
        import tifffile

        self.bigtiff = bool(bigtiff)
        self.path = prepare_target(path, list(protect), overwrite=overwrite, kind="tiff")
        self._fh = _create_file(self.path)
        try:
            # shaped=False: no JSON shape description, which tifffile would rewrite at close.
            self._writer = tifffile.TiffWriter(self._fh, bigtiff=self.bigtiff, shaped=False)
        except BaseException:
            self._fh.close()
            raise
        self.page_shape: tuple[int, int] | None = None
        self.dtype: np.dtype | None = None
        self.n_planes = 0

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_planes, y, x)`` written so far."""
        return (self.n_planes, *(self.page_shape or (0, 0)))

    @property
    def closed(self) -> bool:
        return self._fh.closed

    @property
    def nbytes(self) -> int:
        """Bytes in the file so far."""
        return os.path.getsize(self.path)

    def append(self, planes) -> None:
        """Write one plane ``(y, x)``, or each plane of an ``(..., y, x)`` array, to the file."""
        if self.closed:
            raise SIExplorerError(self.path, "is closed; open a new TiffAppender to write more")
        planes = np.asarray(planes)
        if planes.ndim < 2:
            raise SIExplorerError(
                self.path, f"append takes a (y, x) plane or (..., y, x) planes, not {planes.shape}"
            )
        if self.page_shape is None:
            self.page_shape, self.dtype = planes.shape[-2:], planes.dtype
        elif planes.shape[-2:] != self.page_shape or planes.dtype != self.dtype:
            raise SIExplorerError(
                self.path,
                f"every plane must be {self.page_shape[0]}x{self.page_shape[1]} {self.dtype} like "
                f"the first, not {planes.shape[-2]}x{planes.shape[-1]} {planes.dtype}",
            )
        pages = planes.reshape(-1, *self.page_shape)
        if not self.bigtiff:
            # A few hundred bytes of IFD per page; refuse before a write that could not be
            # addressed with 32-bit offsets rather than leave a corrupt file.
            end = self._fh.tell() + pages.nbytes + 512 * len(pages)
            if end > CLASSIC_TIFF_MAX:
                raise SIExplorerError(
                    self.path,
                    "a classic TIFF cannot grow past 4 GB; create the TiffAppender with "
                    "bigtiff=True (the default)",
                )
        for page in pages:
            self._writer.write(page, photometric="minisblack", metadata=None)
            self.n_planes += 1
        self._fh.flush()

    def close(self) -> None:
        if not self.closed:
            try:
                self._writer.close()
            finally:
                self._fh.close()

    def __enter__(self) -> TiffAppender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        n, y, x = self.shape
        return f"<TiffAppender {self.path} {n} planes of {y}x{x} {self.dtype} ({state})>"


def _plane_blocks(ranges, itemsize: int):
    """Per field, read blocks of whole volumes over consecutive time points (~BLOCK_BYTES)."""
    nz, ny, nx = len(ranges[2]), len(ranges[3]), len(ranges[4])
    volume = nz * ny * nx * itemsize
    for f in range(len(ranges[0])):
        field = _sub(ranges, 0, f, f + 1)
        if volume <= BLOCK_BYTES:
            step = max(1, BLOCK_BYTES // max(volume, 1))
            for t in range(0, len(ranges[1]), step):
                yield f, _sub(field, 1, t, t + step)
        else:
            step = max(1, BLOCK_BYTES // max(ny * nx * itemsize, 1))
            for t in range(len(ranges[1])):
                one = _sub(field, 1, t, t + 1)
                for z in range(0, nz, step):
                    yield f, _sub(one, 2, z, z + step)


def to_tiff(
    source,
    path,
    *,
    selection=None,
    overwrite: bool = False,
    progress: bool | None = None,
    bigtiff: bool | None = None,
) -> Path:
    """Write ``selection`` of a stack to an OME-TIFF at ``path``, one OME Image per field.

    Each field is a ``(T, Z, Y, X)`` image (OME DimensionOrder XYZT) with the pixel size and
    time increment from ``stack.to_xarray()`` where they are known (times the selection's
    step). Planes are read in blocks of whole volumes (about 32 MB, the next block read while
    the current one is written) and streamed to tifffile, never the whole selection at once.

    ``bigtiff``: None decides from the size, known in advance (BigTIFF when the file could pass
    4 GB); True or False forces it (False refuses a selection that cannot fit). ``selection``,
    ``overwrite`` and ``progress`` are as for :func:`to_zarr`; the target must be a file.

    >>> import tempfile, pathlib, tifffile, si_explorer
    >>> from si_explorer.synthetic import Acquisition, write_acquisition
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = pathlib.Path(tmp)
    ...     acq = Acquisition(volumes=8, slices=2)
    ...     files = write_acquisition(folder / "t_00001_00001.tif", acq)
    ...     with si_explorer.open(files.paths[0]) as stack:
    ...         out = stack.to_tiff(folder / "part.ome.tif", selection=(0, slice(0, 4)))
    ...     with tifffile.TiffFile(out) as tif:
    ...         print(tif.series[0].axes, tif.series[0].shape)
    TZYX (4, 2, 128, 128)
    """
    import tifffile

    reader = _Reader(source)
    ranges = normalize_selection(selection, source.shape)
    nf, nt, nz, ny, nx = (len(r) for r in ranges)
    dtype = np.dtype(source.dtype)
    n_planes = nf * nt * nz
    if n_planes == 0 or ny * nx == 0:
        raise SIExplorerError(path, f"the selection is empty (shape {(nf, nt, nz, ny, nx)})")
    pixels = n_planes * ny * nx * dtype.itemsize
    # IFDs (< 300 bytes each) and the OME-XML (a few kB per image) on top of the pixels.
    estimate = pixels + 300 * n_planes + 8192 * nf + 65536
    big = estimate > CLASSIC_TIFF_LIMIT if bigtiff is None else bool(bigtiff)
    if not big and estimate > CLASSIC_TIFF_LIMIT:
        raise SIExplorerError(
            path,
            f"{estimate / 2**30:.1f} GB does not fit a classic TIFF; use bigtiff=None or True",
        )
    metadata = _ome_tiff_metadata(source, ranges)
    target = prepare_target(path, source.paths, overwrite=overwrite, kind="tiff")
    fh = _create_file(target)
    bar = _progress_bar(progress, pixels, target.name)
    try:
        with (
            ThreadPoolExecutor(max_workers=1) as pool,
            tifffile.TiffWriter(fh, bigtiff=big, ome=True) as writer,
        ):
            blocks = _prefetched(pool, reader, _plane_blocks(ranges, dtype.itemsize))
            for f in range(nf):
                writer.write(
                    _planes_of_field(blocks, f, nt * nz, bar),
                    shape=(nt, nz, ny, nx),
                    dtype=dtype,
                    photometric="minisblack",
                    metadata={**metadata, "Name": f"field {ranges[0][f]}"},
                )
        fh.close()
    except BaseException:
        fh.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return target


def _prefetched(pool, reader, blocks):
    """Yield ``(field, pixels)`` per block while the next block is already being read."""
    blocks = iter(blocks)
    ahead = None
    for f, ranges in blocks:
        future = pool.submit(reader.read, ranges)
        if ahead is not None:
            yield ahead[0], ahead[1].result()
        ahead = (f, future)
    if ahead is not None:
        yield ahead[0], ahead[1].result()


def _planes_of_field(blocks, f: int, n: int, bar):
    """The ``n`` planes of field ``f`` (in T, Z order) from the shared block stream."""
    produced = 0
    while produced < n:
        got_f, pixels = next(blocks)
        if got_f != f:
            raise RuntimeError(f"export out of order: block of field {got_f} while writing {f}")
        for plane in pixels.reshape(-1, *pixels.shape[-2:]):
            yield plane
            produced += 1
            if bar is not None:
                bar.update(plane.nbytes)


def _ome_tiff_metadata(source, ranges) -> dict:
    axes, scale, _, _ = ome_axes(source, ranges)
    units = {a["name"]: a.get("unit") for a in axes}
    scale = dict(zip(OUTPUT_DIMS, scale))
    metadata = {"axes": "TZYX"}
    symbols = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm"}
    for dim, key in (("x", "PhysicalSizeX"), ("y", "PhysicalSizeY")):
        if units[dim] in symbols:
            metadata[key] = scale[dim]
            metadata[key + "Unit"] = symbols[units[dim]]
    if units["time"] in ("second", "millisecond"):
        metadata["TimeIncrement"] = scale["time"]
        metadata["TimeIncrementUnit"] = "s" if units["time"] == "second" else "ms"
    return metadata


__all__ = [
    "OUTPUT_DIMS",
    "SourceOverwriteError",
    "TargetExistsError",
    "TiffAppender",
    "normalize_selection",
    "prepare_target",
    "to_tiff",
    "to_zarr",
]
