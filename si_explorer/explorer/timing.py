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

# The rule behind the timing panel's latency hint (js/src/timing.js, where the measurements
# behind it are), for Python's summary: over the last LATENCY_WINDOW round trips the browser
# reported, the lower quartile of (round trip - kernel time) above LATENCY_EXCESS_MS means most
# replies wait in transport: most likely the ~40 ms delayed-ACK stall of a Jupyter server
# without TCP_NODELAY on its kernel websockets.
LATENCY_WINDOW = 20
LATENCY_QUANTILE = 25
LATENCY_EXCESS_MS = 40.0
LATENCY_HINT = (
    "round trips stay far above the explorer's own work: the Jupyter server is probably paying "
    "the ~40 ms delayed-ACK stall on its kernel websocket. pip install si-explorer in the "
    "server's environment enables the fix (then restart the server); or run `jupyter server "
    "extension enable si_explorer.explorer.nodelay` and restart it."
)


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
        excess = self.transport_excess_ms()
        out["transport_ms_p25"] = excess
        out["latency_hint"] = (
            LATENCY_HINT if excess is not None and excess > LATENCY_EXCESS_MS else None
        )
        return out

    def transport_excess_ms(self) -> float | None:
        """Lower quartile of round trip minus kernel time over the last ``LATENCY_WINDOW``
        planes the browser reported drawn (None before there are that many).

        That is transport plus the browser's draw, which is a few ms at most.
        """
        drawn = [r for r in self.records() if r.drawn_ms is not None][-LATENCY_WINDOW:]
        if len(drawn) < LATENCY_WINDOW:
            return None
        (floor,) = percentiles([r.drawn_ms - r.server_ms for r in drawn], (LATENCY_QUANTILE,))
        return floor
