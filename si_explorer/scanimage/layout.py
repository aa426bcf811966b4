"""Where each (field, time, z, channel) image of an acquisition sits among the TIFF's pages.

A :class:`Layout` is what a user can state ("4 fields x 1,730 frames x 30 planes, pages
ordered time -> field -> z") and what :func:`layout_from_metadata` derives from ScanImage's
settings. It is pure arithmetic: no file access.

Page numbering: for time point ``t``, ``volume = t // frames_per_slice`` and
``r = t % frames_per_slice``; the page is the mixed-radix number of the digits
(volume, z, r, f, c) taken in ``order`` (outermost first) with sizes
(frames / frames_per_slice, planes + flyback, frames_per_slice, fields, channels).
Flyback z positions come after the kept planes of each volume and are never addressed.
Multi-ROI fields are not separate pages but strips of each page (:class:`Roi`).
"""

from __future__ import annotations

import math
import operator
import os
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import LayoutError, MetadataError
from .metadata import ScanImageMetadata, as_list, flatten, is_whole, roi_enabled

__all__ = ["Layout", "Roi", "layout_for_pages", "layout_from_metadata"]

_AXES = "tzrfc"


def _whole(name: str, value: Any, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise LayoutError(None, f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise LayoutError(None, f"{name} must be >= {minimum}, not {number}")
    return number


def _pair(name: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        raise LayoutError(None, f"{name} must be a pair of numbers, not {value!r}") from None
    return (x, y)


def plural(count: int, noun: str) -> str:
    """``"1 page"``, ``"2 pages"``: counts in messages read as sentences."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class Roi:
    """One field cut out of every page: rows ``y0 : y0 + height``, columns ``x0 : x0 + width``.

    ScanImage multi-ROI acquisitions stack their ROIs along Y inside each page. ``name``,
    ``center_xy`` and ``size_xy`` (scan angle degrees) come from the ROI group and let a
    reader place the ROIs as a mosaic.

    >>> Roi(y0=464, height=448, width=224, name="right")
    Roi(y0=464, height=448, width=224, x0=0, name='right', center_xy=None, size_xy=None)
    >>> Roi(y0=0, height=0, width=10)
    Traceback (most recent call last):
    ...
    si_explorer.errors.LayoutError: Roi height must be >= 1, not 0
    """

    y0: int
    height: int
    width: int
    x0: int = 0
    name: str = ""
    center_xy: tuple[float, float] | None = None
    size_xy: tuple[float, float] | None = None

    def __post_init__(self):
        for name, minimum in (("y0", 0), ("height", 1), ("width", 1), ("x0", 0)):
            object.__setattr__(self, name, _whole(f"Roi {name}", getattr(self, name), minimum))
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "center_xy", _pair("Roi center_xy", self.center_xy))
        object.__setattr__(self, "size_xy", _pair("Roi size_xy", self.size_xy))


@dataclass(frozen=True)
class Layout:
    """How the pages of a TIFF map to (field, time, z, channel), plus where fields sit in a page.

    ``order`` lists the page axes from outermost to innermost: ``t`` volume, ``z`` slice,
    ``r`` frame within a slice, ``f`` field on its own pages, ``c`` channel; a letter left
    out must have size 1. ``page_shape`` (rows, columns) is filled in by
    :func:`layout_from_metadata`, :meth:`check` and :meth:`with_page_shape`; it is needed
    only to give whole-page fields a window and is ignored when comparing layouts.

    Attributes:
        fields: fields on pages of their own (multi-ROI fields that are strips of a page
            are ``rois`` instead).
        frames: time points; None to derive them from the page count.
        planes: kept z positions per volume.
        channels: saved channels per frame (the beams, for Light Beads Microscopy).
        order: page axes from outermost to innermost, letters of ``"tzrfc"``.
        frames_per_slice: saved frames per z position (consecutive time points).
        flyback: flyback frames per volume, saved after the planes and never addressed.
        rois: the fields as strips of every page (:class:`Roi`), or ``()``.
        lbm: the saved channels are z planes (Light Beads Microscopy).
        page_shape: ``(rows, columns)`` of the pages, or None until known.

    Pass a layout to :func:`si_explorer.open` (``layout=``) when the metadata is missing or
    wrong; it is checked against the file's page count.

    >>> layout = Layout(fields=4, frames=1730, planes=30, order="tfz")
    >>> int(layout.page_numbers(f=1, t=2, z=3)) == (2 * 4 + 1) * 30 + 3
    True
    >>> layout.pages_per_volume, layout.n_fields
    (120, 4)
    >>> layout.check(207_599, (145, 600), "rec.tif")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    si_explorer.errors.LayoutError: rec.tif: stated layout needs 207,600 pages
    (4 fields x 1,730 frames x 30 planes x 1 channel) but the file has 207,599;
    frames=1,729 would fit with 119 pages left over
    """

    fields: int = 1
    frames: int | None = None
    planes: int = 1
    channels: int = 1
    order: str = "tzrc"
    frames_per_slice: int = 1
    flyback: int = 0
    rois: tuple[Roi, ...] = ()
    lbm: bool = False
    page_shape: tuple[int, int] | None = field(default=None, compare=False)

    def __post_init__(self):
        def fix(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name, minimum in (("fields", 1), ("planes", 1), ("channels", 1)):
            fix(name, _whole(name, getattr(self, name), minimum))
        fix("frames_per_slice", _whole("frames_per_slice", self.frames_per_slice, 1))
        fix("flyback", _whole("flyback", self.flyback, 0))
        if self.frames is not None:
            fix("frames", _whole("frames", self.frames, 0))
            if self.frames % self.frames_per_slice:
                raise LayoutError(
                    None,
                    f"frames ({self.frames:,}) must be a multiple of frames_per_slice "
                    f"({self.frames_per_slice}): time points come in whole volumes",
                )
        self._check_order()
        rois = tuple(self.rois)
        for roi in rois:
            if not isinstance(roi, Roi):
                raise LayoutError(None, f"rois must be Roi objects, not {type(roi).__name__}")
        if rois and self.fields != 1:
            raise LayoutError(
                None,
                "give either fields > 1 (fields on separate pages) or rois (fields as strips "
                "of each page), not both",
            )
        fix("rois", rois)
        fix("lbm", bool(self.lbm))
        if self.page_shape is not None:
            fix("page_shape", self._valid_page_shape(self.page_shape, None))

    def _check_order(self) -> None:
        order = self.order
        if not isinstance(order, str) or not order:
            raise LayoutError(None, f"order must be a string of the letters {_AXES!r}")
        unknown = sorted(set(order) - set(_AXES))
        if unknown:
            raise LayoutError(
                None,
                f"order {order!r} has unknown letters {''.join(unknown)!r}; use t (volume), "
                "z (slice), r (frame in slice), f (field), c (channel)",
            )
        if len(set(order)) != len(order):
            raise LayoutError(None, f"order {order!r} repeats a letter")
        if "t" not in order:
            raise LayoutError(None, f"order {order!r} must contain t (time)")
        sizes = {"z": self.planes + self.flyback, "r": self.frames_per_slice}
        sizes.update({"f": self.fields, "c": self.channels})
        what = {"z": "planes + flyback", "r": "frames_per_slice", "f": "fields", "c": "channels"}
        for letter, size in sizes.items():
            if letter not in order and size != 1:
                raise LayoutError(
                    None,
                    f"order {order!r} has no {letter!r}, but {what[letter]} is {size}; "
                    f"add {letter!r} to the order",
                )

    def _valid_page_shape(self, page_shape: Any, path: str | None) -> tuple[int, int]:
        try:
            rows, cols = (operator.index(v) for v in page_shape)
        except (TypeError, ValueError):
            raise LayoutError(
                path, f"page_shape must be (rows, columns), not {page_shape!r}"
            ) from None
        if rows < 1 or cols < 1:
            raise LayoutError(path, f"page_shape must be positive, not {(rows, cols)}")
        for i, roi in enumerate(self.rois):
            if roi.y0 + roi.height > rows or roi.x0 + roi.width > cols:
                label = f" ({roi.name!r})" if roi.name else ""
                raise LayoutError(
                    path,
                    f"ROI {i}{label} spans rows {roi.y0}..{roi.y0 + roi.height} and columns "
                    f"{roi.x0}..{roi.x0 + roi.width}, outside the {rows}x{cols} pages",
                )
        return (rows, cols)

    # -- sizes -------------------------------------------------------------------------

    @property
    def n_fields(self) -> int:
        """Number of fields: the ROIs when fields are strips of a page, else ``fields``."""
        return len(self.rois) if self.rois else self.fields

    @property
    def pages_per_volume(self) -> int:
        """Pages of one volume, flyback included: frames_per_slice time points of every plane."""
        return (self.planes + self.flyback) * self.frames_per_slice * self.fields * self.channels

    @property
    def n_volumes(self) -> int | None:
        """Volumes (``frames // frames_per_slice``), or None while frames is unknown."""
        return None if self.frames is None else self.frames // self.frames_per_slice

    @property
    def field_shapes(self) -> tuple[tuple[int, int], ...] | None:
        """(height, width) of each field; None for whole-page fields of an unknown page shape."""
        if self.rois:
            return tuple((r.height, r.width) for r in self.rois)
        if self.page_shape is None:
            return None
        return (self.page_shape,) * self.fields

    @property
    def plane_shape(self) -> tuple[int, int] | None:
        """(max height, max width) over the fields: the (y, x) of the stack's planes."""
        shapes = self.field_shapes
        if shapes is None:
            return None
        return (max(h for h, _ in shapes), max(w for _, w in shapes))

    def leftover_reason(self, n_pages: int, pages_per_frame: int | None = None) -> str | None:
        """Why the pages after the last complete volume are left out, or None when none are.

        ``pages_per_frame`` is the pages ScanImage writes per frame (its saved channels; by
        default this layout's channels).

        >>> reason = Layout(planes=3, channels=2).leftover_reason(21)
        >>> print(reason)  # doctest: +NORMALIZE_WHITESPACE
        3 pages after the last complete time point: an incomplete volume (1 of 3 frames),
        then an incomplete frame (1 of 2 pages)
        >>> Layout(planes=30, lbm=True).leftover_reason(45, 30)  # Light Beads: 30 beams
        '15 pages after the last complete time point: an incomplete frame (15 of 30 pages)'
        """
        left = self.leftover_pages(n_pages)
        if not left:
            return None
        per_frame = pages_per_frame or self.channels
        frames, rest = divmod(left, per_frame)
        parts = []
        if frames:
            total = self.pages_per_volume // per_frame
            parts.append(f"an incomplete volume ({frames:,} of {total:,} frames)")
        if rest:
            parts.append(f"an incomplete frame ({rest:,} of {per_frame:,} pages)")
        return f"{plural(left, 'page')} after the last complete time point: " + (
            ", then ".join(parts)
        )

    def leftover_pages(self, n_pages: int) -> int:
        """Pages after the last complete volume (a partly written last volume).

        >>> Layout(planes=3, channels=2).leftover_pages(20)
        2
        """
        return int(n_pages) % self.pages_per_volume

    # -- derived layouts ---------------------------------------------------------------

    def with_frames(self, n_pages: int) -> Layout:
        """This layout with ``frames`` set to the time points of the complete volumes in
        ``n_pages`` pages (pages after the last complete volume are left out).

        >>> Layout(planes=3, frames_per_slice=2).with_frames(20).frames
        6
        """
        volumes = _whole("n_pages", n_pages, 0) // self.pages_per_volume
        return replace(self, frames=volumes * self.frames_per_slice)

    def with_page_shape(self, page_shape: tuple[int, int]) -> Layout:
        """This layout with ``page_shape`` known (the ROIs must fit in it).

        >>> Layout(fields=2, order="tf").with_page_shape((64, 32)).field_window(1)
        (0, 64, 0, 32)
        """
        return replace(self, page_shape=self._valid_page_shape(page_shape, None))

    # -- where things are --------------------------------------------------------------

    def page_numbers(self, f: Any, t: Any, z: Any, c: Any = 0) -> np.ndarray:
        """Page numbers (int64) of fields ``f``, time points ``t``, planes ``z``, channels ``c``.

        Arguments broadcast against each other like numpy arrays; indices must be in range.

        >>> Layout(frames=2, planes=3, channels=2).page_numbers(0, [[0], [1]], [0, 1, 2])
        array([[ 0,  2,  4],
               [ 6,  8, 10]])
        """
        arrays = []
        for name, value in (("f", f), ("t", t), ("z", z), ("c", c)):
            a = np.asarray(value)
            if a.dtype.kind not in "iu":
                if a.size == 0:
                    a = a.astype(np.int64)
                else:
                    raise TypeError(f"{name} must be integers, not {a.dtype}")
            arrays.append(a.astype(np.int64, copy=False))
        f, t, z, c = np.broadcast_arrays(*arrays)
        limits = (("f", f, self.n_fields), ("z", z, self.planes), ("c", c, self.channels))
        limits += (("t", t, self.frames),)
        for name, a, size in limits:
            if a.size and (a.min() < 0 or (size is not None and a.max() >= size)):
                bad = a.min() if a.min() < 0 else a.max()
                bound = "a known number of" if size is None else f"{size:,}"
                raise IndexError(f"{name}={bad} is out of range for {bound} {name} indices")
        sizes = {
            "t": self.n_volumes,
            "z": self.planes + self.flyback,
            "r": self.frames_per_slice,
            "f": self.fields,
            "c": self.channels,
        }
        per_slice = self.frames_per_slice
        digits = {"t": t // per_slice, "z": z, "r": t % per_slice, "c": c}
        digits["f"] = np.zeros_like(f) if self.rois else f
        page = np.zeros(f.shape, dtype=np.int64)
        for i, letter in enumerate(self.order):
            if i:
                size = sizes[letter]
                if size is None:
                    raise LayoutError(
                        None,
                        f"order {self.order!r} puts t inside other axes, so frames must be "
                        "known: use layout.with_frames(n_pages)",
                    )
                page *= size
            page += digits[letter]
        return page

    def page_number(self, f: int, t: int, z: int, c: int = 0) -> int:
        """:meth:`page_numbers` for one plane, in plain integers.

        The eager plane read calls this once per plane; numpy's per-call overhead was 60% of
        a warm 512x512 read (measured: 180 µs vs 7 µs for this loop).

        >>> Layout(fields=4, frames=10, planes=30, order="tfz").page_number(1, 2, 3)
        273
        """
        for name, value, size in (
            ("f", f, self.n_fields),
            ("t", t, self.frames),
            ("z", z, self.planes),
            ("c", c, self.channels),
        ):
            if value < 0 or (size is not None and value >= size):
                raise IndexError(f"{name}={value} is out of range for {size} {name} indices")
        per_slice = self.frames_per_slice
        digits = {
            "t": t // per_slice,
            "z": z,
            "r": t % per_slice,
            "c": c,
            "f": 0 if self.rois else f,
        }
        sizes = {
            "t": self.n_volumes,
            "z": self.planes + self.flyback,
            "r": per_slice,
            "f": self.fields,
            "c": self.channels,
        }
        page = 0
        for i, letter in enumerate(self.order):
            page = page * sizes[letter] + digits[letter] if i else digits[letter]
        return page

    def field_window(self, f: int) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)``: where field ``f`` sits inside its pages.

        >>> Layout(rois=(Roi(0, 448, 224), Roi(464, 448, 224))).field_window(1)
        (464, 912, 0, 224)
        """
        f = operator.index(f)
        if not 0 <= f < self.n_fields:
            raise IndexError(f"field {f} is out of range for {self.n_fields} fields")
        if self.rois:
            r = self.rois[f]
            return (r.y0, r.y0 + r.height, r.x0, r.x0 + r.width)
        if self.page_shape is None:
            raise LayoutError(
                None,
                "the fields are whole pages of unknown shape: use layout.with_page_shape(shape) "
                "or the layout returned by layout.check(...)",
            )
        return (0, self.page_shape[0], 0, self.page_shape[1])

    # -- fitting a file ----------------------------------------------------------------

    def _terms(self, frames: str) -> str:
        planes = plural(self.planes, "plane")
        if self.flyback:
            planes = f"({planes} + {self.flyback} flyback)"
        terms = [] if self.rois else [plural(self.fields, "field")]
        terms += [frames, planes, plural(self.channels, "channel")]
        return " x ".join(terms)

    def check(
        self,
        n_pages: int,
        page_shape: tuple[int, int],
        path: str | os.PathLike | None,
        *,
        allow_leftover: bool = False,
    ) -> Layout:
        """Raise :class:`~si_explorer.errors.LayoutError` unless this layout fits the file.

        With ``frames`` stated, the file must have exactly the pages it needs (or, with
        ``allow_leftover``, up to one incomplete volume more). With ``frames=None`` the page
        count must be a whole number of volumes (unless ``allow_leftover``). ROIs must lie
        inside the pages. Returns the layout with ``page_shape`` filled in.

        >>> Layout(planes=3).check(10, (64, 64), "a.tif")  # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        si_explorer.errors.LayoutError: a.tif: the file has 10 pages, not a whole number of
        volumes of 3 pages (1 field x 1 frame x 3 planes x 1 channel): 1 page left over
        after 3 volumes
        """
        path = None if path is None else os.fspath(path)
        shape = self._valid_page_shape(page_shape, path)
        n_pages = _whole("n_pages", n_pages, 0)
        per_volume = self.pages_per_volume
        volumes, left = divmod(n_pages, per_volume)
        if self.frames is None:
            if volumes == 0:
                raise LayoutError(
                    path,
                    f"the file has {plural(n_pages, 'page')}, fewer than one volume of "
                    f"{per_volume:,} pages ({self._terms(plural(self.frames_per_slice, 'frame'))})",
                )
            if left and not allow_leftover:
                raise LayoutError(
                    path,
                    f"the file has {n_pages:,} pages, not a whole number of volumes of "
                    f"{per_volume:,} pages "
                    f"({self._terms(plural(self.frames_per_slice, 'frame'))}): "
                    f"{plural(left, 'page')} left over after {plural(volumes, 'volume')}",
                )
        else:
            needed = self.n_volumes * per_volume
            extra = n_pages - needed
            if extra != 0 and not (allow_leftover and 0 < extra < per_volume):
                fit = f"frames={volumes * self.frames_per_slice:,} would fit"
                if left:
                    fit += f" with {plural(left, 'page')} left over"
                if volumes == 0:
                    fit = f"it holds less than one volume ({per_volume:,} pages)"
                raise LayoutError(
                    path,
                    f"stated layout needs {needed:,} pages "
                    f"({self._terms(plural(self.frames, 'frame'))}) but the file has "
                    f"{n_pages:,}; {fit}",
                )
        return replace(self, page_shape=shape)


def layout_for_pages(n_pages: int, page_shape: tuple[int, int] | None = None) -> Layout:
    """The layout of a TIFF without ScanImage metadata: one field, one time point per page.

    >>> layout_for_pages(5, (32, 32)).frames
    5
    """
    layout = Layout(frames=_whole("n_pages", n_pages, 0))
    return layout if page_shape is None else layout.with_page_shape(page_shape)


def layout_from_metadata(
    md: ScanImageMetadata,
    n_pages: int,
    page_shape: tuple[int, int],
    *,
    lbm: bool | None = None,
    path: str | os.PathLike | None = None,
) -> Layout:
    """Derive the layout of a ScanImage file (or acquisition of ``n_pages`` pages).

    Saved channels are colour channels, except for Light Beads Microscopy (``lbm=True``, or
    ``lbm=None`` and more than two saved channels), where channel ``k`` of slice ``s`` is
    plane ``s * n_channels + k``. Slices, frames per slice (after averaging) and flyback
    frames come from the stack settings; multi-ROI fields from the ROI group and the page
    height. ``frames`` counts the complete volumes; :meth:`Layout.leftover_pages` tells how
    many pages follow them (the caller warns). Contradictions between the metadata and the
    pages raise :class:`~si_explorer.errors.MetadataError` with the numbers.

    >>> md = ScanImageMetadata("rec.tif", "scanimage", 4,
    ...                        b"SI.hChannels.channelSave = [1 2]\\n"
    ...                        b"SI.hRoiManager.linesPerFrame = 512\\n"
    ...                        b"SI.hRoiManager.pixelsPerLine = 512\\n", b"")
    >>> layout = layout_from_metadata(md, 20, (512, 512))
    >>> layout.frames, layout.channels, layout.planes, layout.plane_shape
    (10, 2, 1, (512, 512))
    """
    path = md.path if path is None else os.fspath(path)
    try:
        rows, cols = (operator.index(v) for v in page_shape)
    except (TypeError, ValueError):
        raise LayoutError(path, f"page_shape must be (rows, columns), not {page_shape!r}") from None
    structure = md.structure
    channels = structure.channels
    per_slice = structure.frames_per_slice
    if lbm is None:
        lbm = channels > 2
    if structure.flyback_frames % per_slice:
        raise MetadataError(
            path,
            f"{structure.flyback_frames} flyback frames per volume are not a multiple of the "
            f"{per_slice} frames per slice; such a layout cannot be expressed, so state one",
        )
    flyback = structure.flyback_frames // per_slice
    if lbm:
        if per_slice > 1 and channels > 1:
            raise MetadataError(
                path,
                f"Light Beads with {per_slice} frames per slice puts frames between the "
                "planes of a slice; such a layout cannot be expressed, so state one "
                "(or pass lbm=False)",
            )
        planes, flyback, channels = structure.slices * channels, flyback * channels, 1
    else:
        planes = structure.slices
    rois = _page_rois(md, rows, cols, path)
    layout = Layout(
        planes=planes,
        channels=channels,
        frames_per_slice=per_slice,
        flyback=flyback,
        rois=rois,
        lbm=lbm,
        order="tzrc",
        page_shape=(rows, cols),
    )
    # A file being written, or left by a stopped acquisition, ends part-way through a frame
    # or a volume: that is normal, so only the complete volumes are served (possibly none).
    return layout.with_frames(n_pages)


# -- pages and ROIs ----------------------------------------------------------------------


def _page_rois(md: ScanImageMetadata, rows: int, cols: int, path: str) -> tuple[Roi, ...]:
    """The ROIs as strips of each page, or () when the page is one field (checked)."""
    if md.flavor == "scanimage3":
        lines = md._whole("state.acq.linesPerFrame", None, minimum=1)
        pixels = md._whole("state.acq.pixelsPerLine", None, minimum=1)
        # With slowDimDiscardFlybackLine, ScanImage 3 drops the last line of each frame.
        allowed = {lines, lines - 1} if md.get("state.acq.slowDimDiscardFlybackLine") else {lines}
        if lines is not None and pixels is not None and (rows not in allowed or cols != pixels):
            raise MetadataError(
                path,
                f"pages are {rows}x{cols}, but state.acq.linesPerFrame x pixelsPerLine is "
                f"{lines}x{pixels}",
            )
        return ()
    if not md.get("SI.hRoiManager.mroiEnable", False):
        lines = md._whole("SI.hRoiManager.linesPerFrame", None, minimum=1)
        pixels = md._whole("SI.hRoiManager.pixelsPerLine", None, minimum=1)
        if lines is not None and pixels is not None and (rows, cols) != (lines, pixels):
            raise MetadataError(
                path,
                f"pages are {rows}x{cols}, but SI.hRoiManager.linesPerFrame x pixelsPerLine "
                f"is {lines}x{pixels}",
            )
        return ()
    return _mroi_strips(md, rows, cols, path)


def _scanfield(roi: dict, z: float | None) -> dict:
    fields = as_list(roi.get("scanfields"))
    if not fields:
        return {}
    zs = flatten(roi.get("zs"))
    if z is not None and len(fields) > 1 and len(zs) == len(fields):
        for candidate, field_z in zip(fields, zs, strict=True):
            if isinstance(field_z, (int, float)) and math.isclose(field_z, z, abs_tol=1e-6):
                return candidate
    return fields[0]


def _mroi_strips(md: ScanImageMetadata, rows: int, cols: int, path: str) -> tuple[Roi, ...]:
    rois = [r for r in md.imaging_rois if roi_enabled(r)]
    if not rois:
        raise MetadataError(path, "multi-ROI is enabled but the ROI group has no enabled ROI")
    # ROIs with several scanfields change with z; the pages hold them at the first plane.
    zs = flatten(md.get("SI.hStackManager.zsRelative", md.get("SI.hStackManager.zs")))
    z = zs[0] if zs and isinstance(zs[0], (int, float)) else None
    strips = []
    for i, roi in enumerate(rois):
        sf = _scanfield(roi, z)
        resolution = sf.get("pixelResolutionXY")
        if (
            not isinstance(resolution, list)
            or len(resolution) != 2
            or not all(is_whole(v) and v >= 1 for v in resolution)
        ):
            raise MetadataError(
                path, f"ROI {i} of the imaging ROI group has no valid pixelResolutionXY"
            )
        width, height = int(resolution[0]), int(resolution[1])
        if width > cols:
            raise MetadataError(
                path,
                f"ROI {i} ({roi.get('name', '')!r}) is {width} pixels wide, wider than the "
                f"{cols}-column pages",
            )
        strips.append((roi, sf, height, width))
    heights = [h for _, _, h, _ in strips]
    gap = 0
    if len(strips) > 1:
        spare = rows - sum(heights)
        described = " + ".join(map(str, heights))
        if spare < 0 or spare % (len(strips) - 1):
            raise MetadataError(
                path,
                f"pages have {rows} rows, but the {len(strips)} ROIs are {described} = "
                f"{sum(heights)} rows tall: the remaining {spare} rows do not split into "
                f"{len(strips) - 1} equal gaps",
            )
        gap = spare // (len(strips) - 1)
        expected = _expected_gaps(md)
        if expected is not None and gap not in expected[0]:
            raise MetadataError(
                path,
                f"pages have {rows} rows = ROIs {described} with {len(strips) - 1} gap(s) of "
                f"{gap} rows, but {expected[1]}",
            )
    elif heights[0] != rows:
        raise MetadataError(
            path, f"pages have {rows} rows, but the only ROI is {heights[0]} rows tall"
        )
    result, y = [], 0
    for i, (roi, sf, height, width) in enumerate(strips):
        center, size = sf.get("centerXY"), sf.get("sizeXY")
        result.append(
            Roi(
                y0=y,
                height=height,
                width=width,
                name=str(roi.get("name") or f"ROI {i + 1}"),
                center_xy=tuple(center) if _is_pair(center) else None,
                size_xy=tuple(size) if _is_pair(size) else None,
            )
        )
        y += height + gap
    return tuple(result)


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


def _expected_gaps(md: ScanImageMetadata) -> tuple[set[int], str] | None:
    """Rows ScanImage leaves between ROIs, with the reasoning; None when unknown."""
    scanner = str(md.get("SI.hScan2D.scannerType", "") or "").lower()
    mode = str(md.get("SI.hScan2D.scanMode", "") or "").lower()
    # scannerType ('RGG', 'RG', 'Resonant', 'GG', 'Linear') is the most specific; older
    # files may only have scanMode or hasResonantMirror.
    if scanner:
        resonant, galvo = scanner.startswith("r"), scanner in ("gg", "linear", "linscan")
    elif mode:
        resonant, galvo = mode == "resonant", mode == "linear"
    else:
        resonant = bool(md.get("SI.hScan2D.hasResonantMirror", False))
        galvo = False
    if galvo:
        return {0}, f"galvo-galvo scanners (scannerType {scanner!r}) leave no rows between ROIs"
    if not resonant:
        return None
    flyto = md.positive_number("SI.hScan2D.flytoTimePerScanfield")
    line = md.positive_number("SI.hRoiManager.linePeriod")
    if flyto is None or line is None:
        return None
    lines = flyto / line
    # The fly-to time rounds up to whole lines, and to an even count so that every ROI
    # starts on a forward line when scanning bidirectionally (a tolerance absorbs the
    # float noise of the stored periods).
    whole = math.ceil(lines - 1e-6)
    expected = {2 * math.ceil(lines / 2 - 1e-6), whole}
    shown = " or ".join(map(str, sorted(expected)))
    return expected, (
        f"the resonant fly-to rule predicts {shown} (flytoTimePerScanfield {flyto:g} s / "
        f"linePeriod {line:g} s = {lines:.2f} lines)"
    )
