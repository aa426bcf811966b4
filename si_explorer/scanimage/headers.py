"""ScanImage's per-frame headers, parsed for many frames at once.

ScanImage 2016 and later write a short header into every page's ImageDescription::

    frameNumbers = 12
    acquisitionNumbers = 1
    frameNumberAcquisition = 12
    frameTimestamps_sec = 0.366458000
    acqTriggerTimestamps_sec = -0.000064550
    nextFileMarkerTimestamps_sec = -1.000000000
    endOfAcquisition = 0
    endOfAcquisitionMode = 0
    dcOverVoltage = 0
    epoch = [2021 11  5  9 50 13.560]
    auxTrigger0 = [0.3671 0.3684]
    auxTrigger1 = []
    auxTrigger2 = []
    auxTrigger3 = []
    I2CData = {}

Parsing them one page at a time (what tifffile offers) costs about 150 µs a page, 15 s for
100,000 pages. Here the headers of all frames arrive as one block of bytes (one fixed-width
row per frame) and each value is found by one regular-expression pass over the whole block,
then converted by numpy: measured 2.4 µs a frame (see benchmarks/run.py, "timeline"). Rows the
block pass cannot read (a damaged header, another key order) are parsed one by one with the
general FrameData parser; what that cannot read either becomes NaN / -1.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np

from .metadata import parse_page_description

#: Integer values: -1 where a header lacks them.
INTEGERS = {
    "frameNumbers": "frame_number",
    "acquisitionNumbers": "acquisition_number",
    "frameNumberAcquisition": "frame_number_acquisition",
}
#: Float values (seconds): NaN where a header lacks them.
FLOATS = {
    "frameTimestamps_sec": "timestamp",
    "acqTriggerTimestamps_sec": "acq_trigger_timestamp",
    "nextFileMarkerTimestamps_sec": "next_file_marker_timestamp",
}
AUX_CHANNELS = 4

_LINE_END = rb"\r?\n"
# The keys every ScanImage 2016+ header starts with, in ScanImage's order: one pass finds all
# of them for every well-formed frame (values are checked when they are converted).
_HEAD = re.compile(
    rb"frameNumbers = ([^\s\x00]+)"
    + _LINE_END
    + rb"acquisitionNumbers = ([^\s\x00]+)"
    + _LINE_END
    + rb"frameNumberAcquisition = ([^\s\x00]+)"
    + _LINE_END
    + rb"frameTimestamps_sec = ([^\s\x00]+)"
    + _LINE_END
    + rb"acqTriggerTimestamps_sec = ([^\s\x00]+)"
    + _LINE_END
    + rb"nextFileMarkerTimestamps_sec = ([^\s\x00]+)"
    + _LINE_END
    + rb"endOfAcquisition = ([^\s\x00]+)"
)
# Only non-empty lists: most frames have none, and `[]` is then skipped by the scan itself.
_AUX = re.compile(rb"auxTrigger([0-3]) = \[([^\]\n\x00]+)\]")
_I2C = re.compile(rb"I2CData = (\{[^}\n\x00][^\n\x00]*)")
_EPOCH = re.compile(rb"epoch = \[([^\]\n\x00]*)\]")


@dataclass
class FrameHeaders:
    """The headers of ``n`` frames, as arrays (one entry per frame).

    Missing or unreadable values are -1 (integers) or NaN (floats); ``ok`` is False for frames
    whose header could not be read at all. Aux trigger times are ragged: frame ``i``'s times on
    channel ``k`` are ``aux_times[k][aux_starts[k][i]:aux_starts[k][i + 1]]``.
    """

    frame_number: np.ndarray
    acquisition_number: np.ndarray
    frame_number_acquisition: np.ndarray
    timestamp: np.ndarray
    acq_trigger_timestamp: np.ndarray
    next_file_marker_timestamp: np.ndarray
    end_of_acquisition: np.ndarray
    ok: np.ndarray
    aux_times: list[np.ndarray]
    aux_starts: list[np.ndarray]
    i2c: dict[int, str]  # frame -> its I2CData text, where it is not empty
    epoch: str | None  # the first frame's epoch (acquisition start), as written

    def __len__(self) -> int:
        return len(self.frame_number)

    def take(self, frames: np.ndarray) -> FrameHeaders:
        """The headers of ``frames`` (indices into these), in that order."""
        frames = np.asarray(frames, dtype=np.int64)
        aux_times, aux_starts = [], []
        for times, starts in zip(self.aux_times, self.aux_starts):
            counts = starts[frames + 1] - starts[frames]
            picked = [times[starts[i] : starts[i + 1]] for i in frames[counts > 0].tolist()]
            aux_times.append(np.concatenate(picked) if picked else np.empty(0))
            aux_starts.append(np.concatenate([[0], np.cumsum(counts)]))
        where = {int(f): i for i, f in enumerate(frames.tolist())}
        return FrameHeaders(
            *(getattr(self, name)[frames] for name in ARRAYS),
            aux_times=aux_times,
            aux_starts=aux_starts,
            i2c={where[f]: text for f, text in self.i2c.items() if f in where},
            epoch=self.epoch,
        )


ARRAYS = (
    "frame_number",
    "acquisition_number",
    "frame_number_acquisition",
    "timestamp",
    "acq_trigger_timestamp",
    "next_file_marker_timestamp",
    "end_of_acquisition",
    "ok",
)


def parse_frame_headers(rows: np.ndarray) -> FrameHeaders:
    """Parse a ``(frames, width)`` uint8 array of header texts (NUL- or space-padded)."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    n, width = rows.shape
    blob = rows.tobytes()
    ints = {name: np.full(n, -1, np.int64) for name in INTEGERS.values()}
    floats = {name: np.full(n, np.nan) for name in FLOATS.values()}
    end = np.zeros(n, bool)
    ok = np.zeros(n, bool)

    # Values stop at white space and NUL, so a match never runs from one row into the next.
    values = _HEAD.findall(blob)
    if len(values) == n:
        index = np.arange(n)  # one header a row, in order: no positions needed
    else:
        found = [(m.start() // width, m.groups()) for m in _HEAD.finditer(blob)]
        index = np.asarray([row for row, _ in found], dtype=np.int64)
        values = [groups for _, groups in found]
    if values:
        columns = list(zip(*values))
        parsed = [_numbers(c, integers=True) for c in columns[: len(INTEGERS)]]
        parsed += [_numbers(c) for c in columns[len(INTEGERS) : -1]]
        flags = np.asarray(columns[-1])
        good = np.isin(flags, (b"0", b"1"))
        for column in parsed:
            good &= column[1]
        index = index[good]
        for name, (column, _) in zip([*INTEGERS.values(), *FLOATS.values()], parsed):
            (ints if name in ints else floats)[name][index] = column[good]
        end[index] = flags[good] == b"1"
        ok[index] = True

    for row in np.flatnonzero(~ok).tolist():
        _parse_one(rows[row], row, ints, floats, end, ok)

    aux_times, aux_starts = _aux(blob, width, n)
    i2c = {}
    for match in _I2C.finditer(blob):
        text = match.group(1).strip().decode("latin-1")
        if text != "{}":
            i2c[match.start() // width] = text
    epoch = _EPOCH.search(blob[:width])
    return FrameHeaders(
        **ints,
        **floats,
        end_of_acquisition=end,
        ok=ok,
        aux_times=aux_times,
        aux_starts=aux_starts,
        i2c=i2c,
        epoch=None if epoch is None else epoch.group(1).decode("latin-1").strip(),
    )


def _numbers(texts: tuple[bytes, ...], integers: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The numbers in ``texts`` and which of them are numbers: one C-level parse of all of them
    (a tenth of the time of numpy's string casts), element by element only when one is not."""
    joined = b" ".join(texts).decode("latin-1")
    try:
        with warnings.catch_warnings():
            # Deprecated only for binary data; the text-mode parse is the fast one here.
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(joined, dtype=np.float64, sep=" ")  # noqa: NPY201
    except ValueError:  # a token that is not a number: sorted out one by one below
        values = np.empty(0)
    if len(values) == len(texts) and (not integers or (values == np.round(values)).all()):
        return (values.astype(np.int64) if integers else values), np.ones(len(texts), bool)
    values = np.zeros(len(texts), np.int64 if integers else np.float64)
    good = np.zeros(len(texts), bool)
    for i, text in enumerate(texts):
        try:
            values[i] = int(text) if integers else float(text)
            good[i] = True
        except (ValueError, OverflowError):
            pass
    return values, good


def _parse_one(row: np.ndarray, k: int, ints, floats, end, ok) -> None:
    """One header the block pass could not read: any key order, any subset of keys."""
    text = row.tobytes().split(b"\0", 1)[0].decode("latin-1")
    try:
        values = parse_page_description(text)
    except Exception:  # noqa: BLE001 - a damaged header is reported as missing values
        return
    found = 0
    for key, name in INTEGERS.items():
        value = values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            ints[name][k] = int(value)
            found += 1
    for key, name in FLOATS.items():
        value = values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            floats[name][k] = float(value)
            found += 1
    if values.get("endOfAcquisition") in (1, True):
        end[k] = True
    ok[k] = found == len(INTEGERS) + len(FLOATS)


def _aux(blob: bytes, width: int, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Aux trigger times per channel, ragged (most frames have none, so only the non-empty
    lists are converted)."""
    per_channel: list[dict[int, np.ndarray]] = [{} for _ in range(AUX_CHANNELS)]
    for match in _AUX.finditer(blob):
        body = match.group(2).replace(b",", b" ").replace(b";", b" ").split()
        if body:
            try:
                times = np.asarray(body, dtype="S32").astype(np.float64)
            except ValueError:
                times = np.full(len(body), np.nan)
            per_channel[int(match.group(1))][match.start() // width] = times
    aux_times, aux_starts = [], []
    for found in per_channel:
        counts = np.zeros(n, np.int64)
        for row, times in found.items():
            counts[row] = len(times)
        rows = sorted(found)
        aux_times.append(np.concatenate([found[r] for r in rows]) if rows else np.empty(0))
        aux_starts.append(np.concatenate([[0], np.cumsum(counts)]))
    return aux_times, aux_starts
