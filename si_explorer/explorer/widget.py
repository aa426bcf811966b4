"""The ``Explorer`` anywidget: its traits and their validation, and the glue between the
front end's messages and the parts that do the work.

Division of labour with the front end (``js/``): the browser owns everything that must feel
instant (slider positions, colormap, contrast, zoom, ROI drawing) and sends *requests*; Python
owns the data and answers each request with one message whose first binary buffer is the raw
plane. The browser never writes a trait directly: every message it sends is validated by
:mod:`.messages` first, so a bad one becomes a visible error instead of an exception in the log.

The parts: :class:`.controller.PlaneController` serves planes (latest request wins, cache,
prefetch), :class:`.encoder.PlaneEncoder` turns them into messages,
:class:`.trace_session.TraceSession` reads and draws the selection's trace,
:class:`.summary_session.SummarySession` computes the summary views (mean, max, std, local
correlation), :mod:`.metadata_view` turns the file's metadata into what the panels show, and
:class:`.follow.Follower` polls a growing file. This module decides when each is asked.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import threading
import time

import anywidget
import ipywidgets
import numpy as np
import traitlets as t

from .. import bidi as bidi_math
from ..open import open as open_stack
from .contrast import ViewWindows, auto_window, image_window
from .controller import PlaneController, PlaneResult
from .encoder import PlaneEncoder, little_endian
from .follow import Follower
from .latest import LatestWins
from .messages import (
    SETTINGS,
    VIEWS,
    AutoContrast,
    BadMessage,
    BidiEstimate,
    Config,
    Drawn,
    FrameHeaderAsk,
    MetadataAsk,
    PlaneRequest,
    RoiClear,
    RoiSelect,
    TraceClick,
    ViewSelect,
    error_message,
    frame_header_message,
    metadata_message,
    parse_message,
    summary_message,
)
from .metadata_view import frame_header_entries, metadata_entries, scanfield_geometry
from .summary_session import SummaryKey, SummarySession, data_key
from .timeline_view import TimelineView, read_timeline
from .trace_session import TraceSession

STATIC = pathlib.Path(__file__).parent / "static"


def _running_in_marimo() -> bool:
    mo = sys.modules.get("marimo")
    if mo is None:
        return False
    try:
        return bool(mo.running_in_notebook())
    except Exception:  # noqa: BLE001 - an old marimo without the helper: assume not
        return False


def _has_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _resolve_trace_mode(trace: str) -> str:
    if trace not in ("auto", "ipympl", "image"):
        raise ValueError(f"trace must be 'auto', 'ipympl' or 'image', got {trace!r}")
    if trace != "auto":
        return trace
    if _running_in_marimo() or not _has_kernel():
        return "image"
    try:
        import ipympl.backend_nbagg  # noqa: F401
    except ImportError:
        return "image"
    return "ipympl"


def _scheme_text(scheme) -> str:
    return scheme if isinstance(scheme, str) else repr(scheme)


def _check_follow_interval(seconds: float) -> float:
    if not 0.05 <= seconds <= 3600:
        raise t.TraitError(f"follow_interval must be 0.05..3600 seconds, got {seconds!r}")
    return float(seconds)


#: Frames averaged for an on-demand bidi estimate: the ones centred on the time shown.
BIDI_SAMPLE_FRAMES = 32
#: Frames read per step of that average (the status shows the progress between steps).
BIDI_READ_STEP = 8


def _bidi_mode(stack) -> str:
    if getattr(stack, "bidi_offset", None) is None:
        return "off"
    mode = getattr(stack.plane_source, "mode", "manual")
    return mode if mode in ("auto", "auto-x") else "manual"


def _offsets_list(stack) -> list:
    offsets = getattr(stack, "bidi_offset", None)
    return [] if offsets is None else np.round(np.asarray(offsets, float), 3).tolist()


def _offsets_text(offsets) -> str:
    values = np.asarray(offsets, float)
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:+.2f} px" if hi - lo < 0.005 else f"{lo:+.2f}..{hi:+.2f} px"


def _timeline_note(view: TimelineView | None) -> str:
    if view is None:
        return ""
    parts = ["time from frame timestamps" if view.stamps is not None else "nominal frame times"]
    if view.dropped:
        shown = ", ".join(str(d) for d in view.dropped[:5]) + (
            " …" if len(view.dropped) > 5 else ""
        )
        s = "s" if len(view.dropped) > 1 else ""
        parts.append(f"{len(view.dropped)} dropped frame{s} ({shown})")
    if view.aux_count:
        parts.append(f"{view.aux_count} aux triggers")
    if view.note:
        parts.append(view.note)
    return " · ".join(parts)


def _file_note(stack) -> str:
    """The stack's notes on left-out pages, without the file name the explorer already shows."""
    notes = [note.split(": ", 1)[-1] for note in stack.warnings]
    if stack.shape[1] == 0:
        notes.insert(0, "waiting for the first complete volume")
    return " · ".join(notes)


