"""A least-recently-used cache of decoded blocks, bounded by bytes rather than entries.

Blocks differ wildly in size between chunk schemes (one page vs. a whole volume), so a count
limit would either waste memory or thrash; a byte budget keeps memory predictable whatever
scheme a student tries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


class BlockCache:
    """Thread-safe LRU mapping ``key -> ndarray`` holding at most ``budget`` bytes.

    ``on_evict(key)`` is called (outside the lock) for every block pushed out, so the chunk map
    can show what is no longer cached.

    >>> c = BlockCache(16)
    >>> c.put("a", np.zeros(2, np.int32))
    []
    >>> c.put("b", np.zeros(2, np.int32))
    []
    >>> c.put("c", np.zeros(2, np.int32))  # 24 bytes > 16: the oldest goes
    ['a']
    """

    def __init__(self, budget: int, on_evict: Callable[[Hashable], None] | None = None):
        self._budget = int(budget)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self._on_evict = on_evict
        self.hits = 0
        self.misses = 0

    @property
    def budget(self) -> int:
        return self._budget

    @budget.setter
    def budget(self, value: int) -> None:
        with self._lock:
            self._budget = max(0, int(value))
            evicted = self._shrink_locked()
        self._notify(evicted)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(key)
            if arr is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return arr

    def put(self, key: Hashable, arr: np.ndarray) -> list[Hashable]:
        """Store ``arr``; returns the keys evicted to make room.

        A block larger than the whole budget is not stored: keeping it would evict everything
        else for a block that is then evicted by the next put anyway.
        """
        if arr.nbytes > self._budget:
            return []
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._nbytes -= old.nbytes
            self._items[key] = arr
            self._nbytes += arr.nbytes
            evicted = self._shrink_locked()
        self._notify(evicted)
        return evicted

    def discard(self, stale: Callable[[Hashable, np.ndarray], bool]) -> list[Hashable]:
        """Drop the entries for which ``stale(key, arr)`` is true; returns their keys."""
        with self._lock:
            dropped = [key for key, arr in self._items.items() if stale(key, arr)]
            for key in dropped:
                self._nbytes -= self._items.pop(key).nbytes
        self._notify(dropped)
        return dropped

    def clear(self) -> None:
        with self._lock:
            evicted = list(self._items)
            self._items.clear()
            self._nbytes = 0
        self._notify(evicted)

    def _shrink_locked(self) -> list[Hashable]:
        evicted = []
        while self._nbytes > self._budget and self._items:
            key, arr = self._items.popitem(last=False)
            self._nbytes -= arr.nbytes
            evicted.append(key)
        return evicted

    def _notify(self, keys: list[Hashable]) -> None:
        if self._on_evict is not None:
            for key in keys:
                self._on_evict(key)
