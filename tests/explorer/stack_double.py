"""A test double of ``si_explorer.Stack`` over an in-memory numpy array.

It implements exactly the part of the Stack API the explorer relies on, so controller tests can
count reads, inject delays and check latest-request-wins without touching a file. Tests that need
the real loader use synthetic files through ``si_explorer.open`` instead.
"""

from __future__ import annotations

import threading
import time

import numpy as np

DIMS = ("field", "time", "z", "y", "x")


def _chunks_for(scheme, shape):
    f, t, z, y, x = shape
    if scheme == "page":
        return ((1,) * f, (1,) * t, (1,) * z, (y,), (x,))
    if scheme == "volume":
        return ((1,) * f, (1,) * t, (z,), (y,), (x,))
    if isinstance(scheme, str) and scheme.startswith("frames:"):
        k = int(scheme.split(":", 1)[1])
        if k < 1:
            raise ValueError(f"frames:k needs k >= 1, got {scheme!r}")
        sizes = [k] * (t // k) + ([t % k] if t % k else [])
        return ((1,) * f, tuple(sizes), (1,) * z, (y,), (x,))
    if isinstance(scheme, tuple):
        return scheme
    raise ValueError(f"unknown chunk scheme {scheme!r}")


class StackDouble:
    """In-memory stand-in for ``si_explorer.Stack`` (test code only).

    ``read_delay`` seconds are slept inside every ``read_block`` so that tests can make reads
    slow enough to overlap with new requests; ``reads`` records every block read.
    """

    dims = DIMS

    def __init__(
        self,
        data,
        *,
        channels=(1,),
        channel=0,
        chunks="page",
        backend="pread",
        field_shapes=None,
        time_seconds=None,
        read_delay=0.0,
        _shared=None,
    ):
        self._all = data if data.ndim == 6 else data[np.newaxis]  # (C, F, T, Z, Y, X)
        self.channels = list(channels)
        self.channel = channel
        self.shape = tuple(self._all.shape[1:])
        self.dtype = self._all.dtype
        self.chunk_scheme = chunks
        self.chunks = _chunks_for(chunks, self.shape)
        if backend not in ("pread", "mmap", "tifffile"):
            raise ValueError(f"unknown backend {backend!r}")
        self.backend = backend
        self.field_shapes = list(field_shapes) if field_shapes else [self.shape[3:]] * self.shape[0]
        self.time_seconds = time_seconds
        self.read_delay = read_delay
        self.paths = ["/nonexistent/double.tif"]
        self.name = "double"
        self.warnings = ()  # what a partial file leaves out: nothing, for in-memory data
        # Reads are shared between with_options() copies, as the real Stack shares file indexes.
        self._shared = _shared if _shared is not None else {"reads": [], "lock": threading.Lock()}
        self._starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in self.chunks]

    @property
    def reads(self):
        return self._shared["reads"]

    def with_options(self, *, channel=None, chunks=None, backend=None):
        return StackDouble(
            self._all,
            channels=self.channels,
            channel=self.channel if channel is None else channel,
            chunks=self.chunk_scheme if chunks is None else chunks,
            backend=self.backend if backend is None else backend,
            field_shapes=self.field_shapes,
            time_seconds=self.time_seconds,
            read_delay=self.read_delay,
            _shared=self._shared,
        )

    @property
    def _data(self):
        return self._all[self.channel]

    def block_of(self, f, t, z):
        out = []
        for d, i in enumerate((f, t, z)):
            if not 0 <= i < self.shape[d]:
                raise IndexError(f"{DIMS[d]} {i} out of range")
            out.append(int(np.searchsorted(self._starts[d], i, side="right") - 1))
        return (*out, 0, 0)

    def _slices(self, block):
        return tuple(slice(self._starts[d][b], self._starts[d][b + 1]) for d, b in enumerate(block))

    def read_block(self, block):
        if self.read_delay:
            time.sleep(self.read_delay)
        with self._shared["lock"]:
            self._shared["reads"].append((self.channel, self.chunk_scheme, tuple(block)))
        return np.array(self._data[self._slices(block)])

    def block_bounds(self, block):
        return [(int(s.start), int(s.stop)) for s in self._slices(block)]

    def block_nbytes(self, block):
        n = 1
        for s in self._slices(block):
            n *= s.stop - s.start
        return n * self.dtype.itemsize

    def __getitem__(self, key):
        f, t, z = key
        return np.array(self._data[f, t, z])

    def timeseries(self, y=None, x=None, *, roi=None, field=0, z=0, t=slice(None)):
        if roi is not None:
            y0, y1, x0, x1 = roi
            return self._data[field, t, z, y0:y1, x0:x1].mean(axis=(-2, -1))
        return np.array(self._data[field, t, z, y, x])


def make_double(shape=(2, 12, 3, 16, 20), *, channels=1, **kwargs):
    """A double whose pixel value encodes its position, so any mix-up shows."""
    c = channels
    f, t, z, y, x = shape
    idx = np.indices((c, f, t, z, y, x), dtype=np.int32)
    data = (
        idx[0] * 5000 + idx[1] * 1000 + idx[2] * 50 + idx[3] * 10 + (idx[4] + idx[5]) % 7
    ).astype(np.int16)
    return StackDouble(data, channels=list(range(1, c + 1)), **kwargs)
