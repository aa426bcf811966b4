"""``si_explorer.open``: from paths to a :class:`~si_explorer.stack.Stack`, in four steps.

1. Resolve the files of an acquisition (a path, a glob, a list; numbered files consecutive).
2. Index them (``_index_files``): the first file's page index (predicted and verified stride,
   or a walk); the other files' page counts predicted from their sizes where that is exact.
3. Resolve the layout (``_resolve_layout``): stated by the user, from the ScanImage metadata,
   or from tifffile's axes for other TIFFs; what a stopped or still-written recording leaves
   out is named in a warning.
4. Build the plane source and the stack (``_paged_stack``), or fall back to tifffile's series
   reader for TIFFs whose pages are not uniform.
"""

from __future__ import annotations

import glob
import os
import re
import warnings
from types import SimpleNamespace

from .acquisition import StackMetadata
from .errors import (
    CorruptTiffError,
    LayoutError,
    NotATiffError,
    SIExplorerError,
    SourceNotFoundError,
    TruncatedFileWarning,
    tifffile_errors,
)
from .read.planes import PagedPlanes, SeriesPlanes, SourceFile
from .scanimage.layout import Layout, layout_for_pages, layout_from_metadata, plural
from .scanimage.metadata import read_metadata
from .stack import Stack, checked_channel
from .tiff import ByteSource, NonUniformPagesError, PageIndex, build_index, read_first_page
from .tiff.source import is_url, open_source, source_size

_FILE_NUMBER = re.compile(r"^(?P<stem>.*?)(?P<number>\d+)(?P<ext>\.tiff?)$", re.IGNORECASE)


def resolve_sources(source, storage_options: dict | None = None) -> list[str]:
    """The files of an acquisition, in acquisition order.

    ``source`` is a path, a glob, or a list of paths; any of them may be a URL
    (``https://``, ``s3://``, any fsspec protocol; globs expand through fsspec with
    ``storage_options``). Files named ``..._00001.tif``, ``..._00002.tif`` ... must be
    consecutive: a gap would silently shift time.
    """
    if isinstance(source, str) and is_url(source):
        paths = _resolve_urls([source], storage_options)
    elif not isinstance(source, (str, os.PathLike)) and any(is_url(p) for p in source):
        paths = _resolve_urls(list(source), storage_options)
    elif isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if os.path.isdir(text):
            raise NotATiffError(
                text, "is a directory; pass a file, a list of files or a glob such as 'dir/*.tif'"
            )
        if os.path.exists(text):
            paths = [text]
        elif glob.has_magic(text):
            paths = sorted(glob.glob(text), key=_natural_key)
            if not paths:
                raise SourceNotFoundError(text, "no file matches this pattern")
        else:
            raise SourceNotFoundError(text, "no such file")
    else:
        paths = [os.fspath(p) for p in source]
        if not paths:
            raise SourceNotFoundError(None, "an empty list of files was given")
        for path in paths:
            if not os.path.exists(path):
                raise SourceNotFoundError(path, "no such file")
            if os.path.isdir(path):
                raise NotATiffError(path, "is a directory, not a TIFF file")
    _check_sequence(paths)
    return paths


def _resolve_urls(urls: list, storage_options: dict | None) -> list[str]:
    """URLs checked to exist (and globs expanded) through fsspec, as full URLs."""
    import fsspec

    paths = []
    for url in urls:
        if not isinstance(url, str) or not is_url(url):
            raise SourceNotFoundError(
                os.fspath(url), "a list of files must be all URLs or all local paths"
            )
        protocol = url.split("://", 1)[0]
        try:
            fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
            if glob.has_magic(path) and protocol not in ("http", "https"):
                found = sorted(fs.glob(path), key=_natural_key)
                if not found:
                    raise SourceNotFoundError(url, "no object matches this pattern")
                paths.extend(fs.unstrip_protocol(p) for p in found)
                continue
            if glob.has_magic(url) and protocol in ("http", "https"):
                # fsspec's HTTP glob reads the links of the directory's index page.
                found = sorted(fs.glob(url), key=_natural_key)
                if not found:
                    raise SourceNotFoundError(url, "no file matches this pattern")
                paths.extend(found)
                continue
        except SIExplorerError:
            raise
        except ImportError as exc:
            raise SIExplorerError(
                url, f"{exc}; install the remote extra: pip install si-explorer[remote]"
            ) from None
        except Exception as exc:
            raise SIExplorerError(url, f"cannot list: {type(exc).__name__}: {exc}") from None
        paths.append(url)  # existence is checked by the open of its first bytes
    return paths


