"""Exceptions raised by si-explorer.

Every error a user can cause with a file or an argument derives from
:class:`SIExplorerError` and names the file, so that a notebook shows one clear
line instead of a traceback from deep inside a library.
"""

from __future__ import annotations

import contextlib
import os


class SIExplorerError(Exception):
    """Base class of every error si-explorer raises about a file or an argument.

    Args:
        path: the file concerned, or None when the problem is an argument.
        problem: what is wrong, in words.

    Attributes:
        path: the file as a string, or None.
        problem: the message without the path.

    >>> err = SIExplorerError("rec.tif", "channel 3 does not exist")
    >>> str(err), err.path, err.problem
    ('rec.tif: channel 3 does not exist', 'rec.tif', 'channel 3 does not exist')
    """

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class SourceNotFoundError(SIExplorerError, FileNotFoundError):
    """The path (or glob) names no readable file.

    Also raised when the numbered files of an acquisition are not consecutive
    (``..._00003.tif`` missing between ``00002`` and ``00004``): serving the others would shift
    every later time point.

    >>> import si_explorer
    >>> si_explorer.open("no/such/file.tif")
    Traceback (most recent call last):
    ...
    si_explorer.errors.SourceNotFoundError: no/such/file.tif: no such file
    """


class NotATiffError(SIExplorerError, ValueError):
    """The file is not a TIFF (wrong magic bytes, a directory, empty).

    Check that a download or copy finished; pass a file, a list or a glob, not a directory.
    """


class CorruptTiffError(SIExplorerError, ValueError):
    """The TIFF structure is broken: IFD loop, offsets past the end, impossible tags.

    Also raised with tifffile's own complaint when tifffile cannot parse a non-ScanImage TIFF.
    Copy the file again; ``si-explorer info FILE --json`` shows what was found.
    """


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
    """The file ends before its first complete page: there is nothing to serve.

    A file that ends later, inside a page, a frame or a volume, opens with its complete time
    points and a :class:`TruncatedFileWarning` instead.
    """


class LayoutError(SIExplorerError, ValueError):
    """A stated or derived layout does not fit the file (page count, page shape).

    Also raised when a file before the last one of an acquisition is incomplete, when the
    files of one acquisition have different pages, and for operations that need uniform pages.
    The message says what would fit.
    """


class MetadataError(SIExplorerError, ValueError):
    """ScanImage metadata is unreadable or contradicts the file.

    State the layout with ``si_explorer.open(path, layout=si_explorer.Layout(...))``.
    """


class ObjectChangedError(SIExplorerError):
    """A remote object is no longer the recording that was opened: replaced (another ETag and
    other first bytes), or changed in place. Its bytes are never served as pixels of the
    recording that was indexed; open it again. A recording still being written, which only
    grows, is read on (``stack.refresh()`` adds its new time points)."""


class StackIndexError(SIExplorerError, IndexError):
    """An index, pixel, ROI or export selection outside the stack.

    Multi-ROI fields can be smaller than the stack's zero-padded planes: see
    ``stack.field_shapes``.
    """


class TruncatedFileWarning(UserWarning):
    """A recording that ends part-way: the complete time points are served, the rest is missing.

    Issued by :func:`si_explorer.open` (and kept in ``stack.warnings``) when the last file ends
    inside a page, a frame or a volume, or holds fewer frames than its header announces; the
    message names what was left out. Expected while ScanImage is still writing:
    ``stack.refresh()`` picks up the time points written since.
    """


class FrameHeaderWarning(UserWarning):
    """Some pages' frame headers could not be read: their timeline values are NaN / -1."""
