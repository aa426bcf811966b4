"""What the explorer shows of the acquisition timeline (``stack.timeline()``): the trace's time
axis, dropped frames and aux trigger times.

The timeline reads every frame header (a second or more for a long recording, plus the import
of xarray), so the widget reads it on a background thread and the explorer opens without it:
until it arrives the trace's time axis is the nominal one, and files without frame headers
(ScanImage 3.x, plain TIFF) keep it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Axis labels, by where the seconds come from.
LABEL_STAMPS = "time (s, frame timestamps)"
LABEL_NOMINAL = "time (s, nominal frame rate)"
LABEL_INDEX = "time point"


@dataclass(frozen=True)
class TimelineView:
    """The parts of a stack's timeline the explorer draws.

    ``stamps``: (time, z) seconds from the frame headers, or None when not every header gave
    one; ``gaps``: time indices that follow dropped frames (the first time point after each gap);
    ``aux``: the trigger times (s) of each aux channel that has any, by channel number;
    ``dropped``: the dropped frame numbers; ``note``: a warning met while reading, or "".
    """

    n_times: int
    stamps: np.ndarray | None = None
    gaps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    aux: dict[int, np.ndarray] = field(default_factory=dict)
    dropped: tuple[int, ...] = ()
    note: str = ""

    @property
    def aux_count(self) -> int:
        return int(sum(len(v) for v in self.aux.values()))

    def seconds(self, z: int) -> np.ndarray | None:
        """The timestamps of plane ``z`` over time, or None."""
        if self.stamps is None:
            return None
        return self.stamps[:, min(z, self.stamps.shape[1] - 1)]


def read_timeline(stack) -> TimelineView | None:
    """The stack's timeline for the explorer, or None when the files have no frame headers.

    Errors other than "no frame headers" are raised: the caller shows them.
    """
    from ..errors import SIExplorerError

    n = int(stack.shape[1])
    # Run on a background thread: no warnings.catch_warnings here (it changes the process's
    # filters under every other thread); a FrameHeaderWarning goes where warnings go, and the
    # note counts the unreadable headers instead.
    try:
        tl = stack.timeline()
    except SIExplorerError:
        return None
    note = ""
    if "header_ok" in tl:
        bad = int((~np.asarray(tl["header_ok"].values, bool)).sum())
        if bad:
            note = f"{bad} frame header{'s' if bad > 1 else ''} unreadable"
    stamps = np.asarray(tl["timestamp"].values, float)[:n]
    if stamps.ndim != 2 or stamps.shape[0] != n or not np.isfinite(stamps).all():
        stamps = None
    dropped = tuple(int(d) for d in np.asarray(tl.attrs.get("dropped_frames", []), int).ravel())
    gaps = np.zeros(0, np.int64)
    if dropped and "frame_number" in tl:
        numbers = np.asarray(tl["frame_number"].values, float)[:n]
        numbers = np.where(numbers >= 0, numbers, np.nan)
        # A time point holds several frames (one per z): the one that follows a gap is the
        # first whose newest frame comes after the dropped number.
        last = np.fmax.reduce(numbers, axis=1) if numbers.ndim == 2 else numbers
        last = np.fmax.accumulate(np.where(np.isfinite(last), last, -np.inf))
        idx = np.searchsorted(last, np.asarray(dropped, float), side="right")
        gaps = np.unique(idx[(idx > 0) & (idx < n)]).astype(np.int64)
    aux = {}
    for k in range(4):
        name = f"aux_trigger{k}"
        if name in tl:
            times = np.asarray(tl[name].values, float)[:n].ravel()
            times = np.sort(times[np.isfinite(times)])
            if times.size:
                aux[k] = times
    return TimelineView(n, stamps, gaps, aux, dropped, note)


def time_axis(
    view: TimelineView | None, z: int, n: int, nominal: np.ndarray | None
) -> tuple[np.ndarray, str]:
    """The trace's x values for ``n`` time points of plane ``z`` and the axis label.

    Timestamps when the headers have them, else the nominal seconds, else indices. Time points
    the timeline does not cover yet (the file grew since it was read) continue at the median
    frame interval until it is read again.
    """
    stamps = None if view is None else view.seconds(z)
    if stamps is not None and len(stamps):
        x = np.asarray(stamps[:n], float)
        if len(x) < n:
            step = float(np.median(np.diff(x))) if len(x) > 1 else 1.0
            x = np.concatenate([x, x[-1] + step * np.arange(1, n - len(x) + 1)])
        return x, LABEL_STAMPS
    if nominal is not None and len(nominal) == n:
        return np.asarray(nominal, float), LABEL_NOMINAL
    return np.arange(n, dtype=float), LABEL_INDEX


def events_on_axis(
    view: TimelineView | None, z: int, x: np.ndarray
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Where the gaps and aux triggers fall on the axis ``x`` (as :func:`time_axis` gives).

    Gaps are drawn at the time point after each one; trigger times are seconds on the
    timestamps' clock, mapped onto an axis of other units through the timestamps.
    """
    if view is None or not len(x):
        return np.zeros(0), {}
    gaps = np.asarray([x[g] for g in view.gaps if g < len(x)], float)
    stamps = view.seconds(z)
    aux = {}
    for k, times in view.aux.items():
        if stamps is None:
            continue
        n = min(len(stamps), len(x))
        if n < 2:
            continue
        same = np.array_equal(stamps[:n], x[:n])
        aux[k] = times if same else np.interp(times, stamps[:n], x[:n])
    return gaps, aux
