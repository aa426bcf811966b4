"""``stack.timeline()``: every frame header of a ScanImage recording, as an xarray Dataset.

The headers (when each frame was taken, its number, trigger times) are what aligns imaging with
behaviour and electrophysiology, and gaps in ``frameNumbers`` are frames ScanImage dropped.
They are read as one gather of the description bytes (see
:meth:`si_explorer.read.planes.PagedPlanes.description_rows`) and parsed for all frames at once
(:mod:`si_explorer.scanimage.headers`).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings

import numpy as np

from .errors import FrameHeaderWarning, SIExplorerError
from .scanimage.headers import ARRAYS, AUX_CHANNELS, FrameHeaders, parse_frame_headers

#: The Dataset's variables with dims ("time", "z"), from the header arrays of the same name.
PER_PLANE = {
    "frame_number": "frameNumbers",
    "timestamp": "frameTimestamps_sec",
    "acquisition_number": "acquisitionNumbers",
    "frame_number_acquisition": "frameNumberAcquisition",
    "acq_trigger_timestamp": "acqTriggerTimestamps_sec",
    "next_file_marker_timestamp": "nextFileMarkerTimestamps_sec",
    "end_of_acquisition": "endOfAcquisition",
    "header_ok": None,
}


#: Timelines of fewer frames are parsed again rather than cached (it takes milliseconds).
CACHE_FROM_FRAMES = 10_000


def read_headers(planes, pages_per_frame: int, progress=None) -> FrameHeaders:
    """The header of every complete frame of ``planes`` (flyback frames included), from the
    on-disk cache beside the page indexes when the files have not changed since."""
    n_frames = planes.n_pages // pages_per_frame
    cached = _cache_path(planes, pages_per_frame) if n_frames >= CACHE_FROM_FRAMES else None
    if cached is not None:
        headers = _load(cached, n_frames)
        if headers is not None:
            return headers
    headers = _read_headers(planes, pages_per_frame, n_frames, progress)
    if cached is not None:
        _store(cached, headers)
    return headers


def _read_headers(planes, pages_per_frame: int, n_frames: int, progress) -> FrameHeaders:
    pages = np.arange(n_frames, dtype=np.int64) * pages_per_frame
    bar = None
    if progress or progress is None:
        from tqdm.auto import tqdm

        # Shown only when the read takes more than a second (a cold cache, a network drive).
        bar = tqdm(total=n_frames, desc="frame headers", unit="frame", delay=0 if progress else 1)
    try:
        rows = planes.description_rows(pages, on_rows=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    return parse_frame_headers(rows)


def _cache_path(planes, pages_per_frame: int):
    """The cache file for these files as they are now (their paths, sizes and mtimes)."""
    import hashlib

    from .tiff.cache import cache_dir

    identity = [pages_per_frame]
    for path in planes.paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        identity.append([os.path.abspath(path), st.st_size, st.st_mtime_ns])
    digest = hashlib.blake2b(json.dumps(identity).encode(), digest_size=16).hexdigest()
    return cache_dir() / f"timeline-{digest}.npz"


def _store(path, headers: FrameHeaders) -> None:
    arrays = {name: getattr(headers, name) for name in ARRAYS}
    for k in range(AUX_CHANNELS):
        arrays[f"aux_times{k}"] = headers.aux_times[k]
        arrays[f"aux_starts{k}"] = headers.aux_starts[k]
    text = {"i2c": {str(k): v for k, v in headers.i2c.items()}, "epoch": headers.epoch}
    arrays["text"] = np.frombuffer(json.dumps(text).encode(), np.uint8)
    # Never a failed timeline for a cache that cannot be written (read-only home, full disk).
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)


def _load(path, n_frames: int) -> FrameHeaders | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            if len(stored["frame_number"]) != n_frames:
                return None
            text = json.loads(bytes(stored["text"]).decode())
            return FrameHeaders(
                *(stored[name] for name in ARRAYS),
                aux_times=[stored[f"aux_times{k}"] for k in range(AUX_CHANNELS)],
                aux_starts=[stored[f"aux_starts{k}"] for k in range(AUX_CHANNELS)],
                i2c={int(k): v for k, v in text["i2c"].items()},
                epoch=text["epoch"],
            )
    except (OSError, ValueError, KeyError):  # absent, partly written or foreign: read again
        return None


def design_steps(structure, n_frames: int) -> np.ndarray:
    """How much ``frameNumbers`` grows from each saved frame to the next when none is dropped.

    ScanImage numbers acquired frames; a saved frame averaged from ``average`` frames carries
    the number of its last one, so saved frames step by ``average``, and flyback frames (never
    averaged) by one.
    """
    q = np.arange(1, n_frames, dtype=np.int64)
    average = structure.average
    if not structure.volumetric:
        return np.full(len(q), average, np.int64)
    kept = structure.slices * structure.frames_per_slice
    per_volume = kept + structure.flyback_frames
    into = q % per_volume  # position of the later frame of each pair in its volume
    return np.where(into >= kept, 1, average)


def dropped_frames(numbers: np.ndarray, ok: np.ndarray, steps: np.ndarray) -> list[int]:
    """Frame numbers missing from the sequence: where consecutive readable headers are further
    apart than the design step, the numbers in between."""
    later = numbers[1:]
    earlier = numbers[:-1]
    gap = ok[1:] & ok[:-1] & (later - earlier > steps)
    out: list[int] = []
    for i in np.flatnonzero(gap).tolist():
        out.extend(range(int(earlier[i] + steps[i]), int(later[i])))
    return out


def build(stack, progress=None):
    """The timeline Dataset of ``stack`` (see :meth:`si_explorer.Stack.timeline`)."""
    import xarray as xr

    md = stack.metadata
    path = stack.paths[0]
    if md is None or md.flavor != "scanimage":
        kind = "a ScanImage 3.x file" if md is not None else "not a ScanImage file"
        raise SIExplorerError(
            path,
            f"has no per-frame headers ({kind}); timeline() needs a file written by "
            "ScanImage 2016 or later",
        )
    structure = md.structure
    per_frame = structure.channels
    # One plane source throughout: the stack may grow (follow mode) while this runs, and its
    # shape, layout and pages must all be those of the same moment. The raw source: a
    # bidirectional correction changes pixels, not headers.
    planes = stack.plane_source.uncorrected()
    headers = read_headers(planes, per_frame, progress)
    n_frames = len(headers)
    _warn_bad_headers(path, headers, per_frame)

    T, Z = planes.shape[1:3]
    t, z = np.meshgrid(np.arange(T), np.arange(Z), indexing="ij")
    frame_of = planes.layout.page_numbers(0, t, z, planes.channel) // per_frame
    data = {}
    for name in PER_PLANE:
        values = headers.ok if name == "header_ok" else getattr(headers, name)
        data[name] = (("time", "z"), values[frame_of])

    # Each frame's time point, flyback frames counted with the volume they end.
    time_of = np.full(n_frames, -1, np.int64)
    time_of[frame_of.ravel()] = np.repeat(np.arange(T), Z)
    filled = np.maximum.accumulate(time_of) if n_frames else time_of
    for k in range(AUX_CHANNELS):
        data[f"aux_trigger{k}"] = _per_time_point(headers, k, filled, T)
    data["i2c_data"] = (("time",), _i2c_per_time_point(headers, filled, T))

    steps = design_steps(structure, n_frames)
    dropped = dropped_frames(headers.frame_number, headers.ok, steps)
    first = headers.timestamp[frame_of[:, 0]] if T else np.empty(0)
    measured = _measured_rate(first)
    attrs = {
        "source": path,
        "channel": stack.channel,
        "dropped_frames": dropped,
        "frames_read": n_frames,
        "frame_rate_configured_hz": md.frame_rate,
        "frame_rate_measured_hz": measured,
        "time_span_s": float(np.nanmax(first) - np.nanmin(first))
        if np.isfinite(first).any()
        else 0.0,
        "epoch": headers.epoch or "",
        "aux_trigger": "aux_triggerK[time, event]: the trigger times (s) on aux channel K "
        "during each time point's frames, sorted, NaN-padded",
        "i2c_data": "the I2CData text of each time point's frames, one line per frame that has any",
    }
    return xr.Dataset(data, coords={"time": np.arange(T), "z": np.arange(Z)}, attrs=attrs)


def _per_time_point(headers: FrameHeaders, channel: int, time_of: np.ndarray, n_times: int):
    times, starts = headers.aux_times[channel], headers.aux_starts[channel]
    counts = np.diff(starts)
    owner = np.repeat(time_of, counts)
    keep = owner >= 0
    owner, times = owner[keep], times[keep]
    order = np.lexsort((times, owner))
    owner, times = owner[order], times[order]
    per_time = np.bincount(owner, minlength=n_times) if len(owner) else np.zeros(n_times, int)
    width = int(per_time.max()) if n_times else 0
    out = np.full((n_times, width), np.nan)
    if len(owner):
        first = np.concatenate([[0], np.cumsum(per_time)])[owner]
        out[owner, np.arange(len(owner)) - first] = times
    return (("time", f"aux{channel}_event"), out)


def _i2c_per_time_point(headers: FrameHeaders, time_of: np.ndarray, n_times: int) -> np.ndarray:
    out = np.full(n_times, "", dtype=object)
    for frame, text in sorted(headers.i2c.items()):
        t = time_of[frame]
        if 0 <= t < n_times:
            out[t] = f"{out[t]}\n{text}" if out[t] else text
    return out


def _span(first: np.ndarray) -> float:
    return float(np.nanmax(first) - np.nanmin(first)) if np.isfinite(first).any() else 0.0


def _measured_rate(first: np.ndarray) -> float | None:
    """Time points per second from the timestamps (the median step, robust to a dropped frame)."""
    steps = np.diff(first)
    steps = steps[np.isfinite(steps) & (steps > 0)]
    return float(1 / np.median(steps)) if len(steps) else None


def _warn_bad_headers(path: str, headers: FrameHeaders, per_frame: int) -> None:
    bad = np.flatnonzero(~headers.ok)
    if len(bad):
        more = f" (and {len(bad) - 1:,} more)" if len(bad) > 1 else ""
        warnings.warn(
            f"{path}: the frame header of page {int(bad[0]) * per_frame:,}{more} could not be "
            "read; its values are NaN (times) and -1 (numbers) in the timeline",
            FrameHeaderWarning,
            stacklevel=3,
        )
