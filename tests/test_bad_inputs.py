"""The catalogue of named bad inputs: each one, opened through ``si_explorer.open`` and through
``si-explorer info``, gives its own specific error (naming the file and the problem) or a
documented partial result, within a bounded time.

Every case is built from a small synthetic ScanImage acquisition by editing a copy of its
bytes, so the expected outcome is known exactly.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import si_explorer
from si_explorer import Layout, Roi
from si_explorer.cli import main as cli_main
from si_explorer.errors import (
    CorruptTiffError,
    LayoutError,
    MetadataError,
    NotATiffError,
    SIExplorerError,
    SourceNotFoundError,
    TruncatedFileError,
    TruncatedFileWarning,
)

#: No bad input may take longer than this to be refused (the real work is a few small reads).
OPEN_LIMIT_S = 10.0

SMALL = {"height": 16, "width": 16, "volumes": 6, "slices": 2}
SPLIT = {"height": 16, "width": 16, "volumes": 6, "frames_per_file": 2}
# BigTIFF IFD of the synthetic writer: 8-byte count, 18 entries of 20 bytes, 8-byte next pointer.
NEXT_POINTER_AT = 8 + 18 * 20


def bounded(function, seconds: float = OPEN_LIMIT_S):
    """``function()``'s result (or exception), failing the test if it runs longer than
    ``seconds``: a hang must show up as a failure, not as a CI job that never ends."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the test thread below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (a hang)"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def open_and_read(source, **options):
    """Open, read one plane and the whole dask array, close: the whole path a user takes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with si_explorer.open(source, **options) as stack:
            plane = stack[0, 0, 0]
            everything = np.asarray(stack.data.compute(scheduler="synchronous"))
    return stack, plane, everything, [w for w in caught if w.category is TruncatedFileWarning]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "index-cache"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("small")
    return write_acquisition(folder / "rec_00001_00001.tif", Acquisition(**SMALL))


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder = tmp_path_factory.mktemp("split")
    return write_acquisition(folder / "rec_00001_00001.tif", Acquisition(**SPLIT))


def edited(small, tmp_path, name, edit):
    """A copy of the small acquisition's file, with ``edit(bytearray)`` applied."""
    data = bytearray(small.paths[0].read_bytes())
    data = edit(data) or data
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def replace_once(old: bytes, new: bytes):
    """An edit replacing ``old`` by ``new`` of the same length: every offset stays valid."""
    assert len(old) == len(new)

    def edit(data):
        assert data.count(old) == 1, old
        start = data.find(old)
        data[start : start + len(old)] = new

    return edit


def set_next_pointer(page: int, value_of):
    def edit(data):
        ifd = _ifd_offsets(data)[page]
        data[ifd + NEXT_POINTER_AT : ifd + NEXT_POINTER_AT + 8] = struct.pack("<Q", value_of(data))

    return edit


def _ifd_offsets(data) -> list[int]:
    offsets, offset = [], struct.unpack_from("<Q", data, 8)[0]
    while offset:
        offsets.append(offset)
        offset = struct.unpack_from("<Q", data, offset + NEXT_POINTER_AT)[0]
    return offsets


# --- the catalogue: (name, builder, exception, what the message must say) ---------------------
# A builder gets (small, split, tmp_path) and returns what to pass to si_explorer.open (plus
# keyword options); the message must name the file the builder marks as the culprit.


def _empty(small, split, tmp_path):
    path = tmp_path / "empty.tif"
    path.write_bytes(b"")
    return path, path, {}


