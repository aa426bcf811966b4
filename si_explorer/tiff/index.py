"""The verified page index: where every page's IFD, pixels and description are.

:func:`build_index` reads a TIFF through a :class:`~si_explorer.tiff.source.ByteSource` (a path
is opened read-only) and returns a :class:`PageIndex`. For files whose pages sit at a constant
stride (every ScanImage file seen so far) it costs a few dozen small reads whatever the page
count: the stride is predicted from pages 0 and 1 and verified (``stride.py``). Any other file is
walked exactly (``walk.py``) and the result cached on disk (``cache.py``). :func:`stride_arrays`
is shared with ``extend.py``, which lengthens the index of a growing file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from ..errors import CorruptTiffError, SIExplorerError
from . import cache as index_cache
from . import runs
from .ifd import IfdPastEnd, parse_ifd
from .page import (
    FirstPage,
    NonUniformPagesError,
    offsets_wrap,
    page_facts,
    page_format,
    read_first_page,
)
from .source import ByteSource, open_source
from .stride import StrideLayout, predict_stride
from .walk import truncation_slack, walk

__all__ = ["NonUniformPagesError", "PageIndex", "build_index", "stride_arrays"]

#: A walk expected to visit more pages than this shows a progress bar when ``progress`` is None.
PROGRESS_THRESHOLD = 20_000


class Progression(NamedTuple):
    """A lazily built int64 array ``start + step * arange(n)`` (see :class:`_ArrayField`)."""

    start: int
    step: int
    n: int


class _ArrayField:
    """Descriptor for PageIndex's offset arrays: holds an array, or a :class:`Progression` that
    becomes one on first access.

    A stride index would otherwise allocate and fill ~10 MB of arrays for a 300,000-page file:
    measured 0.5 to 3 ms (the page faults of fresh memory), more than everything else the
    prediction does; most opens never look at most of them.
    """

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError(self.name)  # tells dataclass the field has no default
        value = obj.__dict__[self.slot]
        if isinstance(value, Progression):
            value = runs.progression(*value)
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj, value) -> None:
        if not isinstance(value, Progression):
            value = np.asarray(value, dtype=np.int64)
        obj.__dict__[self.slot] = value

    @staticmethod
    def length(obj, name: str) -> int:
        value = obj.__dict__["_" + name]
        return value.n if isinstance(value, Progression) else len(value)


@dataclass(frozen=True, eq=False)
class PageIndex:
    """Where the pages of one TIFF file are, and how to read their pixels.

    Every page has the same ``shape`` (rows, columns) and ``dtype``. When ``raw`` is True the
    pixels of page k are ``shape[0] * shape[1]`` items of ``dtype`` starting at byte
    ``data_offsets[k]``; otherwise (compressed or tiled pages) a page must be decoded from its IFD
    at ``ifd_offsets[k]`` (tifffile does that). The arrays are read-only int64.

    ``desc_offsets[k]`` and ``desc_lengths[k]`` locate page k's ImageDescription bytes (the
    tag's byte count, terminating NUL included: 2,001 for ScanImage 2016+); -1 and 0 when the
    page has none.

    ``method`` says how the index was made: ``"stride"`` (predicted from a constant stride and
    verified; ``stride`` is that stride), ``"walk"`` (every IFD visited) or ``"cache"`` (a walk
    loaded from the on-disk cache). ``missing_bytes`` is the number of bytes after the last
    complete page of a file that ends inside a page (being written, or cut off); those partial
    pages are not indexed, and warning about them is the caller's job.

    Pickles to a few hundred bytes for regular files (offset arrays are stored as runs of
    arithmetic progressions), so a dask task can carry its file's index. A stride index builds
    its arrays on first access, so that opening a file costs the same whatever its page count.
    """

    path: str
    file_size: int
    mtime_ns: int
    byteorder: str
    bigtiff: bool
    shape: tuple[int, int]
    dtype: np.dtype
    ifd_offsets: np.ndarray = _ArrayField()
    data_offsets: np.ndarray = _ArrayField()
    desc_offsets: np.ndarray = _ArrayField()
    desc_lengths: np.ndarray = _ArrayField()
    raw: bool
    method: str
    stride: int | None
    missing_bytes: int = 0

    @property
    def n_pages(self) -> int:
        """Number of complete pages."""
        return _ArrayField.length(self, "ifd_offsets")

    def item(self, name: str, k: int) -> int:
        """``getattr(self, name)[k]`` without building a stride index's whole array.

        >>> index.item("desc_offsets", 0)      # doctest: +SKIP
        """
        value = self.__dict__["_" + name]
        if isinstance(value, Progression):
            if not 0 <= k < value.n:
                raise IndexError(f"page {k} is out of range for {value.n} pages")
            return value.start + value.step * k
        return int(value[k])

    @property
    def page_nbytes(self) -> int:
        """Bytes of one page's pixels (uncompressed)."""
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def __repr__(self) -> str:
        stride = "" if self.stride is None else f", stride={self.stride:,}"
        missing = f", missing_bytes={self.missing_bytes:,}" if self.missing_bytes else ""
        return (
            f"PageIndex({self.path!r}, n_pages={self.n_pages:,}, shape={self.shape}, "
            f"dtype={self.dtype.str!r}, raw={self.raw}, method={self.method!r}{stride}{missing})"
        )

    @cached_property
    def _packed(self) -> dict:
        state = {
            name: getattr(self, name)
            for name in (
                "path",
                "file_size",
                "mtime_ns",
                "byteorder",
                "bigtiff",
                "raw",
                "method",
                "stride",
                "missing_bytes",
            )
        }
        state["shape"] = tuple(self.shape)
        state["dtype"] = self.dtype.str
        state["n_pages"] = self.n_pages
        for name in index_cache.ARRAYS:
            values = self.__dict__["_" + name]
            if isinstance(values, Progression):
                state[name] = values
                continue
            encoded = runs.encode(values)
            state[name] = values if encoded is None else ("runs", encoded)
        return state

    def __reduce__(self):
        return (_unpickle, (self._packed,))


