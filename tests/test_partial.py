"""Files that end part-way through a page, a frame or a volume: normal for a recording that is
still being written, or that was stopped or crashed, so they open and serve every complete time
point.

Two writers append a finished synthetic acquisition to a new file, half a page at a time:
- ``prefix``: the file is a growing prefix of the finished file. Each IFD's next-IFD pointer
  already points at the page that is not written yet (a writer that reserves space ahead).
- ``patch``: each new page is written with a next-IFD pointer of 0, and the previous page's
  pointer is patched to it only once the new page is complete, as tifffile and libtiff append
  pages.

After every write the file is opened afresh and a stack opened at the start is refreshed; both
must serve exactly the complete volumes written so far, each plane equal to the finished file
read by tifffile (single-ROI) and to the synthetic ground truth (every layout).
"""

from __future__ import annotations

import shutil
import struct
import warnings

import numpy as np
import pytest
import tifffile

import si_explorer
from si_explorer.errors import LayoutError, TruncatedFileWarning
from si_explorer.synthetic import Acquisition, write_acquisition


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "index-cache"))


CASES = {
    "1 channel": dict(channels=1, volumes=5),
    "2 channels": dict(channels=2, volumes=4),
    "3 channels (Light Beads)": dict(channels=3, volumes=4, lbm=True),
    "3 colour channels": dict(channels=3, volumes=3, lbm=False),
    "30 beams (Light Beads)": dict(channels=30, volumes=3, lbm=True, height=16, width=16),
    "stack with flyback": dict(channels=2, slices=3, flyback=2, volumes=3),
    "multi-ROI": dict(channels=2, rois=((20, 24), (12, 24)), volumes=4),
}


def finished(tmp_path, **fields):
    fields.setdefault("height", 24)
    fields.setdefault("width", 20)
    return write_acquisition(tmp_path / "done" / "rec_00001_00001.tif", Acquisition(**fields))


def pages_per_volume(acq: Acquisition) -> int:
    return (acq.slices + acq.flyback) * acq.frames_per_slice * acq.channels


def next_pointer_at(data: bytes, ifd: int) -> tuple[int, str]:
    """Where an IFD's next-IFD pointer sits, and its struct format (BigTIFF or classic)."""
    if data[2:4] == b"+\x00":  # BigTIFF, little-endian (ScanImage 2016+)
        (count,) = struct.unpack_from("<Q", data, ifd)
        return ifd + 8 + count * 20, "<Q"
    (count,) = struct.unpack_from("<H", data, ifd)
    return ifd + 2 + count * 12, "<I"


class Writer:
    """Writes the finished file's bytes into ``path`` the way an acquiring program does."""

    def __init__(self, files, path, mode: str):
        self.data = files.paths[0].read_bytes()
        self.ifds = [int(o) for o in files.ifd_offsets[0]]
        self.path = path
        self.mode = mode
        path.parent.mkdir(parents=True, exist_ok=True)
        # The header, the first IFD's position and everything before page 0.
        path.write_bytes(self.data[: self.ifds[0]])

    def page_span(self, k: int) -> tuple[int, int]:
        end = self.ifds[k + 1] if k + 1 < len(self.ifds) else len(self.data)
        return self.ifds[k], end

    def write_page(self, k: int):
        """Write page k in two halves; yield after each write (and after the patch)."""
        start, end = self.page_span(k)
        page = bytearray(self.data[start:end])
        if self.mode == "patch":
            where, fmt = next_pointer_at(self.data, start)
            struct.pack_into(fmt, page, where - start, 0)
        middle = len(page) // 2
        with open(self.path, "r+b", buffering=0) as handle:
            handle.seek(start)
            handle.write(page[:middle])
            yield "half"
            handle.write(page[middle:])
            if self.mode == "patch" and k > 0:
                yield "unlinked"  # complete, but the previous page does not point to it yet
                where, fmt = next_pointer_at(self.data, self.ifds[k - 1])
                handle.seek(where)
                handle.write(struct.pack(fmt, start))
            yield "page"


