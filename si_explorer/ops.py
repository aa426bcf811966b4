"""Lazy operations on a stack: a function mapped over its chunks, and projections through dask.

``stack.map(func)`` returns a :class:`MappedStack`: the stack's dims, shape and coordinates with
``func`` applied to each chunk when (and only when) pixels are asked for. It is a lightweight
object rather than a bare dask array so that what works on a stack keeps working on the result:
indexing, ``.map`` again, ``.project``, ``.to_xarray`` with physical coordinates, and export to
OME-Zarr or TIFF (which also keeps refusing to overwrite the source files). ``.data`` is the
dask array for everything else.

``stack.project(stat, axis)`` reduces one or more dims (max, min, mean, std) in a single pass that
reads every chunk once, with a progress bar, on dask's local scheduler or on the
``dask.distributed`` client that is active when it is called.

>>> import si_explorer                                          # doctest: +SKIP
>>> stack = si_explorer.open("rec_00001_00001.tif")             # doctest: +SKIP
>>> dff = stack.map(lambda b: b.astype("float32") - 100)        # doctest: +SKIP
>>> dff[0, 10, 3].shape, dff.dtype                              # doctest: +SKIP
((512, 512), dtype('float32'))
>>> stack.project("max").shape                       # (field, z, y, x)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from . import export, summary
from .chunking import DIMS
from .errors import SIExplorerError

STATS = ("max", "min", "mean", "std", "correlation")

#: Largest block a projection reads per task when it picks its own blocks. Large enough that
#: dask's per-task cost (measured: about a millisecond) is small against the read, small enough
#: that a few blocks per worker thread stay far below any machine's memory.
PROJECTION_BLOCK_BYTES = 32 << 20
#: The same for a pass over zero-copy views of the file, which cost no memory of their own:
#: per-block work (dask's task, the partial results and folding them) is then what larger
#: blocks amortise. Measured on a 1.6 GB LBM file, 2 cores: mean+max at 2.6 GB/s with 32 MB
#: blocks, 3.5 with 64 MB, 4.1 with 128 MB (65% of a sequential read), 4.1 with 256 MB.
ZERO_COPY_BLOCK_BYTES = 128 << 20
#: Smaller stacks are cut into at least this many blocks, so that every core gets work.
PROJECTION_MIN_BLOCKS = 16

#: Projections larger than this show a progress bar on a distributed client when
#: ``progress=None`` (the local scheduler shows one whenever the work lasts over 2 s).
DISTRIBUTED_PROGRESS_BYTES = 1 << 30


class _Checked:
    """``func`` applied to a block, refusing results that would silently misplace pixels.

    dask trusts ``map_blocks`` to keep the block's shape; a function that changes it would
    give an array whose chunks do not match what is computed. A class rather than a closure
    so that it pickles (by reference to ``func``) to dask.distributed workers.
    """

    def __init__(self, func, dtype: np.dtype):
        self.func = func
        self.dtype = dtype

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = np.asarray(self.func(block))
        if out.shape != block.shape:
            raise SIExplorerError(
                None,
                f"map: {_name(self.func)} returned shape {out.shape} for a block of shape "
                f"{block.shape}; a mapped function must keep the block's shape "
                "(reduce with stack.project, or use stack.data with dask directly)",
            )
        return out.astype(self.dtype, copy=False)

    def __dask_tokenize__(self):
        from dask.base import tokenize

        return ("si-explorer-map", tokenize(self.func), str(self.dtype))


def _name(func) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__


def map_stack(source, func, *, dtype=None) -> MappedStack:
    """Apply ``func`` to every chunk of ``source`` lazily (what :meth:`Stack.map` calls).

    ``func`` receives a 5-D numpy block ``(field, time, z, y, x)`` of the stack's chunk scheme
    (one page per block with ``chunks="page"``, one volume with ``"volume"``) and must return an
    array of the same shape. ``dtype`` is the result's dtype; None infers it by calling ``func``
    on a one-pixel array (no file is read), which works for elementwise numpy code.

    Nothing is read until pixels are asked for; ``func`` then runs once per chunk read.

    >>> import tempfile, pathlib, numpy as np, si_explorer
    >>> from si_explorer.synthetic import Acquisition, write_acquisition
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "a_00001_00001.tif"
    ...     files = write_acquisition(path, Acquisition(volumes=4, slices=2))
    ...     with si_explorer.open(path) as stack:
    ...         doubled = stack.map(lambda block: block * np.float32(2))
    ...         same = bool((doubled[0, 3, 1] == 2 * stack[0, 3, 1]).all())
    >>> doubled.dims, doubled.shape, doubled.dtype, same
    (('field', 'time', 'z', 'y', 'x'), (1, 4, 2, 128, 128), dtype('float32'), True)
    """
    if not callable(func):
        raise SIExplorerError(None, f"map needs a callable, not {type(func).__name__}")
    base = source if isinstance(source, MappedStack) else None
    data = source.data
    if dtype is None:
        dtype = _infer_dtype(func, data.dtype)
    dtype = np.dtype(dtype)
    mapped = data.map_blocks(_Checked(func, dtype), dtype=dtype, meta=np.empty((0,) * 5, dtype))
    stack = base.stack if base is not None else source
    steps = (*base.steps, _name(func)) if base is not None else (_name(func),)
    return MappedStack(stack, mapped, steps)


def _infer_dtype(func, dtype: np.dtype) -> np.dtype:
    try:
        probe = np.asarray(func(np.ones((1,) * 5, dtype=dtype)))
    except Exception as exc:
        raise SIExplorerError(
            None,
            f"map: could not infer the dtype of {_name(func)} from a one-pixel block ({exc}); "
            "pass dtype=...",
        ) from None
    return probe.dtype


class MappedStack:
    """A stack with a function applied to each chunk, lazily: what :meth:`Stack.map` returns.

    Same ``dims``, ``shape`` and ``chunks`` as the stack it came from; ``dtype`` is the mapped
    one. Indexing computes just the chunks it touches and returns numpy; ``data`` is the dask
    array; ``map``, ``project``, ``to_xarray``, ``to_zarr`` and ``to_tiff`` work as on a
    :class:`~si_explorer.Stack`.

    >>> m = stack.map(np.sqrt, dtype="float64")          # doctest: +SKIP
    >>> m[0, 10, 3]                     # one plane: reads and maps one chunk   # doctest: +SKIP
    >>> m.project("mean", axis="time")                    # doctest: +SKIP
    """

    dims = DIMS
    ndim = 5
    #: Indexing computes through dask's threads; export then keeps its own pool small.
    reads_in_parallel = True

    def __init__(self, stack, data, steps: tuple[str, ...]):
        self.stack = stack
        self.data = data
        self.steps = steps

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return tuple(int(n) for n in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def chunks(self):
        return self.data.chunks

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def paths(self) -> list[str]:
        """The source files (exports refuse to write over them)."""
        return self.stack.paths

    @property
    def name(self) -> str:
        return f"{' | '.join(self.steps)} of {self.stack.name}"

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        return f"<si_explorer.MappedStack {self.name} ({dims}) {self.dtype}>"

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        return np.asarray(self.data[key].compute())

    def __array__(self, dtype=None, copy=None):
        array = self[...]
        return array if dtype is None else array.astype(dtype)

    def map(self, func, *, dtype=None) -> MappedStack:
        """Map another function over the chunks (see :func:`map_stack`)."""
        return map_stack(self, func, dtype=dtype)

    def project(self, stat: str = "max", axis="time", *, progress=None) -> np.ndarray:
        """Reduce dims of the mapped pixels (see :func:`project`), block by block of its chunks."""
        return project(self, stat, axis, progress=progress)

    def to_xarray(self):
        """A dask-backed :class:`xarray.DataArray` with the source stack's coordinates."""
        array = self.stack.to_xarray()
        return array.copy(data=self.data).rename(self.name)

    def to_zarr(self, path, **kwargs):
        """Write the mapped pixels to OME-Zarr (see :func:`si_explorer.export.to_zarr`)."""
        return export.to_zarr(self, path, **kwargs)

    def to_tiff(self, path, **kwargs):
        """Write the mapped pixels to an OME-TIFF (see :func:`si_explorer.export.to_tiff`)."""
        return export.to_tiff(self, path, **kwargs)