def _unpickle(state: dict) -> PageIndex:
    state = dict(state)
    n = state.pop("n_pages")
    for name in index_cache.ARRAYS:
        value = state[name]
        if isinstance(value, Progression):
            continue
        if isinstance(value, tuple):
            state[name] = runs.decode(value[1], n)
        else:
            value.flags.writeable = False
    state["dtype"] = np.dtype(state["dtype"])
    return PageIndex(**state)


def build_index(
    source: str | os.PathLike | ByteSource, *, progress: bool | None = None, cache: bool = True
) -> PageIndex:
    """Index the pages of the TIFF at ``source`` (classic or BigTIFF, either byte order).

    ``source`` is a path (opened read-only and closed before returning) or an open
    :class:`ByteSource` (left open). Tries the constant-stride prediction first (a few small
    reads, verified against the file: see ``stride.py``), then the on-disk cache (when
    ``cache``), then walks the whole IFD chain (and caches the result when ``cache``).
    ``progress``: True shows a tqdm bar during a walk, False never, None only for walks of more
    than ~20,000 pages.

    Raises SourceNotFoundError, NotATiffError (empty, a directory, wrong magic),
    CorruptTiffError (loops, offsets past the end, impossible counts), TruncatedFileError (no
    complete page) and NonUniformPagesError (pages of different shapes or dtypes, or not
    single-sample numeric images).
    """
    source, owned = open_source(source)
    try:
        return _build_index(source, progress, cache)
    finally:
        if owned:
            source.close()


