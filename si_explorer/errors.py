"""Exceptions raised by si-explorer.

Every error a user can cause with a file or an argument derives from
:class:`SIExplorerError` and names the file, so that a notebook shows one clear
line instead of a traceback from deep inside a library.
"""

from __future__ import annotations

import contextlib
import os


class SIExplorerError(Exception):
    """Base class of every error si-explorer raises about a file or an argument."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class SourceNotFoundError(SIExplorerError, FileNotFoundError):
    """The path (or glob) names no readable file."""


class NotATiffError(SIExplorerError, ValueError):
    """The file is not a TIFF (wrong magic bytes, a directory, empty)."""


class CorruptTiffError(SIExplorerError, ValueError):
    """The TIFF structure is broken: IFD loop, offsets past the end, impossible tags."""


@contextlib.contextmanager
def tifffile_errors(path, what: str = "tifffile cannot read this TIFF"):
    """Turn what tifffile (or a codec under it) raises on a damaged file into a
    :class:`CorruptTiffError` naming the file.

    tifffile parses what our own index does not (ImageJ, OME, compressed or odd pages) and,
    on damaged bytes, fails with whatever its parsing hit: TypeError, KeyError, IndexError,
    struct.error, enum ValueErrors, codec errors. Running out of memory is not a verdict on
    the file and is raised as it is.
    """
    try:
        yield
    except (SIExplorerError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # noqa: BLE001 - see above: any of tifffile's errors
        raise CorruptTiffError(path, f"{what} ({type(exc).__name__}: {exc})") from None


class TruncatedFileError(SIExplorerError, ValueError):
    """The file ends before its first complete page."""


class LayoutError(SIExplorerError, ValueError):
    """A stated or derived layout does not fit the file (page count, page shape)."""


class MetadataError(SIExplorerError, ValueError):
    """ScanImage metadata is unreadable or contradicts the file."""


class StackIndexError(SIExplorerError, IndexError):
    """An index or ROI outside the stack."""


class TruncatedFileWarning(UserWarning):
    """The file ends inside a page: the complete pages are served, the rest is missing."""


class FrameHeaderWarning(UserWarning):
    """Some pages' frame headers could not be read: their timeline values are NaN / -1."""
