"""The ``Explorer`` anywidget: traits, front-end messages and binary plane buffers.

Division of labour with the front end (``js/``): the browser owns everything that must feel
instant (slider positions, colormap, contrast, zoom, ROI drawing) and sends *requests*; Python
owns the data and answers each request with one message whose first binary buffer is the raw
plane. The browser never writes a trait directly: every message it sends is validated by
:mod:`.messages` first, so a bad one becomes a visible error instead of an exception in the log.
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

from .contrast import auto_window
from .controller import PlaneController, PlaneResult, config_key
from .follow import Follower
from .messages import (
    BACKENDS,
    COLORMAPS,
    AutoContrast,
    BadMessage,
    Config,
    Drawn,
    PlaneRequest,
    RoiClear,
    RoiSelect,
    TraceClick,
    parse_message,
)
from .trace import TraceFigure, TraceJob, TraceLoader

STATIC = pathlib.Path(__file__).parent / "static"

#: While playing, the trace marker (a full ipympl redraw on the kernel's main thread) is moved at
#: most this often, so it never competes with plane requests for the main thread.
MARKER_INTERVAL_S = 0.25
#: Blocks at least this big are announced to the chunk map before they are read.
READING_NOTICE_BYTES = 2 * 2**20
#: The image fallback re-renders its PNG at most this often while a trace fills in.
PNG_INTERVAL_S = 0.5


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
    """

    _esm = STATIC / "explorer.js"

    # -- the stack (read-only for the front end) --
    name = t.Unicode("").tag(sync=True)
    n_fields = t.Int(1).tag(sync=True)
    n_times = t.Int(1).tag(sync=True)
    n_z = t.Int(1).tag(sync=True)
    field_shapes = t.List().tag(sync=True)
    dtype = t.Unicode("").tag(sync=True)
    channels = t.List().tag(sync=True)
    has_seconds = t.Bool(False).tag(sync=True)
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
    follow_interval = t.Float(1.0).tag(sync=True)

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
            import si_explorer

            stack = si_explorer.open(source_or_stack, **open_kwargs)
        elif open_kwargs:
            raise TypeError(
                f"open options {sorted(open_kwargs)} only apply when Explorer opens a path; "
                "use stack.with_options(...) for an opened stack"
            )
        else:
            stack = source_or_stack
        self._stack = stack
        self._seconds = stack.time_seconds
        # Observers fire for constructor arguments; they must not act before the controller exists.
        self._ready = False
        mode = _resolve_trace_mode(trace)
        F, T, Z = stack.shape[:3]
        vmin, vmax = auto_window(stack, 0, 0, 0)
        super().__init__(
            name=str(getattr(stack, "name", "")),
            n_fields=F,
            n_times=T,
            n_z=Z,
            field_shapes=[list(map(int, s)) for s in stack.field_shapes],
            dtype=np.dtype(stack.dtype).name,
            channels=[str(c) for c in stack.channels],
            channel=int(stack.channel),
            has_seconds=stack.time_seconds is not None,
            colormap=colormap,
            vmin=vmin,
            vmax=vmax,
            fps=fps,
            chunk_scheme=_scheme_text(stack.chunk_scheme),
            backend=stack.backend,
            cache_mb=cache_mb,
            prefetch=prefetch,
            trace_mode=mode,
            follow_interval=follow_interval,
            file_note=_file_note(stack),
        )
        self.errors: list[str] = []
        self._accepting = False  # True while applying a front-end request (no re-request)
        self._last_marker = 0.0
        self._marker_timer: threading.Timer | None = None
        self._last_png = 0.0
        self._map_sent: tuple | None = None
        self._trace_values: np.ndarray | None = None
        self._trace_done = threading.Event()
        self._box = None
        self._aux_lock = threading.Lock()
        self.controller = PlaneController(
            stack,
            on_plane=self._send_plane,
            on_error=self._plane_failed,
            on_reading=self._send_reading,
            cache_bytes=int(cache_mb * 2**20),
            prefetch=prefetch,
        )
        self.trace_figure = TraceFigure(
            mode, T, stack.time_seconds, on_click_time=self._trace_clicked
        )
        self._browser_seen = 0  # newest browser request id received
        if mode == "image":
            # The empty figure tells the user where the trace will appear and how to get one.
            self._refresh_png(force=True)
        self._loader = TraceLoader(
            on_start=self._trace_started,
            on_slice=self._trace_slice,
            on_done=self._trace_finished,
            on_error=self._trace_failed,
        )
        self._follower = Follower(self._poll_growth, follow_interval)
        self.on_msg(self._on_custom_msg)
        self._ready = True
        self.follow = follow

    # -- public Python API --------------------------------------------------------------------

    @property
    def stack(self):
        """The stack shown, with the current channel, chunk scheme and backend."""
        return self._stack

    @property
    def trace(self) -> np.ndarray | None:
        """The current selection's trace (NaN where not read yet), or None without a selection."""
        return self._trace_values

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the requested plane and trace are served (scripts and tests)."""
        return self.controller.wait_idle(timeout) and self._loader.wait_idle(timeout)

    def timings(self) -> list[dict]:
        """One record per plane shown: blocks read, bytes, read ms, server ms, drawn ms."""
        return [r.as_dict() for r in self.controller.timings.records()]

    def timing_summary(self) -> dict:
        """Running p50/p95 of read, server and browser round-trip times, and the hit rate."""
        return self.controller.timings.summary()

    def auto_contrast(self) -> tuple[float, float]:
        """Set the contrast window from percentiles of a few sampled planes (no file scan)."""
        vmin, vmax = auto_window(self._stack, self.field, self.z, self.time)
        self.vmin, self.vmax = vmin, vmax
        return vmin, vmax

    def play(self, fps: float | None = None) -> None:
        if fps is not None:
            self.fps = fps
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def close(self) -> None:
        # Also runs from __del__ of an Explorer whose __init__ failed half way: every part is
        # optional here.
        timer = getattr(self, "_marker_timer", None)
        if timer is not None:
            timer.cancel()
        follower = getattr(self, "_follower", None)
        if follower is not None:
            follower.stop()
        for part in ("controller", "_loader", "trace_figure", "_box"):
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

    @t.validate("channel")
    def _valid_channel(self, proposal):
        return self._check_index(proposal["value"], max(1, len(self.channels)), "channel")

    @t.validate("colormap")
    def _valid_colormap(self, proposal):
        if proposal["value"] not in COLORMAPS:
            raise t.TraitError(f"colormap must be one of {COLORMAPS}, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("backend")
    def _valid_backend(self, proposal):
        if proposal["value"] not in BACKENDS:
            raise t.TraitError(f"backend must be one of {BACKENDS}, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("cache_mb")
    def _valid_cache(self, proposal):
        if not proposal["value"] >= 0:
            raise t.TraitError(f"cache_mb must be >= 0, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("prefetch")
    def _valid_prefetch(self, proposal):
        if not 0 <= proposal["value"] <= 1000:
            raise t.TraitError(f"prefetch must be 0..1000 frames, got {proposal['value']!r}")
        return proposal["value"]

    @t.validate("follow_interval")
    def _valid_follow_interval(self, proposal):
        if not 0.05 <= proposal["value"] <= 3600:
            raise t.TraitError(
                f"follow_interval must be 0.05..3600 seconds, got {proposal['value']!r}"
            )
        return proposal["value"]

    @t.validate("fps")
    def _valid_fps(self, proposal):
        if not 0 < proposal["value"] <= 240:
            raise t.TraitError(f"fps must be in (0, 240], got {proposal['value']!r}")
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
        if change["name"] == "time":
            self._move_marker()
        if not self._accepting:
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
        self.controller.set_stack(stack)
        self._map_sent = None
        if change["name"] == "channel":
            if self.roi:
                self._start_trace()
            # Channels differ in brightness: the old window could show the new one all black.
            threading.Thread(target=self._auto_contrast_bg, daemon=True).start()
        self._request_current()

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

    @t.observe("follow", "follow_interval")
    def _follow_changed(self, change):
        if not self._ready:
            return
        self._follower.interval = self.follow_interval
        if self.follow:
            self._follower.start()
        else:
            self._follower.stop()

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
            self._seconds = stack.time_seconds
            self.controller.stack_grew()
            self._map_sent = None
            self.trace_figure.resize(n, self._seconds)
            at_end = self.time == old - 1
            self.n_times = n
            # Open-time notes on left-out pages are stale now; the file is growing again.
            self.file_note = ""
            if old == 0:
                self.auto_contrast()  # the window so far was a placeholder for no data
            if self.roi:
                # A trace still being read is read again from the start: its job is replaced.
                t_from = old if self._trace_done.is_set() else 0
                self._trace_done.clear()
                self._loader.start(stack, self._trace_job(), t_from=t_from)
            if at_end:
                self.time = n - 1
            else:
                self._request_current()  # the chunk map and status show the new length
            return added

    def _poll_growth(self) -> None:
        try:
            self.grow()
        except Exception as exc:  # noqa: BLE001 - shown; following stops instead of repeating it
            self._show_error(f"follow: {type(exc).__name__}: {exc}; following stopped")
            self.follow = False

    @t.observe("roi")
    def _roi_changed(self, change):
        if not self._ready:
            return
        if self.roi:
            self._start_trace()
        else:
            self._loader.cancel()
            self._trace_values = None
            self.trace_figure.clear()
            self._refresh_png(force=True)

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
            self._accept_position(msg.field, msg.time, msg.z)
            self.controller.request(msg, received)
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
            self._apply_config(msg.key, msg.value)
        elif isinstance(msg, TraceClick):
            self.time = self.trace_figure.time_index(msg.x)

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

    def _apply_config(self, key, value):
        kinds = {
            "channel": int,
            "prefetch": int,
            "cache_mb": float,
            "vmin": float,
            "vmax": float,
            "fps": float,
            "playing": bool,
            "follow": bool,
            "colormap": str,
            "backend": str,
            "chunk_scheme": str,
        }
        kind = kinds[key]
        ok = (
            isinstance(value, bool)
            if kind is bool
            else isinstance(value, str)
            if kind is str
            else isinstance(value, (int, float)) and not isinstance(value, bool)
        )
        if not ok or (kind is float and not np.isfinite(value)):
            raise BadMessage(f"{key}: {value!r} is not a valid {kind.__name__}")
        if kind is int and float(value) != int(value):
            raise BadMessage(f"{key}: {value!r} is not a whole number")
        setattr(self, key, kind(value))

    def _auto_contrast_bg(self):
        with self._aux_lock:
            try:
                self.auto_contrast()
            except Exception as exc:  # noqa: BLE001 - shown, never raised
                self._show_error(f"auto contrast failed: {exc}")

    def _show_error(self, text: str) -> None:
        self.errors.append(text)
        self.send({"type": "error", "message": text})

    # -- planes (reader thread) ---------------------------------------------------------------

    def _send_plane(self, result: PlaneResult) -> None:
        plane = result.plane
        if plane.dtype.byteorder == ">" or (
            plane.dtype.byteorder == "=" and sys.byteorder == "big"
        ):
            # Typed arrays in the browser are little-endian on every platform that matters.
            plane = plane.astype(plane.dtype.newbyteorder("<"))
        req, timing = result.request, result.timing
        timings = self.controller.timings
        read_p50, read_p95 = timings.recent_percentiles("read_ms", reads_only=True)
        stack = self.controller.stack
        seconds = self._seconds
        content = {
            "type": "plane",
            "id": req.request_id,
            # Browser requests up to this id are answered or superseded (see PlaneRequest.seen).
            "seen": req.request_id if req.request_id > 0 else req.seen,
            "field": req.field,
            "time": req.time,
            "z": req.z,
            "seconds": None if seconds is None else round(float(seconds[req.time]), 6),
            "height": int(plane.shape[0]),
            "width": int(plane.shape[1]),
            # Every field is padded to this size in the stack; the browser shows the rest of
            # it as padding, so fields of different sizes keep their true proportions.
            "padded": [int(stack.shape[3]), int(stack.shape[4])],
            "dtype": plane.dtype.name,
            "timing": {
                "cache": timing.cache,
                "blocks": [list(b) for b in timing.blocks_read],
                "bytes": timing.bytes_read,
                "read_ms": round(timing.read_ms, 3),
                "server_ms": round(timing.server_ms, 3),
                "read_p50": read_p50,
                "read_p95": read_p95,
                "hit_rate": timings.recent_hit_rate(),
                "cache_bytes": self.controller.cache.nbytes,
            },
        }
        buffers = [memoryview(plane).cast("B")]
        n_tb, n_zb = self.controller.grid_shape(stack)
        state = (result.config, req.field, self.controller.chunk_map.version)
        if state != self._map_sent:
            grid, bin_ = self.controller.chunk_map.snapshot(result.config, req.field, n_tb, n_zb)
            content["chunk_map"] = {
                "rows": int(grid.shape[0]),
                "cols": int(grid.shape[1]),
                "bin": int(bin_),
            }
            buffers.append(memoryview(grid).cast("B"))
            self._map_sent = state
        bf, bt, bz, _, _ = stack.block_of(req.field, req.time, req.z)
        content["block"] = [int(bt), int(bz)]
        self.send(content, buffers)

    def _send_reading(self, config, block) -> None:
        # Small blocks are read in a millisecond: a "being read" notice would cost a message per
        # slider step and never be seen. Large blocks are worth showing while they load.
        stack = self.controller.stack
        if stack.block_nbytes(block) < READING_NOTICE_BYTES:
            return
        if config == config_key(stack):
            self.send({"type": "reading", "field": int(block[0]), "block": [block[1], block[2]]})

    def _plane_failed(self, req: PlaneRequest, exc: BaseException) -> None:
        self._show_error(
            f"reading field {req.field} · time {req.time} · z {req.z} failed: "
            f"{type(exc).__name__}: {exc}"
        )

    # -- traces (loader thread) ---------------------------------------------------------------

    def _trace_job(self) -> TraceJob:
        roi = self.roi
        pixel = len(roi) == 2
        box = (roi[0], roi[0] + 1, roi[1], roi[1] + 1) if pixel else tuple(roi)
        return TraceJob(box, pixel, self.field, self.z)

    def _start_trace(self) -> None:
        self._trace_done.clear()
        self._loader.start(self._stack, self._trace_job())

    def _trace_label(self, job: TraceJob) -> str:
        where = f"field {job.field} · z {job.z}"
        if job.pixel:
            return f"pixel (y {job.roi[0]}, x {job.roi[2]}) · {where}"
        y0, y1, x0, x1 = job.roi
        return f"ROI mean y {y0}:{y1}, x {x0}:{x1} · {where}"

    def _trace_started(self, job, n, t_from):
        values = np.full(n, np.nan)
        old = self._trace_values
        if t_from and old is not None and len(old) >= t_from:
            # Extended after the file grew: the values read before stay.
            values[:t_from] = old[:t_from]
        else:
            # The marker only moves with the time slider; a new trace starts it at the time
            # shown.
            self.trace_figure.set_marker(self.time, redraw=False)
            self.trace_figure.begin(self._trace_label(job))
        self._trace_values = values
        self.send({"type": "trace", "state": "reading", "done": t_from, "total": n})

    def _trace_slice(self, job, t0, values):
        self._trace_values[t0 : t0 + len(values)] = values
        self.trace_figure.fill(t0, values)
        done = int(np.isfinite(self._trace_values).sum())
        self.send(
            {"type": "trace", "state": "reading", "done": done, "total": len(self._trace_values)}
        )
        self._refresh_png()

    def _trace_finished(self, job):
        n = len(self._trace_values)
        self._trace_done.set()
        self._refresh_png(force=True)
        self.send({"type": "trace", "state": "done", "done": n, "total": n})

    def _trace_failed(self, job, exc):
        self._show_error(f"reading the trace failed: {type(exc).__name__}: {exc}")

    def _trace_clicked(self, t_index: int) -> None:
        self.time = t_index

    def _move_marker(self) -> None:
        if not self.roi or self.trace_mode != "ipympl":
            return  # the image fallback draws the marker when it re-renders
        now = time.monotonic()
        if now - self._last_marker >= MARKER_INTERVAL_S:
            self._last_marker = now
            self.trace_figure.set_marker(self.time)
        elif self._marker_timer is None:
            # Throttled: still make the marker end where the user stopped.
            self._marker_timer = threading.Timer(MARKER_INTERVAL_S, self._marker_catch_up)
            self._marker_timer.daemon = True
            self._marker_timer.start()

    def _marker_catch_up(self) -> None:
        self._marker_timer = None
        self._last_marker = time.monotonic()
        self.trace_figure.set_marker(self.time)

    def _refresh_png(self, force: bool = False) -> None:
        if self.trace_mode != "image":
            return
        now = time.monotonic()
        if force or now - self._last_png >= PNG_INTERVAL_S:
            self._last_png = now
            png = self.trace_figure.png()
            # Geometry first: the browser places its marker with it when the new picture lands.
            self.trace_axes = self.trace_figure.geometry()
            self.trace_png = png