def _natural_key(path: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def _check_sequence(paths: list[str]) -> None:
    if len(paths) < 2:
        return
    matches = [_FILE_NUMBER.match(os.path.basename(p)) for p in paths]
    if not all(matches) or len({(m["stem"], m["ext"]) for m in matches}) != 1:
        return  # not a numbered series: the caller's order is the acquisition order
    numbers = [int(m["number"]) for m in matches]
    for previous, (path, number) in zip(numbers, list(zip(paths, numbers))[1:]):
        if number != previous + 1:
            missing = matches[0]["stem"] + str(previous + 1).zfill(len(matches[0]["number"]))
            raise SourceNotFoundError(
                path,
                f"the acquisition's files are not consecutive: {missing}{matches[0]['ext']} "
                "is missing before this one",
            )


def _predicted_pages(first: PageIndex, path: str, storage_options=None) -> int | None:
    """Page count of another file of the same acquisition from its size alone, when exact."""
    if first.stride is None:
        return None
    header = first.file_size - first.missing_bytes - first.n_pages * first.stride
    size = source_size(path, storage_options)
    pages, rest = divmod(size - header, first.stride)
    return int(pages) if rest == 0 and pages > 0 else None


def _check_earlier_files(files: list[SourceFile], pages_per_frame: int) -> None:
    """Only the last file of an acquisition may stop part-way.

    ScanImage closes a file after ``logFramesPerFile`` whole frames, so an earlier file that
    ends inside a frame, or holds fewer pages than the first file, lost pages (an interrupted
    copy, a failed disk): serving it would shift every later time point.
    """
    first = files[0].expected_pages
    for source in files[:-1]:
        pages = source.expected_pages
        if pages % pages_per_frame or pages < first:
            why = (
                f"not whole frames of {pages_per_frame} pages"
                if pages % pages_per_frame
                else f"fewer than the {first:,} of the acquisition's first file"
            )
            raise LayoutError(
                source.path,
                f"holds {pages:,} pages, {why}, but it is not the last file of the "
                "acquisition: it is incomplete (only the last file may stop part-way)",
            )


def _partial_notes(last: SourceFile, layout: Layout, n_pages: int, scanimage) -> list[str]:
    """What a stopped or still-running acquisition leaves out, and why, in words."""
    per_frame = scanimage.structure.channels if scanimage is not None else None
    reasons = []
    leftover = layout.leftover_reason(n_pages, per_frame)
    if leftover:
        reasons.append(leftover)
    if last.indexed and last.index.missing_bytes:
        reasons.append(
            f"the file ends inside a page ({last.index.missing_bytes:,} bytes of a half-written "
            f"page after {last.index.n_pages:,} complete pages)"
        )
    notes = []
    if reasons:
        served = (
            f"{plural(layout.frames, 'complete time point')} served"
            if layout.frames
            else "no volume is complete yet, so the stack has 0 time points"
        )
        notes.append(f"{last.path}: left out: {'; '.join(reasons)}. {served}")
    promised = scanimage.structure.promised_frames if scanimage is not None else None
    if promised and per_frame and n_pages < promised * per_frame:
        notes.append(
            f"{last.path}: the header describes an acquisition of {plural(promised, 'frame')} "
            f"({promised * per_frame:,} pages), but the file(s) hold "
            f"{plural(n_pages, 'page')}: the acquisition was stopped early, is still being "
            "written, or this is an excerpt (rates come from the header)"
        )
    return notes


def open(  # noqa: A001 - the package's entry point mirrors the builtin on purpose
    source,
    *,
    channel: int = 0,
    lbm: bool | None = None,
    layout: Layout | None = None,
    chunks="page",
    backend: str = "auto",
    mosaic: bool = False,
    progress: bool | None = None,
    bidi=None,
    storage_options: dict | None = None,
) -> Stack:
    """Open a ScanImage acquisition (or any TIFF) as a lazy ``(field, time, z, y, x)`` stack.

    Parameters
    ----------
    source : str, os.PathLike, or a list of them
        One file, a glob, or the files of one acquisition (``..._00001.tif``,
        ``..._00002.tif``), concatenated along time. A URL (``https://``, ``s3://``, any
        fsspec protocol) is read by ranged requests through fsspec; a glob of URLs expands
        through fsspec.
    channel : int
        Index into the saved channels (``stack.channels``) for colour channels.
    lbm : bool or None
        Light Beads Microscopy: saved channels are z planes. None detects it.
    layout : Layout or None
        State the layout and skip the metadata (checked against the page count).
    chunks : "page", "volume", "frames:k" or a tuple of 5 sizes
        The dask chunk scheme of ``stack.data``.
    backend : "auto", "pread", "mmap" or "tifffile"
    mosaic : bool
        Multi-ROI: one field with the ROIs placed at their scanfield centres.
    progress : bool or None
        Show progress bars for long work (None: only when it is long).
    bidi : None, "auto", "auto-x", a number, or an array of offsets per (field, z)
        Bidirectional scan-phase correction. None serves the raw pages bit for bit. "auto"
        estimates each (field, z)'s offset (to a few hundredths of a pixel) from the mean of a
        sample of frames; "auto-x" estimates one offset per column (resonant mirrors move
        sinusoidally, so it grows toward the line ends); a number uses that offset in pixels.
        Corrected pixels are float32; ``stack.bidi_offset`` says what was applied.
    storage_options : dict or None
        fsspec options of URL sources (credentials, ``endpoint_url``, ``headers``...), plus
        ``connect_timeout`` and ``read_timeout`` in seconds (10 and 30 by default).

    Returns
    -------
    Stack
        Lazy: no pixel is read until it is indexed. Every complete time point is served; what
        a file that ends part-way leaves out is named in a :class:`TruncatedFileWarning` and
        kept in ``stack.warnings``.

    Raises
    ------
    SourceNotFoundError
        No such file, no file matches the glob, or the numbered files are not consecutive.
    NotATiffError
        A directory, an empty file, or not a TIFF.
    CorruptTiffError
        A broken TIFF structure.
    TruncatedFileError
        The file ends before its first complete page.
    LayoutError
        A stated layout does not fit the file, or a file before the last one is incomplete.
    MetadataError
        The ScanImage metadata is unreadable or contradicts the file.
    SIExplorerError
        Any other problem with the source or an argument (a missing channel, an unusable
        backend, a URL without the remote extra).

    Examples
    --------
    >>> import si_explorer                                   # doctest: +SKIP
    >>> stack = si_explorer.open("rec_00001_00001.tif")      # doctest: +SKIP
    >>> stack.shape, stack.dims                              # doctest: +SKIP
    >>> stack = si_explorer.open("rec_00001_*.tif", chunks="volume", bidi="auto")  # doctest: +SKIP
    >>> stack = si_explorer.open("https://example.org/rec.tif")  # doctest: +SKIP
    """
    stack = _open(source, channel, lbm, layout, chunks, backend, mosaic, progress, storage_options)
    return stack if bidi is None else stack.with_options(bidi=bidi)


def _open(source, channel, lbm, layout, chunks, backend, mosaic, progress, options=None) -> Stack:
    paths = resolve_sources(source, options)
    try:
        files = _index_files(paths, progress, options)
    except NonUniformPagesError as exc:
        if is_url(paths[0]):
            raise _needs_series_reader(
                paths[0], f"its pages differ ({exc.problem})", uniform=False
            ) from None
        return _open_series(paths, channel, layout, chunks, backend)
    scanimage = read_metadata(
        paths[0], files[0].reader.read_bytes, first_description=_first_description(files[0])
    )
    resolved = _resolve_layout(files, scanimage, layout, lbm)
    if resolved is None:
        return _open_series(paths, channel, layout, chunks, backend)
    n_pages = sum(f.expected_pages for f in files)
    notes = _partial_notes(files[-1], resolved, n_pages, scanimage if layout is None else None)
    for note in notes:
        warnings.warn(note, TruncatedFileWarning, stacklevel=3)
    return _paged_stack(files, resolved, scanimage, channel, chunks, backend, mosaic, notes)


def _index_files(paths: list[str], progress, options=None) -> list[SourceFile]:
    """The first file indexed; the others predicted from their sizes where that is exact
    (indexed when first read), else indexed now. Only the last may end inside a page.

    A local path is indexed by path (today's descriptor and memory map); a URL through one
    remote source that its reader then keeps (the metadata reads hit its cached blocks)."""
    first, source = _index_one(paths[0], progress, options)
    files = [SourceFile(paths[0], first.n_pages, first, options, source)]
    for path in paths[1:]:
        predicted = _predicted_pages(first, path, options)
        if predicted is None:
            index, source = _index_one(path, progress, options)
            _check_same_pages(first, index)
            files.append(SourceFile(path, index.n_pages, index, options, source))
        else:
            _check_first_page(first, path, options)
            files.append(SourceFile(path, predicted, None, options))
    for f in files[:-1]:
        if f.indexed and f.index.missing_bytes:
            raise LayoutError(
                f.path, "ends inside a page but is not the last file of the acquisition"
            )
    return files


def _index_one(path: str, progress, options) -> tuple[PageIndex, ByteSource | None]:
    if not is_url(path):
        return build_index(path, progress=progress), None
    source, _ = open_source(path, options)
    return build_index(source, progress=progress), source


def _resolve_layout(
    files: list[SourceFile], scanimage, layout: Layout | None, lbm
) -> Layout | None:
    """The layout stated by the user (checked), or from the ScanImage metadata, or from
    tifffile's series for other TIFFs; None when only tifffile's series reader fits."""
    path, n_pages = files[0].path, sum(f.expected_pages for f in files)
    page_shape = files[0].index.shape
    if layout is not None:
        if not isinstance(layout, Layout):
            raise LayoutError(
                path, f"layout must be a si_explorer.Layout, not {type(layout).__name__}"
            )
        resolved = layout.check(n_pages, page_shape, path)
        return resolved.with_frames(n_pages) if resolved.frames is None else resolved
    if scanimage is not None:
        _check_earlier_files(files, scanimage.structure.channels)
        return layout_from_metadata(scanimage, n_pages, page_shape, lbm=lbm, path=path)
    if is_url(path):
        return _remote_layout(files[0], n_pages, page_shape)
    return _tifffile_call(path, _layout_from_tifffile, path, n_pages, page_shape)


def _remote_layout(first: SourceFile, n_pages: int, page_shape) -> Layout:
    """What :func:`_layout_from_tifffile` gives a local copy, decided from the first page's
    description (already read) instead of tifffile's series, which over a network may read
    every IFD one request at a time. A TIFF that a local open would hand to tifffile's series
    reader (OME-XML, an ImageJ or tifffile description that does not cover the pages) is
    refused by :func:`_needs_series_reader` rather than served as pages in another order."""
    import json
    import math

    from tifffile.tifffile import imagej_description_metadata

    text = (_first_description(first) or b"").split(b"\0", 1)[0].decode("latin-1")
    if text.startswith(("ImageJ=", "SCIFIO=")):  # tifffile's TiffPage.imagej_description
        meta = imagej_description_metadata(text)
        sizes = [int(meta.get(k, 1)) for k in ("frames", "slices", "channels")]
        if sizes[0] * sizes[1] * sizes[2] != n_pages:
            raise _needs_series_reader(first.path, "its ImageJ axes do not match its pages")
        frames, planes, channels = sizes
        return Layout(
            frames=frames, planes=planes, channels=channels, order="tzc", page_shape=page_shape
        )
    if text[-10:].strip().endswith("OME>"):  # tifffile's TiffPage.is_ome
        raise _needs_series_reader(first.path, "it is an OME-TIFF")
    if text.startswith("{") and '"shape"' in text:
        # tifffile's own description: one per series, the first one's shape covers its pages;
        # more pages than that are another series (fewer: a file still being written).
        try:
            shape = json.loads(text)["shape"]
            pages = math.prod(int(n) for n in shape[:-2])
        except (ValueError, KeyError, TypeError):
            pages = n_pages
        if pages < n_pages:
            raise _needs_series_reader(first.path, "it holds more than one image series")
    return layout_for_pages(n_pages, page_shape)


def _needs_series_reader(url: str, why: str, uniform: bool = True) -> LayoutError:
    """The refusal of a URL that only tifffile's series reader could open; ``uniform``: its
    pages are uniform, so a stated layout would open it."""
    return LayoutError(
        url,
        f"{why}, so it needs tifffile's series reader, which si-explorer does not use over a "
        "network (it can read every page's IFD with a request of its own); download it (curl, "
        "aws s3 cp, fsspec's fs.get) and open the local copy"
        + (", or state its page order with layout=si_explorer.Layout(...)" if uniform else ""),
    )


def _paged_stack(files, layout, scanimage, channel, chunks, backend, mosaic, notes) -> Stack:
    channels = list(scanimage.channel_save) if scanimage is not None and not layout.lbm else None
    if not channels or len(channels) != layout.channels:
        channels = list(range(1, layout.channels + 1))
    planes = PagedPlanes(files, layout, 0, mosaic=mosaic)
    if channel:
        planes = planes.with_channel(checked_channel(channel, channels, files[0].path))
    metadata = StackMetadata(scanimage, planes) if scanimage is not None else None
    return Stack(
        planes,
        metadata=metadata,
        channels=channels,
        channel=channel,
        chunks=chunks,
        backend=backend,
        warnings=notes,
    )


def _first_description(source: SourceFile) -> bytes | None:
    index = source.index
    offset = index.item("desc_offsets", 0)
    if offset < 0:
        return None
    return source.reader.read_bytes(offset, index.item("desc_lengths", 0))


def _check_same_pages(first: PageIndex, other: PageIndex) -> None:
    if other.shape != first.shape or other.dtype != first.dtype:
        raise LayoutError(
            other.path,
            f"pages are {other.shape[0]}x{other.shape[1]} {other.dtype}, but the acquisition's "
            f"first file has {first.shape[0]}x{first.shape[1]} {first.dtype}",
        )


def _check_first_page(first: PageIndex, path: str, options=None) -> None:
    """Compare another file's first page with the first file's before trusting its size.

    A file of the same byte size but another dtype (or a swapped-in file from another
    acquisition) would otherwise be served with the first file's dtype until it is indexed;
    one IFD costs a few small reads, far less than indexing the file.
    """
    with open_source(path, options)[0] as source:
        page0 = read_first_page(source)
    if (page0.header.byteorder, page0.header.bigtiff) != (first.byteorder, first.bigtiff):
        raise LayoutError(path, "is not the same kind of TIFF as the acquisition's first file")
    fmt = page0.format
    _check_same_pages(first, SimpleNamespace(path=path, shape=fmt.shape, dtype=fmt.dtype))


def _tifffile_call(path: str, function, *args):
    with tifffile_errors(path):
        return function(*args)


def _check_series_chunks(path: str) -> None:
    """CorruptTiffError when page 0 lacks most of the strips or tiles its size needs.

    tifffile tolerates that (it logs an error) and its series then spans the declared size:
    a damaged 600-byte file declaring 13 million rows became a dask graph of 9 million
    chunks that took minutes to build.
    """
    import math

    import tifffile

    with tifffile.TiffFile(path, _multifile=False) as tif:
        page = tif.pages.first
        needed = math.prod(page.chunked)
        if len(page.dataoffsets) < needed:
            raise CorruptTiffError(
                path,
                f"page 0 has {len(page.dataoffsets):,} strips or tiles, but its size "
                f"{page.shape} needs {needed:,}",
            )


def _layout_from_tifffile(path: str, n_pages: int, page_shape) -> Layout | None:
    """Layout of a non-ScanImage TIFF with uniform pages, from tifffile's series axes.

    Returns None when the series is not a plain reordering of the pages (then tifffile's
    own series reader is used instead).
    """
    import tifffile

    with tifffile.TiffFile(path, _multifile=False) as tif:
        if tif.is_imagej and tif.imagej_metadata:
            meta = tif.imagej_metadata
            frames, planes, channels = (
                int(meta.get(k, 1)) for k in ("frames", "slices", "channels")
            )
            if frames * planes * channels == n_pages:
                return Layout(
                    frames=frames,
                    planes=planes,
                    channels=channels,
                    order="tzc",
                    page_shape=page_shape,
                )
            return None
        if tif.is_ome or len(tif.series) != 1:
            return None
    return layout_for_pages(n_pages, page_shape)


def _open_series(paths, channel, layout, chunks, backend) -> Stack:
    if is_url(paths[0]):
        raise _needs_series_reader(paths[0], "it is not a TIFF of uniform pages", uniform=False)
    if len(paths) > 1:
        raise LayoutError(
            paths[0], "only ScanImage acquisitions and uniform TIFFs can span several files"
        )
    if layout is not None:
        raise LayoutError(paths[0], "a stated layout needs uniform pages; this TIFF's pages differ")
    _tifffile_call(paths[0], _check_series_chunks, paths[0])
    planes = _tifffile_call(paths[0], SeriesPlanes, paths[0], channel)
    return Stack(
        planes,
        channels=list(range(1, planes.n_channels + 1)),
        channel=channel,
        chunks=chunks,
        backend=backend,
    )


__all__ = ["open", "resolve_sources"]
