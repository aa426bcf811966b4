"""Layouts: page arithmetic against brute force, stated-layout checks, and layouts derived
from ScanImage metadata (real samples, hand-built headers, synthetic files)."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest
import tifffile

from si_explorer.errors import LayoutError, MetadataError
from si_explorer.scanimage.layout import Layout, Roi, layout_for_pages, layout_from_metadata
from si_explorer.scanimage.metadata import ScanImageMetadata, read_metadata
from si_explorer.synthetic import Acquisition, write_acquisition

from .conftest import BLANK_IPA, HOSTPIXELCORR

# -- helpers ---------------------------------------------------------------------------


def brute_force(layout: Layout, volumes: int) -> dict[tuple[int, int, int, int], int]:
    """(field, time, z, channel) -> page, by walking the pages in the order they are
    written (``order`` outermost first) and skipping flyback positions."""
    sizes = {
        "t": volumes,
        "z": layout.planes + layout.flyback,
        "r": layout.frames_per_slice,
        "f": layout.fields,
        "c": layout.channels,
    }
    mapping = {}
    ranges = [range(sizes[axis]) for axis in layout.order]
    for page, digits in enumerate(itertools.product(*ranges)):
        d = dict.fromkeys("tzrfc", 0)
        d.update(zip(layout.order, digits, strict=True))
        if d["z"] >= layout.planes:
            continue
        t = d["t"] * layout.frames_per_slice + d["r"]
        mapping[(d["f"], t, d["z"], d["c"])] = page
    return mapping


def assert_matches_brute_force(layout: Layout, volumes: int) -> None:
    expected = brute_force(layout, volumes)
    frames = volumes * layout.frames_per_slice
    assert len(expected) == layout.fields * frames * layout.planes * layout.channels
    keys = np.array(sorted(expected), dtype=np.int64)
    pages = layout.page_numbers(keys[:, 0], keys[:, 1], keys[:, 2], keys[:, 3])
    assert pages.dtype == np.int64
    want = np.array([expected[tuple(k)] for k in keys.tolist()])
    np.testing.assert_array_equal(pages, want, err_msg=repr(layout))
    # Broadcasting a full grid gives the same numbers.
    f, t, z, c = np.ix_(
        np.arange(layout.fields),
        np.arange(frames),
        np.arange(layout.planes),
        np.arange(layout.channels),
    )
    grid = layout.page_numbers(f, t, z, c)
    assert grid.shape == (layout.fields, frames, layout.planes, layout.channels)
    for (fi, ti, zi, ci), page in expected.items():
        assert grid[fi, ti, zi, ci] == page


BASE = {
    "SI.VERSION_MAJOR": "2021",
    "SI.hChannels.channelSave": "[1 2]",
    "SI.hStackManager.enable": "false",
    "SI.hStackManager.actualNumSlices": "1",
    "SI.hStackManager.numSlices": "1",
    "SI.hStackManager.framesPerSlice": "1",
    "SI.hStackManager.numFramesPerVolume": "1",
    "SI.hStackManager.numFramesPerVolumeWithFlyback": "1",
    "SI.hStackManager.zsRelative": "0",
    "SI.hFastZ.enable": "false",
    "SI.hScan2D.logAverageFactor": "1",
    "SI.hScan2D.scannerType": "'RGG'",
    "SI.hScan2D.scanMode": "'resonant'",
    "SI.hScan2D.flytoTimePerScanfield": "0.001",
    "SI.hRoiManager.mroiEnable": "false",
    "SI.hRoiManager.linesPerFrame": "512",
    "SI.hRoiManager.pixelsPerLine": "512",
    "SI.hRoiManager.linePeriod": "6.30957e-05",
    "SI.hRoiManager.scanFrameRate": "30",
    "SI.hRoiManager.scanVolumeRate": "30",
    "SI.objectiveResolution": "15",
}


def si(rois=None, **keys) -> ScanImageMetadata:
    """Hand-built ScanImage 2016+ metadata: BASE updated with ``SI__a__b="value"`` keys."""
    values = dict(BASE)
    values.update({k.replace("__", "."): v for k, v in keys.items()})
    text = "".join(f"{k} = {v}\n" for k, v in values.items())
    roi_json = ""
    if rois is not None:
        roi_json = json.dumps({"RoiGroups": {"imagingRoiGroup": {"rois": rois}}})
    return ScanImageMetadata("hand.tif", "scanimage", 4, text, roi_json)


def roi(name, width, height, *, enable=1, center=(0.0, 0.0), size=(5.0, 10.0), zs=0):
    scanfield = {
        "centerXY": list(center),
        "sizeXY": list(size),
        "pixelResolutionXY": [width, height],
        "enable": 1,
    }
    return {"name": name, "zs": zs, "scanfields": scanfield, "enable": enable}


def si3(**keys) -> ScanImageMetadata:
    values = {
        "state.software.version": "3.8",
        "state.acq.numberOfZSlices": "1",
        "state.acq.numberOfFrames": "30",
        "state.acq.averaging": "0",
        "state.acq.linesPerFrame": "64",
        "state.acq.pixelsPerLine": "64",
        "state.acq.frameRate": "8",
        "state.acq.savingChannel1": "1",
        "state.acq.savingChannel2": "0",
        "state.acq.numberOfChannelsSave": "1",
    }
    values.update({"state.acq." + k: v for k, v in keys.items()})
    text = "".join(f"{k}={v}\r" for k, v in values.items())
    return ScanImageMetadata("old.tif", "scanimage3", None, text, None, text)


def shape_of(layout: Layout) -> tuple[int, ...]:
    return (layout.n_fields, layout.frames, layout.planes, *layout.plane_shape)


# -- page arithmetic -------------------------------------------------------------------


def test_user_facing_example_tfz():
    layout = Layout(fields=4, frames=1730, planes=30, order="tfz")
    f, t, z = np.ix_(np.arange(4), np.arange(1730), np.arange(30))
    np.testing.assert_array_equal(layout.page_numbers(f, t, z), (t * 4 + f) * 30 + z)
    assert layout.pages_per_volume == 120
    assert layout.page_numbers(3, 1729, 29) == 4 * 1730 * 30 - 1


def test_page_numbers_match_brute_force_for_every_full_order():
    checked = 0
    for order in itertools.permutations("tzrfc"):
        for fields, planes, channels, per_slice, flyback in itertools.product(
            (1, 2), (1, 3), (1, 2), (1, 2), (0, 1)
        ):
            layout = Layout(
                fields=fields,
                planes=planes,
                channels=channels,
                frames_per_slice=per_slice,
                flyback=flyback,
                order="".join(order),
            )
            volumes = 2
            assert_matches_brute_force(layout.with_frames(volumes * layout.pages_per_volume), 2)
            checked += 1
    assert checked == 120 * 32


def test_page_numbers_match_brute_force_for_partial_orders():
    checked = 0
    for n in range(1, 6):
        for order in itertools.permutations("tzrfc", n):
            if "t" not in order:
                continue
            sizes = {"z": 3, "r": 2, "f": 2, "c": 2}
            kw = {
                "planes": sizes["z"] if "z" in order else 1,
                "flyback": 1 if "z" in order else 0,
                "frames_per_slice": sizes["r"] if "r" in order else 1,
                "fields": sizes["f"] if "f" in order else 1,
                "channels": sizes["c"] if "c" in order else 1,
            }
            layout = Layout(order="".join(order), **kw)
            assert_matches_brute_force(layout.with_frames(3 * layout.pages_per_volume), 3)
            checked += 1
    assert checked == 1 + 8 + 36 + 96 + 120  # orders of 1..5 letters of "tzrfc" with t


def test_page_numbers_with_rois_ignore_the_field_digit():
    rois = (Roi(0, 10, 8), Roi(12, 10, 8), Roi(24, 5, 4))
    layout = Layout(frames=4, planes=2, channels=2, rois=rois)
    t, z, c = np.ix_(np.arange(4), np.arange(2), np.arange(2))
    for f in range(3):
        np.testing.assert_array_equal(layout.page_numbers(f, t, z, c), (t * 2 + z) * 2 + c)
    assert layout.n_fields == 3 and layout.fields == 1


def test_page_numbers_scalars_and_errors():
    layout = Layout(frames=6, planes=3, channels=2, frames_per_slice=2, flyback=1)
    result = layout.page_numbers(0, 3, 2, 1)
    assert isinstance(result, np.ndarray) and result.shape == () and result.dtype == np.int64
    # t=3: volume 1, frame 1 of the slice; volume = (3 + 1 flyback) slices x 2 frames x 2 ch
    assert int(result) == 1 * 16 + (2 * 2 + 1) * 2 + 1
    assert layout.page_numbers(0, [], 0).shape == (0,)
    for bad in ({"f": 1}, {"t": 6}, {"z": 3}, {"c": 2}, {"t": -1}):
        args = {"f": 0, "t": 0, "z": 0, "c": 0, **bad}
        with pytest.raises(IndexError):
            layout.page_numbers(**args)
    with pytest.raises(TypeError):
        layout.page_numbers(0, 1.5, 0)
    # t outermost needs no frame count; t inside other axes does.
    assert int(Layout(planes=2).page_numbers(0, 10, 1)) == 21
    with pytest.raises(LayoutError, match="with_frames"):
        Layout(fields=2, order="ft").page_numbers(1, 0, 0)
    assert int(Layout(fields=2, order="ft", frames=5).page_numbers(1, 0, 0)) == 5


# -- validation and derived values -----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "tzx"}, "unknown letters 'x'"),
        ({"order": "tzz"}, "repeats a letter"),
        ({"order": "zc"}, "must contain t"),
        ({"order": ""}, "order must be a string"),
        ({"order": "tc", "planes": 2}, "has no 'z', but planes \\+ flyback is 2"),
        ({"order": "tzc", "frames_per_slice": 2}, "has no 'r'"),
        ({"order": "tzr", "channels": 2}, "has no 'c'"),
        ({"order": "tzrc", "fields": 2}, "has no 'f'"),
        ({"frames": 5, "frames_per_slice": 2}, "multiple of frames_per_slice"),
        ({"fields": 0}, "fields must be >= 1"),
        ({"planes": 1.5}, "planes must be a whole number"),
        ({"flyback": -1}, "flyback must be >= 0"),
        ({"frames": -3}, "frames must be >= 0"),
        ({"fields": 2, "order": "tfzrc", "rois": (Roi(0, 1, 1),)}, "not both"),
        ({"rois": ("strip",)}, "Roi objects"),
        ({"rois": (Roi(0, 10, 10),), "page_shape": (5, 10)}, "outside the 5x10 pages"),
        ({"page_shape": (0, 4)}, "positive"),
    ],
)
def test_layout_validation(kwargs, message):
    with pytest.raises(LayoutError, match=message):
        Layout(**kwargs)


def test_roi_validation_and_normalisation():
    r = Roi(np.int64(3), 4, 5, name=7, center_xy=[1, 2], size_xy=(3, 4))
    assert (r.y0, r.name, r.center_xy, r.size_xy) == (3, "7", (1.0, 2.0), (3.0, 4.0))
    assert type(r.y0) is int
    for kwargs in ({"y0": -1}, {"width": 0}, {"height": 2.5}, {"center_xy": (1,)}):
        with pytest.raises(LayoutError):
            Roi(**{"y0": 0, "height": 1, "width": 1, **kwargs})


def test_shapes_windows_and_frames():
    layout = Layout(planes=3, channels=2, frames_per_slice=2, flyback=1)
    assert layout.pages_per_volume == 16
    assert layout.field_shapes is None and layout.plane_shape is None
    with pytest.raises(LayoutError, match="with_page_shape"):
        layout.field_window(0)
    sized = layout.with_page_shape((30, 40))
    assert sized.field_shapes == ((30, 40),) and sized.plane_shape == (30, 40)
    assert sized.field_window(0) == (0, 30, 0, 40)
    assert sized == layout  # the page shape is not part of a layout's identity
    with pytest.raises(IndexError):
        sized.field_window(1)
    filled = layout.with_frames(16 * 5 + 7)
    assert filled.frames == 10 and filled.n_volumes == 5
    assert layout.leftover_pages(16 * 5 + 7) == 7
    rois = Layout(rois=(Roi(0, 448, 224, x0=2), Roi(464, 100, 300)))
    assert rois.field_window(1) == (464, 564, 0, 300)
    assert rois.field_window(0) == (0, 448, 2, 226)
    assert rois.field_shapes == ((448, 224), (100, 300))
    assert rois.plane_shape == (448, 300)
    assert layout_for_pages(7).frames == 7
    assert layout_for_pages(7, (5, 6)).plane_shape == (5, 6)
    assert hash(Layout(planes=2)) == hash(Layout(planes=2, page_shape=(3, 3)))


def test_check_with_stated_frames():
    layout = Layout(fields=4, frames=1730, planes=30, order="tfz")
    assert layout.check(207_600, (145, 600), "rec.tif").page_shape == (145, 600)
    with pytest.raises(LayoutError) as info:
        layout.check(207_599, (145, 600), "rec.tif")
    assert str(info.value) == (
        "rec.tif: stated layout needs 207,600 pages (4 fields x 1,730 frames x 30 planes x "
        "1 channel) but the file has 207,599; frames=1,729 would fit with 119 pages left over"
    )
    with pytest.raises(LayoutError, match="but the file has 207,720; frames=1,731 would fit$"):
        layout.check(207_720, (145, 600), "rec.tif")
    with pytest.raises(LayoutError, match="it holds less than one volume \\(120 pages\\)"):
        layout.check(100, (145, 600), "rec.tif")
    assert layout.check(207_650, (145, 600), "rec.tif", allow_leftover=True).frames == 1730
    with pytest.raises(LayoutError):
        layout.check(207_720, (145, 600), "rec.tif", allow_leftover=True)
    flyback = Layout(frames=2, planes=3, flyback=1, channels=2)
    with pytest.raises(LayoutError, match="\\(1 field x 2 frames x \\(3 planes \\+ 1 flyback\\)"):
        flyback.check(15, (8, 8), "f.tif")


def test_check_without_frames_and_page_shapes():
    layout = Layout(planes=3, channels=2)
    assert layout.check(60, (8, 8), "a.tif").frames is None
    with pytest.raises(LayoutError) as info:
        layout.check(62, (8, 8), "a.tif")
    assert str(info.value) == (
        "a.tif: the file has 62 pages, not a whole number of volumes of 6 pages (1 field x "
        "1 frame x 3 planes x 2 channels): 2 pages left over after 10 volumes"
    )
    layout.check(62, (8, 8), "a.tif", allow_leftover=True)
    with pytest.raises(LayoutError, match="fewer than one volume of 6 pages"):
        layout.check(5, (8, 8), "a.tif")
    strips = Layout(rois=(Roi(0, 448, 224), Roi(464, 448, 224)))
    strips.check(10, (912, 224), "m.tif")
    with pytest.raises(LayoutError) as info:
        strips.check(10, (900, 224), "m.tif")
    assert str(info.value) == (
        "m.tif: ROI 1 spans rows 464..912 and columns 0..224, outside the 900x224 pages"
    )
    with pytest.raises(LayoutError, match="page_shape must be"):
        strips.check(10, (900,), "m.tif")


# -- layouts from the real samples -----------------------------------------------------


def real_metadata(path):
    with tifffile.TiffFile(path) as tif:
        description = tif.pages[0].tags["ImageDescription"].value.encode()
        n_pages, page_shape = len(tif.pages), tif.pages[0].shape
    fd = os.open(path, os.O_RDONLY)
    try:
        md = read_metadata(path, lambda o, n: os.pread(fd, n, o), first_description=description)
    finally:
        os.close(fd)
    return md, n_pages, page_shape


def test_hostpixelcorr_two_channels():
    md, n_pages, page_shape = real_metadata(HOSTPIXELCORR)
    layout = layout_from_metadata(md, n_pages, page_shape)
    assert (n_pages, page_shape) == (2, (512, 512))
    assert layout == Layout(frames=1, channels=2)
    assert shape_of(layout) == (1, 1, 1, 512, 512)
    assert layout.page_numbers(0, 0, 0, [0, 1]).tolist() == [0, 1]
    assert layout.leftover_pages(n_pages) == 0 and not layout.lbm
    forced = layout_from_metadata(md, n_pages, page_shape, lbm=True)
    assert shape_of(forced) == (1, 1, 2, 512, 512) and forced.channels == 1 and forced.lbm


def test_blank_ipa_thirty_frames():
    md, n_pages, page_shape = real_metadata(BLANK_IPA)
    layout = layout_from_metadata(md, n_pages, page_shape)
    assert layout == Layout(frames=30)
    assert shape_of(layout) == (1, 30, 1, 64, 64)
    with tifffile.TiffFile(BLANK_IPA) as tif:
        assert tif.series[0].shape == (30, 64, 64)


def test_real_sample_page_shape_contradiction():
    md, _, _ = real_metadata(HOSTPIXELCORR)
    with pytest.raises(MetadataError) as info:
        layout_from_metadata(md, 2, (512, 256))
    assert str(info.value) == (
        f"{HOSTPIXELCORR}: pages are 512x256, but SI.hRoiManager.linesPerFrame x "
        "pixelsPerLine is 512x512"
    )
    # A file cut inside a frame (being written, or stopped): the complete frame is served.
    cut = layout_from_metadata(md, 3, (512, 512))
    assert cut.frames == 1
    assert cut.leftover_reason(3) == (
        "1 page after the last complete time point: an incomplete frame (1 of 2 pages)"
    )


# -- layouts from hand-built metadata --------------------------------------------------


def test_lbm_thirty_channels_become_planes():
    md = si(SI__hChannels__channelSave="[" + " ".join(map(str, range(1, 31))) + "]")
    layout = layout_from_metadata(md, 30 * 10, (512, 512))
    assert (layout.planes, layout.channels, layout.frames, layout.lbm) == (30, 1, 10, True)
    assert layout.leftover_pages(300) == 0
    cut = layout_from_metadata(md, 305, (512, 512))
    assert cut.frames == 10 and cut.leftover_pages(305) == 5
    assert "an incomplete frame (5 of 30 pages)" in cut.leftover_reason(305, 30)
    assert layout_from_metadata(md, 29, (512, 512)).frames == 0  # not one volume yet
    t, z = np.ix_(np.arange(10), np.arange(30))
    np.testing.assert_array_equal(layout.page_numbers(0, t, z), t * 30 + z)
    colour = layout_from_metadata(md, 300, (512, 512), lbm=False)
    assert (colour.planes, colour.channels, colour.frames, colour.lbm) == (1, 30, 10, False)


def test_lbm_with_a_stack_interleaves_slices_and_channels():
    md = si(
        SI__hChannels__channelSave="[1 2 3]",
        SI__hStackManager__enable="true",
        SI__hStackManager__actualNumSlices="2",
        SI__hStackManager__numFramesPerVolume="2",
        SI__hStackManager__numFramesPerVolumeWithFlyback="3",
    )
    layout = layout_from_metadata(md, 9 * 4, (512, 512))
    assert (layout.planes, layout.flyback, layout.channels, layout.frames) == (6, 3, 1, 4)
    t, s, c = np.ix_(np.arange(4), np.arange(2), np.arange(3))
    np.testing.assert_array_equal(layout.page_numbers(0, t, s * 3 + c), t * 9 + s * 3 + c)


def test_mroi_resonant_two_rois_with_fly_to_gap():
    rois = [
        roi("left", 224, 448, center=(-2.5, 0), size=(5, 10)),
        roi("right", 224, 448, center=(2.5, 0), size=(5, 10)),
    ]
    md = si(rois, SI__hRoiManager__mroiEnable="true", SI__hChannels__channelSave="1")
    layout = layout_from_metadata(md, 7, (912, 224))
    assert layout.frames == 7 and layout.n_fields == 2
    assert [layout.field_window(f) for f in range(2)] == [(0, 448, 0, 224), (464, 912, 0, 224)]
    assert shape_of(layout) == (2, 7, 1, 448, 224)
    left, right = layout.rois
    assert (left.name, left.center_xy, left.size_xy) == ("left", (-2.5, 0.0), (5.0, 10.0))
    assert right.name == "right" and right.center_xy == (2.5, 0.0)
    np.testing.assert_array_equal(layout.page_numbers([0, 1], 3, 0), [3, 3])
    # linesPerFrame/pixelsPerLine (512x512 in BASE) do not describe an mROI page.


def test_mroi_page_that_fits_neither_rule_is_an_error():
    rois = [roi("a", 224, 448), roi("b", 224, 448)]
    md = si(rois, SI__hRoiManager__mroiEnable="true", SI__hChannels__channelSave="1")
    with pytest.raises(MetadataError) as info:
        layout_from_metadata(md, 7, (920, 224))
    message = str(info.value)
    assert message.startswith("hand.tif: pages have 920 rows = ROIs 448 + 448 with 1 gap(s) of 24")
    assert "predicts 16" in message and "15.85 lines" in message
    with pytest.raises(MetadataError, match="remaining -1 rows do not split"):
        layout_from_metadata(md, 7, (895, 224))
    three = si(
        [roi("a", 64, 100), roi("b", 64, 100), roi("c", 64, 100)],
        SI__hRoiManager__mroiEnable="true",
        SI__hChannels__channelSave="1",
    )
    with pytest.raises(MetadataError, match="the remaining 33 rows do not split into 2 equal"):
        layout_from_metadata(three, 7, (333, 64))
    with pytest.raises(MetadataError, match="is 300 pixels wide, wider than the 224-column"):
        layout_from_metadata(
            si([roi("a", 300, 448), roi("b", 224, 448)], SI__hRoiManager__mroiEnable="true"),
            8,
            (912, 224),
        )


def test_mroi_galvo_packs_rois_and_pads_narrow_ones():
    rois = [roi("wide", 448, 224), roi("off", 100, 50, enable=0), roi("narrow", 300, 100)]
    md = si(
        rois,
        SI__hRoiManager__mroiEnable="true",
        SI__hChannels__channelSave="1",
        SI__hScan2D__scannerType="'GG'",
        SI__hScan2D__scanMode="'linear'",
    )
    layout = layout_from_metadata(md, 4, (324, 448))
    assert [r.name for r in layout.rois] == ["wide", "narrow"]
    assert [layout.field_window(f) for f in range(2)] == [(0, 224, 0, 448), (224, 324, 0, 300)]
    assert layout.plane_shape == (224, 448)
    with pytest.raises(MetadataError, match="galvo-galvo scanners .* leave no rows"):
        layout_from_metadata(md, 4, (340, 448))


def test_mroi_single_roi_and_scanfield_choice():
    one = roi("solo", 256, 128)
    md = si(one, SI__hRoiManager__mroiEnable="true", SI__hChannels__channelSave="1")
    layout = layout_from_metadata(md, 3, (128, 256))
    assert layout.rois == (Roi(0, 128, 256, name="solo", center_xy=(0, 0), size_xy=(5, 10)),)
    with pytest.raises(MetadataError, match="only ROI is 128 rows tall"):
        layout_from_metadata(md, 3, (130, 256))
    # Several scanfields: the one at the imaged z is used.
    deep = roi("deep", 64, 32, zs=[0, 100])
    deep["scanfields"] = [
        {"pixelResolutionXY": [64, 32], "centerXY": [0, 0], "sizeXY": [1, 1]},
        {"pixelResolutionXY": [128, 64], "centerXY": [0, 0], "sizeXY": [2, 2]},
    ]
    at_100 = si(
        [deep, roi("flat", 128, 64, zs=100)],
        SI__hRoiManager__mroiEnable="true",
        SI__hChannels__channelSave="1",
        SI__hStackManager__zsRelative="100",
        SI__hScan2D__scannerType="'GG'",
    )
    assert layout_from_metadata(at_100, 2, (128, 128)).field_shapes == ((64, 128), (64, 128))
    with pytest.raises(MetadataError, match="no enabled ROI"):
        layout_from_metadata(
            si([roi("x", 8, 8, enable=0)], SI__hRoiManager__mroiEnable="true"), 2, (8, 8)
        )


def test_lbm_with_mroi_like_the_mbo_recordings():
    rois = [roi(f"r{i}", 144, 600, center=(i * 4.0, 0)) for i in range(4)]
    md = si(
        rois,
        SI__hRoiManager__mroiEnable="true",
        SI__hChannels__channelSave="[" + " ".join(map(str, range(1, 31))) + "]",
        SI__hRoiManager__linePeriod="4.15e-05",  # 0.001 s fly-to = 24.1 lines -> 26 rows
    )
    layout = layout_from_metadata(md, 30 * 7, (2478, 145))
    assert shape_of(layout) == (4, 7, 30, 600, 144)
    assert [layout.field_window(f)[:2] for f in range(4)] == [
        (0, 600),
        (626, 1226),
        (1252, 1852),
        (1878, 2478),
    ]


def test_slices_with_flyback():
    md = si(
        SI__hStackManager__enable="true",
        SI__hStackManager__actualNumSlices="5",
        SI__hStackManager__numSlices="9",  # stale: actualNumSlices wins
        SI__hStackManager__numFramesPerVolume="5",
        SI__hStackManager__numFramesPerVolumeWithFlyback="7",
        SI__hRoiManager__scanVolumeRate="4.28",
    )
    layout = layout_from_metadata(md, 14 * 3 + 4, (512, 512))
    assert (layout.planes, layout.flyback, layout.channels, layout.frames) == (5, 2, 2, 3)
    assert layout.pages_per_volume == 14 and layout.leftover_pages(46) == 4
    assert int(layout.page_numbers(0, 1, 4, 1)) == 14 + 4 * 2 + 1
    assert md.frame_rate == md.volume_rate == 4.28
    early = layout_from_metadata(md, 12, (512, 512))  # the first volume is not complete yet
    assert early.frames == 0 and early.leftover_reason(12, 2) == (
        "12 pages after the last complete time point: an incomplete volume (6 of 7 frames)"
    )


def test_fast_stack_ignores_frames_per_slice():
    md = si(
        SI__hStackManager__enable="true",
        SI__hStackManager__actualNumSlices="4",
        SI__hStackManager__framesPerSlice="50",
        SI__hStackManager__numFramesPerVolume="4",
        SI__hStackManager__numFramesPerVolumeWithFlyback="5",
        SI__hChannels__channelSave="1",
    )
    layout = layout_from_metadata(md, 50, (512, 512))
    assert (layout.planes, layout.frames_per_slice, layout.flyback, layout.frames) == (4, 1, 1, 10)
    broken = si(
        SI__hStackManager__enable="true",
        SI__hStackManager__actualNumSlices="4",
        SI__hStackManager__framesPerSlice="3",
        SI__hStackManager__numFramesPerVolume="10",
    )
    with pytest.raises(
        MetadataError, match="numFramesPerVolume is 10, but actualNumSlices \\(4\\)"
    ):
        layout_from_metadata(broken, 40, (512, 512))


def test_stack_disabled_is_a_plain_time_series_despite_stale_slices():
    md = si(
        SI__hStackManager__actualNumSlices="5",
        SI__hStackManager__numSlices="5",
        SI__hStackManager__framesPerSlice="1000",
        SI__hStackManager__numFramesPerVolume="5000",
        SI__hStackManager__numFramesPerVolumeWithFlyback="5003",
        SI__hChannels__channelSave="1",
    )
    layout = layout_from_metadata(md, 999, (512, 512))
    assert layout == Layout(frames=999)


def test_slow_stack_with_averaging():
    md = si(
        SI__hStackManager__enable="true",
        SI__hStackManager__actualNumSlices="3",
        SI__hStackManager__framesPerSlice="10",
        SI__hStackManager__numFramesPerVolume="30",
        SI__hStackManager__numFramesPerVolumeWithFlyback="30",
        SI__hScan2D__logAverageFactor="5",
        SI__hChannels__channelSave="1",
        SI__hRoiManager__scanFrameRate="30",
        SI__hRoiManager__scanVolumeRate="1",
    )
    layout = layout_from_metadata(md, 24, (512, 512))
    assert (layout.planes, layout.frames_per_slice, layout.frames) == (3, 2, 8)
    # time 3 = volume 1, second saved frame of its slice; slice 2 -> page 6 + 2 * 2 + 1
    assert int(layout.page_numbers(0, 3, 2)) == 11
    assert md.frame_rate == 6.0 and md.volume_rate == 1.0
    for factor, message in (
        ("3", "framesPerSlice \\(10\\) is not a multiple of .* \\(3\\)"),
        ("0", "logAverageFactor: expected a whole number >= 1"),
    ):
        bad = si(
            SI__hStackManager__enable="true",
            SI__hStackManager__actualNumSlices="3",
            SI__hStackManager__framesPerSlice="10",
            SI__hStackManager__numFramesPerVolume="30",
            SI__hStackManager__numFramesPerVolumeWithFlyback="30",
            SI__hScan2D__logAverageFactor=factor,
        )
        with pytest.raises(MetadataError, match=message):
            layout_from_metadata(bad, 24, (512, 512))


def test_single_plane_averaging_divides_the_frame_rate():
    md = si(SI__hScan2D__logAverageFactor="4", SI__hChannels__channelSave="1")
    assert layout_from_metadata(md, 10, (512, 512)) == Layout(frames=10)
    assert md.frame_rate == md.volume_rate == 7.5


def test_scanimage_2016_fast_z_keys():
    md = si(
        SI__hChannels__channelSave="1",
        SI__hFastZ__enable="true",
        SI__hStackManager__numSlices="10",
        SI__hFastZ__numFramesPerVolume="12",
        SI__hFastZ__discardFlybackFrames="true",
        SI__hFastZ__numDiscardFlybackFrames="2",
    )
    # ScanImage 2016-2019 files have no hStackManager.enable and no actualNumSlices.
    text = "\n".join(
        line
        for line in md.frame_data_text.splitlines()
        if not line.startswith(("SI.hStackManager.enable", "SI.hStackManager.actualNumSlices"))
    )
    old = ScanImageMetadata("old.tif", "scanimage", 3, text, "")
    layout = layout_from_metadata(old, 12 * 5, (512, 512))
    assert (layout.planes, layout.flyback, layout.frames) == (10, 2, 5)


def test_scanimage3_layouts():
    assert layout_from_metadata(si3(), 30, (64, 64)) == Layout(frames=30)
    stack = si3(
        numberOfZSlices="3", numberOfFrames="4", numberOfChannelsSave="2", savingChannel2="1"
    )
    layout = layout_from_metadata(stack, 24, (64, 64))
    assert (layout.planes, layout.frames_per_slice, layout.channels, layout.frames) == (3, 4, 2, 4)
    assert int(layout.page_numbers(0, 1, 2, 1)) == (2 * 4 + 1) * 2 + 1
    averaged = si3(numberOfZSlices="3", numberOfFrames="4", averaging="1")
    assert layout_from_metadata(averaged, 6, (64, 64)).frames_per_slice == 1
    by_two = si3(numberOfZSlices="3", numberOfFrames="4", averaging="1", numAvgFramesSave="2")
    assert layout_from_metadata(by_two, 12, (64, 64)).frames_per_slice == 2
    discard = si3(slowDimDiscardFlybackLine="1")
    assert layout_from_metadata(discard, 30, (63, 64)).frames == 30
    with pytest.raises(MetadataError, match="pages are 63x64, but state.acq.linesPerFrame"):
        layout_from_metadata(si3(), 30, (63, 64))
    with pytest.raises(MetadataError, match="numberOfChannelsSave is 2, but the savingChannel"):
        layout_from_metadata(si3(numberOfChannelsSave="2"), 30, (64, 64))


def test_flyback_that_is_not_whole_slices_cannot_be_expressed():
    md = si(
        SI__hStackManager__enable="true",
        SI__hStackManager__actualNumSlices="3",
        SI__hStackManager__framesPerSlice="2",
        SI__hStackManager__numFramesPerVolume="6",
        SI__hStackManager__numFramesPerVolumeWithFlyback="7",
    )
    with pytest.raises(MetadataError, match="1 flyback frames per volume are not a multiple"):
        layout_from_metadata(md, 28, (512, 512))


# -- end to end through the synthetic writer -------------------------------------------

SYNTHETIC_CASES = [
    {},
    {"channels": 2},
    {"channels": 30, "lbm": True, "volumes": 3, "height": 32, "width": 32},
    {"channels": 3, "lbm": False, "volumes": 2, "height": 16, "width": 16},
    {"slices": 3, "flyback": 1, "volumes": 4, "channels": 2},
    {"slices": 2, "frames_per_slice": 3, "volumes": 3},
    {"slices": 3, "frames_per_slice": 4, "log_average_factor": 2, "volumes": 2},
    {"frames_per_slice": 3, "volumes": 4, "log_average_factor": 3},
    {"rois": ((48, 32), (48, 32)), "volumes": 3},
    {"rois": ((40, 32), (20, 24), (8, 8)), "scanner": "galvo", "volumes": 3},
    {"rois": ((20, 16), (20, 16)), "channels": 4, "lbm": True, "volumes": 2},
    {"frames_per_file": 4, "channels": 2, "volumes": 10, "height": 16, "width": 16},
]


@pytest.mark.parametrize("fields", SYNTHETIC_CASES, ids=lambda f: ",".join(map(str, f.items())))
def test_synthetic_files_end_to_end(tmp_path, fields):
    acquisition = Acquisition(**fields)
    files = write_acquisition(tmp_path / "acq_00001_00001.tif", acquisition)
    n_pages = 0
    for path in files.paths:
        with tifffile.TiffFile(path) as tif:
            n_pages += len(tif.pages)
            page_shape = tif.pages[0].shape
    assert n_pages == files.n_pages
    md, _, first_shape = real_metadata(files.paths[0])
    assert first_shape == page_shape
    layout = layout_from_metadata(md, n_pages, page_shape, lbm=acquisition.lbm)
    assert shape_of(layout) == tuple(files.shape)
    assert layout.leftover_pages(n_pages) == 0
    if acquisition.channels <= 2 or acquisition.lbm:
        assert layout_from_metadata(md, n_pages, page_shape) == layout  # lbm detected
    for f, (rows, (h, w)) in enumerate(zip(files.field_rows, files.field_shapes, strict=True)):
        assert layout.field_window(f) == (rows, rows + h, 0, w)
    channels = 1 if acquisition.lbm else acquisition.channels
    for t in range(layout.frames):
        for z in range(layout.planes):
            for c in range(channels):
                assert int(layout.page_numbers(0, t, z, c)) == files.page_number(t, z, c)
    assert md.frame_rate == pytest.approx(
        acquisition.frame_rate / acquisition.log_average_factor
        if layout.planes == 1 or layout.lbm or layout.frames_per_slice > 1
        else md.volume_rate
    )


def test_synthetic_flyback_inside_multi_frame_slices_is_refused(tmp_path):
    acquisition = Acquisition(slices=3, frames_per_slice=2, flyback=1, volumes=2)
    files = write_acquisition(tmp_path / "fly_00001_00001.tif", acquisition)
    md, n_pages, page_shape = real_metadata(files.paths[0])
    with pytest.raises(MetadataError, match="1 flyback frames per volume are not a multiple"):
        layout_from_metadata(md, n_pages, page_shape)
