"""Validation of every message the front end sends.

Anything arriving from the browser is untrusted input: a stale page, a user's own JavaScript or
a bug can send an index past the end or a ROI with its corners swapped. Each message is parsed
into a small frozen dataclass here or rejected with :class:`BadMessage`, whose text the widget
shows to the user; nothing malformed reaches the reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

COLORMAPS = ("gray", "viridis", "magma", "inferno", "plasma", "cividis")
BACKENDS = ("pread", "mmap", "tifffile")


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
class TraceClick:
    """A click on the trace image at axis value ``x`` (frames, or seconds with timestamps)."""

    x: float


CONFIG_KEYS = (
    "channel",
    "chunk_scheme",
    "backend",
    "cache_mb",
    "prefetch",
    "colormap",
    "vmin",
    "vmax",
    "playing",
    "fps",
    "follow",
)


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
    n_f, n_t, n_z = shape[:3]
    if kind == "request":
        f = _in_range(_int(content, "field"), n_f, "field")
        return PlaneRequest(
            request_id=_int(content, "id"),
            field=f,
            time=_in_range(_int(content, "time"), n_t, "time"),
            z=_in_range(_int(content, "z"), n_z, "z"),
            playing=content.get("playing") is True,
            ack=_ack(content.get("ack")),
        )
    if kind == "roi":
        f = _in_range(_int(content, "field"), n_f, "field")
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
    if kind == "clear_roi":
        return RoiClear()
    if kind == "drawn":
        return Drawn(_int(content, "id"), _number(content.get("total_ms"), "total_ms"))
    if kind == "auto_contrast":
        return AutoContrast()
    if kind == "trace_click":
        return TraceClick(_number(content.get("x"), "x"))
    if kind == "config":
        key = content.get("key")
        if key not in CONFIG_KEYS:
            raise BadMessage(f"unknown setting {key!r}")
        return Config(key, content.get("value"))
    raise BadMessage(f"unknown message type {kind!r}")