def _build_index(source: ByteSource, progress: bool | None, cache: bool) -> PageIndex:
    path = source.name
    first = read_first_page(source)
    header, ifd0, format0, facts0 = first.header, first.ifd, first.format, first.facts

    layout = predict_stride(source, first)
    if layout is not None:
        arrays = stride_arrays(first, layout)
        return _make_index(
            source, first, "stride", layout.stride, arrays, facts0.raw, layout.missing_bytes
        )

    page_format_key = [list(format0.shape), format0.dtype.str]
    if cache:
        cached = index_cache.load(source, ifd0.raw)
        if cached is not None and cached[0].get("format") == page_format_key:
            meta, arrays = cached
            return _make_index(
                source, first, "cache", None, arrays, meta["raw"], meta["missing_bytes"]
            )

    extent0 = first.extent
    guess = ifd0.next_offset - ifd0.offset
    if guess <= 0:
        guess = extent0
    estimate = max(1, (source.size - ifd0.offset) // max(guess, 1) + 1)
    bar = _progress_bar(progress, estimate, path)
    try:
        result = walk(source, ifd0, format0, extent0, bar)
    finally:
        if bar is not None:
            bar.close()
    if result.missing_bytes:
        _check_partial_page(source, header, int(result.ifd_offsets[-1]), extent0)
    arrays = {name: getattr(result, name) for name in index_cache.ARRAYS}
    index = _make_index(source, first, "walk", None, arrays, result.raw, result.missing_bytes)
    if cache:
        last = parse_ifd(source, int(result.ifd_offsets[-1]), header, None)
        meta = {
            "n_pages": index.n_pages,
            "raw": index.raw,
            "missing_bytes": index.missing_bytes,
            "format": page_format_key,
        }
        index_cache.store(source, ifd0.raw, meta, arrays, last.nbytes)
    return index


def stride_arrays(first: FirstPage, layout: StrideLayout) -> dict[str, Progression]:
    """The offset arrays of the verified stride ``layout`` whose page 0 is ``first``."""
    stride, n = layout.stride, layout.n_pages
    facts0 = first.facts
    desc_step = 0 if facts0.desc_offset < 0 or layout.desc_shared else stride
    return {
        "ifd_offsets": Progression(first.ifd.offset, stride, n),
        "data_offsets": Progression(facts0.data_offset, stride, n),
        "desc_offsets": Progression(facts0.desc_offset, desc_step, n),
        "desc_lengths": Progression(facts0.desc_length, 0, n),
    }


def _make_index(
    source: ByteSource,
    first: FirstPage,
    method: str,
    stride: int | None,
    arrays: dict,
    raw: bool,
    missing: int,
) -> PageIndex:
    """The :class:`PageIndex` of ``source`` as it is now, with page 0 ``first``."""
    return PageIndex(
        path=source.name,
        file_size=source.size,
        mtime_ns=source.version,
        byteorder=first.header.byteorder,
        bigtiff=first.header.bigtiff,
        shape=first.format.shape,
        dtype=first.format.dtype,
        raw=raw,
        method=method,
        stride=stride,
        missing_bytes=missing,
        **arrays,
    )


def _check_partial_page(source: ByteSource, header, last_complete: int, extent0: int) -> None:
    """Raise CorruptTiffError when the page after the last complete one is not a page being
    written but a page whose pixels point far past the end of the file.

    A writer puts a page's pixels right after its IFD, so a page cut off by the end of the
    file needs at most about one page more than the file has; the walk already applies that
    rule (``truncation_slack``) to next-IFD pointers, this applies it to the page's own data.
    """
    size = source.size
    last = parse_ifd(source, last_complete, header, None)
    try:
        ifd = parse_ifd(source, last.next_offset, header, None)
    except IfdPastEnd:
        return  # the IFD itself is cut off: the walk has checked how far its pointer reaches
    try:
        fmt = page_format(ifd, source, -1)
        facts = page_facts(ifd, fmt, source, -1, offsets_wrap(header, size))
    except SIExplorerError:
        return  # a half-written IFD may hold anything; only its complete pages are served
    if facts.end - size > truncation_slack(extent0):
        raise CorruptTiffError(
            source.name,
            f"the page after the last complete one (IFD at byte {ifd.offset:,}) uses bytes up "
            f"to {facts.end:,}, far past the end of the file ({size:,} bytes)",
        )


def _progress_bar(progress: bool | None, estimate: int, path: str):
    if progress is False or (progress is None and estimate <= PROGRESS_THRESHOLD):
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=estimate, unit="page", unit_scale=True, desc=f"indexing {os.path.basename(path)}"
    )
