"""Summary images of a recording over time (mean, max, std, local correlation) from one read.

A summary image is what a scientist looks at before any pipeline runs: the mean shows the
anatomy, the max the cells that fired, the std the active ones, and the local correlation (each
pixel's mean correlation with its 8 neighbours over time, as CaImAn's ``local_correlations``
defines it) the cells themselves. All four come from the same running sums over time:

* the sum and, for 16-bit integers, an exact integer sum (the mean is exact);
* the sum of squares and the four neighbour cross products (east, south, south-east,
  south-west: every undirected pair of 8-neighbours once), as float64 raw moments.

The cross products are the cost: five multiply-adds per pixel per frame. They are computed in
float32 on the pixels minus a reference frame (the block's first), in bands of rows that stay
in the CPU cache, with one ``np.einsum`` per product; the small float32 sums are then turned
into float64 raw moments, so blocks and files add up exactly in any order. Measured on 64
frames of 256x256 int16, one core: 5.0 ns per pixel (einsum per band), 4.8 with one ufunc per
product and frame, 6-21 with bands of a few rows (call overhead), 15.5 with a plain numba loop
(not a dependency: tried for the record); an unsorted float32 sum of squares over a block
loses about 1e-7 of its value, the float64 totals nothing more.

:func:`plane_summaries` reads one field and plane over time block by block and yields refined
images as it goes (the explorer's summary views); :func:`block_partials` is the per-block step
of :func:`si_explorer.ops.project`'s single pass over a whole stack.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SUMMARIES = ("mean", "max", "std", "correlation")

#: The partial sums each statistic is made of (names of :func:`block_partials`' outputs).
PARTIALS = {
    "max": ("max",),
    "min": ("min",),
    "mean": ("sum",),
    "std": ("sum", "sumsq"),
    "correlation": ("sum", "sumsq", "east", "south", "southeast", "southwest"),
}

#: The undirected neighbour pairs: (rows of the pixel, cols of the pixel, rows of its
#: neighbour, cols of its neighbour) as slices of a (y, x) plane. Each product is stored at the
#: pixel's position; the last row or column, which has no such neighbour, keeps 0.
_PAIRS = {
    "east": (slice(None), slice(None, -1), slice(None), slice(1, None)),
    "south": (slice(None, -1), slice(None), slice(1, None), slice(None)),
    "southeast": (slice(None, -1), slice(None, -1), slice(1, None), slice(1, None)),
    "southwest": (slice(None, -1), slice(1, None), slice(1, None), slice(None, -1)),
}

#: Bytes of float32 pixels per band of rows in the cross-product kernel: bands of about 1 MB
#: ran at 5.0 ns per pixel, 256 KB at 5.4, 64 KB at 8.2 (per-call overhead).
BAND_BYTES = 1 << 20

#: Frames whose products are summed in float32 before they join the float64 totals: the
#: float32 sums' rounding grows with their length (about 1e-7 relative per frame at worst).
GROUP_FRAMES = 64

#: Bytes per block read by :func:`plane_summaries`: small enough that the image refines
#: several times a second on a laptop, large enough that per-block work stays small.
PLANE_BLOCK_BYTES = 16 << 20


def small_int(dtype) -> bool:
    dtype = np.dtype(dtype)
    return dtype.kind in "iu" and dtype.itemsize <= 2


def exact_sum(block, axis, keepdims):
    """Sum of a <=16-bit integer chunk over ``axis``, exact, as int64 (also the chunk step of
    a :func:`dask.array.reduction`).

    Accumulates in int32 where the summed values per output pixel cannot overflow it (65,535
    int16 or 32,768 uint16 values), else in int64. Over time, plane by plane with
    ``np.add.reduce``; other axes with ``einsum``. Measured on the pages of a 1.6 GB LBM file
    through its memory map, one core: 4.6 GB/s plane by plane, 3-3.8 GB/s einsum, 2.6 GB/s
    ``sum(dtype=int32)`` over the whole chunk, 1.5 GB/s ``sum(dtype=float64)``.
    """
    axis = tuple(a % block.ndim for a in axis)
    count = math.prod(block.shape[a] for a in axis)
    info = np.iinfo(block.dtype)
    if count > (2**31 - 1) // max(-int(info.min), int(info.max)):
        return block.sum(axis=axis, dtype=np.int64, keepdims=keepdims)
    if axis == (1,) and block.ndim == 5:
        fields, _, planes, height, width = block.shape
        out = np.empty((fields, planes, height, width), np.int32)
        for f in range(fields):
            for z in range(planes):
                np.add.reduce(block[f, :, z], axis=0, dtype=np.int32, out=out[f, z])
    else:
        letters = "abcdefghij"[: block.ndim]
        kept = "".join(c for i, c in enumerate(letters) if i not in axis)
        out = np.einsum(f"{letters}->{kept}", block, dtype=np.int32)
    out = out.astype(np.int64)
    return np.expand_dims(out, axis) if keepdims else out


def _group_products(frames, ref, out: dict, need_cross: bool) -> None:
    """Sums over a few frames of the squares and neighbour products of ``frames - ref``, in
    float32, into ``out`` (overwritten)."""
    count, height, width = frames.shape
    # The pixels minus a reference frame: small numbers whose float32 products lose nothing
    # that matters, where products of raw 16-bit values would lose the variance to rounding.
    rows = max(1, BAND_BYTES // max(1, count * width * 4) - 1)
    band = np.empty((count, rows + 1, width), np.float32)
    for name in out:
        out[name][...] = 0
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows + 1)  # one row more: the south neighbours of the last row
        kept = min(rows, height - r0)
        y = band[:, : r1 - r0]
        # A cast, then a float32 subtraction: 0.61 ns per pixel, against 0.77 for one
        # subtraction that casts as it goes.
        np.copyto(y, frames[:, r0:r1])
        np.subtract(y, ref[r0:r1], out=y)
        top = y[:, :kept]
        np.einsum("tyx,tyx->yx", top, top, out=out["sumsq"][r0 : r0 + kept])
        if not need_cross:
            continue
        east = out["east"][r0 : r0 + kept, :-1]
        np.einsum("tyx,tyx->yx", top[:, :, :-1], top[:, :, 1:], out=east)
        below = r1 - r0 - 1  # rows of this band that have a south neighbour in it
        if below:
            upper, lower = y[:, :below], y[:, 1 : below + 1]
            rows_out = slice(r0, r0 + below)
            np.einsum("tyx,tyx->yx", upper, lower, out=out["south"][rows_out])
            southeast = out["southeast"][rows_out, :-1]
            np.einsum("tyx,tyx->yx", upper[:, :, :-1], lower[:, :, 1:], out=southeast)
            southwest = out["southwest"][rows_out, 1:]
            np.einsum("tyx,tyx->yx", upper[:, :, 1:], lower[:, :, :-1], out=southwest)


def _plane_moments(frames, total, need_cross: bool) -> dict[str, np.ndarray]:
    """Raw float64 moments over time of one (time, y, x) plane series: the sum of squares and
    (``need_cross``) the four neighbour cross products. ``total`` is its sum over time."""
    count, height, width = frames.shape
    ref = frames[0].astype(np.float32)
    names = ["sumsq", *(_PAIRS if need_cross else ())]
    sums = {name: np.zeros((height, width), np.float64) for name in names}
    group = {name: np.zeros((height, width), np.float32) for name in names}
    for t0 in range(0, count, GROUP_FRAMES):
        _group_products(frames[t0 : t0 + GROUP_FRAMES], ref, group, need_cross)
        for name in names:
            sums[name] += group[name]
    # Back to raw moments about zero, in float64: sum((y + r)(y' + r')) expands with the
    # deviations' sums, which the exact total gives.
    ref = ref.astype(np.float64)
    dev = np.asarray(total, np.float64) - count * ref
    moments = {"sumsq": sums["sumsq"] + 2 * ref * dev + count * ref * ref}
    for name, (pr, pc, nr, nc) in _PAIRS.items() if need_cross else ():
        cross = np.zeros((height, width), np.float64)
        cross[pr, pc] = (
            sums[name][pr, pc]
            + ref[nr, nc] * dev[pr, pc]
            + ref[pr, pc] * dev[nr, nc]
            + count * ref[pr, pc] * ref[nr, nc]
        )
        moments[name] = cross
    return moments


def block_partials(pixels, names, axes=(1,)) -> dict[str, np.ndarray]:
    """The partial sums ``names`` (see :data:`PARTIALS`) of a (field, time, z, y, x) block
    over ``axes`` (kept as size-1 dims): max and min in the pixels' dtype, the sum exact
    (int64) for 16-bit integers, float64 otherwise, and the other moments float64 (the
    neighbour products over time only). Partials of blocks that tile a stack add up (or fold
    with max/min) to those of the whole."""
    names = set(names)
    axes = tuple(axes)
    out = {}
    if "max" in names:
        out["max"] = pixels.max(axis=axes, keepdims=True)
    if "min" in names:
        out["min"] = pixels.min(axis=axes, keepdims=True)
    moments = names & {"sumsq", *_PAIRS}
    if "sum" in names or moments:
        if small_int(pixels.dtype):
            out["sum"] = exact_sum(pixels, axes, keepdims=True)
        else:
            out["sum"] = pixels.sum(axis=axes, dtype=np.float64, keepdims=True)
    if moments and axes != (1,):
        if moments != {"sumsq"}:
            raise ValueError("correlation partials are over time (axis 1) only")
        # Squares of 16-bit values and their sums are exact in float64 up to 2**22 values.
        out["sumsq"] = np.square(pixels, dtype=np.float64).sum(axis=axes, keepdims=True)
    elif moments:
        fields, _, planes, height, width = pixels.shape
        for name in moments:
            out[name] = np.empty((fields, 1, planes, height, width), np.float64)
        for f in range(fields):
            for z in range(planes):
                plane = _plane_moments(
                    pixels[f, :, z], out["sum"][f, 0, z], need_cross=bool(names & set(_PAIRS))
                )
                for name in moments:
                    out[name][f, 0, z] = plane[name]
    return {name: out[name] for name in names}


def finish(stats, totals: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """The statistics ``stats`` of ``count`` time points from their summed partials (any
    shape ending in (y, x)), by name: max/min as they are, mean and std (population, ddof 0)
    and local correlation as float64, the mean and std computed once for all. A pixel whose
    correlation is undefined (no variation over time, in itself or all its neighbours) gets 0;
    with no time points every mean, std and correlation is NaN."""
    unknown = set(stats) - set(PARTIALS)
    if unknown:
        raise ValueError(f"unknown statistic(s) {sorted(unknown)}")
    out = {stat: totals[stat] for stat in stats if stat in ("max", "min")}
    moments = [stat for stat in stats if stat not in out]
    if not moments:
        return out
    if count == 0:
        return {**out, **{stat: np.full(totals["sum"].shape, np.nan) for stat in moments}}
    mean = totals["sum"] / count
    out["mean"] = mean
    if "std" in stats or "correlation" in stats:
        out["std"] = np.sqrt(np.maximum(totals["sumsq"] / count - mean * mean, 0.0))
    if "correlation" in stats:
        out["correlation"] = _local_correlation(totals, count, mean, out["std"])
    return {stat: out[stat] for stat in stats}


def _local_correlation(totals, count: int, mean, std) -> np.ndarray:
    rho = np.zeros(mean.shape)
    neighbours = np.zeros(mean.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, (pr, pc, nr, nc) in _PAIRS.items():
            p, n = (..., pr, pc), (..., nr, nc)
            cov = totals[name][p] / count - mean[p] * mean[n]
            scale = std[p] * std[n]
            corr = np.where(scale > 0, np.clip(cov / scale, -1.0, 1.0), 0.0)
            rho[p] += corr
            rho[n] += corr
            neighbours[p] += 1
            neighbours[n] += 1
    return rho / np.maximum(neighbours, 1)


@dataclass(frozen=True)
class PlaneSummary:
    """Summary images of one field and plane over the first ``frames_done`` time points."""

    field: int
    z: int
    frames_done: int
    frames_total: int
    #: name -> (height, width) float32 image, for every name in :data:`SUMMARIES`.
    images: dict

    @property
    def done(self) -> bool:
        return self.frames_done == self.frames_total


def plane_summaries(
    stack, field: int, z: int, *, interval: float = 0.25, block_frames: int | None = None
) -> Iterator[PlaneSummary]:
    """Mean, max, std and local correlation of ``stack[field, :, z]`` over time, refined as the
    recording is read: yields a :class:`PlaneSummary` at most every ``interval`` seconds and a
    final one (``done``) after the last time point. All four come from one read of the plane's
    pages, in blocks of consecutive time points read straight from the file's memory map where
    it allows (``block_frames`` time points per block; None: about 16 MB). Closing the
    generator stops the read at once (the explorer does when another summary is asked for).

    Uses the stack as it is (its channel; a bidirectionally corrected stack gives corrected
    values). A stack with no time points yields one done summary of NaN images.

    >>> import tempfile, pathlib, si_explorer
    >>> from si_explorer.synthetic import Acquisition, write_acquisition
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "s_00001_00001.tif"
    ...     files = write_acquisition(path, Acquisition(volumes=40, slices=2))
    ...     with si_explorer.open(path) as stack:
    ...         last = list(plane_summaries(stack, 0, 1))[-1]
    >>> last.done, last.frames_done, sorted(last.images), last.images["correlation"].shape
    (True, 40, ['correlation', 'max', 'mean', 'std'], (128, 128))
    """
    fields, frames, planes = stack.shape[:3]
    if not (0 <= field < fields and 0 <= z < planes):
        raise IndexError(f"field {field}, plane {z} is outside a stack of shape {stack.shape}")
    height, width = stack.field_shapes[field]  # multi-ROI fields are padded to the largest
    names = sorted({p for stat in SUMMARIES for p in PARTIALS[stat]})
    step = block_frames or max(
        1, PLANE_BLOCK_BYTES // max(1, height * width * stack.dtype.itemsize)
    )
    blocks = stack.with_options(chunks=(1, step, 1, height, width))
    totals: dict[str, np.ndarray] = {}
    done = 0
    last = time.monotonic()
    for index in range(math.ceil(frames / step)):
        pixels = blocks.read_block((field, index, z, 0, 0), zero_copy=True)
        accumulate(totals, block_partials(pixels, names))
        done += pixels.shape[1]
        if done < frames and time.monotonic() - last >= interval:
            yield _snapshot(field, z, done, frames, totals)
            last = time.monotonic()
    if not done:
        nothing = np.full((height, width), np.nan, np.float32)
        yield PlaneSummary(field, z, 0, frames, {stat: nothing for stat in SUMMARIES})
        return
    yield _snapshot(field, z, done, frames, totals)


#: How partials of each kind fold across blocks (the others add up).
FOLDS = {"max": np.maximum, "min": np.minimum}


def accumulate(totals: dict, parts: dict) -> None:
    """Fold one block's partials into running ``totals`` (in place; copies on first use)."""
    for name, part in parts.items():
        if name not in totals:
            totals[name] = part.copy()
        else:
            FOLDS.get(name, np.add)(totals[name], part, out=totals[name])


def _snapshot(field, z, done, total, totals) -> PlaneSummary:
    images = finish(SUMMARIES, totals, done)
    images = {stat: image[0, 0, 0].astype(np.float32) for stat, image in images.items()}
    return PlaneSummary(field, z, done, total, images)
