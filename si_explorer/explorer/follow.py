"""Follow mode: poll a file that ScanImage is still writing and grow the explorer with it.

The poll itself is :meth:`si_explorer.Stack.refresh` (cheap: file-size arithmetic and a few
IFDs for a verified stride); this module only owns the timer thread, so that the widget can
switch following on and off without threads piling up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Follower:
    """Calls ``poll()`` every ``interval`` seconds on one daemon thread while started.

    ``poll`` returns nothing and must not raise (the widget shows its own errors); ``stop``
    returns at once and the thread ends after the poll in progress, if any.
    """

    def __init__(self, poll: Callable[[], None], interval: float = 1.0):
        self._poll = poll
        self.interval = float(interval)
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._stop is not None

    def start(self) -> None:
        with self._lock:
            if self._stop is not None:
                return
            # A fresh event per run: a thread from an earlier run that is still finishing
            # its poll keeps its own (set) event and ends.
            stop = self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(stop,), name="si-explorer-follow", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if self._stop is not None:
                self._stop.set()
            self._stop = None

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self._poll()
