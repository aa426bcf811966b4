"""Bidirectional scan-phase correction in the read path: a :class:`PlaneSource` that corrects
another one lazily, so that planes, ``stack.data`` blocks, traces, projections and export all
give the same corrected values (the arithmetic is :mod:`si_explorer.bidi`).

Each (field, z) has its own offset (a number of pixels, or one per column for the "auto-x"
model). Odd and even rows are page rows: a multi-ROI field starts on any page row, so its first
page row sets the parity. A read of a few columns (a pixel trace) fetches only the neighbouring
columns the interpolation needs (:func:`si_explorer.bidi.columns_needed`).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import bidi
from ..errors import LayoutError, SIExplorerError
from .planes import FileFacts, PlaneSource

#: Frames averaged per (field, z) for an estimate: enough signal at low SNR, spread over time
#: so that a drifting preparation is represented; 32 planes cost a few milliseconds each.
SAMPLE_FRAMES = 32

MODES = ("auto", "auto-x")


class BidiCorrected(PlaneSource):
    """``inner`` with the odd page rows of each (field, z) moved by minus its offset.

    ``offsets`` has shape ``(field, z)`` (constant model) or ``(field, z, x)`` (one offset per
    column, the x-dependent model); pixels come out as float32.
    """

    def __init__(self, inner: PlaneSource, offsets: np.ndarray, mode: str):
        if inner.mosaic:
            raise LayoutError(
                inner.paths[0],
                "bidirectional correction needs split fields (mosaic=False): a mosaic places "
                "fields at non-integer scan positions",
            )
        self.inner = inner
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.mode = mode
        self.raw = inner.raw
        self.channel = inner.channel
        self.layout = inner.layout
        self.dtype = np.dtype(np.float32)
        self._rows0 = inner.field_page_rows()

    @classmethod
    def build(cls, inner: PlaneSource, bidi_option, *, times=None) -> BidiCorrected:
        """Correct ``inner`` by ``bidi_option``: "auto" (estimated), "auto-x" (estimated per
        column), a number of pixels, or an array of offsets per ``(field, z)``."""
        if isinstance(bidi_option, str):
            if bidi_option not in MODES:
                raise SIExplorerError(
                    inner.paths[0],
                    f"bidi={bidi_option!r}: use None, 'auto', 'auto-x', a number of pixels or "
                    "an array of offsets per (field, z)",
                )
            return cls(inner, estimate(inner, bidi_option, times=times), bidi_option)
        try:
            offsets = np.asarray(bidi_option, dtype=np.float64)
        except (TypeError, ValueError):
            offsets = np.array(np.nan)
        fields, _, planes, _, width = inner.shape
        if offsets.ndim == 0:
            offsets = np.full((fields, planes), float(offsets))
        if (
            offsets.shape not in ((fields, planes), (fields, planes, width))
            or not np.isfinite(offsets).all()
        ):
            raise SIExplorerError(
                inner.paths[0],
                f"bidi offsets must be finite numbers, one per (field, z) {(fields, planes)} or "
                f"per (field, z, x) {(fields, planes, width)}, not {bidi_option!r}",
            )
        return cls(inner, offsets, "manual")

    # -- the PlaneSource interface ------------------------------------------------------------

    @property
    def shape(self):
        return self.inner.shape

    @property
    def paths(self) -> list[str]:
        return self.inner.paths

    def files(self) -> list[FileFacts]:
        return self.inner.files()

    def field_shapes(self):
        return self.inner.field_shapes()

    def field_page_rows(self) -> list[int]:
        return self._rows0

    @property
    def bidi_offset(self) -> np.ndarray:
        """``(field, z)``: the constant offsets, or each per-column curve's mean."""
        return self.offsets if self.offsets.ndim == 2 else self.offsets.mean(axis=-1)

    def uncorrected(self) -> PlaneSource:
        return self.inner

    def with_channel(self, channel: int) -> BidiCorrected:
        # The scanner's phase error does not depend on the channel: the same offsets apply.
        return BidiCorrected(self.inner.with_channel(channel), self.offsets, self.mode)

    def grown(self) -> BidiCorrected | None:
        grown = self.inner.grown()
        return None if grown is None else BidiCorrected(grown, self.offsets, self.mode)

    def close(self) -> None:
        self.inner.close()

    def read_plane(self, f: int, t: int, z: int, backend: str) -> np.ndarray:
        # The eager stack[f, t, z] path: the raw plane's fast read, then the field corrected
        # into a new float32 plane (its padding stays zero).
        plane = self.inner.read_plane(f, t, z, backend)
        height, width = self.field_shapes()[f]
        corrected = bidi.apply_offset(
            plane[:height, :width], self._offset(f, z, width), row0=self._rows0[f]
        )
        if corrected.shape == plane.shape:
            return corrected
        out = np.zeros(plane.shape, np.float32)
        out[:height, :width] = corrected
        return out

    def _offset(self, f: int, z: int, width: int):
        return self.offsets[f, z] if self.offsets.ndim == 2 else self.offsets[f, z, :width]

    def read(self, fields, times, zs, rows, cols, backend: str) -> np.ndarray:
        fields, times, zs = (np.asarray(a, dtype=np.int64).ravel() for a in (fields, times, zs))
        ny, nx = rows[1] - rows[0], cols[1] - cols[0]
        out = np.zeros((len(fields), len(times), len(zs), ny, nx), np.float32)
        shapes = self.field_shapes()
        for i, f in enumerate(fields.tolist()):
            height, width = shapes[f]
            # Only the field's own pixels are corrected; the padding up to the plane size
            # stays zero (an odd row must not pull padding into the field, or field into it).
            r1, c1 = min(rows[1], height), min(cols[1], width)
            if r1 <= rows[0] or c1 <= cols[0]:
                continue
            for k, z in enumerate(zs.tolist()):
                offset = self._offset(f, z, width)
                c0, c_end = bidi.columns_needed(cols[0], c1, offset, width)
                raw = self.inner.read([f], times, [z], (rows[0], r1), (c0, c_end), backend)
                out[i, :, k, : r1 - rows[0], : c1 - cols[0]] = bidi.apply_offset_strip(
                    raw[0, :, 0],
                    offset,
                    x0=cols[0],
                    x1=c1,
                    c0=c0,
                    width=width,
                    row0=self._rows0[f] + rows[0],
                )
        return out


