"""Virtual Zarr: kerchunk references that present a stack's raw pages as ``(field, time, z, y, x)``.

:func:`to_references` writes the kerchunk "version 1" reference format (JSON) that fsspec's
``reference://`` filesystem reads: a Zarr v2 group whose array chunks are byte ranges of the
TIFF files, one chunk per field of a page. Nothing is copied: zarr, xarray or dask read the
pixels straight from the original files (local paths or URLs)::

    mapper = fsspec.get_mapper("reference://", fo="rec.json", remote_protocol="https")
    zarr.open(mapper, mode="r")["data"][f, t, z]     # == stack[f, t, z]

(zarr 3 needs async filesystems: add ``asynchronous=True, remote_options={"asynchronous":
True}`` for an HTTP or S3 target.)

Each field of a page must be one contiguous byte range: plain uncompressed pages (the index's
``raw``), and fields that span whole rows (a multi-ROI field is rows ``y0:y1`` of the full page
width, so it is). When every field has the same shape the group holds one array ``data`` of
the stack's shape. When fields differ in size (multi-ROI with ROIs of unequal height), the
stack pads the smaller ones with zeros, which no byte range holds: each field is then its own
array ``field_0``, ``field_1``... of shape ``(1, time, z, height_f, width_f)``, equal to
``stack[f:f+1, :, :, :height_f, :width_f]`` (the padding is left out, not faked). Mosaics,
bidirectional correction and compressed or tiled pages cannot be referenced: those are errors.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .errors import LayoutError
from .tiff.source import is_url

DIMS = ["field", "time", "z", "y", "x"]


def reference_dict(planes, name: str | None = None) -> dict:
    """The kerchunk version-1 references of ``planes`` (a stack's paged plane source)."""
    where = name or planes.paths[0]
    if planes.uncorrected() is not planes or planes.bidi_offset is not None:
        raise LayoutError(
            where, "bidirectional correction changes the pixels: reference the raw stack"
        )
    sources = getattr(planes, "sources", None)
    if sources is None or getattr(planes, "layout", None) is None:
        raise LayoutError(where, "only paged ScanImage/uniform TIFF stacks can be referenced")
    if planes.mosaic:
        raise LayoutError(where, "a mosaic is drawn, not stored: reference the split fields")
    indexes = [source.index for source in sources]
    if not all(index.raw for index in indexes):
        raise LayoutError(
            where, "compressed, tiled or non-contiguous pages cannot be byte-range references"
        )
    page_width = indexes[0].shape[1]
    dtype = indexes[0].dtype
    starts = np.concatenate([[0], np.cumsum([index.n_pages for index in indexes])])
    urls = [p if is_url(p) else os.path.abspath(p) for p in (s.path for s in sources)]
    n_fields, n_t, n_z, height, width = planes.shape
    windows = []
    for f, placements in enumerate(planes.fields):
        (placement,) = placements
        y0, x0, h, w = placement.src
        if x0 != 0 or w != page_width:
            raise LayoutError(
                where,
                f"field {f} is columns {x0}:{x0 + w} of {page_width}: not contiguous bytes",
            )
        windows.append((y0, h, w))
    same = all((h, w) == (height, width) for _, h, w in windows)

    refs: dict[str, object] = {".zgroup": json.dumps({"zarr_format": 2})}

    def array(key: str, shape, chunk_shape) -> None:
        refs[f"{key}/.zarray"] = json.dumps(
            {
                "zarr_format": 2,
                "shape": list(shape),
                "chunks": list(chunk_shape),
                "dtype": dtype.str,
                "compressor": None,
                "filters": None,
                "fill_value": 0,
                "order": "C",
            }
        )
        refs[f"{key}/.zattrs"] = json.dumps({"_ARRAY_DIMENSIONS": DIMS})

    item = dtype.itemsize
    times = np.arange(n_t)[:, None]
    zs = np.arange(n_z)[None, :]
    if same:
        array("data", planes.shape, (1, 1, 1, height, width))
    for f, (y0, h, w) in enumerate(windows):
        key = "data" if same else f"field_{f}"
        f_index = f if same else 0
        if not same:
            array(key, (1, n_t, n_z, h, w), (1, 1, 1, h, w))
        pages = np.broadcast_to(planes.page_numbers(f, times, zs), (n_t, n_z))
        file_of = np.searchsorted(starts, pages, side="right") - 1
        nbytes = h * w * item
        for t in range(n_t):
            for z in range(n_z):
                i = int(file_of[t, z])
                local = int(pages[t, z]) - int(starts[i])
                offset = indexes[i].item("data_offsets", local) + y0 * page_width * item
                refs[f"{key}/{f_index}.{t}.{z}.0.0"] = [urls[i], int(offset), nbytes]
    return {"version": 1, "refs": refs}


def to_references(planes, path, name: str | None = None) -> dict:
    """Write the references of ``planes`` as JSON to ``path`` (a local path); returns them."""
    refs = reference_dict(planes, name)
    with open(os.fspath(path), "w") as file:
        json.dump(refs, file)
    return refs


__all__ = ["reference_dict", "to_references"]