def check_stack(stack, files, reference, volumes: int) -> None:
    """``stack`` serves exactly ``volumes`` volumes, each plane equal to the finished file."""
    acq = files.acquisition
    frames = volumes * (acq.frames_per_slice // acq.log_average_factor)
    assert stack.shape[1] == frames, (stack.shape, volumes)
    n_fields, _, n_z = stack.shape[:3]
    for t in range(frames):
        for z in range(n_z):
            for f in range(n_fields):
                np.testing.assert_array_equal(stack[f, t, z], files.expected(f, t, z))
            if reference is not None:
                np.testing.assert_array_equal(stack[0, t, z], reference[files.page_number(t, z)])
    if frames:
        everything = stack.data.compute()
        np.testing.assert_array_equal(everything[:, -1], stack[:, frames - 1])


def open_quietly(path, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack = si_explorer.open(path, **options)
    return stack, [str(w.message) for w in caught if issubclass(w.category, TruncatedFileWarning)]


@pytest.mark.parametrize("mode", ["prefix", "patch"])
@pytest.mark.parametrize("case", list(CASES))
def test_appending_half_a_page_at_a_time(tmp_path, case, mode):
    files = finished(tmp_path, **CASES[case])
    acq = files.acquisition
    per_volume = pages_per_volume(acq)
    reference = None if acq.rois else tifffile.imread(files.paths[0])
    reference = None if reference is None else reference.reshape(-1, *files.page_shape)
    writer = Writer(files, tmp_path / "live" / "rec_00001_00001.tif", mode)
    followed = None
    checked = 0
    for k in range(files.n_pages):
        for state in writer.write_page(k):
            reachable = k + (state == "page")  # complete pages the IFD chain reaches
            if reachable == 0:
                continue  # page 0 is not complete: nothing to describe the pages yet
            stack, notes = open_quietly(writer.path, lbm=acq.lbm)
            volumes = reachable // per_volume
            check_stack(stack, files, reference, volumes)
            left = reachable % per_volume
            if left or state != "page":
                assert notes and str(writer.path) in notes[0], (state, notes)
                if left:
                    assert f"{left:,} page" in notes[0], notes
                if state == "half" and mode == "prefix":
                    # (In "patch" mode no IFD points at the half page yet: it is not in the
                    # TIFF at all, so there is nothing to report.)
                    assert "half-written page" in notes[0], notes
                if volumes == 0:
                    assert "no volume is complete yet" in notes[0], notes
            if followed is None:
                followed = stack
            else:
                before = followed.shape[1]
                added = followed.refresh()
                assert added == stack.shape[1] - before
                check_stack(followed, files, reference, volumes)
            checked += 1
    assert followed.shape == files.shape
    assert checked >= 2 * files.n_pages - 1


@pytest.mark.parametrize("case", ["2 channels", "30 beams (Light Beads)", "stack with flyback"])
def test_cut_at_every_page_boundary_of_a_volume(tmp_path, case):
    """Cut after each page of the second volume: 1 complete volume, then the pages left out
    are named (a frame or volume in progress); a cut at the volume's end serves both."""
    files = finished(tmp_path, **CASES[case])
    acq = files.acquisition
    per_volume = pages_per_volume(acq)
    data = files.paths[0].read_bytes()
    ifds = [int(o) for o in files.ifd_offsets[0]] + [len(data)]
    for pages in range(per_volume, 2 * per_volume + 1):
        cut = tmp_path / f"cut{pages}_00001_00001.tif"
        cut.write_bytes(data[: ifds[pages]])
        stack, notes = open_quietly(cut, lbm=acq.lbm)
        check_stack(stack, files, None, pages // per_volume)
        left = pages - per_volume
        if 0 < left < per_volume:
            why = notes[0]
            assert f"{left:,} page" in why and str(cut) in why, why
            frames, rest = divmod(left, acq.channels)
            assert ("incomplete volume" in why) == bool(frames), why
            assert ("incomplete frame" in why) == bool(rest), why
        cut.unlink()


def test_no_complete_volume_yet_opens_with_zero_time_points(tmp_path):
    files = finished(tmp_path, **CASES["30 beams (Light Beads)"])
    data = files.paths[0].read_bytes()
    cut = tmp_path / "early_00001_00001.tif"
    cut.write_bytes(data[: int(files.ifd_offsets[0][29])])  # 29 of 30 beams of the first frame
    stack, notes = open_quietly(cut)
    assert stack.shape == (1, 0, 30, 16, 16)
    assert stack.data.shape == (1, 0, 30, 16, 16) and stack.data.sum().compute() == 0
    assert stack.timeseries(3, 4, z=2).shape == (0,)
    assert "29 pages after the last complete time point: an incomplete frame (29 of 30" in notes[0]
    assert "no volume is complete yet" in notes[0]
    cut.write_bytes(data[: int(files.ifd_offsets[0][30])])
    assert stack.refresh() == 1
    np.testing.assert_array_equal(stack[0, 0, 29], files.expected(0, 0, 29))


def test_info_reports_what_was_left_out(tmp_path, capsys):
    from si_explorer import cli

    files = finished(tmp_path, **CASES["2 channels"])
    data = files.paths[0].read_bytes()
    cut = tmp_path / "cut_00001_00001.tif"
    cut.write_bytes(data[: int(files.ifd_offsets[0][5]) + 100])  # 5 pages and part of a 6th
    assert cli.main(["info", str(cut)]) == 0
    out = capsys.readouterr().out
    assert "1 page after the last complete time point: an incomplete frame (1 of 2 pages)" in out
    assert "half-written page" in out and "2 complete time points served" in out
    assert cli.main(["info", "--json", str(cut)]) == 0
    assert "incomplete frame" in capsys.readouterr().out


def split_acquisition(tmp_path):
    return write_acquisition(
        tmp_path / "split" / "rec_00001_00001.tif",
        Acquisition(channels=2, volumes=6, frames_per_file=2, height=16, width=16),
    )


def test_multi_file_last_file_partial(tmp_path):
    files = split_acquisition(tmp_path)
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in files.paths[:-1]:
        shutil.copy(path, folder / path.name)
    last = files.paths[-1]
    data = last.read_bytes()
    (folder / last.name).write_bytes(data[: int(files.ifd_offsets[-1][1]) + 50])
    stack, notes = open_quietly(str(folder / "rec_*.tif"))
    assert stack.shape[1] == 4 * 2 // 2 + 0  # 2 complete files of 2 frames; none in the last
    assert str(folder / last.name) in notes[0] and "incomplete frame (1 of 2 pages)" in notes[0]
    for t in range(stack.shape[1]):
        np.testing.assert_array_equal(stack[0, t, 0], files.expected(0, t, 0))


@pytest.mark.parametrize("cut_pages", [1, 2, 3])
def test_multi_file_earlier_short_file_is_an_error_naming_it(tmp_path, cut_pages):
    files = split_acquisition(tmp_path)
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in files.paths:
        shutil.copy(path, folder / path.name)
    middle = folder / files.paths[1].name
    data = files.paths[1].read_bytes()
    middle.write_bytes(data[: int(files.ifd_offsets[1][cut_pages])])
    with pytest.raises(LayoutError) as info:
        si_explorer.open(str(folder / "rec_*.tif"))
    message = str(info.value)
    assert message.startswith(str(middle)) and "not the last file" in message, message
