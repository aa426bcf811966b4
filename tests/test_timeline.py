"""``stack.timeline()``: every frame header as data, checked against tifffile's own parse of
each page's description (``tifffile.tifffile.scanimage_description_metadata``)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import tifffile
from tifffile.tifffile import scanimage_description_metadata

import si_explorer
from si_explorer.errors import FrameHeaderWarning, SIExplorerError
from si_explorer.synthetic import Acquisition, write_acquisition

from .conftest import BLANK_IPA, HOSTPIXELCORR, SI57_2CH, SLOWSTACK_2023


def reference(paths, pages_per_frame: int) -> list[dict]:
    """tifffile's parse of the first page of every frame, over the files in order."""
    out = []
    for path in paths:
        with tifffile.TiffFile(path) as tif:
            for k in range(0, len(tif.pages), pages_per_frame):
                out.append(scanimage_description_metadata(tif.pages[k].description))
    return out


def check_against_tifffile(stack, paths, pages_per_frame: int):
    tl = stack.timeline()
    frames = reference(paths, pages_per_frame)
    T, Z = stack.shape[1:3]
    for t in range(T):
        for z in range(Z):
            page = int(stack.layout.page_numbers(0, t, z, stack.channel))
            want = frames[page // pages_per_frame]
            got = tl.sel(time=t, z=z)
            assert int(got.frame_number) == want["frameNumbers"]
            assert int(got.acquisition_number) == want["acquisitionNumbers"]
            assert int(got.frame_number_acquisition) == want["frameNumberAcquisition"]
            assert float(got.timestamp) == want["frameTimestamps_sec"]
            assert float(got.acq_trigger_timestamp) == want["acqTriggerTimestamps_sec"]
            assert float(got.next_file_marker_timestamp) == want["nextFileMarkerTimestamps_sec"]
            assert bool(got.end_of_acquisition) == bool(want["endOfAcquisition"])
            assert bool(got.header_ok)
    return tl, frames


@pytest.mark.parametrize("sample", [HOSTPIXELCORR, SLOWSTACK_2023, SI57_2CH])
def test_real_samples_match_tifffile(sample):
    stack = si_explorer.open(sample)
    tl, frames = check_against_tifffile(stack, [sample], len(stack.channels))
    assert tl.attrs["dropped_frames"] == []
    assert tl.attrs["frames_read"] == len(frames)
    assert tl.attrs["epoch"].split()[:5] == [str(v) for v in frames[0]["epoch"][:5]]


def test_slow_stack_acquisition_numbers_change_per_slice():
    tl = si_explorer.open(SLOWSTACK_2023).timeline()
    # Two slices x two frames per slice x three volumes; each slice is its own acquisition.
    np.testing.assert_array_equal(
        tl.acquisition_number.values, [[1, 2], [1, 2], [3, 4], [3, 4], [5, 6], [5, 6]]
    )
    np.testing.assert_array_equal(tl.frame_number_acquisition.values[:, 0], [1, 2] * 3)
    assert tl.attrs["frame_rate_measured_hz"] == pytest.approx(58.2068, rel=1e-3)


def test_jitter_drops_multi_file_aux_and_i2c(tmp_path):
    acq = Acquisition(
        volumes=12,
        channels=2,
        slices=3,
        flyback=1,
        height=16,
        width=16,
        timestamp_jitter=0.002,
        dropped=(5, 5, 17, 30),
        aux_every=3,
        frames_per_file=14,
    )
    files = write_acquisition(tmp_path / "rec_00001_00001.tif", acq)
    assert len(files.paths) > 2
    stack = si_explorer.open(str(tmp_path / "rec_*.tif"))
    tl, frames = check_against_tifffile(stack, files.paths, 2)
    # Frame numbers run on across files; the gaps are exactly the frames lost.
    assert tl.attrs["dropped_frames"] == files.dropped_numbers() == [6, 7, 20, 34]
    numbers = [f["frameNumbers"] for f in frames]
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    assert missing == tl.attrs["dropped_frames"]  # flyback frames are numbered, not dropped
    # Aux triggers and I2C data of each time point = those of its frames (flyback included).
    per_volume = acq.slices + acq.flyback
    for t in range(stack.shape[1]):
        own = frames[t * per_volume : (t + 1) * per_volume]
        for k in range(4):
            want = sorted(v for f in own for v in f[f"auxTrigger{k}"])
            got = tl[f"aux_trigger{k}"].sel(time=t).values
            np.testing.assert_array_equal(got[np.isfinite(got)], want)
        texts = [f["I2CData"] for f in own if f["I2CData"]]
        assert bool(tl.i2c_data.values[t]) == bool(texts)
    assert np.isfinite(tl.aux_trigger0.values).sum() == 2 * len(range(0, len(frames), 3))


def test_light_beads_each_beam_is_its_own_page(tmp_path):
    files = write_acquisition(
        tmp_path / "lbm_00001_00001.tif",
        Acquisition(volumes=5, channels=6, lbm=True, height=8, width=8, timestamp_jitter=1e-3),
    )
    stack = si_explorer.open(files.paths[0])
    tl, frames = check_against_tifffile(stack, files.paths, 6)
    # All beams of a frame share its header: one timestamp per time point across z.
    assert (tl.timestamp.values == tl.timestamp.values[:, :1]).all()


def test_multi_roi_fields_share_their_page(tmp_path):
    files = write_acquisition(
        tmp_path / "mroi_00001_00001.tif",
        Acquisition(volumes=4, channels=1, rois=((10, 12), (6, 12)), height=8, width=8),
    )
    stack = si_explorer.open(files.paths[0])
    assert stack.shape[0] == 2
    check_against_tifffile(stack, files.paths, 1)


def damaged_copy(files, tmp_path, page: int, old: bytes, new: bytes):
    data = bytearray(files.paths[0].read_bytes())
    start = int(files.ifd_offsets[0][page])
    end = int(files.ifd_offsets[0][page + 1])
    where = data.index(old, start, end)
    data[where : where + len(new)] = new
    path = tmp_path / "damaged_00001_00001.tif"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "old, new",
    [
        (b"frameNumbers = ", b"frameNumbxrs = "),  # a key misspelt
        (b"frameTimestamps_sec = 0.", b"frameTimestamps_sec = x."),  # a value that is no number
        (b"frameNumbers = ", b"\0" * 15),  # the header cut at its start
    ],
)
def test_damaged_headers_give_nan_and_a_warning_never_a_wrong_number(tmp_path, old, new):
    files = write_acquisition(
        tmp_path / "ok" / "rec_00001_00001.tif",
        Acquisition(volumes=6, channels=1, height=8, width=8),
    )
    path = damaged_copy(files, tmp_path, 3, old, new)
    stack = si_explorer.open(path)
    with pytest.warns(FrameHeaderWarning, match=rf"{path}: the frame header of page 3 "):
        tl = stack.timeline()
    assert not bool(tl.header_ok.sel(time=3, z=0))
    bad = tl.sel(time=3, z=0)
    assert int(bad.frame_number) == -1 or "frameNumbers" not in str(old)
    assert not np.isfinite(float(bad.timestamp)) or b"Timestamps" not in old
    good = np.delete(np.arange(6), 3)
    reference_frames = reference([files.paths[0]], 1)
    np.testing.assert_array_equal(
        tl.frame_number.values[good, 0], [reference_frames[t]["frameNumbers"] for t in good]
    )
    assert tl.attrs["dropped_frames"] == []  # an unreadable header is not a dropped frame


