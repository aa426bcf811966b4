"""Automatic contrast from a few sampled planes.

A percentile window over the whole recording would need a scan of a file that may be hundreds of
gigabytes; a handful of planes spread over time at the current field and z gives nearly the same
window for the price of a few page reads.
"""

from __future__ import annotations

import numpy as np


def sample_times(n_times: int, current: int, n_samples: int = 4) -> list[int]:
    """The current time point plus ``n_samples`` spread evenly over the recording.

    >>> sample_times(1000, 7)
    [0, 7, 333, 666, 999]
    """
    spread = np.linspace(0, n_times - 1, num=min(n_samples, n_times)).round().astype(int)
    return sorted({int(current), *map(int, spread)})


def auto_window(
    stack,
    field: int,
    z: int,
    time: int,
    *,
    lo: float = 0.5,
    hi: float = 99.5,
    n_samples: int = 4,
    max_pixels: int = 200_000,
) -> tuple[float, float]:
    """``(vmin, vmax)`` at the ``lo``/``hi`` percentiles of sampled planes of one field and z.

    Pixels are strided down to about ``max_pixels`` in total; percentiles of a large image barely
    move under uniform subsampling and this keeps the cost flat for big planes.
    """
    if stack.shape[1] == 0:
        return 0.0, 1.0  # nothing written yet: a placeholder until the first volume is complete
    h, w = stack.field_shapes[field]
    times = sample_times(stack.shape[1], time, n_samples)
    per_plane = max(1, max_pixels // len(times))
    step = max(1, int(np.sqrt(h * w / per_plane)))
    samples = [np.asarray(stack[field, t, z])[:h:step, :w:step].ravel() for t in times]
    values = np.concatenate(samples).astype(np.float64)
    vmin, vmax = np.percentile(values, [lo, hi])
    if vmax <= vmin:
        # A flat image would give a zero-width window and divide by zero in the front end.
        vmax = vmin + 1
    return float(vmin), float(vmax)


def image_window(image: np.ndarray, *, lo: float = 0.5, hi: float = 99.5) -> tuple[float, float]:
    """``(vmin, vmax)`` at the ``lo``/``hi`` percentiles of one image's finite values (a
    summary image: computed once, so every pixel counts); ``(0, 1)`` when it has none.

    >>> image_window(np.arange(1000.0).reshape(10, 100), lo=0, hi=100)
    (0.0, 999.0)
    """
    values = np.asarray(image, np.float64).ravel()
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    # Four significant digits: a window is a display choice, and the boxes show it whole.
    vmin, vmax = (float(f"{v:.4g}") for v in np.percentile(values, [lo, hi]))
    if vmax <= vmin:
        # Flat, as a correlation image of a dead field is: a visible window around the value.
        vmax = vmin + (abs(vmin) * 1e-3 or 1.0)
    return vmin, vmax


class ViewWindows:
    """The contrast window of each view, so that a view comes back as the user left it.

    The frame view keeps the window it had when left. A summary image gets its own window
    (:func:`image_window`, refined with the image) until the user sets one for that view, which
    is then kept for it on every plane, so planes can be compared at the same contrast.

    >>> w = ViewWindows()
    >>> w.leave("frame", (10.0, 200.0))
    >>> w.frame, w.manual("max")
    ((10.0, 200.0), None)
    >>> w.set_manual("max", (0.0, 900.0))
    >>> w.manual("max"), w.manual("mean")
    ((0.0, 900.0), None)
    """

    def __init__(self):
        self.frame: tuple[float, float] | None = None
        self._manual: dict[str, tuple[float, float]] = {}

    def leave(self, view: str, window: tuple[float, float]) -> None:
        if view == "frame":
            self.frame = window

    def set_manual(self, view: str, window: tuple[float, float]) -> None:
        if view != "frame":
            self._manual[view] = window

    def clear_manual(self, view: str) -> None:
        self._manual.pop(view, None)

    def manual(self, view: str) -> tuple[float, float] | None:
        return self._manual.get(view)
