"""Served planes -> messages for the front end: the plane's metadata, its raw pixels as a binary
buffer, and the chunk map when it changed.

Kept apart from the widget so that what goes on the wire is decided in one place, with the
builders of :mod:`.messages`; the widget only hands the result to its comm.
"""

from __future__ import annotations

import sys

import numpy as np

from .controller import PlaneController, PlaneResult, config_key
from .messages import plane_message, plane_timing, reading_message

#: Blocks at least this big are announced to the chunk map before they are read.
READING_NOTICE_BYTES = 2 * 2**20


def little_endian(plane: np.ndarray) -> np.ndarray:
    if plane.dtype.byteorder == ">" or (plane.dtype.byteorder == "=" and sys.byteorder == "big"):
        # Typed arrays in the browser are little-endian on every platform that matters.
        return plane.astype(plane.dtype.newbyteorder("<"))
    return plane


class PlaneEncoder:
    """Encodes the planes ``controller`` serves; ``seconds`` are the stack's time stamps (or
    None), replaced when the stack grows.

    The chunk map is sent with a plane only when it differs from the last one sent: after
    :meth:`forget_map` (another field, configuration or a grown stack) or any change in it.
    """

    def __init__(self, controller: PlaneController, seconds: np.ndarray | None):
        self._controller = controller
        self.seconds = seconds
        #: The stack's timeline once read (:mod:`.timeline_view`): frame timestamps for the
        #: plane's seconds, and the time points after dropped frames for the chunk map.
        self.timeline = None
        self._map_sent: tuple | None = None

    def forget_map(self) -> None:
        self._map_sent = None

    def plane_seconds(self, t: int, z: int) -> float | None:
        view = self.timeline
        if view is not None and view.stamps is not None and t < len(view.stamps):
            return round(float(view.stamps[t, min(z, view.stamps.shape[1] - 1)]), 6)
        seconds = self.seconds
        if seconds is None or t >= len(seconds):
            return None
        return round(float(seconds[t]), 6)

    def gap_columns(self, stack, field: int, bin_: int) -> list[int]:
        """Chunk map columns whose time blocks hold a time point that follows dropped frames."""
        view = self.timeline
        if view is None:
            return []
        n = stack.shape[1]
        cols = {stack.block_of(field, int(t), 0)[1] // bin_ for t in view.gaps if t < n}
        return sorted(int(c) for c in cols)

    def plane(self, result: PlaneResult) -> tuple[dict, list[memoryview]]:
        """The ``plane`` message and its buffers: pixels, then the chunk map grid if sent."""
        controller = self._controller
        plane = little_endian(result.plane)
        req, timing = result.request, result.timing
        timings = controller.timings
        read_p50, read_p95 = timings.recent_percentiles("read_ms", reads_only=True)
        stack = controller.stack
        buffers = [memoryview(plane).cast("B")]
        chunk_map = None
        state = (result.config, req.field, controller.chunk_map.version)
        if state != self._map_sent:
            n_tb, n_zb = controller.grid_shape(stack)
            grid, bin_ = controller.chunk_map.snapshot(result.config, req.field, n_tb, n_zb)
            chunk_map = (
                grid.shape[0],
                grid.shape[1],
                bin_,
                self.gap_columns(stack, req.field, bin_),
            )
            buffers.append(memoryview(grid).cast("B"))
            self._map_sent = state
        _, bt, bz, _, _ = stack.block_of(req.field, req.time, req.z)
        content = plane_message(
            request_id=req.request_id,
            seen=req.request_id if req.request_id > 0 else req.seen,
            field=req.field,
            time=req.time,
            z=req.z,
            seconds=self.plane_seconds(req.time, req.z),
            height=int(plane.shape[0]),
            width=int(plane.shape[1]),
            padded=(stack.shape[3], stack.shape[4]),
            dtype=plane.dtype.name,
            timing=plane_timing(
                cache=timing.cache,
                blocks=timing.blocks_read,
                nbytes=timing.bytes_read,
                read_ms=timing.read_ms,
                server_ms=timing.server_ms,
                read_p50=read_p50,
                read_p95=read_p95,
                hit_rate=timings.recent_hit_rate(),
                cache_bytes=controller.cache.nbytes,
            ),
            block=(bt, bz),
            chunk_map=chunk_map,
        )
        return content, buffers

    def reading(self, config: tuple, block: tuple) -> dict | None:
        """The ``reading`` notice for a block about to be read, or None when not worth one.

        Small blocks are read in a millisecond: a notice would cost a message per slider step
        and never be seen. Large blocks are worth showing while they load; blocks of another
        configuration (a switch in progress) are not on the map shown.
        """
        stack = self._controller.stack
        if stack.block_nbytes(block) < READING_NOTICE_BYTES or config != config_key(stack):
            return None
        return reading_message(block[0], block[1], block[2])
