"""What the explorer shows of a file's ScanImage metadata: every key and value (FrameData and
the ROI group) as text rows for the metadata panel, the frame header of one page, and the
scanfields of a multi-ROI acquisition in scan coordinates.

Values are shown as ScanImage wrote them (the unparsed MATLAB text of each FrameData key),
which is what a user compares with ScanImage's own display and searches for; a value longer
than :data:`MAX_VALUE_CHARS` (scanner waveforms run to megabytes) is cut short and says so.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..scanimage.metadata import as_list, roi_enabled

#: Longest value text sent to the front end.
MAX_VALUE_CHARS = 400
#: Section names of the metadata rows (the front end shows each under its own heading).
SECTION_HEADER = "ScanImage header"
SECTION_ROIS = "ROI group"


def shorten(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """``text`` up to ``limit`` characters, saying how long it was when cut.

    >>> shorten("x" * 10, 4)
    'xxxx… (10 characters)'
    """
    n = len(text)
    head = text[:limit]  # before anything else: a waveform's value runs to megabytes
    if "\n" in head or "\r" in head:
        head = " ".join(head.split())
    return head if n <= limit else f"{head}… ({n:,} characters)"


def _scalar_list(value: Any) -> bool:
    """A list of numbers or strings, or of such lists (a matrix): shown on one row."""
    return isinstance(value, list) and all(
        not isinstance(v, (dict, list)) or (isinstance(v, list) and _scalar_list(v)) for v in value
    )


def flatten_json(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, JSON text)`` of every leaf of a decoded JSON value; lists of scalars
    (``centerXY``, affine matrices) stay whole.

    >>> flatten_json({"a": {"b": [1, 2], "c": [{"d": "x"}]}})
    [('a.b', '[1, 2]'), ('a.c[0].d', '"x"')]
    """
    if isinstance(value, dict):
        rows = []
        for key, sub in value.items():
            rows += flatten_json(sub, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list) and value and not _scalar_list(value):
        rows = []
        for i, sub in enumerate(value):
            rows += flatten_json(sub, f"{prefix}[{i}]")
        return rows
    return [(prefix, json.dumps(value))]


def value_text(value: Any) -> str:
    """A parsed header value as text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def metadata_entries(stack) -> tuple[list[tuple[str, str, str]], str]:
    """``(section, key, value)`` of every ScanImage key of ``stack`` and a note on them."""
    md = getattr(stack, "metadata", None)  # a stack of another kind may have none
    if md is None:
        return [], "no ScanImage metadata: not a ScanImage file"
    entries = [(SECTION_HEADER, key, shorten(md.raw(key))) for key in md.keys()]
    n_header = len(entries)
    parts = [f"ScanImage {md.software_version or ''}".strip(), f"{n_header:,} header keys"]
    try:
        groups = md.roi_groups
    except Exception as exc:  # noqa: BLE001 - the header keys are still worth showing
        groups = None
        parts.append(f"ROI group unreadable ({exc})")
    if groups:
        rows = [(SECTION_ROIS, key, shorten(text)) for key, text in flatten_json(groups)]
        entries += rows
        parts.append(f"{len(rows):,} ROI group values")
    return entries, " · ".join(parts)


def frame_header_entries(stack, field: int, time: int, z: int) -> tuple[list[tuple[str, str]], str]:
    """``(key, value)`` of the frame header ScanImage wrote into the page of (field, time, z),
    and a note ("" when there are rows) saying why there are none."""
    md = getattr(stack, "metadata", None)  # a stack of another kind may have none
    if md is None or not hasattr(md, "page_description"):
        return [], "no frame headers: not a ScanImage file"
    try:
        header = md.page_description(field, time, z)
    except Exception as exc:  # noqa: BLE001 - shown in the panel, the explorer goes on
        return [], f"frame header unreadable: {type(exc).__name__}: {exc}"
    if not header:
        return [], "this page has no frame header"
    return [(str(k), shorten(value_text(v))) for k, v in header.items()], ""


def _pair(value: Any) -> tuple[float, float] | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        return float(value[0]), float(value[1])
    return None


def scanfield_geometry(stack) -> list[dict]:
    """The imaging scanfields of a multi-ROI acquisition in scan coordinates (degrees):
    ``{"field", "name", "center": [x, y], "size": [w, h], "rotation"}`` each, ``field`` the
    stack's field it is (every ROI is field 0 of a mosaic; None when they do not match).
    Empty for a single-field acquisition, or when the file does not say."""
    md = getattr(stack, "metadata", None)  # a stack of another kind may have none
    if md is None:
        return []
    n_fields = stack.shape[0]
    try:
        if n_fields == 1 and not md.get("SI.hRoiManager.mroiEnable", False):
            return []
        rois = [roi for roi in md.imaging_rois if roi_enabled(roi)]
    except Exception:  # noqa: BLE001 - a drawing, not worth failing the explorer for
        return []
    if len(rois) == n_fields:
        fields: list[int | None] = list(range(n_fields))
    else:
        fields = [0 if n_fields == 1 else None] * len(rois)
    out = []
    for i, (roi, field) in enumerate(zip(rois, fields, strict=True)):
        # ROIs with several scanfields change with z: the pages hold the first (layout.py).
        scanfields = as_list(roi.get("scanfields"))
        sf = scanfields[0] if scanfields and isinstance(scanfields[0], dict) else {}
        center, size = _pair(sf.get("centerXY")), _pair(sf.get("sizeXY"))
        if center is None or size is None:
            continue
        rotation = sf.get("rotationDegrees", sf.get("rotation", 0))
        if not isinstance(rotation, (int, float)) or not math.isfinite(rotation):
            rotation = 0
        out.append(
            {
                "field": field,
                "name": str(roi.get("name") or f"ROI {i + 1}"),
                "center": list(center),
                "size": list(size),
                "rotation": float(rotation),
            }
        )
    return out