def _not_a_tiff(small, split, tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("Mouse 3, session 2: laser at 920 nm\n")
    return path, path, {}


def _directory(small, split, tmp_path):
    folder = tmp_path / "recordings.tif"
    folder.mkdir()
    return folder, folder, {}


def _missing(small, split, tmp_path):
    path = tmp_path / "never_written_00001.tif"
    return path, path, {}


def _through_a_file(small, split, tmp_path):
    # A path that treats a file as a folder (ENOTDIR), as a mistyped path can.
    path = tmp_path / "plain.tif"
    shutil.copy(small.paths[0], path)
    return path / "inner.tif", path / "inner.tif", {}


def _fifo(small, split, tmp_path):
    # Opening a FIFO for reading blocks until a writer appears: it must be refused, not hang.
    path = tmp_path / "pipe.tif"
    os.mkfifo(path)
    return path, path, {}


def _truncated_in_first_ifd(small, split, tmp_path):
    first = int(small.ifd_offsets[0][0])
    path = edited(small, tmp_path, "cut_ifd.tif", lambda d: d[: first + 100])
    return path, path, {}


def _truncated_in_first_pixels(small, split, tmp_path):
    first = int(small.ifd_offsets[0][1]) - 200  # inside page 0's pixels
    path = edited(small, tmp_path, "cut_pixels.tif", lambda d: d[:first])
    return path, path, {}


def _ifd_loop(small, split, tmp_path):
    path = edited(small, tmp_path, "loop.tif", set_next_pointer(-1, lambda d: _ifd_offsets(d)[1]))
    return path, path, {}


def _next_ifd_past_end(small, split, tmp_path):
    path = edited(small, tmp_path, "past_end.tif", set_next_pointer(-1, lambda d: 10 * len(d)))
    return path, path, {}


def _strip_offset_past_end(small, split, tmp_path):
    def edit(data):
        # StripOffsets (273) of the last page: an inline LONG8 pointing far past the end.
        ifd = _ifd_offsets(data)[-1]
        for i in range(18):
            entry = ifd + 8 + 20 * i
            if struct.unpack_from("<H", data, entry)[0] == 273:
                struct.pack_into("<Q", data, entry + 12, 10 * len(data))
                return
        raise AssertionError("no StripOffsets tag")

    path = edited(small, tmp_path, "strip_past_end.tif", edit)
    return path, path, {}


def _header_offset_past_end(small, split, tmp_path):
    path = edited(
        small, tmp_path, "header_past_end.tif", lambda d: struct.pack_into("<Q", d, 8, 10 * len(d))
    )
    return path, path, {}


def _matlab_in_needed_key(small, split, tmp_path):
    edit = replace_once(
        b"SI.hStackManager.actualNumSlices = 2", b"SI.hStackManager.actualNumSlices = ["
    )
    path = edited(small, tmp_path, "bad_matlab.tif", edit)
    return path, path, {}


def _roi_json_invalid(small, split, tmp_path):
    def edit(data):
        replace_once(b'{\n  "RoiGroups"', b"{\n  'RoiGroups'")(data)
        replace_once(b"SI.hRoiManager.mroiEnable = false", b"SI.hRoiManager.mroiEnable = true ")(
            data
        )

    path = edited(small, tmp_path, "bad_json.tif", edit)
    return path, path, {}


def _layout_wrong_frames(small, split, tmp_path):
    return small.paths[0], small.paths[0], {"layout": Layout(frames=99, planes=2)}


def _layout_wrong_planes(small, split, tmp_path):
    return small.paths[0], small.paths[0], {"layout": Layout(planes=5)}


def _layout_roi_outside(small, split, tmp_path):
    return small.paths[0], small.paths[0], {"layout": Layout(rois=(Roi(0, 40, 16),), planes=2)}


def _copy_split(split, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    for path in split.paths:
        shutil.copy(path, folder / path.name)
    return folder, [folder / p.name for p in split.paths]


def _missing_middle_file(small, split, tmp_path):
    folder, paths = _copy_split(split, tmp_path)
    paths[1].unlink()
    return str(folder / "rec_*.tif"), paths[2], {}


def _missing_middle_file_listed(small, split, tmp_path):
    folder, paths = _copy_split(split, tmp_path)
    paths[1].unlink()
    return paths, paths[1], {}


def _middle_file_other_shape(small, split, tmp_path):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder, paths = _copy_split(split, tmp_path)
    wide = write_acquisition(
        tmp_path / "w" / "x_00001_00001.tif", Acquisition(**{**SPLIT, "width": 24})
    )
    shutil.copy(wide.paths[1], paths[1])
    return str(folder / "rec_*.tif"), paths[1], {}


def _middle_file_other_dtype(small, split, tmp_path):
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder, paths = _copy_split(split, tmp_path)
    # Same byte size, so the page count predicted from the size agrees: only the IFD tells.
    unsigned = write_acquisition(
        tmp_path / "u" / "x_00001_00001.tif", Acquisition(**SPLIT, dtype="uint16")
    )
    assert unsigned.paths[1].stat().st_size == paths[1].stat().st_size
    shutil.copy(unsigned.paths[1], paths[1])
    return str(folder / "rec_*.tif"), paths[1], {}


def _middle_file_truncated(small, split, tmp_path):
    folder, paths = _copy_split(split, tmp_path)
    paths[1].write_bytes(paths[1].read_bytes()[:-100])
    return str(folder / "rec_*.tif"), paths[1], {}


CATALOGUE = [
    ("empty file", _empty, NotATiffError, "empty"),
    ("not a TIFF", _not_a_tiff, NotATiffError, "not a TIFF"),
    ("a directory", _directory, NotATiffError, "directory"),
    ("a missing file", _missing, SourceNotFoundError, "no such file"),
    ("a path through a file", _through_a_file, SourceNotFoundError, "no such file"),
    ("a FIFO", _fifo, NotATiffError, "not a regular file"),
    ("truncated mid-IFD", _truncated_in_first_ifd, TruncatedFileError, "before the end of its"),
    ("truncated mid-pixels", _truncated_in_first_pixels, TruncatedFileError, "inside its first"),
    ("IFD loop", _ifd_loop, CorruptTiffError, "loops"),
    ("next IFD past the end", _next_ifd_past_end, CorruptTiffError, "far past the end"),
    ("strip offset past the end", _strip_offset_past_end, CorruptTiffError, "past the end"),
    ("first IFD past the end", _header_offset_past_end, TruncatedFileError, "first IFD"),
    ("FrameData not MATLAB", _matlab_in_needed_key, MetadataError, "actualNumSlices"),
    ("ROI JSON not JSON", _roi_json_invalid, MetadataError, "ROI-group JSON is invalid"),
    ("layout: too many frames", _layout_wrong_frames, LayoutError, "needs 198 pages"),
    ("layout: planes do not divide", _layout_wrong_planes, LayoutError, "whole number"),
    ("layout: ROI outside the page", _layout_roi_outside, LayoutError, "outside the 16x16"),
    ("multi-file: middle file missing", _missing_middle_file, SourceNotFoundError, "missing"),
    (
        "multi-file: listed file missing",
        _missing_middle_file_listed,
        SourceNotFoundError,
        "no such",
    ),
    ("multi-file: middle file shape", _middle_file_other_shape, LayoutError, "16x24"),
    ("multi-file: middle file dtype", _middle_file_other_dtype, LayoutError, "uint16"),
    ("multi-file: middle file cut", _middle_file_truncated, LayoutError, "not the last file"),
]


@pytest.mark.parametrize(
    "builder, error, says", [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bad_input_raises_its_specific_error(small, split, tmp_path, builder, error, says):
    source, culprit, options = builder(small, split, tmp_path)
    with pytest.raises(error) as caught:
        bounded(lambda: open_and_read(source, **options))
    assert isinstance(caught.value, SIExplorerError)
    message = str(caught.value)
    assert str(culprit) in message, message
    assert says in message, message
    # One line a notebook shows in full: no traceback text, no repr of internals.
    assert "\n" not in message and "Traceback" not in message


# The CLI takes paths and globs, not Python lists: the listed-files case is the glob case there.
CLI_CASES = [c for c in CATALOGUE if not c[0].startswith(("layout", "multi-file: listed"))]


@pytest.mark.parametrize("builder", [c[1] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_info_reports_one_line_and_fails(small, split, tmp_path, builder, capsys):
    source, culprit, _ = builder(small, split, tmp_path)
    code = bounded(lambda: cli_main(["info", str(source)]))
    out, err = capsys.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("si-explorer: "), err
    assert str(culprit) in lines[0], err
    assert out == ""


def _cannot_drop_permissions() -> str | None:
    if os.geteuid() != 0:
        return None
    if shutil.which("setpriv") is None:
        return "runs as root and setpriv is missing: root reads a mode-000 file regardless"
    return None


@pytest.mark.skipif(_cannot_drop_permissions() is not None, reason=str(_cannot_drop_permissions()))
def test_permission_denied(small, tmp_path):
    path = tmp_path / "locked.tif"
    shutil.copy(small.paths[0], path)
    path.chmod(0)
    script = (
        "import sys, si_explorer\n"
        "try:\n"
        "    si_explorer.open(sys.argv[1])\n"
        "except si_explorer.SIExplorerError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
        "    sys.exit(0)\n"
        "sys.exit('opened a file it may not read')\n"
    )
    command = [sys.executable, "-c", script, str(path)]
    if os.geteuid() == 0:
        # Root bypasses file modes through CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH; a child
        # without them meets the mode-000 file as any user would.
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        rf"SIExplorerError {re.escape(str(path))}: cannot open: Permission denied\n", done.stdout
    ), done.stdout


# --- documented partial results -----------------------------------------------------------------


@pytest.mark.parametrize("inside", ["ifd", "pixels"])
def test_truncated_later_page_serves_the_complete_volumes(small, tmp_path, inside):
    """A file cut inside page 5 (of 12; volumes of 2 planes): the 2 complete volumes before
    it are served exactly, with a warning that names the file, and nothing past them."""
    ifd5 = int(small.ifd_offsets[0][5])
    cut = ifd5 + (100 if inside == "ifd" else 1000)
    path = edited(small, tmp_path, f"cut_{inside}.tif", lambda d: d[:cut])
    stack, plane, everything, caught = bounded(lambda: open_and_read(path))
    assert stack.shape == (1, 2, 2, 16, 16)
    messages = [str(w.message) for w in caught]
    assert any(
        str(path) in m
        and "1 page after the last complete time point: an incomplete volume (1 of 2" in m
        and "ends inside a page" in m
        and "2 complete time points served" in m
        for m in messages
    ), messages
    for t in range(2):
        for z in range(2):
            np.testing.assert_array_equal(everything[0, t, z], small.expected(0, t, z))


def test_roi_json_invalid_without_mroi_is_not_needed(small, tmp_path):
    """With mroiEnable false the ROI JSON is never parsed (lazily), so a broken one does not
    stop the file from opening; asking for it raises the specific error."""
    path = edited(
        small, tmp_path, "json.tif", replace_once(b'{\n  "RoiGroups"', b"{\n  'RoiGroups'")
    )
    stack, _, everything, _ = bounded(lambda: open_and_read(path))
    np.testing.assert_array_equal(everything[0, 3, 1], small.expected(0, 3, 1))
    with pytest.raises(MetadataError, match="ROI-group JSON is invalid"):
        _ = stack.metadata.roi_groups


def test_middle_file_with_another_page_count_is_served_as_written(split, tmp_path):
    """A middle file from another acquisition with the same page format but more pages is not
    detectable from the pages alone (a numbered series of plain TIFFs may have files of any
    length): its pages are served in file order, and the stack is longer. Documented here so
    that a change of this behaviour is deliberate."""
    from si_explorer.synthetic import Acquisition, write_acquisition

    folder, paths = _copy_split(split, tmp_path)
    longer = write_acquisition(
        tmp_path / "l" / "x_00001_00001.tif", Acquisition(**{**SPLIT, "frames_per_file": 3})
    )
    shutil.copy(longer.paths[0], paths[1])
    stack, _, everything, _ = bounded(lambda: open_and_read(str(folder / "rec_*.tif")))
    assert stack.shape[1] == 2 + 3 + 2
    np.testing.assert_array_equal(everything[0, 2, 0], longer.expected(0, 0, 0))
    np.testing.assert_array_equal(everything[0, 5, 0], split.expected(0, 4, 0))
