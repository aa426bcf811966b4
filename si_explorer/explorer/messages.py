"""The message schema between the explorer and its front end, written down once.

Incoming: anything arriving from the browser is untrusted input: a stale page, a user's own
JavaScript or a bug can send an index past the end or a ROI with its corners swapped. Each
message is parsed into a small frozen dataclass here or rejected with :class:`BadMessage`, whose
text the widget shows to the user; nothing malformed reaches the reader.

Outgoing: every message Python sends is built by one function here, so its fields are named in
one place. The front end's JSDoc typedefs (``js/src/types.js``) mirror both directions, and
``tests/explorer/test_schema.py`` fails when the lists here (message types, :data:`SETTINGS`,
:data:`COLORMAPS`) and the JavaScript modules disagree.
"""

from __future__ import annotations

# Nothing from the package: js/tools/make_colormaps.py loads this module alone for COLORMAPS.
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The read backends the explorer offers: those of si_explorer.read.pages (tests/explorer/
#: test_schema.py checks that they agree; this module imports nothing from the package).
BACKENDS = ("pread", "mmap", "tifffile")

COLORMAPS = ("gray", "viridis", "magma", "inferno", "plasma", "cividis")
#: Bidirectional correction modes of the ``bidi`` setting ("off": raw pixels; "manual": the
#: ``bidi_manual`` offset in pixels for every field and z).
BIDI_MODES = ("off", "auto", "auto-x", "manual")
#: The largest manual bidi offset accepted, in pixels.
BIDI_MAX_PX = 64.0
#: What the plane view shows: "frame" (the plane at the time shown) or one of the summary images
#: over time of si_explorer.summary.SUMMARIES (tests/explorer/test_schema.py checks they agree).
VIEWS = ("frame", "mean", "max", "std", "correlation")


class BadMessage(ValueError):
    """A front-end message that cannot be honoured; the text is shown in the widget."""


@dataclass(frozen=True)
class PlaneRequest:
    request_id: int
    field: int
    time: int
    z: int
    playing: bool = False
    #: (request id, ms) of the previous plane drawn, piggybacked to save a message per step
    ack: tuple[int, float] | None = None
    #: For a request made in Python (negative id): the newest browser request received before
    #: it. When its plane is served, every browser request up to this one has been superseded,
    #: which tells the browser it is no longer waiting for them.
    seen: int = 0


@dataclass(frozen=True)
class RoiSelect:
    """A rectangle ``(y0, y1, x0, x1)``, half-open, or a single pixel when ``pixel`` is set."""

    roi: tuple[int, int, int, int]
    pixel: bool


@dataclass(frozen=True)
class RoiClear:
    pass


@dataclass(frozen=True)
class Drawn:
    request_id: int
    total_ms: float


@dataclass(frozen=True)
class Config:
    key: str
    value: object


@dataclass(frozen=True)
class AutoContrast:
    pass


@dataclass(frozen=True)
class BidiEstimate:
    """Re-estimate the bidi offset of the field and z shown from the frames around the time."""


@dataclass(frozen=True)
class ViewSelect:
    """Show ``view`` (one of :data:`VIEWS`) of the field and z shown."""

    view: str


@dataclass(frozen=True)
class MetadataAsk:
    """Send the file's metadata (once per front end: the panel was opened)."""


@dataclass(frozen=True)
class FrameHeaderAsk:
    """Send the frame header of the page at (field, time, z)."""

    field: int
    time: int
    z: int


@dataclass(frozen=True)
class TraceClick:
    """A click on the trace image at axis value ``x`` (frames, or seconds with timestamps)."""

    x: float


@dataclass(frozen=True)
class Setting:
    """A widget setting the browser may change with a ``config`` message.

    ``kind`` is the value's type on the wire; ``check(value)`` returns what is wrong with a value
    of that type, or None. The same check guards assignments from Python (the widget's trait
    validators), so a value is refused with the same words wherever it comes from.
    """

    kind: type
    check: Callable[[Any], str | None] | None = None

    def problem(self, value: Any) -> str | None:
        return None if self.check is None else self.check(value)


def _one_of(key: str, choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"{key} must be one of {choices}, got {v!r}"


#: key -> Setting, for every trait the browser may set. The front end's list is ``SETTING_KEYS``
#: in js/src/protocol.js.
SETTINGS: dict[str, Setting] = {
    "channel": Setting(int),  # bounded by the stack's channels, checked by the widget
    "chunk_scheme": Setting(str),  # the loader decides what a valid scheme is
    "backend": Setting(str, _one_of("backend", BACKENDS)),
    "cache_mb": Setting(float, lambda v: None if v >= 0 else f"cache_mb must be >= 0, got {v!r}"),
    "prefetch": Setting(
        int, lambda v: None if 0 <= v <= 1000 else f"prefetch must be 0..1000 frames, got {v!r}"
    ),
    "colormap": Setting(str, _one_of("colormap", COLORMAPS)),
    "vmin": Setting(float),
    "vmax": Setting(float),
    "playing": Setting(bool),
    "fps": Setting(
        float, lambda v: None if 0 < v <= 240 else f"fps must be in (0, 240], got {v!r}"
    ),
    "follow": Setting(bool),
    "show_aux": Setting(bool),
    "bidi": Setting(str, _one_of("bidi", BIDI_MODES)),
    "bidi_manual": Setting(
        float,
        lambda v: (
            None
            if abs(v) <= BIDI_MAX_PX
            else f"bidi_manual must be within ±{BIDI_MAX_PX:g} pixels, got {v!r}"
        ),
    ),
    "bidi_compare": Setting(bool),
}


def setting_value(key: str, value: object) -> object:
    """``value`` for setting ``key`` as its kind, or :class:`BadMessage` with what is wrong."""
    setting = SETTINGS.get(key) if isinstance(key, str) else None
    if setting is None:
        raise BadMessage(f"unknown setting {key!r}")
    kind = setting.kind
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or (kind is float and not math.isfinite(value)):
        raise BadMessage(f"{key}: {value!r} is not a valid {kind.__name__}")
    if kind is int and float(value) != int(value):
        raise BadMessage(f"{key}: {value!r} is not a whole number")
    value = kind(value)
    problem = setting.problem(value)
    if problem is not None:
        raise BadMessage(problem)
    return value


def _int(content: dict, key: str) -> int:
    value = content.get(key)
    # bool is an int subclass in Python, but True as an index is a front-end bug, not a number.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadMessage(f"{key} must be a whole number, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise BadMessage(f"{key} must be a whole number, got {value!r}")
        value = int(value)
    return value


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadMessage(f"{key} must be a finite number, got {value!r}")
    return float(value)


def _in_range(value: int, n: int, name: str) -> int:
    if not 0 <= value < n:
        raise BadMessage(f"{name} {value} is out of range (0..{n - 1})")
    return value


def _ack(value) -> tuple[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadMessage(f"ack must be {{id, total_ms}}, got {value!r}")
    return _int(value, "id"), _number(value.get("total_ms"), "total_ms")


def _parse_request(content: dict, shape, field_shapes) -> PlaneRequest:
    n_f, n_t, n_z = shape[:3]
    f = _in_range(_int(content, "field"), n_f, "field")
    return PlaneRequest(
        request_id=_int(content, "id"),
        field=f,
        time=_in_range(_int(content, "time"), n_t, "time"),
        z=_in_range(_int(content, "z"), n_z, "z"),
        playing=content.get("playing") is True,
        ack=_ack(content.get("ack")),
    )


def _parse_roi(content: dict, shape, field_shapes) -> RoiSelect:
    f = _in_range(_int(content, "field"), shape[0], "field")
    h, w = field_shapes[f]
    if "pixel" in content:
        p = content["pixel"]
        if not (isinstance(p, (list, tuple)) and len(p) == 2):
            raise BadMessage(f"pixel must be [y, x], got {p!r}")
        y = _in_range(_int({"y": p[0]}, "y"), h, "y")
        x = _in_range(_int({"x": p[1]}, "x"), w, "x")
        return RoiSelect((y, y + 1, x, x + 1), pixel=True)
    r = content.get("roi")
    if not (isinstance(r, (list, tuple)) and len(r) == 4):
        raise BadMessage(f"roi must be [y0, y1, x0, x1], got {r!r}")
    y0, y1, x0, x1 = (_int({k: v}, k) for k, v in zip(("y0", "y1", "x0", "x1"), r, strict=True))
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise BadMessage(
            f"roi {[y0, y1, x0, x1]} is not a non-empty rectangle inside the {h}x{w} field"
        )
    return RoiSelect((y0, y1, x0, x1), pixel=False)


def _parse_view(content: dict, shape, field_shapes) -> ViewSelect:
    view = content.get("view")
    if view not in VIEWS:
        raise BadMessage(f"view must be one of {VIEWS}, got {view!r}")
    return ViewSelect(view)


def _parse_frame_header(content: dict, shape, field_shapes) -> FrameHeaderAsk:
    n_f, n_t, n_z = shape[:3]
    return FrameHeaderAsk(
        field=_in_range(_int(content, "field"), n_f, "field"),
        time=_in_range(_int(content, "time"), n_t, "time"),
        z=_in_range(_int(content, "z"), n_z, "z"),
    )


def _parse_config(content: dict, shape, field_shapes) -> Config:
    key = content.get("key")
    return Config(key, setting_value(key, content.get("value")))


#: Every message type the browser may send, with its parser; ``TO_PYTHON`` in js/src/protocol.js
#: is the front end's list.
_PARSERS: dict[str, Callable[[dict, tuple, Any], object]] = {
    "request": _parse_request,
    "drawn": lambda c, *_: Drawn(_int(c, "id"), _number(c.get("total_ms"), "total_ms")),
    "roi": _parse_roi,
    "clear_roi": lambda c, *_: RoiClear(),
    "auto_contrast": lambda c, *_: AutoContrast(),
    "trace_click": lambda c, *_: TraceClick(_number(c.get("x"), "x")),
    "config": _parse_config,
    "bidi_estimate": lambda c, *_: BidiEstimate(),
    "view": _parse_view,
    "metadata": lambda c, *_: MetadataAsk(),
    "frame_header": _parse_frame_header,
}
INCOMING: tuple[str, ...] = tuple(_PARSERS)


def parse_message(content: object, shape: tuple[int, ...], field_shapes) -> object:
    """Turn a raw front-end message into one of the message dataclasses.

    ``shape`` is the stack's (F, T, Z, Y, X); ``field_shapes`` the true (h, w) per field, which
    bounds ROIs (the zero padding beyond a field is not data).

    >>> parse_message({"type": "request", "id": 3, "field": 0, "time": 5, "z": 1}, (1, 10, 2, 8, 8),
    ...               [(8, 8)])
    PlaneRequest(request_id=3, field=0, time=5, z=1, playing=False, ack=None, seen=0)
    >>> parse_message({"type": "request", "id": 3, "field": 0, "time": 10, "z": 0},
    ...               (1, 10, 2, 8, 8), [(8, 8)])
    Traceback (most recent call last):
    ...
    si_explorer.explorer.messages.BadMessage: time 10 is out of range (0..9)
    """
    if not isinstance(content, dict):
        raise BadMessage(f"message must be an object, got {type(content).__name__}")
    kind = content.get("type")
    parse = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parse is None:
        raise BadMessage(f"unknown message type {kind!r}")
    return parse(content, shape, field_shapes)


# -- outgoing: one builder per message type -----------------------------------------------------


def plane_message(
    *,
    request_id: int,
    seen: int,
    field: int,
    time: int,
    z: int,
    seconds: float | None,
    height: int,
    width: int,
    padded: tuple[int, int],
    dtype: str,
    timing: dict,
    block: tuple[int, int],
    chunk_map: tuple[int, int, int] | tuple[int, int, int, list[int]] | None = None,
) -> dict:
    """A plane; its pixels travel as the first binary buffer, a chunk map grid as the second.

    ``seen``: browser requests up to this id are answered or superseded (see
    :attr:`PlaneRequest.seen`). ``padded``: the (height, width) every field is padded to in the
    stack; the browser shows the rest as padding, so fields of different sizes keep their true
    proportions. ``block``: the (time block, z block) the plane lies in. ``chunk_map``: (rows,
    cols, bin[, gaps]) of the grid buffer, only when the map changed since the last plane;
    ``gaps``: the columns whose time blocks follow dropped frames (sent when there are any).
    """
    content = {
        "type": "plane",
        "id": request_id,
        "seen": seen,
        "field": field,
        "time": time,
        "z": z,
        "seconds": seconds,
        "height": height,
        "width": width,
        "padded": [int(padded[0]), int(padded[1])],
        "dtype": dtype,
        "timing": timing,
        "block": [int(block[0]), int(block[1])],
    }
    if chunk_map is not None:
        rows, cols, bin_, *rest = chunk_map
        content["chunk_map"] = {"rows": int(rows), "cols": int(cols), "bin": int(bin_)}
        gaps = rest[0] if rest else []
        if gaps:
            content["chunk_map"]["gaps"] = [int(c) for c in gaps]
    return content


def plane_timing(
    *,
    cache: str,
    blocks: list,
    nbytes: int,
    read_ms: float,
    server_ms: float,
    read_p50: float | None,
    read_p95: float | None,
    hit_rate: float | None,
    cache_bytes: int,
) -> dict:
    """The ``timing`` field of a plane message (``PlaneTiming`` in js/src/types.js)."""
    return {
        "cache": cache,
        "blocks": [list(b) for b in blocks],
        "bytes": nbytes,
        "read_ms": round(read_ms, 3),
        "server_ms": round(server_ms, 3),
        "read_p50": read_p50,
        "read_p95": read_p95,
        "hit_rate": hit_rate,
        "cache_bytes": cache_bytes,
    }


def error_message(text: str) -> dict:
    """Shown in the widget's error bar; also ends the browser's wait for a failed request."""
    return {"type": "error", "message": text}


def reading_message(field: int, time_block: int, z_block: int) -> dict:
    """A large block is being read: the chunk map shows it before its plane arrives."""
    return {"type": "reading", "field": int(field), "block": [int(time_block), int(z_block)]}


def trace_message(state: str, done: int, total: int) -> dict:
    """Progress of the selection's trace: ``state`` is "reading" or "done"."""
    return {"type": "trace", "state": state, "done": int(done), "total": int(total)}


def summary_message(
    *,
    view: str,
    field: int,
    z: int,
    frames_done: int,
    frames_total: int,
    image: bool,
    height: int = 0,
    width: int = 0,
    padded: tuple[int, int] = (0, 0),
    window: tuple[float, float] | None = None,
) -> dict:
    """Progress of the summary images of (field, z) over time and, with ``image``, the one of
    ``view`` over the first ``frames_done`` time points as the binary buffer (float32,
    ``height`` x ``width``; ``padded`` as for a plane), drawn with the contrast ``window``
    [vmin, vmax] it comes with. Without ``image`` (the frame view is shown while the pass
    runs) only the progress is sent."""
    content = {
        "type": "summary",
        "view": view,
        "field": int(field),
        "z": int(z),
        "frames_done": int(frames_done),
        "frames_total": int(frames_total),
        "done": int(frames_done) == int(frames_total),
        "image": bool(image),
    }
    if image:
        content.update(
            height=int(height),
            width=int(width),
            padded=[int(padded[0]), int(padded[1])],
            dtype="float32",
            window=[float(window[0]), float(window[1])] if window is not None else None,
        )
    return content


def metadata_message(entries: list[tuple[str, str, str]], note: str) -> dict:
    """The file's metadata as ``[section, key, value]`` rows (values as text, long ones cut
    short) and a one-line ``note`` on where they come from."""
    return {
        "type": "metadata",
        "entries": [[str(s), str(k), str(v)] for s, k, v in entries],
        "note": note,
    }


def frame_header_message(
    field: int, time: int, z: int, entries: list[tuple[str, str]], note: str
) -> dict:
    """The frame header of the page at (field, time, z) as ``[key, value]`` rows; ``note``
    says why there are none, or is ""."""
    return {
        "type": "frame_header",
        "field": int(field),
        "time": int(time),
        "z": int(z),
        "entries": [[str(k), str(v)] for k, v in entries],
        "note": note,
    }


#: Every message type Python sends; ``FROM_PYTHON`` in js/src/protocol.js is the front end's list.
OUTGOING: tuple[str, ...] = (
    "plane",
    "error",
    "reading",
    "trace",
    "summary",
    "metadata",
    "frame_header",
)
