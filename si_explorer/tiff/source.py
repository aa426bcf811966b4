"""Where the bytes of a TIFF come from: the one seam between the index and the storage.

Everything in ``tiff/`` reads through a :class:`ByteSource`: positioned reads, the size, a name
for error messages, and an identity for caches. :class:`LocalFile` is the only storage today; a
network or object-store source plugs in by implementing :meth:`ByteSource.read` and the three
attributes (an HTTP range request per read, ``version`` from the ETag).

Local files have fast paths a remote source cannot offer (a descriptor for ``preadv`` and
``posix_fadvise``, a zero-copy memory map for the walk). They are capability flags, as in
zarr-python's ``Store.supports_writes``: code asks before it takes the fast path, and the
default of a new source is the portable one.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import hashlib
import mmap
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..errors import NotATiffError, ObjectChangedError, SIExplorerError, SourceNotFoundError


class ByteSource(abc.ABC):
    """Random access to the bytes of one file, wherever it is stored.

    Subclasses set ``name`` (the path or URL that error messages show), ``size`` (bytes, fixed
    for the life of the object: a file that grows is opened again) and ``version`` (what
    changes when the bytes change: a local file's mtime in ns, a remote object's ETag; None when
    unknown, which disables the on-disk index cache), and implement :meth:`read`.

    Owns whatever it opened: use as a context manager, or call :meth:`close`.
    ``ByteSource(path)`` opens a local path (a :class:`LocalFile`).
    """

    name: str | None
    size: int
    version: Any = None

    def __new__(cls, *args, **kwargs):
        # The name opened local files before it named the interface; callers that still say
        # ByteSource(path) get the local file, initialised once by LocalFile.__init__.
        return super().__new__(LocalFile if cls is ByteSource else cls)

    #: Whether :meth:`fileno` is an OS descriptor (positioned reads, kernel read-ahead hints).
    supports_fileno: bool = False
    #: Whether :meth:`map` gives a zero-copy memory map (the walk needs one).
    supports_mmap: bool = False

    @abc.abstractmethod
    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the source)."""

    def fileno(self) -> int:
        """The OS descriptor (only when ``supports_fileno``)."""
        raise NotImplementedError(f"{type(self).__name__} has no file descriptor")

    def map(self) -> mmap.mmap:
        """A read-only memory map of the first ``size`` bytes (only when ``supports_mmap``);
        the caller closes it."""
        raise NotImplementedError(f"{type(self).__name__} cannot be memory-mapped")

    def cache_key(self) -> str | None:
        """Names this source in the on-disk index cache (with ``version``); None: do not
        cache."""
        return None if self.version is None else self.name

    def prefetch(self, offsets, sizes) -> None:  # noqa: B027 - local reads need no warning
        """Hint: these ranges are about to be read one by one. A source whose every read is a
        round trip fetches them together; a local file ignores it."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release what the source holds (descriptors, connections)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalFile(ByteSource):
    """A local file opened read-only (pread where the OS has it).

    Refuses directories, FIFOs and devices with the project's errors, so that no read ever
    blocks on a pipe or misreads a device.
    """

    supports_fileno = True
    supports_mmap = True

    def __init__(self, path: str | os.PathLike):
        path = os.fspath(path)
        self.name = path
        try:
            # O_NONBLOCK: opening a FIFO (or a device) read-only would otherwise wait for a
            # writer forever; regular files ignore the flag.
            flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise SourceNotFoundError(path, "no such file") from None
        except IsADirectoryError:
            raise NotATiffError(path, "is a directory, not a TIFF file") from None
        except OSError as exc:
            raise SIExplorerError(path, f"cannot open: {exc.strerror or exc}") from None
        self.fd = fd
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise NotATiffError(path, "is a directory, not a TIFF file")
            if not stat.S_ISREG(st.st_mode):
                # A pipe or device has no size to check offsets against and no random access.
                raise NotATiffError(path, "is not a regular file (a pipe, socket or device)")
            self.size = st.st_size
            self.mtime_ns = st.st_mtime_ns
            if hasattr(os, "posix_fadvise"):
                # Index reads are small and scattered; readahead would pull in pixels.
                with contextlib.suppress(OSError):  # a hint only; some filesystems refuse it
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            self._file = None if hasattr(os, "pread") else os.fdopen(os.dup(fd), "rb", 0)
        except BaseException:
            os.close(fd)
            raise

    @property
    def version(self) -> int:
        return self.mtime_ns

    def read(self, offset: int, size: int) -> bytes:
        if self._file is None:
            return os.pread(self.fd, size, offset)
        self._file.seek(offset)
        return self._file.read(size)

    def fileno(self) -> int:
        return self.fd

    def map(self) -> mmap.mmap:
        return mmap.mmap(self.fd, self.size, access=mmap.ACCESS_READ)

    def cache_key(self) -> str:
        # Absolute: the same file opened from another working directory shares its entry.
        return os.path.abspath(self.name)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class MemorySource(ByteSource):
    """Bytes already in memory (``bytes``, ``bytearray``, ``memoryview`` or an ``mmap``).

    The walk reads the IFDs it decodes one by one through this, over its memory map: slicing a
    map costs no system call.
    """

    def __init__(self, data, name: str | None = None):
        self.data = data if isinstance(data, (bytes, mmap.mmap)) else memoryview(data)
        self.name = name
        self.size = len(self.data)

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.data[offset : offset + size])


class CallableSource(ByteSource):
    """Any ``read(offset, size)`` function of known size (a file object, a test's fake)."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, name: str | None = None):
        self._read = read
        self.size = size
        self.name = name

    def read(self, offset: int, size: int) -> bytes:
        return self._read(offset, size)


def open_source(
    source: str | os.PathLike | ByteSource, storage_options: dict | None = None
) -> tuple[ByteSource, bool]:
    """``(source, owned)``: a path opened as a :class:`LocalFile` or a URL as a
    :class:`RemoteSource` (``owned``: the caller closes it), or a :class:`ByteSource` passed
    through (its opener closes it). A URL without ``storage_options`` uses those registered
    for it by :func:`register_storage_options` (the stack's open did)."""
    if isinstance(source, ByteSource):
        return source, False
    if is_url(source):
        return RemoteSource(source, storage_options), True
    return LocalFile(source), True


def source_size(path: str | os.PathLike, storage_options: dict | None = None) -> int:
    """The size in bytes of a local file or a remote object."""
    if is_url(path):
        with RemoteSource(path, storage_options) as source:
            return source.size
    return os.path.getsize(path)


# ---------------------------------------------------------------------------------- remote

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")

#: Seconds to wait for a connection and between two reads of a response, unless the storage
#: options say otherwise: a server that stops answering is an error, never a hang.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
#: Ranged requests in flight at once per source.
CONCURRENCY = 32
#: Small reads (IFDs, headers) are rounded up to aligned blocks this big and kept: the reads of
#: one open fall in a few dozen blocks. The first block of a file is bigger (ScanImage's
#: header text and the first IFD are usually in it).
BLOCK = 16 << 10
HEAD_BLOCK = 256 << 10
CACHED_BLOCKS = 256
#: Ranges closer than this are fetched as one request (the bytes between are cheaper than a
#: round trip), up to MAX_REQUEST bytes per request. Farther apart they are separate requests,
#: CONCURRENCY in flight: merging a pixel trace over 128 KiB pages would read every page.
MAX_GAP = 64 << 10
MAX_REQUEST = 16 << 20

_OPTIONS: dict[str, dict] = {}
_OPTIONS_LOCK = threading.Lock()


def is_url(path) -> bool:
    """Whether ``path`` is a URL (``https://``, ``s3://``, any fsspec protocol) rather than a
    local path. ``file://`` URLs count as URLs too (fsspec reads them)."""
    return isinstance(path, str) and bool(_URL.match(path))


def register_storage_options(url: str, storage_options: dict | None) -> None:
    """Remember the fsspec ``storage_options`` of ``url`` in this process, for code that
    reopens a file by its name (``extend_index`` on refresh, a reader in a dask worker)."""
    if storage_options:
        with _OPTIONS_LOCK:
            _OPTIONS[url] = dict(storage_options)


def registered_storage_options(url: str) -> dict:
    with _OPTIONS_LOCK:
        return dict(_OPTIONS.get(url, {}))


def _split_options(options: dict) -> tuple[dict, float, float]:
    options = dict(options)
    connect = float(options.pop("connect_timeout", CONNECT_TIMEOUT))
    read = float(options.pop("read_timeout", READ_TIMEOUT))
    return options, connect, read


class RemoteSource(ByteSource):
    """A file on a web server, an object store or any fsspec filesystem, read by ranged requests.

    ``version`` is the object's ETag (else its modification time), so the index cache is keyed
    by URL, size and ETag, and a replaced object misses it. Every response is checked: a server
    that ignores ``Range`` (200 instead of 206), a refused credential and a server that stops
    answering (``connect_timeout``/``read_timeout`` storage options, 10 s / 30 s) are each an
    :class:`SIExplorerError` naming the URL; a response of the wrong length or from an object
    whose ETag or size changed since the open is an :class:`ObjectChangedError` (a reader
    decides whether the new version is the same recording grown: ``read/pages.py``).

    ``requests`` and ``bytes_read`` count what this source fetched.
    """

    def __init__(self, url: str, storage_options: dict | None = None):
        self.name = url
        self.url = url
        if storage_options is None:
            storage_options = registered_storage_options(url)
        self.storage_options = dict(storage_options)
        self.requests = 0
        self.bytes_read = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        # The first block is kept out of the LRU: it identifies the object (see head_digest).
        self._head: bytes | None = None
        self._lock = threading.Lock()
        protocol = url.split("://", 1)[0].lower()
        client = _HttpClient if protocol in ("http", "https") else _FsspecClient
        self._client = client(url, self.storage_options)
        self.size, self._version = self._client.info()

    @property
    def version(self):
        return self._version

    def cache_key(self) -> str | None:
        return None if self._version is None else self.url

    def __getstate__(self):
        return {"url": self.url, "storage_options": self.storage_options}

    def __setstate__(self, state):
        self.__init__(state["url"], state["storage_options"])

    def read(self, offset: int, size: int) -> bytes:
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        if end - offset > HEAD_BLOCK:
            return self.read_ranges([offset], [end - offset])[0]
        first, last = self._block_span(offset, end)
        with self._lock:
            cached = self._head if first == 0 else self._blocks.get(first)
        if cached is not None and first + len(cached) >= end:
            return cached[offset - first : end - first]
        data = self._fetch([(first, last)])[0]
        with self._lock:
            self._keep_block(first, data)
        return data[offset - first : end - first]

    def _keep_block(self, first: int, data: bytes) -> None:
        """Cache the block starting at ``first`` (the caller holds the lock)."""
        if first == 0:
            self._head = data
        else:
            self._blocks[first] = data
            while len(self._blocks) > CACHED_BLOCKS:
                self._blocks.popitem(last=False)

    def _block_span(self, offset: int, end: int) -> tuple[int, int]:
        """The cached block a small read of ``offset:end`` is served from (the head block, or
        whole ``BLOCK``-aligned blocks)."""
        first = 0 if offset < HEAD_BLOCK else offset // BLOCK * BLOCK
        last = HEAD_BLOCK if end <= HEAD_BLOCK else -(-end // BLOCK) * BLOCK
        return first, min(last, self.size)

    def prefetch(self, offsets, sizes) -> None:
        """Fetch the blocks the small reads of these ranges will ask for, as concurrent
        requests: the stride check of an open reads about 30 sampled IFDs, 30 round trips one
        by one (measured at 10 ms per request: 0.43 s to open 100,000 pages, 34 requests)."""
        wanted = {}
        for offset, size in zip(offsets, sizes):
            offset, end = int(offset), min(int(offset) + int(size), self.size)
            if offset >= end or end - offset > HEAD_BLOCK:
                continue
            first, last = self._block_span(offset, end)
            with self._lock:
                cached = self._head if first == 0 else self._blocks.get(first)
            if cached is None or first + len(cached) < end:
                wanted[first] = max(wanted.get(first, last), last)
        # Blocks close together come in one request, as read_ranges merges ranges.
        groups: list[list] = []  # [start, end, spans]
        for first, last in sorted(wanted.items())[:CACHED_BLOCKS]:
            if groups and first - groups[-1][1] <= MAX_GAP and last - groups[-1][0] <= MAX_REQUEST:
                groups[-1][1] = max(groups[-1][1], last)
                groups[-1][2].append((first, last))
            else:
                groups.append([first, last, [(first, last)]])
        fetched = self._fetch([(start, end) for start, end, _ in groups])
        for (start, _, spans), data in zip(groups, fetched):
            with self._lock:
                for first, last in spans:
                    self._keep_block(first, bytes(data[first - start : last - start]))

    def head_digest(self, size: int | None = None, fetch: bool = True) -> tuple[int, bytes] | None:
        """``(n, digest)`` of the object's first ``n`` bytes (``size``, else the head block):
        what identifies a recording across versions of a growing object, since its first
        block (TIFF header, ScanImage header, the first frame's header with its timestamps)
        never changes while the recording is appended to. None when ``fetch`` is False and
        those bytes were not read yet."""
        n = min(HEAD_BLOCK if size is None else size, HEAD_BLOCK, self.size)
        with self._lock:
            head = self._head
        if head is None or len(head) < n:
            if not fetch:
                return None
            head = self.read(0, n)
        return n, hashlib.blake2b(head[:n], digest_size=16).digest()

    def read_ranges(self, offsets, sizes, max_gap: int = MAX_GAP) -> list[memoryview]:
        """The bytes of every ``(offset, size)`` range, fetched by as few parallel requests as
        ranges closer than ``max_gap`` bytes merge into (ranges past the end come back short)."""
        offsets = [int(o) for o in offsets]
        sizes = [int(s) for s in sizes]
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        groups: list[list[int]] = []  # [start, end, members...]
        for i in order:
            start, end = offsets[i], min(offsets[i] + sizes[i], self.size)
            end = max(start, end)
            if groups and start - groups[-1][1] <= max_gap and end - groups[-1][0] <= MAX_REQUEST:
                groups[-1][1] = max(groups[-1][1], end)
                groups[-1].append(i)
            else:
                groups.append([start, end, i])
        fetched = self._fetch([(g[0], g[1]) for g in groups if g[1] > g[0]])
        out: list[memoryview] = [memoryview(b"")] * len(offsets)
        blobs = iter(fetched)
        for group in groups:
            start, end = group[0], group[1]
            view = memoryview(next(blobs)) if end > start else memoryview(b"")
            for i in group[2:]:
                stop = max(offsets[i], min(offsets[i] + sizes[i], self.size))
                out[i] = view[offsets[i] - start : stop - start]
        return out

    def _fetch(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        if not ranges:
            return []
        data = self._client.fetch(ranges, self.size, self._version)
        with self._lock:
            self.requests += len(ranges)
            self.bytes_read += sum(end - start for start, end in ranges)
        for (start, end), blob in zip(ranges, data):
            if len(blob) != end - start:
                raise ObjectChangedError(
                    self.url,
                    f"asked for bytes {start:,}..{end:,} but got {len(blob):,} bytes: the object "
                    "changed or was shortened since it was opened; open it again",
                )
        return data

    def close(self) -> None:
        self._blocks.clear()
        self._head = None


def _run(coroutine, loop=None):
    """Run ``coroutine`` on fsspec's I/O thread (or ``loop``) and return its result."""
    import fsspec.asyn

    return fsspec.asyn.sync(loop or fsspec.asyn.get_loop(), lambda: coroutine)


async def _fetch_all(one, ranges) -> list:
    """``one(start, end)`` for every range, at most CONCURRENCY at once, results in order.

    The first failure cancels the requests not sent or not answered yet: a trace over a
    replaced object fails after the requests in flight, not after one per frame.
    """
    import asyncio

    if not ranges:
        return []
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def limited(start, end):
        async with semaphore:
            return await one(start, end)

    tasks = [asyncio.ensure_future(limited(s, e)) for s, e in ranges]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()  # no-op on finished tasks
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if task in done and task.exception() is not None:
            raise task.exception()
    return [task.result() for task in tasks]


class _HttpClient:
    """Ranged GETs with aiohttp on fsspec's event loop, every response checked (206, the
    ``Content-Range`` total, the ETag), streamed so a server that ignores ``Range`` is
    detected from its status before any body is read. Storage options: ``headers``,
    ``client_kwargs`` (for ``aiohttp.ClientSession``, e.g. ``auth``), the two timeouts."""

    _sessions: dict = {}

    def __init__(self, url: str, options: dict):
        self.url = url
        options, self.connect, self.read_timeout = _split_options(options)
        self.headers = dict(options.get("headers") or {})
        self.client_kwargs = dict(options.get("client_kwargs") or {})
        self.key = (os.getpid(), repr(sorted(self.client_kwargs.items())))

    async def _session(self):
        import aiohttp

        session = _HttpClient._sessions.get(self.key)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
            kwargs = dict(self.client_kwargs)
            session = aiohttp.ClientSession(connector=connector, **kwargs)
            _HttpClient._sessions[self.key] = session
        return session

    def _timeout(self):
        import aiohttp

        # Per request, so that sources sharing a session keep their own timeouts.
        return aiohttp.ClientTimeout(
            total=None, connect=self.connect, sock_connect=self.connect, sock_read=self.read_timeout
        )

    def _error(self, exc: BaseException) -> SIExplorerError:
        import asyncio

        import aiohttp

        if isinstance(exc, SIExplorerError):
            return exc
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            return SIExplorerError(
                self.url,
                f"the server did not answer within {self.read_timeout:g} s (read_timeout) "
                f"or {self.connect:g} s (connect_timeout)",
            )
        if isinstance(exc, aiohttp.ClientError):
            return SIExplorerError(self.url, f"cannot reach the server: {exc}")
        return SIExplorerError(self.url, f"{type(exc).__name__}: {exc}")

    def _status_error(self, status: int, reason: str) -> SIExplorerError:
        if status == 404 or status == 410:
            return SourceNotFoundError(self.url, f"no such object (HTTP {status})")
        if status in (401, 403):
            return SIExplorerError(
                self.url, f"access refused (HTTP {status} {reason}): check the credentials"
            )
        return SIExplorerError(self.url, f"the server answered HTTP {status} {reason}")

    def info(self) -> tuple[int, object]:
        async def head():
            session = await self._session()
            headers = dict(self.headers, **{"Accept-Encoding": "identity"})
            async with session.head(
                self.url, headers=headers, allow_redirects=True, timeout=self._timeout()
            ) as r:
                if r.status >= 400:
                    raise self._status_error(r.status, r.reason or "")
                return r.headers.copy()  # case-insensitive, as HTTP headers are

        try:
            headers = _run(head())
        except BaseException as exc:
            raise self._error(exc) from None
        if headers.get("Accept-Ranges", "").lower() == "none":
            raise SIExplorerError(self.url, "the server does not support range requests")
        if "Content-Length" not in headers:
            raise SIExplorerError(self.url, "the server does not say the size of the file")
        version = headers.get("ETag") or headers.get("Last-Modified")
        return int(headers["Content-Length"]), version

    def fetch(self, ranges, size: int, version) -> list[bytes]:
        async def one(session, start, end):
            headers = dict(self.headers, Range=f"bytes={start}-{end - 1}")
            headers["Accept-Encoding"] = "identity"
            async with session.get(self.url, headers=headers, timeout=self._timeout()) as r:
                if r.status == 200:
                    raise SIExplorerError(
                        self.url,
                        "the server ignored a range request (HTTP 200 instead of 206): it "
                        "does not support range requests, which reading a file lazily needs",
                    )
                if r.status == 416:
                    raise ObjectChangedError(
                        self.url,
                        f"bytes {start:,}..{end:,} are past the end of the object: it was "
                        "shortened since it was opened; open it again",
                    )
                if r.status >= 400 or r.status != 206:
                    raise self._status_error(r.status, r.reason or "")
                etag = r.headers.get("ETag")
                total = r.headers.get("Content-Range", "").rpartition("/")[2]
                # A version from Last-Modified (no ETag at open) is checked by size only.
                changed = version is not None and etag is not None and etag != version
                if changed or (total.isdigit() and int(total) != size):
                    raise _changed(self.url, size, int(total) if total.isdigit() else None)
                return await r.read()

        async def many():
            session = await self._session()
            return await _fetch_all(lambda s, e: one(session, s, e), ranges)

        try:
            return _run(many())
        except BaseException as exc:
            raise self._error(exc) from None


def _changed(url: str, size: int, new_size: int | None) -> ObjectChangedError:
    grew = new_size is not None and new_size > size
    return ObjectChangedError(
        url,
        "the object changed since it was opened (its ETag or size differs)"
        + (
            f"; it grew from {size:,} to {new_size:,} bytes: if the recording is still being "
            "written, stack.refresh() reads the new version"
            if grew
            else "; open it again"
        ),
    )


def _close_sessions() -> None:
    sessions = [s for key, s in _HttpClient._sessions.items() if key[0] == os.getpid()]
    _HttpClient._sessions.clear()
    for session in sessions:
        with contextlib.suppress(Exception):
            _run(session.close())


atexit.register(_close_sessions)


class _FsspecClient:
    """Any other fsspec filesystem (``s3://``, ``gs://``, ``memory://`` ...). ``storage_options``
    are the filesystem's; for s3fs, timeouts become botocore's ``connect_timeout``/
    ``read_timeout`` (with two attempts) unless ``config_kwargs`` sets them.

    Every read is checked against the version seen at open. On S3 each ranged GET carries
    ``If-Match: <ETag>`` (the server refuses a replaced object with 412, at no extra request)
    and its answer's ETag and ``Content-Range`` total are compared too (for stores that ignore
    ``If-Match``). Other filesystems have no common precondition: their ranges are fetched with
    ``cat_ranges`` and the object's ``info()`` is asked again after them, one metadata request
    per read; bytes read before a replacement are the old object's, so a version unchanged
    after the read vouches for them.
    """

    def __init__(self, url: str, options: dict):
        import fsspec

        self.url = url
        options, connect, read = _split_options(options)
        protocol = url.split("://", 1)[0].lower()
        self.s3 = protocol in ("s3", "s3a")
        if self.s3:
            config = dict(options.get("config_kwargs") or {})
            config.setdefault("connect_timeout", connect)
            config.setdefault("read_timeout", read)
            config.setdefault("retries", {"max_attempts": 2})
            options["config_kwargs"] = config
        try:
            self.fs, self.path = fsspec.core.url_to_fs(url, **options)
        except Exception as exc:
            raise self._error(exc) from None
        # s3fs's own coroutine for one request; ranged reads go through it with If-Match.
        self.s3 = self.s3 and hasattr(self.fs, "_call_s3")
        self.etag: str | None = None

    def _error(self, exc: BaseException) -> SIExplorerError:
        if isinstance(exc, SIExplorerError):
            return exc
        if isinstance(exc, FileNotFoundError):
            return SourceNotFoundError(self.url, "no such object")
        if isinstance(exc, PermissionError):
            return SIExplorerError(self.url, f"access refused: {exc}; check the credentials")
        if isinstance(exc, (TimeoutError,)) or "timeout" in type(exc).__name__.lower():
            return SIExplorerError(self.url, f"the storage did not answer in time: {exc}")
        if isinstance(exc, ImportError):
            return SIExplorerError(
                self.url, f"{exc}; install the remote extra: pip install si-explorer[remote]"
            )
        return SIExplorerError(self.url, f"{type(exc).__name__}: {exc}")

    def _info(self) -> dict:
        # Not from a directory listing cached by an earlier glob: that would be the
        # object as it was then (a refresh would never see it grow).
        self.fs.invalidate_cache(self.path)
        try:
            info = self.fs.info(self.path)
        except Exception as exc:
            raise self._error(exc) from None
        if info.get("type") == "directory":
            raise NotATiffError(self.url, "is a directory, not a TIFF file")
        return info

    @staticmethod
    def _version(info: dict):
        for key in ("ETag", "etag", "md5", "mtime", "LastModified", "last_modified", "created"):
            if info.get(key) is not None:
                return str(info[key])
        return None

    def info(self) -> tuple[int, object]:
        info = self._info()
        self.etag = info.get("ETag") if isinstance(info.get("ETag"), str) else None
        return int(info["size"]), self._version(info)

    def fetch(self, ranges, size: int, version) -> list[bytes]:
        if self.s3:
            return self._fetch_s3(ranges, size)
        try:
            if len(ranges) == 1:
                start, end = ranges[0]
                data = [self.fs.cat_file(self.path, start=start, end=end)]
            else:
                starts = [s for s, _ in ranges]
                ends = [e for _, e in ranges]
                paths = [self.path] * len(ranges)
                data = self.fs.cat_ranges(paths, starts, ends, on_error="raise")
        except Exception as exc:
            raise self._error(exc) from None
        info = self._info()
        new_size, new_version = int(info["size"]), self._version(info)
        if new_size != size or (version is not None and new_version != version):
            raise _changed(self.url, size, new_size)
        return data

    def _fetch_s3(self, ranges, size: int) -> list[bytes]:
        import errno

        try:
            from s3fs.core import S3_RETRYABLE_ERRORS as retryable
        except ImportError:
            retryable = ()
        bucket, key, version_id = self.fs.split_path(self.path)
        pinned = {"VersionId": version_id} if version_id else {}
        if self.etag is not None:
            pinned["IfMatch"] = self.etag
        attempts = max(1, int(getattr(self.fs, "retries", 1)))

        async def get(start, end):
            try:
                return await self.fs._call_s3(
                    "get_object", Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", **pinned
                )
            except OSError as exc:
                # s3fs turns 412 (If-Match failed) and 416 (range past the end) into EINVAL.
                text = str(exc).lower()
                if exc.errno == errno.EINVAL and ("pre-condition" in text or "range" in text):
                    raise _changed(self.url, size, None) from None
                raise

        async def one(start, end):
            for attempt in range(attempts):
                response = await get(start, end)  # s3fs retries the request itself
                try:
                    etag = response.get("ETag")
                    total = (response.get("ContentRange") or "").rpartition("/")[2]
                    if (self.etag is not None and etag is not None and etag != self.etag) or (
                        total.isdigit() and int(total) != size
                    ):
                        raise _changed(self.url, size, int(total) if total.isdigit() else None)
                    return await response["Body"].read()
                except retryable:
                    # A body cut short is asked again, as s3fs's own cat_file does.
                    if attempt == attempts - 1:
                        raise
                finally:
                    response["Body"].close()
            raise AssertionError("unreachable")

        try:
            return _run(_fetch_all(one, ranges), self.fs.loop)
        except BaseException as exc:
            raise self._error(exc) from None


__all__ = [
    "ByteSource",
    "CallableSource",
    "LocalFile",
    "MemorySource",
    "RemoteSource",
    "is_url",
    "open_source",
    "register_storage_options",
    "source_size",
]
