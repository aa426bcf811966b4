"""On-disk cache of walked page indexes, so that a file without a constant stride is walked once.

One ``.npz`` file per source, named by a hash of its ``ByteSource.cache_key()`` (a local file's
absolute path), in ``$SI_EXPLORER_CACHE_DIR`` or ``~/.cache/si-explorer/index``. An entry is
used only when the source still has the same size and ``version`` (a local file's mtime) and the
same first 64 KiB, first IFD and last-page IFD bytes (a file rewritten in place within one mtime
tick, or copied over with its mtime preserved, is caught by the hashes). Sources without a
cache key (or version) are not cached. A cache that cannot be read is ignored and overwritten;
one that cannot be written is skipped: the cache never makes an open fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import runs
from .source import ByteSource

CACHE_VERSION = 1
HEAD_BYTES = 64 << 10
ARRAYS = ("ifd_offsets", "data_offsets", "desc_offsets", "desc_lengths")


def cache_dir() -> Path:
    """Where index caches live: ``$SI_EXPLORER_CACHE_DIR`` or ``~/.cache/si-explorer/index``."""
    configured = os.environ.get("SI_EXPLORER_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "si-explorer" / "index"


def cache_file(key: str) -> Path:
    """The cache file of the source whose ``cache_key()`` is ``key`` (a local file's absolute
    path)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
    return cache_dir() / (digest + ".npz")


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _signature(source: ByteSource, first_ifd: bytes, last_ifd: int, last_ifd_nbytes: int) -> dict:
    # ScanImage's first IFD follows megabytes of header text, so it gets its own hash.
    # "mtime_ns" holds the source's version: the name entries written before ByteSource had.
    return {
        "file_size": source.size,
        "mtime_ns": source.version,
        "head": _hash(source.read(0, min(HEAD_BYTES, source.size)) + first_ifd),
        "tail": _hash(source.read(last_ifd, last_ifd_nbytes)),
    }


SIGNATURE = ("file_size", "mtime_ns", "head", "tail")


def load(source: ByteSource, first_ifd: bytes) -> tuple[dict, dict[str, np.ndarray]] | None:
    """The cached (metadata, arrays) of ``source`` if still valid.

    ``first_ifd`` is the raw bytes of the file's first IFD (part of the signature).
    """
    key = source.cache_key()
    if key is None or source.version is None:
        return None
    try:
        with np.load(cache_file(key), allow_pickle=False) as stored:
            meta = json.loads(bytes(stored["meta"]).decode("utf-8"))
            if (
                meta.get("version") != CACHE_VERSION
                or meta.get("path") != key
                or meta["file_size"] != source.size
                or meta["mtime_ns"] != source.version
            ):
                return None
            n = int(meta["n_pages"])
            arrays = {}
            for name in ARRAYS:
                if name in stored:
                    values = np.asarray(stored[name], dtype=np.int64)
                    if values.shape != (n,):
                        return None
                    values.flags.writeable = False
                else:
                    values = runs.decode(stored[name + "_runs"], n)
                arrays[name] = values
    except Exception:
        # A missing, partly written, foreign or corrupt cache file: any failure to read it
        # (zip, npy, JSON, key and shape errors alike) just means "not cached".
        return None
    if n < 1:
        return None
    signature = _signature(source, first_ifd, int(arrays["ifd_offsets"][-1]), meta["tail_nbytes"])
    if any(signature[key] != meta.get(key) for key in SIGNATURE):
        return None
    return meta, arrays


def store(
    source: ByteSource,
    first_ifd: bytes,
    meta: dict,
    arrays: dict[str, np.ndarray],
    last_ifd_nbytes: int,
) -> None:
    """Write the cache entry of ``source`` atomically; give up silently on any OS error.

    ``meta`` must be JSON-serialisable; ``last_ifd_nbytes`` is the size of the last indexed
    page's IFD, whose bytes are hashed into the signature.
    """
    key = source.cache_key()
    if key is None or source.version is None:
        return
    target = cache_file(key)
    meta = dict(meta, version=CACHE_VERSION, path=key)
    meta["tail_nbytes"] = last_ifd_nbytes
    meta.update(_signature(source, first_ifd, int(arrays["ifd_offsets"][-1]), last_ifd_nbytes))
    payload = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
    for name in ARRAYS:
        encoded = runs.encode(arrays[name])
        if encoded is None:
            payload[name] = np.ascontiguousarray(arrays[name])
        else:
            payload[name + "_runs"] = encoded
    temporary = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=target.stem, suffix=".tmp", dir=target.parent)
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **payload)
        os.replace(temporary, target)
        temporary = None
    except OSError:
        pass  # read-only home, full disk, permissions: the index itself is still good
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
