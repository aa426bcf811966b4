"""What the end-to-end tests check on a served explorer, whatever the host (Voila, JupyterLab,
Notebook 7, marimo).

Everything goes through Playwright locators, which reach into shadow roots (marimo renders
anywidgets in one), never through ``document.querySelector``.
"""

from __future__ import annotations

import io

import numpy as np

TRACE_RGB = np.array([0x1F, 0x77, 0xB4])  # the trace line colour in trace.py


def role(page, name):
    return page.locator(f'[data-role="{name}"]').first


def expected_gray(plane, vmin, vmax):
    v = (plane.astype(float) - vmin) * (255 / max(vmax - vmin, 1e-12))
    return np.clip(v, 0, 255).astype(int)


def canvas_rgba(page):
    """The plane canvas's pixels as an (h, w, 4) array."""
    data = role(page, "plane").evaluate(
        """c => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height);
          return {w: c.width, h: c.height, px: Array.from(d.data)};
        }"""
    )
    return np.array(data["px"], dtype=int).reshape(data["h"], data["w"], 4)


def wait_status(page, text, timeout=60_000):
    from playwright.sync_api import expect

    expect(role(page, "status")).to_have_text(text, timeout=timeout)


def check_plane(page, stack, f, t, z, timeout=60_000):
    """The status names (f, t, z) and the canvas shows exactly that plane of the file.

    The canvas has the stack's padded plane size for every field; the field's own pixels fill
    its top-left corner and the padding is transparent (not drawn as data).
    """
    wait_status(page, f"field {f} · time {t} · z {z}", timeout)
    vmin = float(role(page, "vmin").input_value())
    vmax = float(role(page, "vmax").input_value())
    rgba = canvas_rgba(page)
    assert rgba.shape[:2] == stack.shape[3:]
    h, w = stack.field_shapes[f]
    want = expected_gray(np.asarray(stack[f, t, z])[:h, :w], vmin, vmax)
    np.testing.assert_array_equal(rgba[:h, :w, 0], want)
    assert (rgba[:h, :w, 3] == 255).all()
    assert (rgba[h:, :, 3] == 0).all() and (rgba[:, w:, 3] == 0).all()


def plane_point(page, stack, y, x):
    """Page coordinates of the centre of plane pixel (y, x) at zoom 1."""
    box = role(page, "plane").bounding_box()
    rows, cols = stack.shape[3:]
    return box["x"] + (x + 0.5) * box["width"] / cols, box["y"] + (y + 0.5) * box["height"] / rows


def drag_roi(page, stack, start, end):
    """Drag a rectangle on the plane from pixel ``start`` (y, x) to ``end``, as a user does."""
    page.mouse.move(*plane_point(page, stack, *start))
    page.mouse.down()
    mid = ((start[0] + end[0]) // 2, (start[1] + end[1]) // 2)
    page.mouse.move(*plane_point(page, stack, *mid), steps=4)
    page.mouse.move(*plane_point(page, stack, *end), steps=4)
    page.mouse.up()


def wait_trace_done(page, n_times, timeout=60_000):
    from playwright.sync_api import expect

    status = role(page, "trace-status")
    expect(status).to_have_attribute("data-state", "done", timeout=timeout)
    assert f"done ({n_times} time points)" in status.text_content()


def rgb(png_bytes):
    import matplotlib.image

    return (matplotlib.image.imread(io.BytesIO(png_bytes))[..., :3] * 255).round()


def colour_mask(png_bytes, colour, tolerance=40):
    return np.abs(rgb(png_bytes) - colour).sum(axis=-1) < tolerance


def trace_pixels(png_bytes):
    """How many pixels of a screenshot have the trace line's colour."""
    return int(colour_mask(png_bytes, TRACE_RGB).sum())


def marker_column(png_bytes):
    """The x (in screenshot pixels) of the vertical time marker, or None when there is none."""
    # Clearly red rather than the exact colour: anti-aliasing blends a thin line with the white.
    img = rgb(png_bytes)
    mask = (img[..., 0] - img[..., 1] > 60) & (img[..., 0] - img[..., 2] > 60)
    counts = mask.sum(axis=0)
    if counts.max(initial=0) < 0.15 * mask.shape[0]:  # the marker spans the axes' height
        return None
    return float(np.flatnonzero(counts >= counts.max() * 0.8).mean())


def poll(page, check, timeout_s=30.0, interval_ms=300):
    """Call ``check()`` until it returns a true value (for what the page redraws on its own)."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(interval_ms)