# ---------------------------------------------------------------------- projections


def resolve_axes(axis) -> tuple[int, ...]:
    """Dimension numbers for a dim name, a number, or a tuple of them.

    >>> resolve_axes("time"), resolve_axes(("z", "time")), resolve_axes(-1)
    ((1,), (1, 2), (4,))
    """
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    if not items:
        raise SIExplorerError(None, f"axis {axis!r}: name at least one of {DIMS}")
    out = set()
    for item in items:
        if isinstance(item, str):
            if item not in DIMS:
                raise SIExplorerError(None, f"axis {item!r}: choose from {DIMS}")
            out.add(DIMS.index(item))
            continue
        try:
            number = operator.index(item)
        except TypeError:
            raise SIExplorerError(None, f"axis {item!r}: give a dim name or number") from None
        if not -5 <= number < 5:
            raise SIExplorerError(None, f"axis {number} is out of range for 5 dims {DIMS}")
        out.add(number % 5)
    return tuple(sorted(out))


def projection_chunks(
    shape, itemsize: int, target: int | None = None, largest: int = PROJECTION_BLOCK_BYTES
) -> tuple:
    """Read blocks for a full pass: whole volumes over consecutive time points.

    ScanImage stores time outermost and the planes of one volume next to each other, so such a
    block is one near-contiguous run of the file. ``target`` bytes per block defaults to
    ``largest``, or less for small stacks so that there are at least
    ``PROJECTION_MIN_BLOCKS`` blocks to share among the cores.

    >>> projection_chunks((1, 1000, 8, 256, 256), 2)
    (1, 32, 8, 256, 256)
    >>> projection_chunks((1, 100, 8, 256, 256), 2)     # 100 MB: 16 blocks or more
    (1, 6, 8, 256, 256)
    >>> projection_chunks((2, 10, 30, 2048, 2048), 2)   # a volume alone exceeds the target
    (1, 1, 4, 2048, 2048)
    """
    _, t, z, y, x = shape
    if target is None:
        total = math.prod(shape) * itemsize
        target = min(largest, total // PROJECTION_MIN_BLOCKS)
    plane = max(1, y * x * itemsize)
    volume = plane * max(z, 1)
    if volume <= target:
        return (1, max(1, min(t, target // volume)), z, y, x)
    return (1, 1, max(1, min(z, target // plane)), y, x)


def _zero_copy(stack) -> bool:
    """Whether a full pass reads ``stack`` through zero-copy views (tried on one volume)."""
    if not all(stack.shape):
        return False
    rows, cols = (0, stack.shape[3]), (0, stack.shape[4])
    return stack.zero_copy_view(0, range(1), range(stack.shape[2]), rows, cols) is not None


def _partials_of(pixels, kinds, axes) -> tuple[np.ndarray, ...]:
    parts = summary.block_partials(pixels, kinds, axes)
    return tuple(parts[kind] for kind in kinds)


def _read_partials(stack, block, kinds, axes) -> tuple[np.ndarray, ...]:
    """One block's partial sums over ``axes`` (kept as size-1 dims), one per kind, from a
    single read of its pixels (a zero-copy view of the file where it can be)."""
    return _partials_of(stack.read_block(block, zero_copy=True), kinds, axes)


def _fused_pass(source, data, stats, axes) -> tuple[list, list[str]]:
    """The summed partials behind ``stats`` (see :data:`si_explorer.summary.PARTIALS`) as dask
    arrays whose tasks read each block once and reduce it at once: no block is held in memory
    as a dask result, so a plain file is reduced straight from its memory map (see
    :meth:`si_explorer.Stack.read_block`). ``source`` is a Stack whose chunks are the blocks,
    or None to reduce the blocks of the dask array ``data`` (a mapped stack) as they are made.
    Returns the folded partials and their kinds."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    kinds = sorted({kind for stat in stats for kind in summary.PARTIALS[stat]})
    grid = data.numblocks
    chunks = tuple((1,) * n if i in axes else c for i, (n, c) in enumerate(zip(grid, data.chunks)))
    name = "si-partials-" + tokenize(data.name, kinds, axes)
    blocks = list(np.ndindex(*grid))
    if source is None:
        reads = {(name, *b): (_partials_of, (data.name, *b), kinds, axes) for b in blocks}
    else:
        reads = {(name, *b): (_read_partials, source, b, kinds, axes) for b in blocks}
    graph = HighLevelGraph.from_collections(name, reads, [data] if source is None else [])
    small = summary.small_int(data.dtype)
    totals = []
    for k, kind in enumerate(kinds):
        key = f"{name}-{kind}"
        layer = {(key, *b): (operator.getitem, (name, *b), k) for b in blocks}
        kind_graph = HighLevelGraph(
            {**graph.layers, key: layer}, {**graph.dependencies, key: {name}}
        )
        if kind in summary.FOLDS:
            dtype, op = data.dtype, summary.FOLDS[kind]
        else:
            dtype, op = np.int64 if kind == "sum" and small else np.float64, np.add
        partials = da.Array(kind_graph, key, chunks, dtype)
        totals.append(_folded(partials, _already_reduced, op, axes, dtype, f"{key}-fold"))
    return totals, kinds


def _folded(data, chunk, op, axes, dtype, name):
    """``chunk`` applied to each block of ``data``, and its results folded with ``op`` into
    one running array, in place: dask's own sum would concatenate the partials first
    (measured: the full pass fell from 4.4 to 3.6 GB/s at 64 MiB blocks, to 1.8 at 16 MiB)."""
    import dask.array as da

    fold = functools.partial(_fold, op)
    return da.reduction(
        data, chunk, fold, combine=fold, axis=axes, dtype=dtype, concatenate=False, name=name
    )


def _already_reduced(part, axis, keepdims):
    return part


def _leaves(nested):
    if isinstance(nested, list):
        for item in nested:
            yield from _leaves(item)
    else:
        yield nested


def _fold(op, parts, axis, keepdims):
    """``op`` (np.add, np.maximum, np.minimum) over a nested list of partials, in place."""
    leaves = _leaves(parts)
    total = np.array(next(leaves))  # a copy: the partials may be shared with other tasks
    for part in leaves:
        op(total, part, out=total)
    return total if keepdims else np.squeeze(total, axis)


def project(source, stat="max", axis="time", *, progress=None, chunks=None):
    """Reduce ``axis`` of a stack with ``stat`` ("max", "min", "mean", "std" or
    "correlation") through dask.

    Every chunk is read once, and reduced as it arrives, so memory stays at a few chunks per
    thread whatever the stack's size. ``stat`` may also be a tuple of names: all of them come
    from the same single read of the file, returned as a tuple in that order
    (``mean, mip, std, corr = stack.project(("mean", "max", "std", "correlation"))``).
    max and min keep the native dtype; the others are float64 (a 16-bit mean is summed exactly
    in integers; the squares and products behind std and correlation are summed as float64
    raw moments, see :mod:`si_explorer.summary`). std is the population standard deviation
    (ddof=0). "correlation" is the local correlation image: each pixel's mean Pearson
    correlation over time with its 8 neighbours (fewer at the edges), as CaImAn's
    ``local_correlations`` defines it, 0 where a pixel or neighbour does not vary; over time
    only.

    For a :class:`~si_explorer.Stack` the pass reads blocks of whole volumes over consecutive
    time points (see :func:`projection_chunks`), whatever ``stack.chunks`` is: a full pass is
    throughput-bound and page-sized chunks would spend most of the time in task overhead.
    Blocks are up to 128 MB where they are read as zero-copy views of the file (plain pages,
    backend "auto" or "mmap"), else up to 32 MB; every statistic is reduced inside the task
    that reads the block, so no block is ever held as a dask result. ``chunks`` overrides the
    blocks with any chunk scheme (``"page"``, ``"volume"``, ``"frames:k"``, a tuple; whole
    planes for "correlation"). A :class:`MappedStack` is reduced on its own chunks, the
    blocks its function was defined on (joined into whole planes for "correlation").

    Runs on the active ``dask.distributed`` client when there is one (the stack pickles to its
    paths and indexes; workers reopen the files), else on dask's threaded scheduler.
    ``progress``: True always shows a bar, False never, None when the work lasts over 2 s
    (local) or reads more than 1 GB (distributed).

    Returns a numpy array with the reduced dims removed: ``axis="time"`` gives
    ``(field, z, y, x)``.

    >>> import tempfile, pathlib, si_explorer
    >>> from si_explorer.synthetic import Acquisition, write_acquisition
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "p_00001_00001.tif"
    ...     files = write_acquisition(path, Acquisition(volumes=6, slices=3))
    ...     with si_explorer.open(path) as stack:
    ...         mip = stack.project("max", axis="time")
    ...         mean = stack.project("mean", axis=("time", "z"))
    >>> mip.shape, mip.dtype, mean.shape, mean.dtype
    ((1, 3, 128, 128), dtype('int16'), (1, 128, 128), dtype('float64'))
    """
    several = isinstance(stat, (tuple, list))
    stats = tuple(stat) if several else (stat,)
    for name in stats:
        if name not in STATS:
            raise SIExplorerError(None, f"stat {name!r}: choose one of {', '.join(STATS)}")
    if not stats:
        raise SIExplorerError(None, f"stat: name at least one of {', '.join(STATS)}")
    axes = resolve_axes(axis)
    over_time = axes == (DIMS.index("time"),)
    if "correlation" in stats and not over_time:
        raise SIExplorerError(
            None,
            "stat 'correlation' (each pixel's correlation with its neighbours over time) is "
            f"computed over time only (axis='time'), not over {'+'.join(DIMS[a] for a in axes)}",
        )
    if isinstance(source, MappedStack):
        if chunks is not None:
            raise SIExplorerError(
                None,
                "chunks cannot be changed for a mapped stack: its function runs on its chunks; "
                "rechunk the stack before mapping",
            )
        data = source.data
        if "correlation" in stats:
            data = data.rechunk({3: -1, 4: -1})  # neighbours must share a block
        totals, kinds = _fused_pass(None, data, stats, axes)
    else:
        if chunks is None:
            largest = ZERO_COPY_BLOCK_BYTES if _zero_copy(source) else PROJECTION_BLOCK_BYTES
            chunks = projection_chunks(source.shape, source.dtype.itemsize, largest=largest)
        elif "correlation" in stats:
            chunks = _whole_planes(source, chunks)
        blocks = source.with_options(chunks=chunks)
        totals, kinds = _fused_pass(blocks, blocks.data, stats, axes)
    description = f"{'+'.join(stats)} over {'+'.join(DIMS[a] for a in axes)}"
    results = compute(totals, progress=progress, desc=description, nbytes=source.nbytes)
    count = math.prod(source.shape[a] for a in axes)
    summed = dict(zip(kinds, results))
    reduced = summary.finish(stats, summed, count)
    return tuple(reduced[name] for name in stats) if several else reduced[stats[0]]


def _whole_planes(stack, chunks) -> tuple:
    """``chunks`` with whole (y, x) planes: a local correlation needs every pixel's
    neighbours in the same block."""
    spec = stack.with_options(chunks=chunks).chunks
    return tuple(c if i < 3 else (n,) for i, (c, n) in enumerate(zip(spec, stack.shape)))


def _client():
    """The active dask.distributed client, or None (distributed not installed or not in use)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def compute(arrays, *, progress=None, desc: str = "compute", nbytes: int | None = None):
    """Compute a list of dask arrays in one graph with a progress bar, on the active
    distributed client if any; returns a list of numpy arrays.

    ``progress``: True always shows a bar; False never; None shows one only for long work
    (after 2 s on the local scheduler, from ``DISTRIBUTED_PROGRESS_BYTES`` on a client).
    """
    import dask

    client = _client()
    if client is not None:
        futures = client.compute(list(arrays))
        big = nbytes is not None and nbytes > DISTRIBUTED_PROGRESS_BYTES
        if progress or (progress is None and big):
            from distributed import progress as distributed_progress

            # notebook=False: a text bar that blocks until done, in a notebook as well; the
            # widget form returns at once and is lost when the cell ends with the result.
            distributed_progress(futures, notebook=False, multi=False)
        return [np.asarray(r) for r in client.gather(futures)]
    if progress is False:
        return [np.asarray(r) for r in dask.compute(*arrays)]
    from tqdm.dask import TqdmCallback

    delay = 0 if progress else 2.0
    with TqdmCallback(desc=desc, unit="task", delay=delay, leave=bool(progress)):
        return [np.asarray(r) for r in dask.compute(*arrays)]


__all__ = ["MappedStack", "STATS", "compute", "map_stack", "project", "resolve_axes"]
