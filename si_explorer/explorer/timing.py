"""Per-plane timing records and their running percentiles.

The timing panel exists so a student can see what a chunk scheme costs; the numbers therefore
come from the code path that served the plane (read time, bytes, hit or miss) plus the browser's
own measurement of request-to-drawn, which it reports back.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class PlaneTiming:
    request_id: int
    field: int
    time: int
    z: int
    cache: str  # "hit" | "miss" | "direct" (block too large to cache: the plane was read alone)
    blocks_read: list[tuple[int, ...]] = field(default_factory=list)
    bytes_read: int = 0
    read_ms: float = 0.0
    server_ms: float = 0.0  # request received -> plane handed to the comm
    drawn_ms: float | None = None  # browser: request sent -> pixels drawn (None until reported)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["blocks_read"] = [list(b) for b in self.blocks_read]
        return d


def percentiles(values, qs=(50, 95)) -> list[float | None]:
    """Percentiles of ``values``, or ``None`` each when there are none.

    >>> percentiles([1, 2, 3, 4])
    [2.5, 3.85]
    """
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return [None for _ in qs]
    return [round(float(v), 3) for v in np.percentile(arr, qs)]


class TimingLog:
    """The last ``maxlen`` plane timings, safe to append from the reader thread."""

    def __init__(self, maxlen: int = 1000):
        self._records: deque[PlaneTiming] = deque(maxlen=maxlen)
        self._by_id: dict[int, PlaneTiming] = {}
        self._lock = threading.Lock()

    def add(self, record: PlaneTiming) -> None:
        with self._lock:
            if len(self._records) == self._records.maxlen:
                old = self._records[0]
                self._by_id.pop(old.request_id, None)
            self._records.append(record)
            self._by_id[record.request_id] = record

    def record_drawn(self, request_id: int, ms: float) -> bool:
        with self._lock:
            rec = self._by_id.get(request_id)
            if rec is None:
                return False
            rec.drawn_ms = float(ms)
            return True

    def records(self) -> list[PlaneTiming]:
        with self._lock:
            return list(self._records)

    def recent_percentiles(
        self, key: str, last: int = 200, *, reads_only: bool = False
    ) -> list[float | None]:
        """p50/p95 of ``key`` over the last ``last`` records (cheap enough for every plane).

        ``reads_only`` leaves out cache hits: their read time is zero and, while playing from
        a warm cache, would hide what a read actually costs.
        """
        recent = self.records()[-last:]
        if reads_only:
            recent = [r for r in recent if r.cache != "hit"]
        return percentiles([getattr(r, key) for r in recent])

    def recent_hit_rate(self, last: int = 200) -> float | None:
        recent = self.records()[-last:]
        return round(sum(r.cache == "hit" for r in recent) / len(recent), 3) if recent else None

    def summary(self) -> dict:
        """Running p50/p95 (ms) of read, server and drawn times, and the hit rate."""
        recs = self.records()
        out = {"n": len(recs)}
        for key in ("read_ms", "server_ms", "drawn_ms"):
            p50, p95 = percentiles([getattr(r, key) for r in recs])
            out[key] = {"p50": p50, "p95": p95}
        hits = sum(r.cache == "hit" for r in recs)
        out["hit_rate"] = round(hits / len(recs), 3) if recs else None
        return out