class Explorer(anywidget.AnyWidget):
    """Explore a ScanImage stack: plane view, sliders, ROI traces and chunk-load timing.

    ``source_or_stack`` is anything :func:`si_explorer.open` accepts (path, list, glob), with
    ``open_kwargs`` passed on, or an already opened :class:`si_explorer.Stack`.

    Example::

        import si_explorer
        ex = si_explorer.Explorer("/data/session1_*.tif", chunks="volume")
        ex                      # displays the plane view and the trace side by side
        ex.time = 120           # moves the slider and shows that plane
        ex.roi = (10, 40, 20, 60)   # y0, y1, x0, x1: its mean trace is read and plotted
        ex.timing_summary()     # p50/p95 read and round-trip times
        ex.follow = True        # a file still being acquired: the time axis grows with it
        ex.view = "correlation" # local correlation of this field and z over time (one pass)
        ex.summary.images["max"]  # mean, max, std and correlation images from that pass
    """

    _esm = STATIC / "explorer.js"

    # Synced traits are what the front end reads (js/src/index.js); what only Python needs is a
    # plain attribute or property.

    # -- the stack (read-only for the front end) --
    n_fields = t.Int(1).tag(sync=True)
    n_times = t.Int(1).tag(sync=True)
    n_z = t.Int(1).tag(sync=True)
    channels = t.List().tag(sync=True)
    # What a stopped or still-running recording leaves out, shown beside the status.
    file_note = t.Unicode("").tag(sync=True)

    # -- the plane shown; setting them from Python shows that plane --
    field = t.Int(0).tag(sync=True)
    time = t.Int(0).tag(sync=True)
    z = t.Int(0).tag(sync=True)
    channel = t.Int(0).tag(sync=True)

    # -- display --
    colormap = t.Unicode("gray").tag(sync=True)
    vmin = t.Float(0.0).tag(sync=True)
    vmax = t.Float(1.0).tag(sync=True)
    playing = t.Bool(False).tag(sync=True)
    fps = t.Float(20.0).tag(sync=True)

    # -- selection: () none, (y, x) a pixel, (y0, y1, x0, x1) a rectangle --
    roi = t.Tuple().tag(sync=True)

    # -- chunking experiments --
    chunk_scheme = t.Unicode("page").tag(sync=True)
    backend = t.Unicode("pread").tag(sync=True)
    cache_mb = t.Float(256.0).tag(sync=True)
    prefetch = t.Int(8).tag(sync=True)

    # -- a file still being acquired: poll for new time points every follow_interval seconds --
    follow = t.Bool(False).tag(sync=True)

    # -- acquisition timeline (frame headers, read in the background after opening) --
    aux_count = t.Int(0).tag(sync=True)  # aux trigger events in the recording
    show_aux = t.Bool(False).tag(sync=True)  # draw them as ticks on the trace
    timeline_note = t.Unicode("").tag(sync=True)  # time source, dropped frames, triggers

    # -- bidirectional scan-phase correction --
    bidi = t.Unicode("off").tag(sync=True)  # off, auto, auto-x or manual
    bidi_manual = t.Float(0.0).tag(sync=True)  # pixels, applied to every (field, z) in manual
    bidi_compare = t.Bool(False).tag(sync=True)  # show the raw plane (before/after)
    bidi_offsets = t.List().tag(sync=True)  # [field][z] offsets applied; [] when raw
    bidi_status = t.Unicode("").tag(sync=True)  # estimation progress and result

    # -- what the plane view shows: "frame" (the plane at the time shown) or a summary image over
    #    time of the field and z shown (messages.VIEWS); a move in time shows the frame again --
    view = t.Unicode("frame").tag(sync=True)
    # -- the scanfields of a multi-ROI acquisition in scan coordinates (metadata_view) --
    scanfields = t.List().tag(sync=True)

    # -- trace fallback (only used when ipympl cannot render) --
    trace_mode = t.Unicode("ipympl").tag(sync=True)
    trace_png = t.Bytes(b"").tag(sync=True)
    trace_axes = t.Dict().tag(sync=True)  # see TraceFigure.geometry

    def __init__(
        self,
        source_or_stack,
        *,
        trace: str = "auto",
        cache_mb: float = 256.0,
        prefetch: int = 8,
        colormap: str = "gray",
        fps: float = 20.0,
        follow: bool = False,
        follow_interval: float = 1.0,
        **open_kwargs,
    ):
        if isinstance(source_or_stack, (str, os.PathLike, list, tuple)):
            stack = open_stack(source_or_stack, **open_kwargs)
        elif open_kwargs:
            raise TypeError(
                f"open options {sorted(open_kwargs)} only apply when Explorer opens a path; "
                "use stack.with_options(...) for an opened stack"
            )
        else:
            stack = source_or_stack
        self._stack = stack
        _check_follow_interval(follow_interval)
        # Observers fire for constructor arguments; they must not act before the parts exist.
        self._ready = False
        mode = _resolve_trace_mode(trace)
        F, T, Z = stack.shape[:3]
        vmin, vmax = auto_window(stack, 0, 0, 0)
        super().__init__(
            n_fields=F,
            n_times=T,
            n_z=Z,
            channels=[str(c) for c in stack.channels],
            channel=int(stack.channel),
            colormap=colormap,
            vmin=vmin,
            vmax=vmax,
            fps=fps,
            chunk_scheme=_scheme_text(stack.chunk_scheme),
            backend=stack.backend,
            cache_mb=cache_mb,
            prefetch=prefetch,
            trace_mode=mode,
            file_note=_file_note(stack),
            bidi=_bidi_mode(stack),
            bidi_offsets=_offsets_list(stack),
            scanfields=scanfield_geometry(stack),
        )
        self._bidi_quiet = False
        self.errors: list[str] = []
        self._accepting = False  # True while applying a front-end request (no re-request)
        self._box = None
        self._aux_lock = threading.Lock()
        # The chunk grid (and dask, which builds it: a second or more to import on a busy
        # machine) is needed for the first plane's chunk map: get it now, not in the first
        # follow poll, which would then lag the file by that long.
        _ = stack.chunks
        self.controller = PlaneController(
            stack,
            on_plane=self._send_plane,
            on_error=self._plane_failed,
            on_reading=self._send_reading,
            cache_bytes=int(cache_mb * 2**20),
            prefetch=prefetch,
        )
        self._encoder = PlaneEncoder(self.controller, stack.time_seconds)
        self._trace = TraceSession(
            mode,
            T,
            stack.time_seconds,
            # Looked up at each call: tests and hosts may replace ``send`` on the instance.
            send=lambda msg: self.send(msg),
            show_error=self._show_error,
            time_shown=lambda: self.time,
            publish_png=self._publish_png,
            on_click_time=self._trace_clicked,
        )
        self._browser_seen = 0  # newest browser request id received
        # Summary views: their own thread, the images of the plane asked for last, and the
        # contrast window each view had.
        self._windows = ViewWindows()
        self._own_window = threading.local()  # set while Python sets vmin/vmax itself
        self._view_from = ""  # who is changing the view: "", "browser" or "time"
        self._summary_lock = threading.Lock()
        self._summary_key: SummaryKey | None = None
        self._summaries = SummarySession(
            on_snapshot=self._summary_arrived, on_error=self._summary_failed
        )
        # A frame header is a small read, a request over the network for a remote file.
        self._header_worker: LatestWins[tuple] = LatestWins(
            self._header_run,
            name="si-explorer-header",
            on_error=lambda _job, exc: self._show_error(
                f"reading the frame header failed: {type(exc).__name__}: {exc}"
            ),
        )
        self._follower = Follower(self._poll_growth, follow_interval)
        # Bidi switches and estimates read frames: never on the kernel's main thread.
        self._bidi_worker: LatestWins[tuple] = LatestWins(
            self._bidi_run, name="si-explorer-bidi", on_error=self._bidi_failed
        )
        # The timeline reads every frame header: the explorer opens without waiting for it.
        self.timeline: TimelineView | None = None
        self._timeline_worker: LatestWins[object] = LatestWins(
            self._timeline_run,
            name="si-explorer-timeline",
            on_error=lambda _stack, exc: self._show_error(
                f"reading the frame headers failed: {type(exc).__name__}: {exc}"
            ),
        )
        self.on_msg(self._on_custom_msg)
        self._ready = True
        self.follow = follow
        if hasattr(stack, "timeline"):
            self._timeline_worker.submit(stack)

    # -- public Python API --------------------------------------------------------------------

    @property
    def stack(self):
        """The stack shown, with the current channel, chunk scheme and backend."""
        return self._stack

    @property
    def trace(self) -> np.ndarray | None:
        """The current selection's trace (NaN where not read yet), or None without a selection."""
        return self._trace.values

    @property
    def trace_figure(self):
        """The trace's matplotlib figure (:class:`.trace.TraceFigure`)."""
        return self._trace.figure

    @property
    def summary(self):
        """The summary images of the field and z shown: a
        :class:`~si_explorer.summary.PlaneSummary` (``images`` mean, max, std and correlation
        over the first ``frames_done`` time points), refined while its pass runs; None until a
        summary view asked for them. ``ex.view = "max"`` shows one."""
        key = SummaryKey(data_key(self._served_stack()), self.field, self.z)
        return self._summaries.latest(key)

    @property
    def follow_interval(self) -> float:
        """Seconds between polls for new time points while :attr:`follow` is on."""
        return self._follower.interval

    @follow_interval.setter
    def follow_interval(self, seconds: float) -> None:
        self._follower.interval = _check_follow_interval(seconds)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the requested plane and trace are served, the timeline read, a bidi
        switch applied and the summary pass running finished (scripts and tests)."""
        end = time.monotonic() + timeout
        for worker in (self._timeline_worker, self._bidi_worker, self._summaries):
            if not worker.wait_idle(max(0.0, end - time.monotonic())):
                return False
        if not self._header_worker.wait_idle(max(0.0, end - time.monotonic())):
            return False
        left = max(0.0, end - time.monotonic())
        return self.controller.wait_idle(left) and self._trace.wait_idle(left)

    def estimate_bidi(self) -> None:
        """Estimate the bidi offset of the field and z shown from the frames around the time
        shown (:data:`BIDI_SAMPLE_FRAMES`) and apply it there, keeping the other offsets; in
        the background (``wait()`` waits for it), with progress in :attr:`bidi_status`."""
        self._bidi_worker.submit(("estimate", self.field, self.time, self.z))

    def timings(self) -> list[dict]:
        """One record per plane shown: blocks read, bytes, read ms, server ms, drawn ms."""
        return [r.as_dict() for r in self.controller.timings.records()]

    def timing_summary(self) -> dict:
        """Running p50/p95 of read, server and browser round-trip times, and the hit rate."""
        return self.controller.timings.summary()

    def auto_contrast(self) -> tuple[float, float]:
        """Set the contrast window from percentiles of a few sampled planes (no file scan), or
        in a summary view from the summary image shown (which then follows its refinements)."""
        if self.view != "frame":
            self._windows.clear_manual(self.view)
            summary = self.summary
            if summary is None:
                return self.vmin, self.vmax  # its own window comes with its first image
            window = image_window(summary.images[self.view])
        else:
            window = auto_window(self._stack, self.field, self.z, self.time)
        self._set_window(*window)
        return window

    def play(self, fps: float | None = None) -> None:
        if fps is not None:
            self.fps = fps
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def grow(self) -> int:
        """Pick up time points appended to the file since it was opened (what follow mode
        does every ``follow_interval`` seconds); returns how many are new.

        The time slider grows, a plane at the old last time point moves on to the new last
        one (so the newest data stays on screen), and a selected trace is read for the new
        time points only.
        """
        with self._aux_lock:
            old = self.n_times
            added = self._stack.refresh()
            if not added:
                return 0
            stack = self._stack
            n = stack.shape[1]
            self._encoder.seconds = stack.time_seconds
            if self.bidi_compare:
                self.controller.set_stack(self._served_stack())
            self.controller.stack_grew()
            self._encoder.forget_map()
            at_end = self.time == old - 1
            self._trace.grew(stack, self.roi, self.field, self.z, old)
            self.n_times = n
            # Open-time notes on left-out pages are stale now; the file is growing again.
            self.file_note = ""
            if old == 0:
                if self.view != "frame":
                    self._back_to_frame()  # a summary of no frames: the first one instead
                self.auto_contrast()  # the window so far was a placeholder for no data
            if at_end:
                self.time = n - 1
            else:
                self._request_current()  # the chunk map and status show the new length
            # The new time points' headers (the stack dropped its timeline on refresh).
            if hasattr(stack, "timeline"):
                self._timeline_worker.submit(stack)
            return added

    def close(self) -> None:
        # Also runs from __del__ of an Explorer whose __init__ failed half way: every part is
        # optional here.
        follower = getattr(self, "_follower", None)
        if follower is not None:
            follower.stop()
        for part in ("_bidi_worker", "_timeline_worker", "_header_worker", "_summaries"):
            worker = getattr(self, part, None)
            if worker is not None:
                worker.close(join=False)
        for part in ("controller", "_trace", "_box"):
            obj = getattr(self, part, None)
            if obj is not None:
                obj.close()
        super().close()

    def _repr_mimebundle_(self, **kwargs):
        if self.trace_mode != "ipympl":
            return super()._repr_mimebundle_(**kwargs)
        # One output with both views; the explorer itself stays the anywidget so it renders
        # alone wherever a host shows anywidgets but not classic ipywidgets.
        if self._box is None:
            self._box = ipywidgets.HBox(
                [self, self.trace_figure.canvas],
                layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start"),
            )
        return self._box._repr_mimebundle_(**kwargs)

    # -- validation of Python-side assignments ------------------------------------------------

    def _check_index(self, value, n, name):
        if not 0 <= value < n:
            raise t.TraitError(f"{name} {value} is out of range (0..{n - 1})")
        return value

    @t.validate("field")
    def _valid_field(self, proposal):
        return self._check_index(proposal["value"], self.n_fields, "field")

    @t.validate("time")
    def _valid_time(self, proposal):
        return self._check_index(proposal["value"], self.n_times, "time")

    @t.validate("z")
    def _valid_z(self, proposal):
        return self._check_index(proposal["value"], self.n_z, "z")

    @t.validate("view")
    def _valid_view(self, proposal):
        if proposal["value"] not in VIEWS:
            raise t.TraitError(f"view must be one of {VIEWS}, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("channel")
    def _valid_channel(self, proposal):
        return self._check_index(proposal["value"], max(1, len(self.channels)), "channel")

    # The same checks as a config message from the browser (messages.SETTINGS).
    @t.validate(*[key for key, setting in SETTINGS.items() if setting.check is not None])
    def _valid_setting(self, proposal):
        problem = SETTINGS[proposal["trait"].name].problem(proposal["value"])
        if problem is not None:
            raise t.TraitError(problem)
        return proposal["value"]

    def _roi_fits(self, roi: tuple, field: int) -> bool:
        h, w = self._stack.field_shapes[field]
        if len(roi) == 2:
            return 0 <= roi[0] < h and 0 <= roi[1] < w
        y0, y1, x0, x1 = roi
        return 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w

    @t.validate("roi")
    def _valid_roi(self, proposal):
        roi = tuple(int(v) for v in proposal["value"])
        if not roi:
            return roi
        if len(roi) not in (2, 4):
            raise t.TraitError(f"roi must be (y, x) or (y0, y1, x0, x1), got {roi}")
        if not self._roi_fits(roi, self.field):
            h, w = self._stack.field_shapes[self.field]
            what = "pixel" if len(roi) == 2 else "roi"
            raise t.TraitError(f"{what} {roi} is not inside the {h}x{w} field {self.field}")
        return roi

    @t.validate("chunk_scheme")
    def _valid_scheme(self, proposal):
        value = proposal["value"]
        try:
            self._pending_stack = self._stack.with_options(chunks=value)
        except Exception as exc:  # noqa: BLE001 - the loader decides what a valid scheme is
            raise t.TraitError(f"chunk scheme {value!r}: {exc}") from exc
        return value

    # -- reacting to changes ------------------------------------------------------------------

    @t.observe("field", "time", "z")
    def _plane_changed(self, change):
        if not self._ready:
            return
        if change["name"] == "field" and self.roi and not self._roi_fits(self.roi, self.field):
            # Fields of a multi-ROI file differ in size; a selection made on a bigger one may
            # lie in this one's padding, where there is no data to trace.
            self.roi = ()
        elif change["name"] in ("field", "z") and self.roi:
            self._start_trace()
        if change["name"] == "z":
            self._trace.set_z(self.z)
        if change["name"] == "time":
            self._trace.move_marker(self.time)
            if self.view != "frame":
                self._back_to_frame()
        if not self._accepting:
            if change["name"] != "time":
                self._show_summary()
            self._request_current()

    @t.observe("channel", "backend", "chunk_scheme")
    def _options_changed(self, change):
        if not self._ready:
            return
        if change["name"] == "chunk_scheme":
            stack = self._pending_stack
        elif change["name"] == "channel":
            stack = self._stack.with_options(channel=change["new"])
        else:
            stack = self._stack.with_options(backend=change["new"])
        self._stack = stack
        self.controller.set_stack(self._served_stack())
        self._encoder.forget_map()
        if change["name"] == "channel":
            if self.roi:
                self._start_trace()
            self._summary_data_changed()
            # Channels differ in brightness: the old window could show the new one all black.
            if self.view == "frame":
                threading.Thread(target=self._auto_contrast_bg, daemon=True).start()
            else:
                self._windows.frame = None  # found again from the frames when going back
        self._request_current()

    @t.observe("bidi", "bidi_manual")
    def _bidi_changed(self, change):
        if not self._ready or self._bidi_quiet:
            return
        if change["name"] == "bidi_manual" and self.bidi != "manual":
            return  # remembered for when manual is chosen
        self._bidi_worker.submit(("mode", self.bidi, self.bidi_manual))

    @t.observe("bidi_compare")
    def _compare_changed(self, change):
        if not self._ready:
            return
        with self._aux_lock:
            self.controller.set_stack(self._served_stack())
            self._encoder.forget_map()
            self._summary_data_changed()
            self._request_current()

    @t.observe("view")
    def _view_changed(self, change):
        if not self._ready:
            return
        self._windows.leave(change["old"], (self.vmin, self.vmax))
        if change["new"] != "frame":
            self._show_summary()
            return
        window = self._windows.frame
        if window is not None:
            self._set_window(*window)
        else:
            threading.Thread(target=self._auto_contrast_bg, daemon=True).start()
        if not self._view_from:
            # Asked for from Python: the browser shows the frame once it is sent. A browser
            # that switched asks for it itself, and a move in time is being served already.
            self._request_current()

    @t.observe("vmin", "vmax")
    def _window_changed(self, change):
        if not self._ready or getattr(self._own_window, "on", False):
            return
        # Set by the user (a box, a histogram handle, Python code): kept for this summary view.
        self._windows.set_manual(self.view, (self.vmin, self.vmax))

    @t.observe("show_aux")
    def _show_aux_changed(self, change):
        if not self._ready:
            return
        self._trace.show_aux(self.show_aux)

    @t.observe("cache_mb")
    def _cache_changed(self, change):
        if not self._ready:
            return
        self.controller.cache.budget = int(change["new"] * 2**20)

    @t.observe("prefetch")
    def _prefetch_changed(self, change):
        if not self._ready:
            return
        self.controller.prefetch = change["new"]

    @t.observe("follow")
    def _follow_changed(self, change):
        if not self._ready:
            return
        if self.follow:
            self._follower.start()
        else:
            self._follower.stop()

    @t.observe("roi")
    def _roi_changed(self, change):
        if not self._ready:
            return
        if self.roi:
            self._start_trace()
        else:
            self._trace.clear()

    def _poll_growth(self) -> None:
        try:
            self.grow()
        except Exception as exc:  # noqa: BLE001 - shown; following stops instead of repeating it
            self._show_error(f"follow: {type(exc).__name__}: {exc}; following stopped")
            self.follow = False

    def _served_stack(self):
        """The stack planes are served from: the raw one while comparing before/after."""
        stack = self._stack
        if self.bidi_compare and getattr(stack, "bidi_offset", None) is not None:
            return stack.with_options(bidi=None)
        return stack

    def _start_trace(self) -> None:
        self._trace.start(self._stack, self.roi, self.field, self.z)

    def _set_window(self, vmin: float, vmax: float) -> None:
        """Set the contrast window as Python's own choice (not the user's)."""
        self._own_window.on = True
        try:
            with self.hold_sync():
                self.vmin, self.vmax = float(vmin), float(vmax)
        finally:
            self._own_window.on = False

    def _back_to_frame(self) -> None:
        """A move in time: the frame view again (the browser switched already)."""
        self._view_from = "time"
        try:
            self.view = "frame"
        finally:
            self._view_from = ""

    def _request_current(self):
        if self.n_times == 0:
            return  # no complete volume yet: grow() asks once there is one
        req = PlaneRequest(
            self.controller.new_python_id(),
            self.field,
            self.time,
            self.z,
            seen=self._browser_seen,
        )
        self.controller.request(req)

    # -- front-end messages (kernel main thread) ----------------------------------------------

    def _on_custom_msg(self, _widget, content, buffers):
        received = time.perf_counter()
        try:
            msg = parse_message(content, self._stack.shape, self._stack.field_shapes)
            self._dispatch(msg, received)
        except (BadMessage, t.TraitError) as exc:
            self._show_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - the kernel must survive any message
            self._show_error(f"{type(exc).__name__}: {exc}")

    def _dispatch(self, msg, received):
        if isinstance(msg, PlaneRequest):
            self._browser_seen = max(self._browser_seen, msg.request_id)
            if msg.ack is not None:
                self.controller.timings.record_drawn(*msg.ack)
            moved = (msg.field, msg.z) != (self.field, self.z)
            self._accept_position(msg.field, msg.time, msg.z)
            self.controller.request(msg, received)
            if moved:
                # After the whole position is taken: a field and z moved together start one
                # pass, not one for the field alone first.
                self._show_summary()
        elif isinstance(msg, Drawn):
            self.controller.timings.record_drawn(msg.request_id, msg.total_ms)
        elif isinstance(msg, RoiSelect):
            roi = (msg.roi[0], msg.roi[2]) if msg.pixel else msg.roi
            self.roi = roi
        elif isinstance(msg, RoiClear):
            self.roi = ()
        elif isinstance(msg, AutoContrast):
            threading.Thread(target=self._auto_contrast_bg, daemon=True).start()
        elif isinstance(msg, Config):
            # Its value is already of the setting's type and passed the setting's own check.
            setattr(self, msg.key, msg.value)
        elif isinstance(msg, TraceClick):
            self.time = self._trace.time_index(msg.x)
        elif isinstance(msg, BidiEstimate):
            self.estimate_bidi()
        elif isinstance(msg, ViewSelect):
            self._accept_view(msg.view)
        elif isinstance(msg, MetadataAsk):
            entries, note = metadata_entries(self._stack)
            self.send(metadata_message(entries, note))
        elif isinstance(msg, FrameHeaderAsk):
            self._header_worker.submit((msg.field, msg.time, msg.z))

    def _accept_position(self, f: int, t: int, z: int) -> None:
        """Mirror the browser's slider position in the traits without echoing it back.

        The browser already shows these values; sending them back would add a websocket
        message to every slider step. ipywidgets' property lock (what it uses itself when
        applying browser updates) suppresses that; without it the echo is merely redundant.
        """
        self._accepting = True
        lock = getattr(self, "_lock_property", None)
        try:
            with lock(field=f, time=t, z=z) if lock else contextlib.nullcontext():
                self.field, self.time, self.z = f, t, z
        finally:
            self._accepting = False

    def _accept_view(self, view: str) -> None:
        """The browser chose a view: mirror it without echoing it back, and show it (again: a
        new front end of the same widget asks for the summary it should show)."""
        changed = view != self.view
        self._view_from = "browser"
        lock = getattr(self, "_lock_property", None)
        try:
            with lock(view=view) if lock else contextlib.nullcontext():
                self.view = view
        finally:
            self._view_from = ""
        if not changed and view != "frame":
            self._show_summary()

    def _auto_contrast_bg(self):
        with self._aux_lock:
            try:
                self.auto_contrast()
            except Exception as exc:  # noqa: BLE001 - shown, never raised
                self._show_error(f"auto contrast failed: {exc}")

    def _show_error(self, text: str) -> None:
        self.errors.append(text)
        self.send(error_message(text))

    # -- callbacks of the parts (their threads) -----------------------------------------------

    def _send_plane(self, result: PlaneResult) -> None:
        self.send(*self._encoder.plane(result))

    def _send_reading(self, config, block) -> None:
        notice = self._encoder.reading(config, block)
        if notice is not None:
            self.send(notice)

    def _plane_failed(self, req: PlaneRequest, exc: BaseException) -> None:
        self._show_error(
            f"reading field {req.field} · time {req.time} · z {req.z} failed: "
            f"{type(exc).__name__}: {exc}"
        )

    def _publish_png(self, png: bytes, geometry: dict) -> None:
        # Geometry first: the browser places its marker with it when the new picture lands.
        self.trace_axes = geometry
        self.trace_png = png

    def _trace_clicked(self, t_index: int) -> None:
        self.time = t_index

    # -- background work: the timeline and bidi correction (their own threads) ----------------

    def _timeline_run(self, stack, generation: int) -> None:
        view = read_timeline(stack)
        if not self._timeline_worker.is_current(generation):
            return  # the file grew meanwhile: the newer read replaces this one
        with self._aux_lock:
            self.timeline = view
            self._encoder.timeline = view
            self._trace.set_timeline(view)
            self.aux_count = 0 if view is None else view.aux_count
            self.timeline_note = _timeline_note(view)
            if view is not None and len(view.gaps):
                # The chunk map outlines the time blocks after dropped frames: send it again.
                self._encoder.forget_map()
                self._request_current()

    def _set_bidi_quietly(self, **traits) -> None:
        """Show what was applied in the bidi traits without applying it again."""
        self._bidi_quiet = True
        try:
            for name, value in traits.items():
                setattr(self, name, value)
        finally:
            self._bidi_quiet = False

    def _bidi_run(self, job: tuple, generation: int) -> None:
        if job[0] == "estimate":
            _, f, t_shown, z = job
            offsets, status, manual = self._estimate_here(f, t_shown, z, generation)
            if offsets is None:
                self.bidi_status = status
                return
        else:
            _, mode, manual = job
            if mode == "off":
                offsets, status = None, "bidi: off (raw pixels)"
            elif mode == "manual":
                offsets, status = float(manual), f"bidi manual: {manual:+.2f} px"
            else:
                self.bidi_status = f"bidi {mode}: estimating from sampled frames …"
                estimated = self._stack.with_options(bidi=mode)
                offsets = estimated.plane_source.offsets
                status = f"bidi {mode}: {_offsets_text(estimated.bidi_offset)}"
        if not self._bidi_worker.is_current(generation):
            return
        with self._aux_lock:
            # Applied to the stack shown now (its channel, chunks and backend), as offsets:
            # nothing is estimated twice.
            stack = self._stack.with_options(bidi=offsets)
            self._stack = stack
            self.controller.set_stack(self._served_stack())
            self._encoder.forget_map()
            self._summary_data_changed()
            if self.roi:
                self._start_trace()
            traits = {"bidi_offsets": _offsets_list(stack)}
            if job[0] == "estimate":
                traits.update(bidi="manual", bidi_manual=manual)
            self._set_bidi_quietly(**traits)
            self.bidi_status = status
            self._request_current()

    def _estimate_here(self, f: int, t_shown: int, z: int, generation: int):
        """(offsets with (f, z) re-estimated, status, the new offset) or (None, why, None)."""
        raw = self._stack.with_options(bidi=None)
        n = raw.shape[1]
        if n == 0:
            return None, "bidi: no frames to estimate from yet", None
        k = min(BIDI_SAMPLE_FRAMES, n)
        t0 = max(0, min(n - k, t_shown - k // 2))
        h, w = raw.field_shapes[f]
        total = np.zeros((h, w), np.float64)
        for start in range(t0, t0 + k, BIDI_READ_STEP):
            stop = min(t0 + k, start + BIDI_READ_STEP)
            self.bidi_status = (
                f"bidi: reading frames {start - t0}/{k} (time {t0}..{t0 + k - 1}) of "
                f"field {f} · z {z} …"
            )
            if not self._bidi_worker.is_current(generation):
                return None, "bidi: estimate superseded", None
            part = np.asarray(raw[f, start:stop, z], np.float64)
            total += part.reshape(-1, *part.shape[-2:])[:, :h, :w].sum(axis=0)
        self.bidi_status = f"bidi: estimating field {f} · z {z} …"
        row0 = raw.plane_source.field_page_rows()[f]
        # An unreliable estimate also warns (BidiWarning); the status says why.
        est = bidi_math.estimate_offset(total / k, row0=row0)
        where = f"field {f} · z {z} (time {t0}..{t0 + k - 1})"
        if not est.reliable:
            return None, f"bidi: {where}: no reliable estimate ({est.reason}); kept", None
        current = getattr(self._stack.plane_source, "offsets", None)
        F, _, Z = self._stack.shape[:3]
        offsets = np.zeros((F, Z)) if current is None else np.array(current, float)
        offsets[f, z] = est.offset  # a per-column curve becomes flat there
        stderr = "" if not np.isfinite(est.stderr) else f" ±{est.stderr:.2f}"
        status = f"bidi: {where}: {est.offset:+.2f}{stderr} px"
        return offsets, status, round(float(est.offset), 3)

    def _bidi_failed(self, job: tuple, exc: BaseException) -> None:
        self._set_bidi_quietly(bidi=_bidi_mode(self._stack))
        self.bidi_status = f"bidi failed: {type(exc).__name__}: {exc}"
        self._show_error(f"bidi: {type(exc).__name__}: {exc}")

    # -- summary views (their own thread) and the frame header ------------------------------

    def _show_summary(self) -> None:
        """Show the summary view chosen for the field and z shown: at once when its pass ran
        (or is running), else once the pass that starts here sends its first refinement."""
        if self.view == "frame":
            return
        stack = self._served_stack()
        with self._summary_lock:
            key, summary = self._summaries.show(stack, self.field, self.z)
            self._summary_key = key
            if summary is not None:
                self._send_summary(summary)
            else:
                # The browser dims the old picture and names what is coming.
                self.send(
                    summary_message(
                        view=self.view,
                        field=key.field,
                        z=key.z,
                        frames_done=0,
                        frames_total=stack.shape[1],
                        image=False,
                    )
                )

    def _summary_data_changed(self) -> None:
        """Another channel or correction: summaries of the old data are not shown any more."""
        if self.view != "frame":
            self._show_summary()
        else:
            self._summaries.cancel()

    def _send_summary(self, summary) -> None:
        """The summary ``view`` image with its window (caller holds ``_summary_lock``); in the
        frame view, the progress of the pass running in the background."""
        view = self.view
        if view == "frame":
            self.send(
                summary_message(
                    view=view,
                    field=summary.field,
                    z=summary.z,
                    frames_done=summary.frames_done,
                    frames_total=summary.frames_total,
                    image=False,
                )
            )
            return
        image = little_endian(np.ascontiguousarray(summary.images[view], np.float32))
        window = self._windows.manual(view) or image_window(image)
        stack = self._stack
        content = summary_message(
            view=view,
            field=summary.field,
            z=summary.z,
            frames_done=summary.frames_done,
            frames_total=summary.frames_total,
            image=True,
            height=image.shape[0],
            width=image.shape[1],
            padded=(stack.shape[3], stack.shape[4]),
            window=window,
        )
        self.send(content, [memoryview(image).cast("B")])
        # After the image: the browser applied the window with it, the traits follow.
        self._set_window(*window)

    def _summary_arrived(self, key: SummaryKey, summary) -> None:
        with self._summary_lock:
            if key == self._summary_key:
                self._send_summary(summary)

    def _summary_failed(self, key: SummaryKey, exc: BaseException) -> None:
        self._show_error(
            f"computing the summary images of field {key.field} · z {key.z} failed: "
            f"{type(exc).__name__}: {exc}"
        )

    def _header_run(self, job: tuple, generation: int) -> None:
        f, t_, z = job
        entries, note = frame_header_entries(self._stack, f, t_, z)
        if self._header_worker.is_current(generation):
            self.send(frame_header_message(f, t_, z, entries, note))