@pytest.mark.parametrize("sample", [BLANK_IPA])
def test_files_without_frame_headers_say_so(sample, tmp_path):
    with pytest.raises(SIExplorerError, match="ScanImage 3.x.*ScanImage 2016 or later"):
        si_explorer.open(sample).timeline()
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((4, 8, 8), np.uint16), photometric="minisblack")
    with pytest.raises(SIExplorerError, match=f"{plain}: has no per-frame headers"):
        si_explorer.open(plain).timeline()


def test_to_xarray_uses_the_real_timestamps(tmp_path):
    files = write_acquisition(
        tmp_path / "j_00001_00001.tif",
        Acquisition(volumes=8, channels=1, height=8, width=8, timestamp_jitter=0.003, dropped=(4,)),
    )
    stack = si_explorer.open(files.paths[0])
    array = stack.to_xarray()
    assert array.attrs["time_source"] == "frameTimestamps_sec"
    np.testing.assert_array_equal(array.time.values, stack.timeline().timestamp.values[:, 0])
    nominal = si_explorer.open(BLANK_IPA).to_xarray()
    assert nominal.attrs["time_source"].startswith("nominal")


def test_timeline_grows_with_the_file(tmp_path):
    files = write_acquisition(
        tmp_path / "g" / "rec_00001_00001.tif",
        Acquisition(volumes=6, channels=2, height=8, width=8),
    )
    data = files.paths[0].read_bytes()
    live = tmp_path / "live_00001_00001.tif"
    live.write_bytes(data[: int(files.ifd_offsets[0][6])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack = si_explorer.open(live)
    assert stack.timeline().sizes["time"] == 3
    shutil.copyfile(files.paths[0], live)
    assert stack.refresh() == 3
    tl = stack.timeline()
    assert tl.sizes["time"] == 6
    np.testing.assert_array_equal(tl.frame_number.values[:, 0], np.arange(1, 7))


def test_info_reports_dropped_frames_measured_rate_and_span(tmp_path, capsys):
    from si_explorer import cli

    files = write_acquisition(
        tmp_path / "d_00001_00001.tif",
        Acquisition(volumes=40, channels=1, height=8, width=8, frame_rate=20, dropped=(10, 30)),
    )
    assert cli.main(["info", str(files.paths[0])]) == 0
    out = capsys.readouterr().out
    assert "dropped      2 frames: 11, 32" in out
    assert "measured     20 Hz" in out and "frame rate   20 Hz" in out
    assert "time span    2.05 s" in out  # 41 frame periods after the first: 2 were dropped
    assert cli.main(["info", "--json", str(files.paths[0])]) == 0
    info = __import__("json").loads(capsys.readouterr().out)
    assert info["dropped_frames"] == [11, 32]
    assert info["frame_rate_measured_hz"] == pytest.approx(20)


def test_headers_are_cached_beside_the_page_indexes(tmp_path, monkeypatch):
    from si_explorer import timeline
    from si_explorer.read.planes import PagedPlanes

    monkeypatch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(timeline, "CACHE_FROM_FRAMES", 1)
    files = write_acquisition(
        tmp_path / "c" / "rec_00001_00001.tif",
        Acquisition(volumes=9, channels=1, height=8, width=8, aux_every=2, dropped=(3,)),
    )
    first = si_explorer.open(files.paths[0]).timeline()
    assert list((tmp_path / "cache").glob("timeline-*.npz"))

    def no_reads(*args, **kwargs):
        raise AssertionError("the headers were read again instead of coming from the cache")

    with monkeypatch.context() as patch:
        patch.setattr(PagedPlanes, "description_rows", no_reads)
        again = si_explorer.open(files.paths[0]).timeline()
    assert again.identical(first)
    # A file that changed (same path, new bytes) is read again.
    other = write_acquisition(
        tmp_path / "d" / "rec_00001_00001.tif",
        Acquisition(volumes=9, channels=1, height=8, width=8, frame_rate=10),
    )
    shutil.copyfile(other.paths[0], files.paths[0])
    changed = si_explorer.open(files.paths[0]).timeline()
    assert changed.attrs["dropped_frames"] == []
    assert float(changed.timestamp[1, 0]) == pytest.approx(0.1)


def test_a_corrected_stack_has_the_same_timeline():
    """Bidirectional correction changes pixels, not frame headers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corrected = si_explorer.open(SLOWSTACK_2023, bidi=0.5)
    assert corrected.timeline().identical(si_explorer.open(SLOWSTACK_2023).timeline())
