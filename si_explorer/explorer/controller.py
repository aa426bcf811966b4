"""Serving planes to the widget: latest request wins, one reader thread, a byte-bounded cache.

Requests arrive on the kernel's main thread (comm messages, trait changes) far faster than a
slider can be read from disk; :class:`.latest.LatestWins` keeps only the newest one waiting and
lets the reader drop a result that became stale while it was being read. The block it read still
goes into the cache, so the work is not wasted when the slider comes back. Reads never run on the
main thread, so the kernel keeps handling messages while the disk works.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cache import BlockCache
from .chunkmap import CACHED, READ, READING, ChunkMap
from .latest import LatestWins
from .messages import PlaneRequest
from .timing import PlaneTiming, TimingLog

#: A block bigger than this (and bigger than the cache budget) is not read whole for one plane:
#: the plane is read alone instead, so an explicit chunking of the entire file stays usable.
DIRECT_READ_BYTES = 64 * 2**20


def bidi_key(stack) -> tuple | None:
    """The bidirectional correction a stack applies (None: raw pixels): corrected and raw
    blocks, or blocks corrected by other offsets, are different data."""
    offsets = getattr(getattr(stack, "plane_source", None), "offsets", None)
    if offsets is None or getattr(stack, "bidi_offset", None) is None:
        return None
    offsets = np.asarray(offsets)
    return (offsets.shape, offsets.tobytes())


def config_key(stack) -> tuple:
    """What makes two stacks' blocks interchangeable: the data and how it is cut into blocks."""
    return (stack.channel, repr(stack.chunk_scheme), stack.backend, bidi_key(stack))


@dataclass
class PlaneResult:
    request: PlaneRequest
    plane: np.ndarray  # 2-D, cropped to the field's true shape, C-contiguous
    timing: PlaneTiming
    config: tuple


