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
import contextlib
import mmap
import os
import stat
from collections.abc import Callable
from typing import Any

from ..errors import NotATiffError, SIExplorerError, SourceNotFoundError


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


def open_source(source: str | os.PathLike | ByteSource) -> tuple[ByteSource, bool]:
    """``(source, owned)``: a path opened as a :class:`LocalFile` (``owned``: the caller closes
    it), or a :class:`ByteSource` passed through (its opener closes it)."""
    if isinstance(source, ByteSource):
        return source, False
    return LocalFile(source), True


__all__ = ["ByteSource", "CallableSource", "LocalFile", "MemorySource", "open_source"]
