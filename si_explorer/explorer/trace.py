"""The time-series trace of the selected pixel or ROI: read on demand, drawn with matplotlib.

A trace over a long recording reads one pixel (or ROI) from every time point, which can take
seconds, so it is read in growing slices of time on its own thread and the figure fills in as
slices arrive; selecting another ROI cancels the read in progress at the next slice.

In Jupyter front ends the figure is an ipympl canvas (interactive: zoom, and a click moves the
time slider). Where ipympl cannot render (marimo, or no kernel) the same figure is rendered with
Agg into a PNG that the explorer shows inside its own view. The PNG carries no time marker: the
browser draws it over the picture (see :meth:`TraceFigure.geometry`), so it follows the time
slider at once instead of waiting for a re-render.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from .latest import LatestWins
from .timeline_view import LABEL_INDEX, LABEL_NOMINAL

#: Aim for slices that take about this long, so progress is visible but overhead is small.
SLICE_TARGET_S = 0.08
MIN_SLICE, MAX_SLICE = 16, 8192
#: Time -> axis value knots sent to the browser for the image fallback's marker; interpolating
#: between this many points is exact for frames and within a pixel for real timestamps.
MAX_KNOTS = 512
#: Colours of the aux trigger ticks, by trigger channel (0..3).
AUX_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True)
class TraceJob:
    roi: tuple[int, int, int, int]
    pixel: bool
    field: int
    z: int


def read_slice(stack, job: TraceJob, t: slice) -> np.ndarray:
    if job.pixel:
        return np.asarray(
            stack.timeseries(job.roi[0], job.roi[2], field=job.field, z=job.z, t=t), float
        )
    return np.asarray(stack.timeseries(roi=job.roi, field=job.field, z=job.z, t=t), float)


class TraceLoader:
    """Reads traces slice by slice on a background thread; the newest job cancels older ones.

    Callbacks run on the loader thread: ``on_start(job, n, t_from, time_seconds)`` (returns
    the time point to read from: ``t_from``, or 0 when the values before it are not there),
    ``on_slice(job, t0, values)``, ``on_done(job)``, ``on_error(job, exc)``. A job started
    with ``t_from > 0`` reads only the time points from there on: a trace extended after the
    file grew.
    """

    def __init__(self, *, on_start, on_slice, on_done, on_error):
        self._on_start, self._on_slice, self._on_done = on_start, on_slice, on_done
        self._worker: LatestWins[tuple[object, TraceJob, int]] = LatestWins(
            self._read,
            name="si-explorer-trace",
            on_error=lambda item, exc: on_error(item[1], exc),
        )

    def start(self, stack, job: TraceJob, t_from: int = 0) -> None:
        self._worker.submit((stack, job, t_from))

    def cancel(self) -> None:
        self._worker.cancel()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._worker.wait_idle(timeout)

    def close(self) -> None:
        # Not joined: a slow slice read would hold up closing the widget.
        self._worker.close(join=False)

    def _read(self, item: tuple[object, TraceJob, int], generation: int) -> None:
        stack, job, t0 = item
        current = self._worker.is_current
        # The stack may have grown since the job was submitted (follow mode refreshes on its
        # own thread): the job covers the time points there are now, and says so.
        n = stack.shape[1]
        t0 = self._on_start(job, n, t0, stack.time_seconds)
        size = MIN_SLICE
        while t0 < n:
            if not current(generation):
                return
            started = time.perf_counter()
            part = read_slice(stack, job, slice(t0, min(n, t0 + size)))
            if not current(generation):
                return
            self._on_slice(job, t0, part)
            t0 += len(part)
            if len(part) == 0:
                return
            elapsed = time.perf_counter() - started
            # Grow slices while they are quick, shrink them when the disk is slow.
            if elapsed < SLICE_TARGET_S / 2:
                size = min(MAX_SLICE, size * 2)
            elif elapsed > SLICE_TARGET_S * 2:
                size = max(MIN_SLICE, size // 2)
        self._on_done(job)


class TraceFigure:
    """A matplotlib figure with the trace line and a marker at the current time.

    ``mode`` is ``"ipympl"`` (an interactive canvas widget, :attr:`canvas`) or ``"image"`` (Agg;
    use :meth:`png`). ``on_click_time(t)`` is called with the time index nearest a click.
    """

    def __init__(
        self,
        mode: str,
        n_times: int,
        time_seconds: np.ndarray | None,
        on_click_time: Callable[[int], None] | None = None,
    ):
        self.mode = mode
        self.lock = threading.RLock()
        # 442x288 pixels: about as wide as the plane view, so both fit side by side in a
        # notebook column, and the image fallback shows the PNG at its own size (style.js).
        self.fig = Figure(figsize=(442 / 96, 288 / 96), dpi=96, layout="constrained")
        if mode == "ipympl":
            from ipympl.backend_nbagg import Canvas, FigureManager

            self.canvas = Canvas(self.fig)
            # The manager wires the toolbar and resize protocol that ipympl's front end expects.
            self._manager = FigureManager(self.canvas, 0)
            self.canvas.header_visible = False
            self.canvas.footer_visible = False
            self.canvas.toolbar_position = "top"
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self.canvas = FigureCanvasAgg(self.fig)
        self.seconds = time_seconds is not None and len(time_seconds) == n_times
        self.x = self._time_axis(n_times, time_seconds)
        self.y = np.full(n_times, np.nan)
        self.ax = self.fig.add_subplot()
        (self.line,) = self.ax.plot(self.x, self.y, color="#1f77b4", lw=1.2)
        self.marker = self.ax.axvline(self.x[0] if n_times else 0, color="#d62728", lw=2)
        # Shown with a trace only (it moves with time only then), and never baked into a PNG,
        # where it would be stale by the next slider step: the browser draws that one.
        self.marker.set_visible(False)
        self.ax.set_xlabel(LABEL_NOMINAL if self.seconds else LABEL_INDEX)
        #: Dashed lines at the time points after dropped frames, and aux trigger ticks (one
        #: collection per trigger channel), drawn by :meth:`set_events`.
        self.gap_lines = None
        self.aux_ticks: dict[int, object] = {}
        self.aux_shown = False
        self.ax.set_ylabel("value")
        self.ax.set_title("click the plane to select a pixel, drag for a ROI", fontsize=9)
        self._fit_x()
        self._on_click_time = on_click_time
        if on_click_time is not None:
            self.canvas.mpl_connect("button_press_event", self._clicked)

    def time_index(self, xdata: float) -> int:
        """The time index nearest ``xdata`` (seconds or frames, as on the axis)."""
        i = int(np.searchsorted(self.x, xdata))
        i = min(max(i, 0), len(self.x) - 1)
        if i > 0 and abs(self.x[i - 1] - xdata) <= abs(self.x[i] - xdata):
            i -= 1
        return i

    def _clicked(self, event) -> None:
        toolbar = getattr(self.canvas, "toolbar", None)
        # While the toolbar's pan or zoom tool is active a click belongs to it, not to us.
        if event.inaxes is not self.ax or (toolbar is not None and getattr(toolbar, "mode", "")):
            return
        if event.xdata is not None and len(self.x):
            self._on_click_time(self.time_index(event.xdata))

    def resize(self, n_times: int, time_seconds: np.ndarray | None) -> None:
        """Extend the time axis to ``n_times`` (the file grew); values read so far stay."""
        with self.lock:
            x = self._time_axis(n_times, time_seconds)
            y = np.full(n_times, np.nan)
            keep = min(n_times, len(self.y))
            y[:keep] = self.y[:keep]
            self.x, self.y = x, y
            self.line.set_data(self.x, self.y)
            self._fit_x()
        self.redraw()

    def set_axis(self, x: np.ndarray, label: str, redraw: bool = True) -> None:
        """Replace the time axis (timestamps arrived, another z, a grown file); the values read
        so far stay where the length allows."""
        with self.lock:
            x = np.asarray(x, float)
            y = np.full(len(x), np.nan)
            keep = min(len(x), len(self.y))
            y[:keep] = self.y[:keep]
            marker = self.marker.get_xdata()
            t = self.time_index(float(np.ravel(marker)[0])) if len(self.x) else 0
            self.x, self.y = x, y
            self.seconds = label != LABEL_INDEX
            self.line.set_data(self.x, self.y)
            self.ax.set_xlabel(label)
            if len(self.x):
                self.marker.set_xdata([self.x[min(t, len(self.x) - 1)]])
            self._fit_x()
        if redraw:
            self.redraw()

    def set_events(self, gaps: np.ndarray, aux: dict, redraw: bool = True) -> None:
        """Draw dashed lines at ``gaps`` (axis values after dropped frames) and a tick at the
        bottom of the axes for each aux trigger time (``aux``: trigger channel -> axis
        values), shown only while :attr:`aux_shown`."""
        with self.lock:
            ylim = self.ax.get_ylim()
            if self.gap_lines is not None:
                self.gap_lines.remove()
                self.gap_lines = None
            for ticks in self.aux_ticks.values():
                ticks.remove()
            self.aux_ticks = {}
            along = self.ax.get_xaxis_transform()  # x in data, y in axes fractions
            if len(gaps):
                self.gap_lines = self.ax.vlines(
                    gaps, 0, 1, transform=along, colors="#7f7f7f", linestyles="dashed", lw=1
                )
                self.gap_lines.set_label("dropped frames")
            for k, times in sorted(aux.items()):
                ticks = self.ax.vlines(
                    times, 0, 0.08, transform=along, colors=AUX_COLORS[k % len(AUX_COLORS)], lw=1.5
                )
                ticks.set_label(f"aux trigger {k}")
                ticks.set_visible(self.aux_shown)
                self.aux_ticks[k] = ticks
            self.ax.set_ylim(ylim)
        if redraw:
            self.redraw()

    def show_aux(self, shown: bool, redraw: bool = True) -> None:
        with self.lock:
            self.aux_shown = bool(shown)
            for ticks in self.aux_ticks.values():
                ticks.set_visible(self.aux_shown)
        if redraw:
            self.redraw()

    def _time_axis(self, n_times: int, time_seconds: np.ndarray | None) -> np.ndarray:
        if self.seconds and time_seconds is not None and len(time_seconds) == n_times:
            return np.asarray(time_seconds, float)
        return np.arange(n_times, dtype=float)

    def _fit_x(self) -> None:
        if len(self.x) > 1:
            # A small margin keeps the marker visible at the first and last time points, where
            # it would otherwise hide under the axis spine.
            pad = (self.x[-1] - self.x[0]) * 0.01
            self.ax.set_xlim(self.x[0] - pad, self.x[-1] + pad)

    def begin(self, label: str) -> None:
        with self.lock:
            self.marker.set_visible(self.mode == "ipympl")
            self.y[:] = np.nan
            self.line.set_ydata(self.y)
            self.ax.set_title(label, fontsize=9)
        self.redraw()

    def fill(self, t0: int, values: np.ndarray) -> None:
        with self.lock:
            self.y[t0 : t0 + len(values)] = values
            # Same-length array each time: a draw racing with this update never sees a
            # mismatched x/y pair.
            self.line.set_ydata(self.y)
            finite = self.y[np.isfinite(self.y)]
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                pad = (hi - lo) * 0.05 or 1.0
                self.ax.set_ylim(lo - pad, hi + pad)
        self.redraw()

    def clear(self) -> None:
        with self.lock:
            self.marker.set_visible(False)
            self.y[:] = np.nan
            self.line.set_ydata(self.y)
            self.ax.set_title("click the plane to select a pixel, drag for a ROI", fontsize=9)
        self.redraw()

    def set_marker(self, t: int, redraw: bool = True) -> None:
        if not len(self.x):
            return
        with self.lock:
            self.marker.set_xdata([self.x[min(t, len(self.x) - 1)]])
        if redraw:
            self.redraw()

    def redraw(self) -> None:
        if self.mode == "ipympl":
            self.canvas.draw_idle()

    def png(self) -> bytes:
        with self.lock, io.BytesIO() as buf:
            self.fig.savefig(buf, format="png")
            return buf.getvalue()

    def geometry(self) -> dict:
        """Where the axes sit in the rendered PNG, and how time maps onto the x axis.

        ``box``: the axes' left, right, top and bottom edges as fractions of the picture (from
        its top-left corner); ``xlim``: the x axis limits; ``t`` and ``x``: knots of time index
        -> axis value (seconds or frames) to interpolate between. The image fallback uses this
        to draw the time marker and to turn a click into a time. Valid for the last
        :meth:`png`: a constrained layout moves the axes when the tick labels change width.
        """
        with self.lock:
            bbox = self.ax.get_position()
            x0, x1 = self.ax.get_xlim()
        n = len(self.x)
        knots = np.unique(np.linspace(0, max(n - 1, 0), num=min(n, MAX_KNOTS)).round().astype(int))
        return {
            "box": [float(bbox.x0), float(bbox.x1), 1 - float(bbox.y1), 1 - float(bbox.y0)],
            "xlim": [float(x0), float(x1)],
            "t": [int(k) for k in knots],
            "x": [float(self.x[k]) for k in knots],
        }

    def close(self) -> None:
        if self.mode == "ipympl":
            self.canvas.close()
