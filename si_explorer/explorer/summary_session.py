"""The summary views' computation: mean, max, std and local correlation of the plane shown,
from one pass over the recording on their own thread, refined as blocks arrive, and cached.

A pass reads every time point of one field and plane (:func:`si_explorer.summary.plane_summaries`),
seconds to minutes on a long recording, so it never runs on the plane reader's thread: slider
moves, traces and the timeline keep being served while it reads. One pass runs at a time; asking
for the summaries of another plane (or of other data: channel, bidi correction) closes the one
running, whose partial sums would never be shown. One pass gives all four images, so switching
between them is instant, and complete results are kept (bounded by bytes), so going back to a
plane already summarised is too.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..summary import PlaneSummary, plane_summaries
from .controller import bidi_key
from .latest import LatestWins

#: Seconds between refined images while a pass reads (also the longest a closed pass keeps
#: reading: the generator is closed when it next yields).
REFINE_INTERVAL_S = 0.25
#: Bytes of complete summaries kept: four float32 images per plane, 4 MiB for 512 x 512, so
#: every plane of a 30-plane recording of that size fits twice over.
CACHE_BYTES = 256 * 2**20


def data_key(stack) -> tuple:
    """What identifies the pixels a pass reads: the files, the shape (a grown recording has
    more time points), the channel and the bidi correction. The chunk scheme and backend change
    how they are read, not what they are."""
    return (tuple(stack.paths), tuple(stack.shape), stack.channel, bidi_key(stack))


@dataclass(frozen=True)
class SummaryKey:
    data: tuple
    field: int
    z: int


def summary_nbytes(summary: PlaneSummary) -> int:
    return sum(int(image.nbytes) for image in summary.images.values())


class SummarySession:
    """Computes and keeps the summary images the explorer shows.

    ``on_snapshot(key, summary)`` is called on the session's thread with every refined
    :class:`~si_explorer.summary.PlaneSummary` of the pass running (the last one ``done``);
    ``on_error(key, exc)`` when a pass fails.

    Example (``stack`` from ``si_explorer.open``)::

        s = SummarySession(on_snapshot=lambda key, snap: print(snap.frames_done), on_error=print)
        key, now = s.show(stack, 0, 3)   # None: a pass starts; progress is printed
        s.wait_idle()
        s.latest(key).images["correlation"]
    """

    def __init__(
        self,
        *,
        on_snapshot: Callable[[SummaryKey, PlaneSummary], None],
        on_error: Callable[[SummaryKey, BaseException], None],
        interval: float | None = None,
        cache_bytes: int | None = None,
    ):
        self._on_snapshot = on_snapshot
        self._on_error = on_error
        self.interval = REFINE_INTERVAL_S if interval is None else float(interval)
        self.cache_bytes = CACHE_BYTES if cache_bytes is None else int(cache_bytes)
        self._lock = threading.Lock()
        self._cache: OrderedDict[SummaryKey, PlaneSummary] = OrderedDict()
        self._cached_bytes = 0
        #: (key, generation) of the pass asked for last, until it ends.
        self._running: tuple[SummaryKey, int] | None = None
        self._partial: tuple[SummaryKey, PlaneSummary] | None = None
        #: Passes started, cache hits, and the seconds the last complete pass took.
        self.passes = 0
        self.hits = 0
        self.last_pass_s: float | None = None
        self._worker: LatestWins[tuple[SummaryKey, object]] = LatestWins(
            self._run, name="si-explorer-summary", on_error=self._failed
        )

    # -- any thread -----------------------------------------------------------------------

    def show(self, stack, field: int, z: int) -> tuple[SummaryKey, PlaneSummary | None]:
        """The summaries of (field, z) of ``stack`` as far as they are known now: complete from
        the cache, the latest refinement of the pass computing them, or None after starting
        that pass (which closes a pass for anything else)."""
        key = SummaryKey(data_key(stack), int(field), int(z))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                if self._running is not None and self._running[0] != key:
                    self._stop_locked()
                return key, hit
            if self._running is not None and self._running[0] == key:
                partial = self._partial
                return key, partial[1] if partial and partial[0] == key else None
            self._partial = None
            self.passes += 1
            self._running = (key, self._worker.submit((key, stack)))
        return key, None

    def cancel(self) -> None:
        """Close the pass running, if any (its data is no longer what is shown)."""
        with self._lock:
            self._stop_locked()

    def latest(self, key: SummaryKey | None) -> PlaneSummary | None:
        """The most refined summaries known for ``key``: complete, partial, or None."""
        with self._lock:
            if key is None:
                return None
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            partial = self._partial
            return partial[1] if partial and partial[0] == key else None

    @property
    def running(self) -> SummaryKey | None:
        with self._lock:
            return None if self._running is None else self._running[0]

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self._worker.wait_idle(timeout)

    def close(self, join: bool = False) -> None:
        self.cancel()
        self._worker.close(join=join)

    # -- session thread -------------------------------------------------------------------

    def _stop_locked(self) -> None:
        if self._running is not None:
            self._worker.cancel()
            self._running = None
            self._partial = None

    def _ended(self, key: SummaryKey, generation: int) -> None:
        with self._lock:
            if self._running == (key, generation):
                self._running = None

    def _run(self, job: tuple[SummaryKey, object], generation: int) -> None:
        key, stack = job
        started = time.perf_counter()
        summaries = plane_summaries(stack, key.field, key.z, interval=self.interval)
        try:
            for snapshot in summaries:
                with self._lock:
                    if not self._worker.is_current(generation):
                        return  # asked for something else: the generator closes below
                    if snapshot.done:
                        self._store_locked(key, snapshot)
                        self._partial = None
                        self.last_pass_s = time.perf_counter() - started
                    else:
                        self._partial = (key, snapshot)
                self._on_snapshot(key, snapshot)
        finally:
            summaries.close()  # stops the read at once when the loop was left early
            self._ended(key, generation)

    def _store_locked(self, key: SummaryKey, summary: PlaneSummary) -> None:
        size = summary_nbytes(summary)
        if size > self.cache_bytes:
            return
        old = self._cache.pop(key, None)
        if old is not None:
            self._cached_bytes -= summary_nbytes(old)
        self._cache[key] = summary
        self._cached_bytes += size
        while self._cached_bytes > self.cache_bytes and self._cache:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= summary_nbytes(dropped)

    def _failed(self, job: tuple[SummaryKey, object], exc: BaseException) -> None:
        key = job[0]
        with self._lock:
            if self._running is not None and self._running[0] == key:
                self._running = None
                self._partial = None
        self._on_error(key, exc)