class PlaneController:
    """Serves :class:`PlaneRequest` s on a background thread.

    ``on_plane(result)`` and ``on_error(request, exc)`` are called on the reader thread;
    ``on_reading(config, block)`` just before a block is read, so the chunk map can show it.

    Example (``stack`` from ``si_explorer.open``)::

        shown = []
        c = PlaneController(stack, on_plane=shown.append, on_error=print)
        for t in range(100):                      # a fast slider drag
            c.request(PlaneRequest(t, field=0, time=t, z=0))
        c.wait_idle()
        assert shown[-1].request.time == 99       # the last request always wins
    """

    def __init__(
        self,
        stack,
        *,
        on_plane: Callable[[PlaneResult], None],
        on_error: Callable[[PlaneRequest, BaseException], None],
        on_reading: Callable[[tuple, tuple], None] | None = None,
        cache_bytes: int = 256 * 2**20,
        prefetch: int = 0,
    ):
        self._stack = stack
        self._on_plane = on_plane
        self._on_error = on_error
        self._on_reading = on_reading
        self.chunk_map = ChunkMap()
        self.cache = BlockCache(cache_bytes, on_evict=self._evicted)
        self.timings = TimingLog()
        self.prefetch = int(prefetch)
        # Counted on the reader thread; every key exists up front, so copying it from another
        # thread never sees the dict change size.
        self._counts: Counter[str] = Counter(blocks_read=0, discarded=0)
        self._python_ids = itertools.count(-1, -1)
        self._worker: LatestWins[tuple[PlaneRequest, float]] = LatestWins(
            self._serve,
            name="si-explorer-reader",
            on_error=lambda job, exc: self._on_error(job[0], exc),
            background=self._prefetch_one,
        )

    # -- public, called from the kernel's main thread -------------------------------------

    @property
    def stack(self):
        return self._stack

    @property
    def stats(self) -> Counter[str]:
        """requested, superseded (replaced before being read), discarded (read, then stale) and
        blocks_read so far."""
        out = Counter(self._counts)
        out["requested"] = self._worker.submitted
        out["superseded"] = self._worker.replaced
        return out

    def set_stack(self, stack) -> None:
        """Switch to another view of the same data (channel, chunks, backend)."""
        self._stack = stack
        # After the switch: a read in progress for the old view is dropped, not shown.
        self._worker.invalidate()

    def stack_grew(self) -> None:
        """The stack gained time points (``Stack.refresh``): a cached block that the old end
        cut short is stale, and so is every block of other configurations, whose chunk grids
        this stack no longer describes."""
        stack = self._stack
        config, t_sizes = config_key(stack), stack.chunks[1]

        def stale(key, arr) -> bool:
            cfg, block = key
            return cfg != config or arr.shape[1] != t_sizes[block[1]]

        self.cache.discard(stale)
        self._worker.clear_background()

    def request(self, req: PlaneRequest, received_at: float | None = None) -> int:
        """Ask for a plane; returns the request's generation. Never blocks on I/O."""
        received_at = time.perf_counter() if received_at is None else received_at
        try:
            return self._worker.submit((req, received_at))
        except RuntimeError:
            raise RuntimeError("the explorer was closed") from None

    def new_python_id(self) -> int:
        """Request ids for planes asked for from Python (negative, so never clash with JS)."""
        return next(self._python_ids)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no request is pending or being served (for tests and scripts)."""
        return self._worker.wait_idle(timeout)

    def close(self) -> None:
        self._worker.close()

    def grid_shape(self, stack=None) -> tuple[int, int]:
        chunks = (stack or self._stack).chunks
        return len(chunks[1]), len(chunks[2])

    # -- reader thread ----------------------------------------------------------------------

    def _plane_blocks(self, stack, f: int, t: int, z: int) -> list[tuple[int, ...]]:
        # A plane lies in one block along field/time/z; along y and x the chunks may split it.
        bf, bt, bz, _, _ = stack.block_of(f, t, z)
        ny, nx = len(stack.chunks[3]), len(stack.chunks[4])
        return [(bf, bt, bz, by, bx) for by in range(ny) for bx in range(nx)]

    def _load_block(self, stack, config, block, timing: PlaneTiming) -> np.ndarray:
        n_tb, n_zb = self.grid_shape(stack)
        self.chunk_map.mark(config, block, READING, n_tb, n_zb)
        if self._on_reading is not None:
            self._on_reading(config, block)
        t0 = time.perf_counter()
        arr = stack.read_block(block)
        timing.read_ms += (time.perf_counter() - t0) * 1e3
        timing.bytes_read += int(arr.nbytes)
        timing.blocks_read.append(tuple(int(b) for b in block))
        self.cache.put((config, block), arr)
        state = CACHED if (config, block) in self.cache else READ
        self.chunk_map.mark(config, block, state, n_tb, n_zb)
        self._counts["blocks_read"] += 1
        return arr

    def _serve(self, job: tuple[PlaneRequest, float], generation: int) -> None:
        req, received_at = job
        stack = self._stack
        f, t, z = req.field, req.time, req.z
        config = config_key(stack)
        timing = PlaneTiming(req.request_id, f, t, z, cache="hit")
        blocks = self._plane_blocks(stack, f, t, z)
        limit = max(self.cache.budget, DIRECT_READ_BYTES)
        plane = None
        pieces = []
        for block in blocks:
            arr = self.cache.get((config, block))
            if arr is None:
                if stack.block_nbytes(block) > limit:
                    t0 = time.perf_counter()
                    plane = np.asarray(stack[f, t, z])
                    timing.read_ms = (time.perf_counter() - t0) * 1e3
                    timing.bytes_read = int(plane.nbytes)
                    timing.cache = "direct"
                    break
                if not self._worker.is_current(generation):
                    # Superseded before its read began: skip the read entirely.
                    return
                arr = self._load_block(stack, config, block, timing)
                timing.cache = "miss"
            pieces.append((block, arr))
        if plane is None:
            plane = self._assemble(stack, pieces, f, t, z)
        h, w = stack.field_shapes[f]
        plane = np.ascontiguousarray(plane[:h, :w])
        if not self._worker.is_current(generation):
            # Read while a newer request arrived: the block is cached, the plane is dropped so
            # the last plane drawn is always the last one asked for.
            self._counts["discarded"] += 1
            return
        timing.server_ms = (time.perf_counter() - received_at) * 1e3
        self.timings.add(timing)
        self._on_plane(PlaneResult(req, plane, timing, config))
        if req.playing and self.prefetch > 0:
            self._queue_prefetch(stack, config, f, t, z, generation)

    @staticmethod
    def _assemble(stack, pieces, f, t, z) -> np.ndarray:
        """Plane (f, t, z) from the blocks that hold its parts (several when y or x is split)."""
        out = None if len(pieces) == 1 else np.empty(stack.shape[3:], stack.dtype)
        for block, arr in pieces:
            (f0, _), (t0, _), (z0, _), (y0, _), (x0, _) = stack.block_bounds(block)
            part = arr[f - f0, t - t0, z - z0]
            if out is None:
                return part
            out[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]] = part
        return out

    def _queue_prefetch(self, stack, config, f, t, z, generation) -> None:
        n_t = stack.shape[1]
        seen = set()
        targets = []
        for step in range(1, self.prefetch + 1):
            for block in self._plane_blocks(stack, f, (t + step) % n_t, z):
                if block not in seen and (config, block) not in self.cache:
                    seen.add(block)
                    targets.append((config, block))
        self._worker.add_background(targets, generation)

    def _prefetch_one(self, target) -> None:
        config, block = target
        stack = self._stack
        if config != config_key(stack) or (config, block) in self.cache:
            return
        timing = PlaneTiming(0, *block[:3], cache="miss")
        self._load_block(stack, config, block, timing)

    def _evicted(self, key) -> None:
        config, block = key
        self.chunk_map.evicted(config, block)
