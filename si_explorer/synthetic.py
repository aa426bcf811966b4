"""Realistic synthetic ScanImage BigTIFF files for tests, benchmarks and demos.

The files reproduce the byte layout ScanImage 2021 writes (checked against the real sample
``hostpixelcorr_noavg_00001_00001.tif``): a BigTIFF header followed by the ScanImage header
(magic, version 4, FrameData and ROI-group JSON lengths), the FrameData text and ROI-group JSON
stored once, then one IFD per page with 18 tags, a 2,000-character space-padded per-frame
ImageDescription in a slot rounded up to 8 bytes, and the pixels. Pages therefore sit at a
constant stride unless :attr:`Acquisition.stride_break_at` asks for a change mid-file.

Pixel content is regenerated page by page from the seed and the page indices, so a test can ask
for the ground truth of any page (:meth:`SyntheticFiles.page`) or field plane
(:meth:`SyntheticFiles.expected`) without keeping the file content in memory.

Example::

    >>> import pathlib, tempfile, tifffile
    >>> from si_explorer.synthetic import Acquisition, write_acquisition
    >>> acq = Acquisition(height=64, width=48, channels=2, volumes=5, slices=3, flyback=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files = write_acquisition(pathlib.Path(tmp) / "demo_00001_00001.tif", acq)
    ...     with tifffile.TiffFile(files.paths[0]) as tif:
    ...         same = bool((tif.pages[7].asarray() == files.page(7)).all())
    >>> files.shape, same  # shape: (field, time, z, y, x) of one channel
    ((1, 5, 3, 64, 48), True)
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import struct
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

__all__ = [
    "Acquisition",
    "SyntheticFiles",
    "demo_acquisition",
    "plan_acquisition",
    "write_acquisition",
]

# --- constants taken from the real sample -------------------------------------------------------

_SI_MAGIC = 117637889  # 0x07030301 at byte 16
_SI_HEADER_VERSION = 4
_DESC_CHARS = 2000  # ScanImage pads every per-frame description to this many characters
_DESC_BREAK_EXTRA = 64  # extra characters after Acquisition.stride_break_at
_N_TAGS = 18
_IFD_BYTES = 8 + _N_TAGS * 20 + 8  # BigTIFF: tag count, entries, next-IFD offset = 376
_DEG_PER_PIXEL = 18 / 512  # the sample's 512-pixel scanfield spans 18 degrees
_OBJECTIVE_RESOLUTION = 15  # SI.objectiveResolution of the sample (um per degree)
_SAMPLE_RATE = 2.5e9 / 32  # vDAQ sample rate behind the sample's SI.hScan2D.mask
_SCANNER_FREQUENCY = 7924.47  # SI.hScan2D.scannerFrequency of the sample
_FILL_FRACTION_SPATIAL = 0.9
_RESONANT_LINE_PERIOD = "6.30957e-05"  # SI.hRoiManager.linePeriod of the sample
_FLYTO_TIME = "0.001"  # SI.hScan2D.flytoTimePerScanfield of the sample
_ROI_SPACING_DEG = 0.5  # x distance between neighbouring multi-ROI scanfields

# The per-frame ImageDescription of the sample, with the values that change per frame replaced.
_DESCRIPTION_TEMPLATE = (
    "frameNumbers = %d\n"
    "acquisitionNumbers = 1\n"
    "frameNumberAcquisition = %d\n"
    "frameTimestamps_sec = %.9f\n"
    "acqTriggerTimestamps_sec = -0.000064550\n"
    "nextFileMarkerTimestamps_sec = -1.000000000\n"
    "endOfAcquisition = %d\n"
    "endOfAcquisitionMode = %d\n"
    "dcOverVoltage = 0\n"
    "epoch = [2021 11  5  9 50 13.560]\n"
    "auxTrigger0 = []\n"
    "auxTrigger1 = []\n"
    "auxTrigger2 = []\n"
    "auxTrigger3 = []\n"
    "I2CData = {}\n"
)

# FrameData of the sample, verbatim and in its key order. The six lines marked <generated> hold
# 64-entry cell arrays and the resonant sample mask; _sample_constant_lines() and
# _resonant_mask() rebuild them (exactly, for the sample's settings) so that the file stays
# readable.
_SAMPLE_FRAME_DATA = (
    resources.files("si_explorer").joinpath("data", "frame_data_sample.txt").read_text("ascii")
)


def _sample_constant_lines() -> dict[str, str]:
    """The sample's long, formulaic FrameData values (64 channel slots, resonant mask)."""
    luts = ["[21 42]", "[22 45]", "[0 100]", "[0 2]"] + ["[0 100]"] * 60
    return {
        "SI.hChannels.channelAdcResolution": "{" + " ".join(["16"] * 64) + "}",
        "SI.hChannels.channelLUT": "{" + " ".join(luts) + "}",
        "SI.hChannels.channelMergeColor": "{" + " ".join(["'red'"] * 64) + "}",
        "SI.hChannels.channelName": "{" + " ".join(f"'Channel {i}'" for i in range(1, 65)) + "}",
        "SI.hChannels.channelType": "{" + " ".join(["'stripe'"] * 64) + "}",
    }


def _resonant_mask(pixels_per_line: int) -> str:
    """``SI.hScan2D.mask``: samples per pixel of a cosine (resonant) line.

    Pixel edges are uniform in space over the spatial fill fraction; the scanner position is a
    sine of time, so edge times are ``asin(x)`` and a pixel gets the samples between its edges.
    With the sample's sample rate and scanner frequency this reproduces its 512 values exactly.
    """
    half_period_samples = _SAMPLE_RATE / (2 * _SCANNER_FREQUENCY)
    edges = np.linspace(-_FILL_FRACTION_SPATIAL, _FILL_FRACTION_SPATIAL, pixels_per_line + 1)
    counts = np.diff(np.round(np.arcsin(edges) / np.pi * half_period_samples)).astype(int)
    return "[" + ";".join(map(str, counts)) + "]"


# --- MATLAB-style value formatting ----------------------------------------------------------------


def _mnum(x: float) -> str:
    """A number as ScanImage prints it: integers plainly, others with 6 significant digits."""
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _mbool(b: bool) -> str:
    return "true" if b else "false"


def _mmatrix(rows) -> str:
    return "[" + ";".join(" ".join(_mnum(v) for v in row) for row in rows) + "]"