def estimate(inner: PlaneSource, mode: str, *, times=None) -> np.ndarray:
    """Offsets of every (field, z) of ``inner``, from the mean of up to ``SAMPLE_FRAMES`` frames
    spread over ``times`` (default: the whole recording). ``(field, z)`` for "auto",
    ``(field, z, x)`` for "auto-x"; 0 (with a :class:`~si_explorer.bidi.BidiWarning`) where the
    image cannot tell."""
    fields, n_times, planes, _, plane_width = inner.shape
    times = np.arange(n_times) if times is None else np.asarray(times, dtype=np.int64)
    shape = (fields, planes) if mode == "auto" else (fields, planes, plane_width)
    out = np.zeros(shape)
    if len(times) == 0:
        warnings.warn(
            f"{inner.paths[0]}: no complete time point to estimate the bidirectional offset "
            "from; it is 0 until the stack is opened again",
            bidi.BidiWarning,
            stacklevel=3,
        )
        return out
    picked = np.unique(np.linspace(0, len(times) - 1, min(len(times), SAMPLE_FRAMES)).round())
    sample = times[picked.astype(np.int64)]
    rows0 = inner.field_page_rows()
    for f, (height, width) in enumerate(inner.field_shapes()):
        for z in range(planes):
            backend = "pread" if inner.raw else "tifffile"
            pixels = inner.read([f], sample, [z], (0, height), (0, width), backend)
            mean = pixels[0, :, 0].mean(axis=0)
            if mode == "auto":
                out[f, z] = bidi.estimate_offset(mean, row0=rows0[f]).offset
            else:
                curve = bidi.estimate_curve(mean, row0=rows0[f]).offsets
                out[f, z, :width] = curve
                out[f, z, width:] = curve[-1] if width else 0.0
    return out
