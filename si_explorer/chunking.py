"""The five dimensions of a stack and its chunk schemes: what a chunk of ``stack.data`` is.

Shared by the Stack, the lazy operations and export, which must agree on them.
"""

from __future__ import annotations

import numpy as np

from .errors import SIExplorerError

DIMS = ("field", "time", "z", "y", "x")


def chunk_spec(chunks, shape: tuple[int, ...]):
    """The block shape a chunk scheme asks for: ``"page"``, ``"volume"``, ``"frames:k"`` or 5 sizes.

    Cheap: the per-block tuples are built by :func:`parse_chunks` only when needed (for
    300,000 pages they cost 3 ms, more than opening the file).

    >>> chunk_spec("frames:4", (1, 10, 3, 8, 8))
    (1, 4, 3, 8, 8)
    """
    f, t, z, y, x = shape
    if isinstance(chunks, str):
        scheme = chunks.strip().lower()
        if scheme == "page":
            return (1, 1, 1, y, x)
        if scheme == "volume":
            return (1, 1, z, y, x)
        if scheme.startswith("frames:"):
            k = scheme.split(":", 1)[1]
            if not k.isdigit() or int(k) < 1:
                raise SIExplorerError(
                    None, f"chunks {chunks!r}: k in 'frames:k' must be an integer >= 1"
                )
            return (1, min(int(k), max(t, 1)), z, y, x)
        raise SIExplorerError(
            None, f"chunks {chunks!r}: use 'page', 'volume', 'frames:k' or a tuple of 5 sizes"
        )
    spec = chunks if isinstance(chunks, dict) else tuple(chunks)
    if not isinstance(spec, dict) and len(spec) != 5:
        raise SIExplorerError(None, f"chunks {chunks!r}: give one entry per dimension {DIMS}")
    parse_chunks(spec, shape)  # explicit chunks are validated now, not at the first read
    return spec


def parse_chunks(spec, shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Dask chunks (a tuple of block sizes per dimension) for a :func:`chunk_spec`."""
    from dask.array.core import normalize_chunks

    try:
        return normalize_chunks(spec, shape=shape, dtype=np.int16)
    except (ValueError, TypeError) as exc:
        raise SIExplorerError(None, f"chunks {spec!r}: {exc}") from None