def _mcolumn(values) -> str:
    values = list(values)
    return _mnum(values[0]) if len(values) == 1 else "[" + ";".join(map(_mnum, values)) + "]"


def _mrow(values) -> str:
    values = list(values)
    return _mnum(values[0]) if len(values) == 1 else "[" + " ".join(map(_mnum, values)) + "]"


def _matlab_json(value, level: int = 0) -> str:
    """JSON pretty-printed the way ScanImage (MATLAB ``jsonencode``) writes the ROI groups.

    Two-space indentation, ``"key": value``, numeric vectors inline without spaces, arrays of
    arrays or objects one element per line, numbers with up to 10 significant digits.
    """
    pad = "  " * level
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}  {json.dumps(k)}: {_matlab_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        if not any(isinstance(v, (dict, list, tuple)) for v in value):
            return "[" + ",".join(_matlab_json(v) for v in value) + "]"
        items = [pad + "  " + _matlab_json(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.10g}"
    return json.dumps(value)


# --- the acquisition --------------------------------------------------------------------------


@dataclass(frozen=True)
class Acquisition:
    """What a synthetic ScanImage acquisition looks like.

    Pages on disk, innermost to outermost: saved channel, saved frame within the slice
    (``frames_per_slice // log_average_factor``), slice (``slices`` kept positions, then
    ``flyback`` flyback frames), volume. Time ``t = volume * saved_frames_per_slice + frame``.

    Attributes:
        height, width: page size of a single-ROI acquisition (ignored when ``rois`` is given).
        channels: saved channels; colour channels, or beams (z planes) when ``lbm`` is True.
        lbm: Light Beads Microscopy: saved channel ``c`` of slice ``s`` is plane
            ``z = s * channels + c``.
        volumes: volumes acquired.
        slices: kept z positions per volume (``SI.hStackManager.actualNumSlices``).
        flyback: flyback frames per volume, saved after the slices (to be dropped by a reader).
        frames_per_slice: frames acquired per slice (``SI.hStackManager.framesPerSlice``).
        log_average_factor: ``SI.hScan2D.logAverageFactor``; frames saved per slice are
            ``frames_per_slice // log_average_factor``.
        rois: multi-ROI acquisition: ``(height, width)`` of each ROI, stacked along y in every
            page; ``()`` means one ROI of ``height x width``.
        scanner: ``"resonant"`` (fly-to gap lines between ROIs) or ``"galvo"`` (no gap).
        dtype: ``"int16"`` or ``"uint16"``.
        frames_per_file: ``SI.hScan2D.logFramesPerFile``: saved frames (each ``channels``
            pages) per file; ``None`` writes a single file.
        strips_per_page: equal contiguous strips per page (must divide the page height).
        sparse: leave the pixel bytes as file holes (zeros); for huge files in open-time tests.
        stride_break_at: from this global page number on, the descriptions are 64 characters
            longer (count 2065, slot 2072 bytes), so the page stride grows by 64 mid-file.
        frame_rate: ``SI.hRoiManager.scanFrameRate`` in Hz.
        timestamp_jitter: standard deviation (s) of each frame's ``frameTimestamps_sec``
            around its nominal time.
        dropped: saved frames (0-based, over the acquisition) before each of which ScanImage
            lost one frame: ``frameNumbers`` and timestamps jump past it (repeat an entry to
            lose several). :meth:`SyntheticFiles.dropped_numbers` lists the lost numbers.
        aux_every: every k-th saved frame carries aux triggers (``auxTrigger0`` two times,
            ``auxTrigger2`` one) and ``I2CData``; 0 for none.
        seed: everything in the pixels derives from it.
    """

    height: int = 128
    width: int = 128
    channels: int = 1
    lbm: bool = False
    volumes: int = 10
    slices: int = 1
    flyback: int = 0
    frames_per_slice: int = 1
    log_average_factor: int = 1
    rois: tuple[tuple[int, int], ...] = ()
    scanner: str = "resonant"
    dtype: str = "int16"
    frames_per_file: int | None = None
    strips_per_page: int = 1
    sparse: bool = False
    stride_break_at: int | None = None
    frame_rate: float = 30.0
    timestamp_jitter: float = 0.0
    dropped: tuple[int, ...] = ()
    aux_every: int = 0
    seed: int = 0

    def __post_init__(self):
        # Lists are accepted for convenience; tuples keep the frozen instance hashable.
        object.__setattr__(self, "rois", tuple(tuple(int(v) for v in r) for r in self.rois))
        object.__setattr__(self, "dropped", tuple(sorted(int(q) for q in self.dropped)))
        positive = (
            "height",
            "width",
            "channels",
            "volumes",
            "slices",
            "frames_per_slice",
            "log_average_factor",
            "strips_per_page",
        )
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"Acquisition.{name} must be >= 1, not {getattr(self, name)!r}")
        if self.flyback < 0:
            raise ValueError(f"Acquisition.flyback must be >= 0, not {self.flyback!r}")
        if self.frames_per_slice // self.log_average_factor < 1:
            raise ValueError(
                f"log_average_factor {self.log_average_factor} leaves no saved frame of "
                f"frames_per_slice {self.frames_per_slice}"
            )
        if self.scanner not in ("resonant", "galvo"):
            raise ValueError(f"scanner must be 'resonant' or 'galvo', not {self.scanner!r}")
        if self.dtype not in ("int16", "uint16"):
            raise ValueError(f"dtype must be 'int16' or 'uint16', not {self.dtype!r}")
        if self.frames_per_file is not None and self.frames_per_file < 1:
            raise ValueError(f"frames_per_file must be >= 1, not {self.frames_per_file!r}")
        if any(len(r) != 2 or r[0] < 1 or r[1] < 1 for r in self.rois):
            raise ValueError(f"rois must be (height, width) pairs >= 1, not {self.rois!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, not {self.seed!r}")
        if not self.frame_rate > 0:
            raise ValueError(f"frame_rate must be > 0, not {self.frame_rate!r}")
        # Derived quantities are checked here so that a bad combination fails before any file.
        plan = _Plan(self)
        h = plan.page_shape[0]
        if h % self.strips_per_page:
            raise ValueError(f"strips_per_page {self.strips_per_page} does not divide {h} rows")
        if max(plan.page_shape) > 65535:
            raise ValueError(f"page {plan.page_shape} too large for SHORT width/length tags")
        if self.stride_break_at is not None and not 0 < self.stride_break_at < plan.n_pages:
            raise ValueError(f"stride_break_at must be in 1..{plan.n_pages - 1}")

    @property
    def saved_frames_per_slice(self) -> int:
        return self.frames_per_slice // self.log_average_factor


class _Plan:
    """Numbers derived from an :class:`Acquisition` that the layout, writer and content share."""

    def __init__(self, acq: Acquisition):
        self.acq = acq
        self.C = acq.channels
        self.S = acq.slices
        self.R = acq.saved_frames_per_slice
        self.B = acq.flyback
        self.V = acq.volumes
        self.Q = self.S * self.R + self.B  # saved frames per volume
        self.A = self.S * acq.frames_per_slice + self.B  # acquired frames per volume
        self.n_frames = self.V * self.Q
        self.n_pages = self.n_frames * self.C
        self.n_t = self.V * self.R
        self.n_z = self.S * self.C if acq.lbm else self.S
        self.mroi = bool(acq.rois)
        self.field_shapes = [tuple(map(int, r)) for r in acq.rois] or [(acq.height, acq.width)]
        if self.mroi and acq.scanner == "resonant":
            ratio = float(_FLYTO_TIME) / float(_RESONANT_LINE_PERIOD)
            self.gap = 2 * math.ceil(ratio / 2) if len(self.field_shapes) > 1 else 0
        else:
            self.gap = 0
        self.y0s, y = [], 0
        for h, _ in self.field_shapes:
            self.y0s.append(y)
            y += h + self.gap
        self.page_shape = (y - self.gap, max(w for _, w in self.field_shapes))
        self.dtype = np.dtype("<i2" if acq.dtype == "int16" else "<u2")
        per_file = self.n_pages if acq.frames_per_file is None else acq.frames_per_file * self.C
        starts = list(range(0, self.n_pages, per_file))
        self.file_starts = starts
        self.pages_per_file = [min(per_file, self.n_pages - s) for s in starts]

    def coords(self, k):
        """Where global page(s) ``k`` sit in the acquisition (vectorised)."""
        k = np.asarray(k, dtype=np.int64)
        c = k % self.C
        q = k // self.C  # saved frame number over the acquisition, flyback frames included
        vol, qq = np.divmod(q, self.Q)
        kept = self.S * self.R
        fly = qq >= kept
        s = np.where(fly, self.S + (qq - kept), qq // self.R)
        r = np.where(fly, 0, qq % self.R)
        fps, avg = self.acq.frames_per_slice, self.acq.log_average_factor
        # An averaged frame is logged when its last acquired frame is in.
        acquired = np.where(fly, self.S * fps + (qq - kept), s * fps + (r + 1) * avg - 1)
        return {
            "channel": c,
            "frame": q,
            "volume": vol,
            "slot": s,
            "flyback": fly,
            "t": vol * self.R + r,
            "frame_number": vol * self.A + acquired + 1,
        }


# --- metadata -------------------------------------------------------------------------------


def _scanfields(plan: _Plan) -> list[dict]:
    """Centre and size (degrees) of each ROI's scanfield: side by side in x, centred on 0."""
    sizes = [(w * _DEG_PER_PIXEL, h * _DEG_PER_PIXEL) for h, w in plan.field_shapes]
    total = sum(sx for sx, _ in sizes) + _ROI_SPACING_DEG * (len(sizes) - 1)
    out, left = [], -total / 2
    for (sx, sy), (h, w) in zip(sizes, plan.field_shapes, strict=True):
        out.append({"center": (left + sx / 2, 0.0), "size": (sx, sy), "pixels": (w, h)})
        left += sx + _ROI_SPACING_DEG
    return out


def _frame_data(plan: _Plan) -> bytes:
    """The FrameData block: the sample's text with the layout keys set for this acquisition."""
    acq = plan.acq
    rate = float(acq.frame_rate)
    stack = plan.S > 1 or plan.B > 0
    resonant = acq.scanner == "resonant"
    h0, w0 = plan.field_shapes[0]
    if resonant:
        line_period = _RESONANT_LINE_PERIOD
    else:
        # A galvo line takes the frame period over the page lines plus a few turnaround lines.
        line_period = _mnum(1 / rate / (plan.page_shape[0] + 16))
    fields = _scanfields(plan)
    x0 = min(f["center"][0] - f["size"][0] / 2 for f in fields)
    x1 = max(f["center"][0] + f["size"][0] / 2 for f in fields)
    y1 = max(f["size"][1] for f in fields) / 2
    fov_deg = [(x0, -y1), (x1, -y1), (x1, y1), (x0, y1)]
    fov_um = [(x * _OBJECTIVE_RESOLUTION, y * _OBJECTIVE_RESOLUTION) for x, y in fov_deg]
    channels = range(1, plan.C + 1)
    values = dict(_sample_constant_lines())
    values.update(
        {
            "SI.hChannels.channelSave": _mcolumn(channels),
            "SI.hChannels.channelsActive": _mcolumn(channels),
            "SI.hChannels.channelDisplay": _mcolumn(channels),
            "SI.hFastZ.discardFlybackFrames": "false",  # flyback frames are on disk
            "SI.hFastZ.enable": _mbool(stack),
            "SI.hFastZ.numDiscardFlybackFrames": str(plan.B),
            "SI.hRoiManager.imagingFovDeg": _mmatrix(fov_deg),
            "SI.hRoiManager.imagingFovUm": _mmatrix(fov_um),
            "SI.hRoiManager.linePeriod": line_period,
            "SI.hRoiManager.linesPerFrame": str(h0),
            "SI.hRoiManager.mroiEnable": _mbool(plan.mroi),
            "SI.hRoiManager.pixelsPerLine": str(w0),
            "SI.hRoiManager.scanFramePeriod": _mnum(1 / rate),
            "SI.hRoiManager.scanFrameRate": _mnum(rate),
            "SI.hRoiManager.scanVolumeRate": _mnum(rate / plan.A if stack else rate),
            "SI.hScan2D.channelsDataType": f"'{acq.dtype}'",
            "SI.hScan2D.flytoTimePerScanfield": _FLYTO_TIME,
            "SI.hScan2D.hasResonantMirror": _mbool(resonant),
            "SI.hScan2D.logAverageFactor": str(acq.log_average_factor),
            "SI.hScan2D.logFramesPerFile": (
                "Inf" if acq.frames_per_file is None else str(acq.frames_per_file)
            ),
            "SI.hScan2D.mask": _resonant_mask(w0) if resonant else "[]",
            "SI.hScan2D.scanMode": "'resonant'" if resonant else "'linear'",
            "SI.hScan2D.scannerType": "'RGG'" if resonant else "'GG'",
            "SI.hStackManager.actualNumSlices": str(plan.S),
            "SI.hStackManager.actualNumVolumes": str(plan.V),
            "SI.hStackManager.enable": _mbool(stack),
            # Without a stack, framesPerSlice is the frame count of the whole acquisition.
            "SI.hStackManager.framesPerSlice": str(
                acq.frames_per_slice if stack else plan.V * acq.frames_per_slice
            ),
            "SI.hStackManager.numFramesPerVolume": str(plan.S * acq.frames_per_slice),
            "SI.hStackManager.numFramesPerVolumeWithFlyback": str(plan.A),
            "SI.hStackManager.numSlices": str(plan.S),
            "SI.hStackManager.numVolumes": str(plan.V),
            "SI.objectiveResolution": _mnum(_OBJECTIVE_RESOLUTION),
        }
    )
    if stack:
        values["SI.hStackManager.stackMode"] = "'fast'"
        values["SI.hStackManager.stackActuator"] = "'fastZ'"
    if plan.S > 1:
        step = 10  # um between slices
        rel = [i * step for i in range(plan.S)]
        ref = -251149  # SI.hStackManager.zPowerReference of the sample
        values["SI.hStackManager.stackZStepSize"] = str(step)
        values["SI.hStackManager.zsRelative"] = _mrow(rel)
        values["SI.hStackManager.zs"] = _mrow([ref + z for z in rel])
        values["SI.hStackManager.zsAllActuators"] = _mrow([ref + z for z in rel])
    lines = _SAMPLE_FRAME_DATA.split("\n")
    seen = set()
    for i, line in enumerate(lines):
        key = line.split(" = ", 1)[0]
        if key in values:
            lines[i] = f"{key} = {values[key]}"
            seen.add(key)
    missing = set(values) - seen
    if missing:  # the embedded template and this function disagree: a bug, not user error
        raise RuntimeError(f"FrameData template lacks keys {sorted(missing)}")
    return "\n".join(lines).encode("ascii") + b"\0"


def _uuid(rng: np.random.Generator) -> dict:
    # MATLAB's dec2hex drops leading zeros, and jsonencode prints the uint64 as a double.
    value = int(rng.integers(0, 2**64, dtype=np.uint64))
    return {"roiUuid": f"{value:X}", "roiUuiduint64": float(value)}


def _roi_group_json(plan: _Plan) -> bytes:
    """The ROI-group JSON block, structured and pretty-printed like the sample's."""
    rng = np.random.default_rng([plan.acq.seed, 7])
    rois = []
    for i, sf in enumerate(_scanfields(plan)):
        (cx, cy), (sx, sy), (w, h) = sf["center"], sf["size"], sf["pixels"]
        scanfield = {
            "ver": 1,
            "classname": "scanimage.mroi.scanfield.fields.RotatedRectangle",
            "name": f"ROI {i + 1} Scanfield" if plan.mroi else "Default Imaging Scanfield",
            "UserData": None,
            **_uuid(rng),
            "centerXY": [cx, cy],
            "sizeXY": [sx, sy],
            "rotationDegrees": 0,
            "enable": 1,
            "pixelResolutionXY": [w, h],
            "pixelToRefTransform": [
                [sx / w, 0, cx - sx / 2 - sx / w / 2],
                [0, sy / h, cy - sy / 2 - sy / h / 2],
                [0, 0, 1],
            ],
            "affine": [[sx, 0, cx - sx / 2], [0, sy, cy - sy / 2], [0, 0, 1]],
        }
        user_data = {
            "imagingSystem": "HSvDAQ",
            "fillFractionSpatial": _FILL_FRACTION_SPATIAL,
            "forceSquarePixelation": 1,
            "forceSquarePixels": 1,
            "scanZoomFactor": 1,
            "scanAngleShiftFast": 0,
            "scanAngleMultiplierSlow": 1,
            "scanAngleShiftSlow": 0,
            "scanRotation": 0,
            "pixelsPerLine": w,
            "linesPerFrame": h,
        }
        rois.append(
            {
                "ver": 1,
                "classname": "scanimage.mroi.Roi",
                "name": f"ROI {i + 1}" if plan.mroi else "Default Imaging Roi",
                "UserData": None if plan.mroi else user_data,
                **_uuid(rng),
                "zs": 0,
                "scanfields": scanfield,
                "discretePlaneMode": 0,
                "powers": None,
                "pzAdjust": [],
                "Lzs": None,
                "interlaceDecimation": None,
                "interlaceOffset": None,
                "enable": 1,
            }
        )
    group = {
        "RoiGroups": {
            "imagingRoiGroup": {
                "ver": 1,
                "classname": "scanimage.mroi.RoiGroup",
                "name": "Default Imaging ROI Group",
                "UserData": None,
                **_uuid(rng),
                # MATLAB encodes a 1x1 struct array as an object, longer ones as a list.
                "rois": rois if len(rois) > 1 else rois[0],
            },
            "photostimRoiGroups": None,
            "integrationRoiGroup": {
                "ver": 1,
                "classname": "scanimage.mroi.RoiGroup",
                "name": "",
                "UserData": None,
                **_uuid(rng),
                "rois": {"_ArrayType_": "double", "_ArraySize_": [1, 0], "_ArrayData_": None},
            },
        }
    }
    return (_matlab_json(group) + "\n").encode("ascii") + b"\0"


# --- TIFF byte layout ---------------------------------------------------------------------------


def _round8(n: int) -> int:
    return (n + 7) // 8 * 8


class _Record:
    """Byte layout of one page: IFD, description slot, strip arrays (if several), pixels.

    Offsets are relative to the page's IFD; :meth:`fill` turns them into absolute ones for a
    batch of pages at once, so that no per-page Python work beyond the description text remains.
    """

    def __init__(self, plan: _Plan, desc_chars: int, size0: int, size1: int):
        h, w = plan.page_shape
        ns = plan.acq.strips_per_page
        itemsize = plan.dtype.itemsize
        self.desc_chars = desc_chars
        self.desc_off = _IFD_BYTES
        off = self.desc_off + _round8(desc_chars + 1)
        self.n_strips = ns
        self.strip_bytes = (h // ns) * w * itemsize
        if ns > 1:  # arrays of more than one LONG8 do not fit the 8-byte value field
            self.so_off, self.sc_off = off, off + 8 * ns
            off += 16 * ns
        self.pix_off = off
        self.size = off + h * w * itemsize
        um_per_pixel = _DEG_PER_PIXEL * _OBJECTIVE_RESOLUTION
        pixels_per_cm = 1e4 / um_per_pixel
        # The sample stores 2**30 / round(2**30 / resolution) (1073741824/56623 for 0.527 um).
        resolution = struct.pack("<II", 2**30, round(2**30 / pixels_per_cm))
        short, ascii_, long8, rational = 3, 2, 16, 5
        sample_format = 2 if plan.dtype.kind == "i" else 1

        def s(v):
            return struct.pack("<H6x", v)

        def q(v):
            return struct.pack("<Q", v)

        tags = [
            (256, short, 1, s(w)),
            (257, short, 1, s(h)),
            (258, short, 1, s(8 * itemsize)),
            (259, short, 1, s(1)),
            (262, short, 1, s(1)),
            (270, ascii_, desc_chars + 1, None),
            (273, long8, ns, None),
            (274, short, 1, s(1)),
            (277, short, 1, s(1)),
            (278, short, 1, s(h // ns)),
            (279, long8, ns, q(self.strip_bytes) if ns == 1 else None),
            (282, rational, 1, resolution),
            (283, rational, 1, resolution),
            (284, short, 1, s(1)),
            (296, short, 1, s(3)),  # centimetre
            (305, ascii_, size0, q(32)),  # Software -> FrameData
            (315, ascii_, size1, q(32 + size0)),  # Artist -> ROI-group JSON
            (339, short, 1, s(sample_format)),
        ]
        assert len(tags) == _N_TAGS
        template = bytearray(self.pix_off)
        template[0:8] = q(_N_TAGS)
        self.value_pos = {}
        for i, (tag, typ, count, value) in enumerate(tags):
            pos = 8 + 20 * i
            template[pos : pos + 12] = struct.pack("<HHQ", tag, typ, count)
            template[pos + 12 : pos + 20] = value if value is not None else bytes(8)
            self.value_pos[tag] = pos + 12
        self.next_pos = 8 + 20 * _N_TAGS
        # Description slot: spaces up to desc_chars, then NUL and zero padding to 8 bytes.
        template[self.desc_off : self.desc_off + desc_chars] = b" " * desc_chars
        if ns > 1:
            counts = np.full(ns, self.strip_bytes, "<u8").tobytes()
            template[self.sc_off : self.sc_off + 8 * ns] = counts
        self.template = np.frombuffer(bytes(template), np.uint8)

    def fill(self, hdr: np.ndarray, bases: np.ndarray, descriptions: np.ndarray, end: bool):
        """Write the IFD and description bytes of pages whose IFDs are at ``bases``.

        ``hdr`` is ``(n, pix_off)`` uint8; ``end`` marks the batch that holds the file's last
        page, whose next-IFD offset must be 0.
        """

        def put(pos, values):
            hdr[:, pos : pos + 8] = values.astype("<u8").view(np.uint8).reshape(-1, 8)

        hdr[:] = self.template
        put(self.value_pos[270], bases + self.desc_off)
        if self.n_strips == 1:
            put(self.value_pos[273], bases + self.pix_off)
        else:
            put(self.value_pos[273], bases + self.so_off)
            put(self.value_pos[279], bases + self.sc_off)
            strips = bases[:, None] + self.pix_off + np.arange(self.n_strips) * self.strip_bytes
            hdr[:, self.so_off : self.sc_off] = strips.astype("<u8").view(np.uint8)
        nxt = bases + self.size
        if end:
            nxt[-1] = 0
        put(self.next_pos, nxt)
        hdr[:, self.desc_off : self.desc_off + self.desc_chars] = descriptions


def _descriptions(plan: _Plan, ks: np.ndarray, chars: int) -> np.ndarray:
    """Per-frame ImageDescription text of pages ``ks``, space-padded, as ``(n, chars)`` bytes."""
    # All channels of a frame share its description: format each frame once.
    first = int(ks[0]) // plan.C
    frames = np.arange(first, int(ks[-1]) // plan.C + 1)
    co = plan.coords(frames * plan.C)
    acq = plan.acq
    numbers = co["frame_number"] + np.searchsorted(acq.dropped, frames, side="right")
    stamps = (numbers - 1) / float(acq.frame_rate)
    if acq.timestamp_jitter:
        # One draw per frame of the whole acquisition, so every file agrees on each frame.
        rng = np.random.default_rng([acq.seed, 11])
        stamps = stamps + rng.normal(0, acq.timestamp_jitter, plan.n_frames)[frames]
    ends = (co["frame"] == plan.n_frames - 1).tolist()
    texts = []
    for q, n, t, e in zip(frames.tolist(), numbers.tolist(), stamps.tolist(), ends, strict=True):
        text = _DESCRIPTION_TEMPLATE % (n, n, t, e, e)
        if acq.aux_every and q % acq.aux_every == 0:
            text = (
                text.replace("auxTrigger0 = []", f"auxTrigger0 = [{t + 0.001:.6f} {t + 0.002:.6f}]")
                .replace("auxTrigger2 = []", f"auxTrigger2 = [{t + 0.003:.6f}]")
                .replace("I2CData = {}", f"I2CData = {{{{{t + 0.004:.6f},[{q % 256} 7 9]}}}}")
            )
        texts.append(text.ljust(chars))
    per_frame = np.frombuffer("".join(texts).encode("ascii"), np.uint8).reshape(-1, chars)
    return per_frame[ks // plan.C - first]


# --- pixel content ------------------------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Unit-variance Gaussian-filtered white noise (periodic, via FFT)."""
    h, w = shape
    white = rng.standard_normal(shape)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    smooth = np.fft.irfft2(np.fft.rfft2(white) * kernel, s=shape)
    std = smooth.std()
    return smooth / std if std > 0 else smooth


def _exp_filter(x: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """``y[t] = decay * y[t-1] + x[t]`` along axis 0 for each column, in vectorised blocks.

    Inside a block of length B, ``y[j] = d**j * (d * y_prev + cumsum(x[i] * d**-i))``; B is
    chosen so that ``d**-B`` stays far from overflow.
    """
    n_t, n = x.shape
    y = np.empty_like(x)
    rate = float(np.max(-np.log(decay)))  # strongest decay per step
    block = int(max(1, min(n_t, 300 // max(rate, 1e-9))))
    j = np.arange(block)[:, None]
    powers = decay[None, :] ** j
    inverse = 1 / powers
    prev = np.zeros(n)
    for start in range(0, n_t, block):
        stop = min(start + block, n_t)
        m = stop - start
        y[start:stop] = powers[:m] * (decay * prev + np.cumsum(x[start:stop] * inverse[:m], axis=0))
        prev = y[stop - 1]
    return y


class _FieldContent:
    """Baseline, cells and calcium traces of one field plane, derived from seed and key.

    ``key`` is (field, slot, channel) where slot counts kept slices then flyback frames; each key
    gets its own cells. A rendered frame is ``base + weight * trace[label]`` plus shot-like
    noise whose variance grows with the signal. Traces are computed for the whole acquisition
    up front (``n_t x cells`` float32, a few MB per plane for thousands of time points) so that
    any page can be rendered on its own.
    """

    def __init__(self, seed: int, key: tuple[int, int, int], shape, n_t: int, dt: float):
        h, w = shape
        rng = np.random.default_rng([seed, 1, *key])
        yy = np.linspace(-1, 1, h)[:, None]
        xx = np.linspace(-1, 1, w)[None, :]
        vignette = 1 - 0.175 * (xx**2 + yy**2)
        texture = np.clip(_smooth_noise(rng, (h, w), max(1.5, min(h, w) / 24)), -4, 4)
        self.base = (rng.uniform(120, 320) * vignette * (1 + 0.1 * texture)).astype(np.float32)

        n_cells = int(min(rng.integers(20, 61), max(1, h * w // 150)))
        scale = float(np.clip(min(h, w) / 96, 0.4, 1.0))
        self.label = np.zeros((h, w), np.uint8)
        self.weight = np.zeros((h, w), np.float32)
        for i in range(n_cells):
            r = rng.uniform(3.5, 7.0) * scale
            cy, cx = rng.uniform(-2, h + 2), rng.uniform(-2, w + 2)
            a, b = r * rng.uniform(0.8, 1.25), r * rng.uniform(0.8, 1.25)
            theta = rng.uniform(0, np.pi)
            ext = math.ceil(1.6 * max(a, b))
            y0, y1 = max(int(cy) - ext, 0), min(int(cy) + ext + 1, h)
            x0, x1 = max(int(cx) - ext, 0), min(int(cx) + ext + 1, w)
            grain = rng.standard_normal((2 * ext + 1, 2 * ext + 1))  # drawn even if clipped
            if y0 >= y1 or x0 >= x1:
                continue
            py = np.arange(y0, y1)[:, None] - cy
            px = np.arange(x0, x1)[None, :] - cx
            u = px * np.cos(theta) + py * np.sin(theta)
            v = -px * np.sin(theta) + py * np.cos(theta)
            d2 = (u / a) ** 2 + (v / b) ** 2
            profile = np.exp(-0.7 * d2**2)  # flat-topped soma with a soft membrane edge
            profile *= 1 - 0.55 * np.exp(-d2 / 0.25)  # darker nucleus: GCaMP is cytosolic
            profile *= 1 + 0.2 * grain[: y1 - y0, : x1 - x0]
            region = self.weight[y0:y1, x0:x1]
            take = profile > np.maximum(region, 0.03)
            region[take] = profile[take]
            self.label[y0:y1, x0:x1][take] = i + 1

        rate_hz = np.exp(rng.uniform(np.log(0.03), np.log(0.5), n_cells))
        tau = rng.uniform(0.5, 2.0, n_cells)
        rest = rng.uniform(60, 220, n_cells)
        amplitude = rest * rng.uniform(0.8, 2.5, n_cells)
        spikes = rng.poisson(rate_hz * dt, size=(n_t, n_cells)).astype(np.float64)
        spikes *= rng.lognormal(0.0, 0.3, size=spikes.shape)
        calcium = _exp_filter(spikes, np.exp(-dt / tau))
        rise = np.exp(-dt / 0.07)
        if rise > 1e-6:  # a rise time shorter than a frame is invisible anyway
            calcium -= _exp_filter(spikes, np.full(n_cells, rise))
        traces = np.zeros((n_t, n_cells + 1), np.float32)
        traces[:, 1:] = rest + amplitude * calcium
        self.traces = traces  # column 0 (no cell) stays 0

    def render(self, t: int, noise: np.ndarray, out: np.ndarray, lo: float, hi: float):
        frame = self.traces[t][self.label]
        frame *= self.weight
        frame += self.base
        shot = np.sqrt(frame)
        shot *= noise
        frame += shot
        np.rint(frame, out=frame)
        np.clip(frame, lo, hi, out=frame)
        out[...] = frame


_NOISE_BANK_SIZE = 1 << 20


def _noise_offset(seed: int, k: int, f: int, span: int) -> int:
    """Deterministic, well-mixed start of page k / field f's slice of the noise bank."""
    x = (k * 0x9E3779B97F4A7C15 + (f + 1) * 0xC2B2AE3D27D4EB4F + seed) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 29
    x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 32
    return x % span


# --- the public result --------------------------------------------------------------------------


@dataclass
class SyntheticFiles:
    """The files of a synthetic acquisition and their ground truth.

    Attributes:
        paths: the files, in acquisition order.
        acquisition: what was written.
        n_pages: pages over all files.
        pages_per_file: pages in each file.
        shape: ``(field, time, z, y, x)`` a loader should give for one channel.
        field_shapes: true ``(height, width)`` of each field.
        gap: fly-to gap lines between consecutive ROIs in a page (0 for galvo or one ROI).
        page_shape: ``(rows, columns)`` of every page, gap lines and padding included.
        field_rows: first page row of each field.
        ifd_offsets: byte offset of every IFD, one int64 array per file.
        file_sizes: size in bytes of each file.
    """

    paths: list[pathlib.Path]
    acquisition: Acquisition
    n_pages: int
    pages_per_file: list[int]
    shape: tuple[int, int, int, int, int]
    field_shapes: list[tuple[int, int]]
    gap: int
    page_shape: tuple[int, int]
    field_rows: list[int] = field(default_factory=list)
    ifd_offsets: list[np.ndarray] = field(default_factory=list, repr=False)
    file_sizes: list[int] = field(default_factory=list)
    _plan: _Plan | None = field(default=None, repr=False, compare=False)
    _header: bytes = field(default=b"", repr=False, compare=False)
    _records: dict = field(default_factory=dict, repr=False, compare=False)
    _content: dict = field(default_factory=dict, repr=False, compare=False)
    _bank: np.ndarray | None = field(default=None, repr=False, compare=False)

    # -- ground truth

    def dropped_numbers(self) -> list[int]:
        """The ``frameNumbers`` that ``Acquisition.dropped`` made ScanImage skip, in order."""
        lost = []
        dropped = self.acquisition.dropped
        for i, q in enumerate(dropped):
            design = int(self._plan.coords(q * self._plan.C)["frame_number"])
            lost.append(design + i)  # i drops came before this one (sorted, repeats included)
        return lost

    def page_number(self, t: int, z: int, channel: int = 0) -> int:
        """Global page number holding time ``t``, plane ``z`` and ``channel`` (all fields)."""
        plan = self._plan
        if not 0 <= t < plan.n_t or not 0 <= z < plan.n_z:
            raise IndexError(f"(t={t}, z={z}) outside time {plan.n_t} x z {plan.n_z}")
        if plan.acq.lbm:
            if channel != 0:
                raise ValueError("an LBM acquisition has its channels as z planes: channel=0")
            slice_, channel = divmod(z, plan.C)
        else:
            if not 0 <= channel < plan.C:
                raise IndexError(f"channel {channel} outside {plan.C} channels")
            slice_ = z
        volume, frame = divmod(t, plan.R)
        saved_frame = volume * plan.Q + slice_ * plan.R + frame
        return saved_frame * plan.C + channel

    def locate(self, k: int) -> tuple[int, int]:
        """``(file index, page within that file)`` of global page ``k``."""
        self._check_page(k)
        i = int(np.searchsorted(self._plan.file_starts, k, side="right")) - 1
        return i, k - self._plan.file_starts[i]

    def page(self, k: int) -> np.ndarray:
        """Raw page ``k`` (global over all files) as written: gap lines and padding included."""
        self._check_page(k)
        out = np.zeros(self.page_shape, self._plan.dtype.newbyteorder("="))
        if not self.acquisition.sparse:
            self._render(k, out)
        return out

    def expected(self, f: int, t: int, z: int, channel: int = 0) -> np.ndarray:
        """The plane a loader must return for field ``f``, zero-padded to ``shape[-2:]``."""
        if not 0 <= f < len(self.field_shapes):
            raise IndexError(f"field {f} outside {len(self.field_shapes)} fields")
        page = self.page(self.page_number(t, z, channel))
        h, w = self.field_shapes[f]
        out = np.zeros(self.shape[-2:], page.dtype)
        y0 = self.field_rows[f]
        out[:h, :w] = page[y0 : y0 + h, :w]
        return out

    def _check_page(self, k):
        if not 0 <= k < self.n_pages:
            raise IndexError(f"page {k} outside 0..{self.n_pages - 1}")

    def _field_content(self, key) -> _FieldContent:
        content = self._content.get(key)
        if content is None:
            plan = self._plan
            # Time points of one volume are spread evenly over the volume period.
            dt = plan.A / float(plan.acq.frame_rate) / plan.R
            shape = plan.field_shapes[key[0]]
            content = _FieldContent(plan.acq.seed, key, shape, plan.n_t, dt)
            self._content[key] = content
        return content

    def _render(self, k: int, out: np.ndarray, coords=None):
        plan = self._plan
        if self._bank is None:
            largest = max(h * w for h, w in plan.field_shapes)
            rng = np.random.default_rng([plan.acq.seed, 2])
            # Variance 2 counts per count of signal: shot noise of a detector gain of 2.
            bank = rng.standard_normal(_NOISE_BANK_SIZE + largest, np.float32)
            self._bank = bank * np.float32(math.sqrt(2.0))
        if coords is None:
            coords = {key: int(v) for key, v in plan.coords(k).items()}
        info = np.iinfo(plan.dtype)
        for f, ((h, w), y0) in enumerate(zip(plan.field_shapes, self.field_rows, strict=True)):
            key = (f, coords["slot"], coords["channel"])
            span = len(self._bank) - h * w + 1
            start = _noise_offset(plan.acq.seed, k, f, span)
            noise = self._bank[start : start + h * w].reshape(h, w)
            content = self._field_content(key)
            content.render(coords["t"], noise, out[y0 : y0 + h, :w], info.min, info.max)

    # -- writing

    def _segments(self, a: int, b: int):
        """Runs of pages ``[start, stop)`` within ``[a, b)`` that share a record layout."""
        brk = self.acquisition.stride_break_at
        normal, long = self._records["normal"], self._records["long"]
        if brk is None or brk >= b:
            return [(a, b, normal)]
        if brk <= a:
            return [(a, b, long)]
        return [(a, brk, normal), (brk, b, long)]

    def _write_file(self, i: int, fh, bar) -> None:
        plan = self._plan
        sparse = self.acquisition.sparse
        a = plan.file_starts[i]
        b = a + plan.pages_per_file[i]
        offsets = self.ifd_offsets[i]
        _write_all(fh, self._header)
        for start, stop, rec in self._segments(a, b):
            if sparse:
                batch = max(1, min(16384, (16 << 20) // rec.pix_off))
                buf = np.zeros((batch, rec.pix_off), np.uint8)
            else:
                batch = max(1, min(4096, (16 << 20) // rec.size))
                dtype = np.dtype(
                    [("hdr", np.uint8, (rec.pix_off,)), ("pix", plan.dtype, plan.page_shape)]
                )
                buf = np.zeros(batch, dtype)  # gap lines and padding are never written: stay 0
            for s in range(start, stop, batch):
                e = min(s + batch, stop)
                ks = np.arange(s, e, dtype=np.int64)
                bases = offsets[s - a : e - a]
                descriptions = _descriptions(plan, ks, rec.desc_chars)
                if sparse:
                    hdr = buf[: e - s]
                    rec.fill(hdr, bases, descriptions, end=e == b)
                    fd = fh.fileno()
                    for row, base in zip(hdr, bases.tolist(), strict=True):
                        os.pwrite(fd, row, base)
                else:
                    records = buf[: e - s]
                    rec.fill(records["hdr"], bases, descriptions, end=e == b)
                    pixels = records["pix"]
                    coords = plan.coords(ks)
                    columns = {key: v.tolist() for key, v in coords.items()}
                    for j, k in enumerate(range(s, e)):
                        one = {key: v[j] for key, v in columns.items()}
                        self._render(k, pixels[j], one)
                    _write_all(fh, records.view(np.uint8))
                if bar is not None:
                    bar.update(e - s)
        if sparse:
            fh.truncate(self.file_sizes[i])


def _write_all(fh, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        view = view[fh.write(view) :]


def _file_paths(first: pathlib.Path, n: int) -> list[pathlib.Path]:
    """``x_00001_00001.tif`` -> ``x_00001_00002.tif``, ...; other names get ``_00002`` etc."""
    m = re.fullmatch(r"(.*_)(\d+)(\.tiff?)", first.name, flags=re.IGNORECASE)
    if m:
        prefix, number, ext = m.groups()
        width, start = len(number), int(number)
        return [first.with_name(f"{prefix}{start + i:0{width}d}{ext}") for i in range(n)]
    suffix = first.suffix or ".tif"
    rest = [first.with_name(f"{first.stem}_{i:05d}{suffix}") for i in range(2, n + 1)]
    return [first, *rest]


def plan_acquisition(path: str | os.PathLike, acq: Acquisition) -> SyntheticFiles:
    """The :class:`SyntheticFiles` that :func:`write_acquisition` would write, without writing.

    Useful to get the ground truth of files written earlier with the same arguments.
    """
    plan = _Plan(acq)
    frame_data = _frame_data(plan)
    roi_json = _roi_group_json(plan)
    size0, size1 = len(frame_data), len(roi_json)
    # The sample's first IFD follows the JSON at the next multiple of 4 (21386 -> 21388).
    ifd0 = (32 + size0 + size1 + 3) // 4 * 4
    header = (
        struct.pack("<2sHHHQ", b"II", 43, 8, 0, ifd0)
        + struct.pack("<4I", _SI_MAGIC, _SI_HEADER_VERSION, size0, size1)
        + frame_data
        + roi_json
    )
    header += bytes(ifd0 - len(header))
    records = {
        "normal": _Record(plan, _DESC_CHARS, size0, size1),
        "long": _Record(plan, _DESC_CHARS + _DESC_BREAK_EXTRA, size0, size1),
    }
    h = max(h for h, _ in plan.field_shapes)
    w = max(w for _, w in plan.field_shapes)
    files = SyntheticFiles(
        paths=_file_paths(pathlib.Path(path), len(plan.file_starts)),
        acquisition=acq,
        n_pages=plan.n_pages,
        pages_per_file=list(plan.pages_per_file),
        shape=(len(plan.field_shapes), plan.n_t, plan.n_z, h, w),
        field_shapes=list(plan.field_shapes),
        gap=plan.gap,
        page_shape=plan.page_shape,
        field_rows=list(plan.y0s),
        _plan=plan,
        _header=header,
        _records=records,
    )
    for a, n in zip(plan.file_starts, plan.pages_per_file, strict=True):
        pieces, start = [], ifd0
        for s, e, rec in files._segments(a, a + n):
            pieces.append(start + np.arange(e - s, dtype=np.int64) * rec.size)
            start += (e - s) * rec.size
        files.ifd_offsets.append(np.concatenate(pieces))
        files.file_sizes.append(start)
    return files


def write_acquisition(
    path: str | os.PathLike,
    acq: Acquisition,
    *,
    progress: bool = False,
    overwrite: bool = False,
) -> SyntheticFiles:
    """Write ``acq`` as ScanImage BigTIFF file(s) starting at ``path``; return the ground truth.

    Further files of a split acquisition (``frames_per_file``) are named like ScanImage does,
    ``..._00001_00002.tif``, ``..._00001_00003.tif``. Existing files are refused with
    :class:`FileExistsError` unless ``overwrite=True`` (files beyond the new last one are left
    alone). A failed write removes the files it created.

    Example::

        >>> import pathlib, tempfile
        >>> from si_explorer.synthetic import Acquisition, write_acquisition
        >>> acq = Acquisition(rois=((32, 64), (24, 48)), volumes=4, frames_per_file=3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     files = write_acquisition(pathlib.Path(tmp) / "mroi_00001_00001.tif", acq)
        >>> [p.name for p in files.paths], files.pages_per_file, files.gap, files.page_shape
        (['mroi_00001_00001.tif', 'mroi_00001_00002.tif'], [3, 1], 16, (72, 64))
        >>> files.expected(1, t=2, z=0).shape  # field 1, zero-padded to the largest field
        (32, 64)
    """
    files = plan_acquisition(path, acq)
    if not overwrite:
        for p in files.paths:
            if p.exists():
                raise FileExistsError(f"{p}: exists; pass overwrite=True to replace it")
    files.paths[0].parent.mkdir(parents=True, exist_ok=True)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=files.n_pages, unit="page", desc=files.paths[0].name)
    created = []
    try:
        for i, p in enumerate(files.paths):
            with open(p, "wb" if overwrite else "xb", buffering=0) as fh:
                created.append(p)
                files._write_file(i, fh, bar)
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return files


def demo_acquisition(
    path: str | os.PathLike, *, overwrite: bool = False, progress: bool = False
) -> SyntheticFiles:
    """Write a Light Beads demo: 8 planes x 300 time points of 256 x 256 int16 cells.

    ``path`` is the file to write, or a directory to write ``demo_00001_00001.tif`` into.
    Takes a few seconds and about 315 MB.

    Example::

        >>> import tempfile
        >>> from si_explorer.synthetic import demo_acquisition
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     demo_acquisition(tmp).shape
        (1, 300, 8, 256, 256)
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "demo_00001_00001.tif"
    acq = Acquisition(
        height=256, width=256, channels=8, lbm=True, volumes=300, frame_rate=10.0, seed=2024
    )
    return write_acquisition(path, acq, progress=progress, overwrite=overwrite)
