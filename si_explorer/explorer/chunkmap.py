"""Which chunks of each field have been read, are cached, or are being read.

The chunk map makes a chunk scheme visible: with ``volume`` chunks one request lights a whole
column of z, with ``frames:k`` a run of k time points. States are kept per stack configuration
(channel, chunk scheme, backend), because each configuration has its own chunk grid.
"""

from __future__ import annotations

import threading

import numpy as np

#: Chunk states in the order of their codes in the grid sent to the browser, which colours them by
#: the same order (``CHUNK_STATES`` in js/src/chunkmap.js). Binning keeps the highest code, so
#: the order is also which state wins: reading > cached > read > never.
CHUNK_STATES = ("never", "read", "cached", "reading")
NEVER, READ, CACHED, READING = range(len(CHUNK_STATES))


class ChunkMap:
    """Per (configuration, field) grid of chunk states, indexed [time block, z block]."""

    def __init__(self):
        self._grids: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change, so callers send the map only when it changed

    def _grid(self, config, field: int, n_tb: int, n_zb: int) -> np.ndarray:
        key = (config, field)
        grid = self._grids.get(key)
        if grid is None:
            grid = self._grids[key] = np.zeros((n_tb, n_zb), np.uint8)
        elif grid.shape[0] < n_tb:  # the stack grew along time (follow mode)
            grown = np.zeros((n_tb, n_zb), np.uint8)
            grown[: grid.shape[0]] = grid
            grid = self._grids[key] = grown
        return grid

    def mark(self, config, block, state: int, n_tb: int, n_zb: int) -> None:
        f, tb, zb = block[:3]
        with self._lock:
            self._grid(config, f, n_tb, n_zb)[tb, zb] = state
            self.version += 1

    def evicted(self, config, block) -> None:
        f, tb, zb = block[:3]
        with self._lock:
            grid = self._grids.get((config, f))
            if grid is not None and grid[tb, zb] == CACHED:
                grid[tb, zb] = READ
                self.version += 1

    def snapshot(self, config, field: int, n_tb: int, n_zb: int, max_cols: int = 1024):
        """The grid as ``(z blocks, columns)`` uint8 with time binned to at most ``max_cols``.

        Binning keeps the most advanced state in each bin (reading > cached > read > never), so
        a single cached chunk in a long recording is still visible.
        """
        with self._lock:
            grid = self._grid(config, field, n_tb, n_zb).copy()
        bin_ = max(1, -(-n_tb // max_cols))
        if bin_ > 1:
            pad = (-n_tb) % bin_
            if pad:
                grid = np.concatenate([grid, np.zeros((pad, n_zb), np.uint8)])
            grid = grid.reshape(-1, bin_, n_zb).max(axis=1)
        return np.ascontiguousarray(grid.T), bin_
