"""The selection's trace, from a ROI to a filled-in figure: which job to read, progress messages
for the front end, the time marker, and the PNG of the image fallback.

The widget decides *when* a trace is needed (a ROI set, another field, z or channel, a grown
file); this module owns everything from there on, so the widget never touches the loader or the
figure directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from .messages import trace_message
from .timeline_view import TimelineView, events_on_axis, time_axis
from .trace import TraceFigure, TraceJob, TraceLoader

#: While playing, the trace marker (a full ipympl redraw on the kernel's main thread) is moved at
#: most this often, so it never competes with plane requests for the main thread.
MARKER_INTERVAL_S = 0.25
#: The image fallback re-renders its PNG at most this often while a trace fills in.
PNG_INTERVAL_S = 0.5


def trace_job(roi: tuple, field: int, z: int) -> TraceJob:
    """The job for a selection: ``(y, x)`` a pixel, ``(y0, y1, x0, x1)`` a rectangle."""
    pixel = len(roi) == 2
    box = (roi[0], roi[0] + 1, roi[1], roi[1] + 1) if pixel else tuple(roi)
    return TraceJob(box, pixel, field, z)


def trace_label(job: TraceJob) -> str:
    where = f"field {job.field} · z {job.z}"
    if job.pixel:
        return f"pixel (y {job.roi[0]}, x {job.roi[2]}) · {where}"
    y0, y1, x0, x1 = job.roi
    return f"ROI mean y {y0}:{y1}, x {x0}:{x1} · {where}"


class TraceSession:
    """One explorer's trace: reads it in the background and shows it as it fills in.

    ``send(message)`` sends to the front end and ``show_error(text)`` reports a failure (both
    from the loader thread); ``time_shown()`` is the time index on screen, where a new trace's
    marker starts; ``publish_png(png, geometry)`` hands the image fallback's picture and its
    axes geometry to the front end. ``on_click_time(t)``: a click on the ipympl figure.
    """

    def __init__(
        self,
        mode: str,
        n_times: int,
        seconds: np.ndarray | None,
        *,
        send: Callable[[dict], None],
        show_error: Callable[[str], None],
        time_shown: Callable[[], int],
        publish_png: Callable[[bytes, dict], None],
        on_click_time: Callable[[int], None] | None = None,
    ):
        self.mode = mode
        self._send = send
        self._show_error = show_error
        self._time_shown = time_shown
        self._publish_png = publish_png
        self.figure = TraceFigure(mode, n_times, seconds, on_click_time=on_click_time)
        #: The stack's timeline (None until read, or without frame headers), the nominal
        #: seconds and the z whose time axis is shown.
        self.timeline: TimelineView | None = None
        self._nominal = seconds
        self._z = 0
        #: The trace read so far (NaN where not read yet), or None without a selection, and
        #: the job (selection, field, z) it is the trace of.
        self.values: np.ndarray | None = None
        self._values_job: TraceJob | None = None
        #: Set once the current trace is read to the end.
        self.done = threading.Event()
        self._active = False
        self._last_marker = 0.0
        self._marker_timer: threading.Timer | None = None
        self._last_png = 0.0
        self._loader = TraceLoader(
            on_start=self._started,
            on_slice=self._slice,
            on_done=self._finished,
            on_error=self._failed,
        )
        if mode == "image":
            # The empty figure tells the user where the trace will appear and how to get one.
            self.refresh_png(force=True)

    # -- kernel main thread -------------------------------------------------------------------

    def start(self, stack, roi: tuple, field: int, z: int) -> None:
        """Read the trace of ``roi`` in (field, z) from the start; replaces one being read."""
        self._active = True
        self.done.clear()
        self._nominal = stack.time_seconds
        if z != self._z:
            self._z = z
            self.apply_axis(stack.shape[1], redraw=False)
        self._loader.start(stack, trace_job(roi, field, z))

    def grew(self, stack, roi: tuple, field: int, z: int, old_n: int) -> None:
        """The stack grew from ``old_n`` time points: the figure gets the new time axis and a
        selected trace reads the new time points only, or again from the start while its
        first read was still running (that job is replaced)."""
        self._nominal = stack.time_seconds
        self.apply_axis(stack.shape[1])
        if not roi:
            return
        t_from = old_n if self.done.is_set() else 0
        self._active = True
        self.done.clear()
        self._loader.start(stack, trace_job(roi, field, z), t_from=t_from)

    def clear(self) -> None:
        """No selection: stop reading and show the empty figure."""
        self._active = False
        self._loader.cancel()
        self.values, self._values_job = None, None
        self.figure.clear()
        self.refresh_png(force=True)

    def set_timeline(self, view: TimelineView | None) -> None:
        """The stack's timeline was read (at open, or again after the file grew)."""
        self.timeline = view
        self.apply_axis(len(self.figure.y))
        self.refresh_png(force=True)

    def set_z(self, z: int) -> None:
        """Another plane: its own timestamps are the time axis."""
        if z == self._z:
            return
        self._z = z
        x, _ = time_axis(self.timeline, z, len(self.figure.y), self._nominal)
        if np.array_equal(x, self.figure.x):
            return  # the planes share their frames' times (single plane, Light Beads)
        self.apply_axis(len(self.figure.y))
        # Throttled, not forced: a z slider dragged through 30 planes must not render 30
        # PNGs on the kernel's main thread (measured: 50-100 ms each on this machine).
        self.refresh_png()

    def show_aux(self, shown: bool) -> None:
        self.figure.show_aux(shown)
        self.refresh_png(force=True)

    def apply_axis(self, n: int, redraw: bool = True) -> None:
        """Time axis, dropped-frame lines and aux ticks for ``n`` time points of the z shown."""
        x, label = time_axis(self.timeline, self._z, n, self._nominal)
        gaps, aux = events_on_axis(self.timeline, self._z, x)
        self.figure.set_axis(x, label, redraw=False)
        self.figure.set_events(gaps, aux, redraw=redraw)

    def time_index(self, x: float) -> int:
        return self.figure.time_index(x)

    def move_marker(self, t: int) -> None:
        if not self._active or self.mode != "ipympl":
            return  # the image fallback's marker is drawn by the browser
        now = time.monotonic()
        if now - self._last_marker >= MARKER_INTERVAL_S:
            self._last_marker = now
            self.figure.set_marker(t)
        elif self._marker_timer is None:
            # Throttled: still make the marker end where the user stopped.
            self._marker_timer = threading.Timer(MARKER_INTERVAL_S, self._marker_catch_up)
            self._marker_timer.daemon = True
            self._marker_timer.start()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._loader.wait_idle(timeout)

    def close(self) -> None:
        if self._marker_timer is not None:
            self._marker_timer.cancel()
        self._loader.close()
        self.figure.close()

    # -- any thread ---------------------------------------------------------------------------

    def refresh_png(self, force: bool = False) -> None:
        if self.mode != "image":
            return
        now = time.monotonic()
        if force or now - self._last_png >= PNG_INTERVAL_S:
            self._last_png = now
            png = self.figure.png()
            self._publish_png(png, self.figure.geometry())

    def _marker_catch_up(self) -> None:
        self._marker_timer = None
        self._last_marker = time.monotonic()
        self.figure.set_marker(self._time_shown())

    # -- loader thread ------------------------------------------------------------------------

    def _started(self, job: TraceJob, n: int, t_from: int, seconds) -> int:
        if len(self.figure.y) != n:
            # The file grew after this job was submitted, before grew() resized the figure.
            self._nominal = seconds
            self.apply_axis(n, redraw=False)
        values = np.full(n, np.nan)
        old = self.values
        if (
            t_from
            and job == self._values_job
            and old is not None
            and len(old) >= t_from
            and np.isfinite(old[:t_from]).all()
        ):
            # Extended after the file grew: the values read before stay.
            values[:t_from] = old[:t_from]
        else:
            # A new trace, or an extension whose earlier values are not this job's: a replaced
            # job never finished reading them (jobs end on another thread than the one that
            # replaces them), or they are another plane's (a growth noticed on the follower's
            # thread extends the z just selected while the old z's trace was complete): from 0.
            t_from = 0
            # The marker only moves with the time slider; a new trace starts it at the time
            # shown.
            self.figure.set_marker(self._time_shown(), redraw=False)
            self.figure.begin(trace_label(job))
        self.values, self._values_job = values, job
        self._send(trace_message("reading", t_from, n))
        return t_from

    def _slice(self, job: TraceJob, t0: int, values: np.ndarray) -> None:
        self.values[t0 : t0 + len(values)] = values
        self.figure.fill(t0, values)
        done = int(np.isfinite(self.values).sum())
        self._send(trace_message("reading", done, len(self.values)))
        self.refresh_png()

    def _finished(self, job: TraceJob) -> None:
        n = len(self.values)
        if not np.isfinite(self.values).all():
            return  # a replaced job ended first: the job that replaced it is still reading
        self.done.set()
        self.refresh_png(force=True)
        self._send(trace_message("done", n, n))

    def _failed(self, job: TraceJob, exc: BaseException) -> None:
        self._show_error(f"reading the trace failed: {type(exc).__name__}: {exc}")
