"""Latest request wins: one worker thread with a single pending slot.

Requests arrive on the kernel's main thread (slider steps, ROI changes) far faster than they can
be served from disk. Queueing them would make the user wait for every position the slider passed
through; instead a new job overwrites the one not yet started, and a generation counter lets the
job in progress notice that it became stale and stop early or drop its result. Idle time may go
to background work (prefetching), which any new job or invalidation clears.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

Job = TypeVar("Job")


class LatestWins(Generic[Job]):
    """Runs ``run(job, generation)`` on one daemon thread for the newest submitted job only.

    ``run`` checks :meth:`is_current` with its generation to stop or drop a stale result;
    ``on_error(job, exc)`` receives what ``run`` raised (on the worker thread). ``background(item)``
    runs items queued with :meth:`add_background` while no job is waiting; its errors are dropped,
    since nobody asked for that work.

    Example::

        served = []
        w = LatestWins(lambda job, gen: served.append(job), name="demo")
        for t in range(100):
            w.submit(t)
        w.wait_idle()
        assert served[-1] == 99     # jobs submitted while one ran replaced each other
    """

    def __init__(
        self,
        run: Callable[[Job, int], None],
        *,
        name: str,
        on_error: Callable[[Job, BaseException], None] | None = None,
        background: Callable[[object], None] | None = None,
    ):
        self._run_job = run
        self._on_error = on_error
        self._run_background = background
        self._cond = threading.Condition()
        self._generation = 0
        self._pending: tuple[Job, int] | None = None
        self._background: deque[object] = deque()
        self._busy = False
        self._closed = False
        #: Jobs submitted, and those replaced in the slot before they started.
        self.submitted = 0
        self.replaced = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # -- any thread ---------------------------------------------------------------------------

    def submit(self, job: Job) -> int:
        """Make ``job`` the next one to run, replacing one not yet started; its generation."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the worker was closed")
            self._generation += 1
            if self._pending is not None:
                self.replaced += 1
            self.submitted += 1
            self._pending = (job, self._generation)
            # Background work was chosen for an older job: doing it now only delays this one.
            self._background.clear()
            self._cond.notify_all()
            return self._generation

    def invalidate(self) -> None:
        """Make the job in progress stale (its result is dropped) without starting another."""
        with self._cond:
            self._generation += 1
            self._background.clear()

    def cancel(self) -> None:
        """Drop the waiting job and make the one in progress stale."""
        with self._cond:
            self._generation += 1
            self._pending = None
            self._background.clear()
            self._cond.notify_all()

    def is_current(self, generation: int) -> bool:
        return generation == self._generation

    def add_background(self, items: Iterable[object], generation: int) -> None:
        """Queue background items, unless a newer job came (they would be for a stale one)."""
        with self._cond:
            if self.is_current(generation) and self._pending is None:
                self._background.extend(items)
                self._cond.notify_all()

    def clear_background(self) -> None:
        with self._cond:
            self._background.clear()

    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until nothing is waiting or running (for tests and scripts)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and not self._busy and not self._background,
                timeout,
            )

    def close(self, join: bool = True) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._background.clear()
            self._cond.notify_all()
        if join and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    # -- worker thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: self._closed or self._pending is not None or self._background
                )
                if self._closed:
                    return
                pending, self._pending = self._pending, None
                item = None if pending is not None else self._background.popleft()
                self._busy = True
            try:
                if pending is not None:
                    self._run_job(*pending)
                elif self._run_background is not None:
                    self._run_background(item)
            except Exception as exc:  # noqa: BLE001 - reported through on_error, never raised
                if pending is not None and self._on_error is not None:
                    self._on_error(pending[0], exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
