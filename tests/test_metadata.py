"""ScanImage metadata: the MATLAB value parser, detection, lazy lookups, derived facts.

Real files are checked against tifffile's own ScanImage parsing; hand-built headers cover
what the two real samples lack (errors, other versions, huge FrameData).
"""

from __future__ import annotations

import datetime
import doctest
import json
import math
import os
import pickle
import struct
import time

import pytest
import tifffile

from si_explorer.errors import MetadataError
from si_explorer.scanimage import layout as layout_module
from si_explorer.scanimage import matlab, metadata
from si_explorer.scanimage.matlab import MatlabSyntaxError, Symbol, parse_value
from si_explorer.scanimage.metadata import (
    SCANIMAGE_MAGIC,
    ScanImageMetadata,
    Unparsed,
    parse_page_description,
    read_metadata,
)

from .conftest import BLANK_IPA, HOSTPIXELCORR

# -- helpers ---------------------------------------------------------------------------


def file_reader(path):
    """A ``read_bytes`` over a real file, as the page index would give it."""
    fd = os.open(path, os.O_RDONLY)
    return fd, (lambda offset, n: os.pread(fd, n, offset))


def read_real(path) -> ScanImageMetadata | None:
    with tifffile.TiffFile(path) as tif:
        description = tif.pages[0].tags["ImageDescription"].value
    fd, read_bytes = file_reader(path)
    try:
        return read_metadata(path, read_bytes, first_description=description.encode())
    finally:
        os.close(fd)


def si_header(frame_data: str, roi_json: str = "", *, version: int = 4, ifd0=None) -> bytes:
    """The first bytes of a ScanImage 2016+ BigTIFF: header, FrameData, ROI JSON."""
    fd = frame_data.encode() + b"\0"
    rj = roi_json.encode() + b"\0" if roi_json else b""
    ifd0 = 32 + len(fd) + len(rj) if ifd0 is None else ifd0
    head = b"II+\x00\x08\x00\x00\x00" + struct.pack("<Q", ifd0)
    head += struct.pack("<4I", SCANIMAGE_MAGIC, version, len(fd), len(rj))
    return head + fd + rj + bytes(64)  # stand-in for the IFDs that follow


def from_bytes(data: bytes):
    return lambda offset, n: data[offset : offset + n]


def canon(value):
    """Remove representation choices that differ from tifffile: tifffile unboxes one-element
    lists and cells and keeps column vectors as lists of one-element lists."""
    if isinstance(value, list):
        items = [canon(v) for v in value]
        if items and all(isinstance(v, list) and len(v) == 1 for v in items):
            items = [v[0] for v in items]
        if len(items) == 1:
            return items[0]
        return items
    return value


def same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


# -- the MATLAB parser -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("-0", 0),
        ("2.5", 2.5),
        ("1e+06", 1e6),
        ("-3.2e-06", -3.2e-06),
        (".5", 0.5),
        ("Inf", math.inf),
        ("-Inf", -math.inf),
        ("true", True),
        ("false", False),
        ("'grab'", "grab"),
        ("'C:\\Users\\2P-User\\a.cfg'", "C:\\Users\\2P-User\\a.cfg"),
        ("'$scim_colorMap(''gray'',8,5)'", "$scim_colorMap('gray',8,5)"),
        ('"a ""b"" c"', 'a "b" c'),
        ("''", ""),
        ("[]", []),
        ("{}", []),
        ("zeros(0,2)", []),
        ("[7]", 7),
        ("[1 2]", [1, 2]),
        ("[1;2]", [1, 2]),
        ("[1,2, 3]", [1, 2, 3]),
        ("[2021 11  5  9 50 13.560]", [2021, 11, 5, 9, 50, 13.56]),
        ("[3.439188320 ]", 3.43918832),
        ("[-9 -9;9 -9;9 9;-9 9]", [[-9, -9], [9, -9], [9, 9], [-9, 9]]),
        ("[1 0 0;0 1 0;0 0 1]", [[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
        ("[true true]", [True, True]),
        ("['ab' 'cd']", "abcd"),
        ("[1 [2 3]]", [1, 2, 3]),
        ("{16 16}", [16, 16]),
        ("{'a' 'b'}", ["a", "b"]),
        ("{'a'}", ["a"]),
        ("{''}", [""]),
        ("{[21 42] [22 45]}", [[21, 42], [22, 45]]),
        ("{[-1 1] [-1 1]}", [[-1, 1], [-1, 1]]),
        ("{{1.5, [255]}}", [[1.5, 255]]),
        ("{'@scanimage.util.defaultPowerFunction'}", ["@scanimage.util.defaultPowerFunction"]),
        ("scanimage.types.BeamAdjustTypes.None", "scanimage.types.BeamAdjustTypes.None"),
        ("@scanimage.util.defaultPowerFunction", "@scanimage.util.defaultPowerFunction"),
        ("@(x) x + 1", "@(x) x + 1"),
        ("{@(x) x+1, 2}", ["@(x) x+1", 2]),
        ("<nonscalar struct/object>", "<nonscalar struct/object>"),
        ("struct('a',1,'b',[1 2])", {"a": 1, "b": [1, 2]}),
        ("struct()", {}),
        ("ones(2,3)", [[1, 1, 1], [1, 1, 1]]),
        ("zeros(1,3)", [0, 0, 0]),
        ("cell(1,2)", [[], []]),
        ("cell(2)", [[[], []], [[], []]]),
        ("cell(0,3)", []),
        ("int16(5.4)", 5),
        ("logical([1 0])", [True, False]),
        ("single(2)", 2.0),
        ("  [1\n2]  ", [1, 2]),
    ],
)
def test_parse_value_forms(text, expected):
    assert same(parse_value(text), expected)


def test_parse_value_types():
    assert type(parse_value("3")) is int
    assert type(parse_value("3.0")) is float
    assert type(parse_value("1e+06")) is float
    assert math.isnan(parse_value("NaN"))
    assert isinstance(parse_value("scanimage.types.BeamAdjustTypes.None"), Symbol)
    assert isinstance(parse_value("@f"), Symbol)
    assert not isinstance(parse_value("'a'"), Symbol)
    assert isinstance(parse_value("foo(1, 'x')"), Symbol)
    assert parse_value("foo(1, 'x')") == "foo(1, 'x')"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[1 2",
        "{1 2",
        "{1 2]",
        "]",
        "'abc",
        "'it''s",
        "1:5",
        "1 + 2",
        "[1 - 2]",
        "[1 2;3]",
        "1x",
        "[1,,2]",
        "[1,]",
        "a b",
        "@",
        "(1)",
        "zeros(-1)",
        "zeros(1.5)",
        "zeros(1,2",
        "int8('a')",
        "struct('a')",
        "<unterminated",
        "[1 2;3 4]'",
    ],
)
def test_parse_value_rejects_malformed(text):
    with pytest.raises(MatlabSyntaxError) as info:
        parse_value(text)
    assert isinstance(info.value, ValueError)
    assert info.value.text == text


def test_parse_value_needs_text():
    with pytest.raises(TypeError):
        parse_value(b"1")


def test_large_numeric_vector_fast_path_matches_general_parser():
    text = "[" + ";".join(f"{i % 17 - 8}" for i in range(5000)) + "]"
    row = "[" + " ".join(f"{i * 0.25:g}" for i in range(5000)) + " 1e-3 -2E+2]"
    matrix = "[" + ";".join("1 2 3" for _ in range(200)) + "]"
    for value in (text, row, matrix):
        assert parse_value(value) == matlab._Parser(value).parse()
    with pytest.raises(MatlabSyntaxError):
        parse_value("[" + " ".join("1" for _ in range(300)) + " 1-2]")
    with pytest.raises(MatlabSyntaxError):
        parse_value("[" + ";".join("1 2" for _ in range(300)) + ";3]")


def test_every_line_of_the_real_frame_data_parses_like_tifffile():
    with tifffile.TiffFile(HOSTPIXELCORR) as tif:
        reference = tif.scanimage_metadata["FrameData"]
    md = read_real(HOSTPIXELCORR)
    lines = [line for line in md.frame_data_text.splitlines() if line.strip()]
    assert len(lines) == len(md) == len(reference) == 411
    for line in lines:
        key, _, value = line.partition(" = ")
        parsed = parse_value(value)  # raises on any line the parser cannot handle
        assert same(canon(parsed), canon(reference[key])), key
    # the full-dict path agrees and is strict-clean
    assert md.to_dict(strict=True).keys() == reference.keys()


def test_real_page_descriptions_parse_like_tifffile():
    with tifffile.TiffFile(HOSTPIXELCORR) as tif:
        descriptions = [page.description for page in tif.pages]
    for text in descriptions:
        mine = parse_page_description(text)
        reference = tifffile.matlabstr2py(text)
        assert mine.keys() == reference.keys()
        for key, value in reference.items():
            assert same(canon(mine[key]), canon(value)), key
    first = parse_page_description(descriptions[0])
    assert first["frameNumbers"] == 1
    assert first["frameTimestamps_sec"] == 0.0
    assert first["epoch"] == [2021, 11, 5, 9, 50, 13.56]
    assert first["I2CData"] == []


def test_scanimage3_header_parses_like_tifffile():
    with tifffile.TiffFile(BLANK_IPA) as tif:
        text = tif.pages[0].description
    assert "\r" in text and "\n" not in text
    mine = parse_page_description(text)
    reference = tifffile.matlabstr2py(text)
    assert mine.keys() == reference.keys()
    assert len(mine) == 202
    for key, value in reference.items():
        if key.startswith("state.internal.figureColormap"):
            # tifffile splits strings with doubled quotes; MATLAB unescapes them.
            assert mine[key] == "$scim_colorMap('gray',8,5)"
            continue
        assert same(canon(mine[key]), canon(value)), key
    assert not any(isinstance(v, Unparsed) for v in mine.values())


def test_parse_page_description_selected_keys_and_lenient_values():
    text = "frameNumbers = 3\nframeTimestamps_sec = 0.1\nauxTrigger0 = [1 2\nepoch = [1 2 3]"
    assert parse_page_description(text, keys=["frameTimestamps_sec", "missing"]) == {
        "frameTimestamps_sec": 0.1
    }
    parsed = parse_page_description(text.encode() + b"\0\0   ")
    assert parsed["auxTrigger0"] == Unparsed("[1 2") and isinstance(parsed["auxTrigger0"], Unparsed)
    assert parsed["epoch"] == [1, 2, 3]
    assert parse_page_description(None) == {}
    assert parse_page_description("state.acq.a=1\rstate.acq.b='x'") == {
        "state.acq.a": 1,
        "state.acq.b": "x",
    }


# -- the real samples ------------------------------------------------------------------


def test_hostpixelcorr_metadata_matches_tifffile():
    with tifffile.TiffFile(HOSTPIXELCORR) as tif:
        reference = tif.scanimage_metadata
    md = read_real(HOSTPIXELCORR)
    assert md.flavor == "scanimage"
    assert md.version == reference["version"] == 4
    assert md.path == str(HOSTPIXELCORR)
    frame = reference["FrameData"]
    assert md["SI.hStackManager.actualNumSlices"] == frame["SI.hStackManager.actualNumSlices"]
    assert md.get("SI.hChannels.channelSave") == frame["SI.hChannels.channelSave"] == [1, 2]
    assert "SI.hRoiManager.mroiEnable" in md and "SI.nothing" not in md
    assert md.get("SI.nothing", 5) == 5
    with pytest.raises(KeyError):
        md["SI.nothing"]
    assert md.keys() == list(frame.keys())
    assert md.roi_groups == {"RoiGroups": reference["RoiGroups"]}
    assert [r["name"] for r in md.imaging_rois] == ["Default Imaging Roi"]
    assert md.channel_save == [1, 2]
    assert md.frame_rate == frame["SI.hRoiManager.scanFrameRate"] == 30.0169
    assert md.volume_rate == 30.0169
    assert md.frame_period == pytest.approx(1 / 30.0169)
    # sizeXY 18 deg x objectiveResolution 15 um/deg / 512 px = imagingFovUm 270 um / 512 px
    assert md.pixel_size_um == pytest.approx((270 / 512, 270 / 512))
    assert md.acquisition_start == datetime.datetime(2021, 11, 5, 9, 50, 13, 560000)
    assert md.software_version == "2021.0.0"
    assert md.first_page["frameNumbers"] == 1
    assert md.frame_data_text.startswith("SI.LINE_FORMAT_VERSION = 1\n")
    assert md.frame_data_text.endswith("SI.warnMsg = ''\n")
    assert "\0" not in md.frame_data_text


def test_blank_ipa_scanimage3_metadata():
    with tifffile.TiffFile(BLANK_IPA) as tif:
        reference = tifffile.matlabstr2py(tif.pages[0].description)
    md = read_real(BLANK_IPA)
    assert md.flavor == "scanimage3"
    assert md.version is None
    assert md.roi_groups is None and md.imaging_rois == []
    assert md["state.acq.numberOfFrames"] == reference["state.acq.numberOfFrames"] == 30
    assert md.keys() == list(reference)
    assert md.channel_save == [2]
    assert md.frame_rate == reference["state.acq.frameRate"] == pytest.approx(8.13802083333333)
    assert md.volume_rate == md.frame_rate
    assert md.pixel_size_um is None
    assert md.acquisition_start == datetime.datetime(2014, 7, 30, 21, 10, 0, 731000)
    assert md.software_version == "3.8.1"
    assert md.structure.channels == 1 and md.structure.slices == 1


def test_tiff_without_scanimage_metadata_is_not_scanimage(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, [[1, 2], [3, 4]], bigtiff=True, description="hello")
    with tifffile.TiffFile(path) as tif:
        description = tif.pages[0].description.encode()
    fd, read_bytes = file_reader(path)
    try:
        assert read_metadata(path, read_bytes, first_description=description) is None
        assert read_metadata(path, read_bytes) is None
    finally:
        os.close(fd)
    assert read_metadata("x.tif", from_bytes(b"II*\x00" + bytes(60))) is None
    assert read_metadata("x.tif", from_bytes(b"")) is None


def test_scanimage3_needs_the_first_description():
    text = "state.configName='x'\rstate.acq.numberOfFrames=4\r"
    md = read_metadata("a.tif", from_bytes(b"II*\x00" + bytes(60)), first_description=text)
    assert md.flavor == "scanimage3" and md["state.acq.numberOfFrames"] == 4
    assert read_metadata("a.tif", from_bytes(b"II*\x00" + bytes(60))) is None


# -- header errors ---------------------------------------------------------------------


def test_sizes_past_the_end_of_the_file_are_an_error():
    data = si_header("SI.a = 1", '{"RoiGroups": {}}')
    truncated = data[:40]
    with pytest.raises(MetadataError) as info:
        read_metadata("cut.tif", from_bytes(truncated))
    assert "cut.tif" in str(info.value) and "ends at byte 40" in str(info.value)
    cut_json = data[: 32 + len("SI.a = 1") + 1 + 5]
    with pytest.raises(MetadataError, match="file ends"):
        read_metadata("cut.tif", from_bytes(cut_json))


def test_absurd_header_sizes_are_an_error():
    good = si_header("SI.a = 1")
    for size0, size1 in ((0, 0), (2**31, 0), (9, 2**31)):
        data = bytearray(good)
        struct.pack_into("<II", data, 24, size0, size1)
        with pytest.raises(MetadataError, match="impossible metadata sizes"):
            read_metadata("bad.tif", from_bytes(bytes(data)))


def test_metadata_overlapping_the_first_ifd_is_an_error():
    with pytest.raises(MetadataError, match="first IFD starts at byte 36"):
        read_metadata("bad.tif", from_bytes(si_header("SI.a = 1", ifd0=36)))


def test_unknown_header_version_is_an_error():
    with pytest.raises(MetadataError, match="version 7"):
        read_metadata("v7.tif", from_bytes(si_header("SI.a = 1", version=7)))
    md = read_metadata("v3.tif", from_bytes(si_header("SI.a = 1", version=3)))
    assert md.version == 3


def test_invalid_roi_json_names_the_file():
    md = read_metadata("rois.tif", from_bytes(si_header("SI.a = 1", '{"RoiGroups": [1, }')))
    assert md["SI.a"] == 1  # the JSON is not touched until it is used
    with pytest.raises(MetadataError) as info:
        _ = md.roi_groups
    assert str(info.value).startswith("rois.tif: the ROI-group JSON is invalid")
    empty = read_metadata("none.tif", from_bytes(si_header("SI.a = 1")))
    assert empty.roi_groups == {} and empty.imaging_rois == []


def test_unparsable_key_names_the_key_and_text():
    md = read_metadata("bad.tif", from_bytes(si_header("SI.ok = 2\nSI.x.y = [1 2\nSI.z = 3")))
    assert md["SI.ok"] == 2 and md["SI.z"] == 3
    with pytest.raises(MetadataError) as info:
        md["SI.x.y"]
    assert str(info.value).startswith("bad.tif: FrameData key SI.x.y: cannot parse '[1 2'")
    assert isinstance(md.to_dict()["SI.x.y"], Unparsed)
    with pytest.raises(MetadataError):
        md.to_dict(strict=True)


def test_frame_data_text_details():
    text = "SI.a = 1\r\n  SI.b= 'x'\r\nSI.c =[1 2\r\n3 4]\r\nSI.a = 5\r\n"
    md = ScanImageMetadata("t.tif", "scanimage", 4, text.encode() + b"\0garbage", b"")
    assert md.frame_data_text == text
    assert md.keys() == ["SI.b", "SI.c", "SI.a"]  # the last SI.a wins
    assert md["SI.a"] == 5 and md["SI.b"] == "x"
    assert md["SI.c"] == [[1, 2], [3, 4]]  # a value continued on the next line
    assert md.raw("SI.c") == "[1 2\n3 4]"
    md["SI.c"].append(0)  # containers are fresh objects: the next lookup is unaffected
    assert md["SI.c"] == [[1, 2], [3, 4]]


def test_channel_save_forms():
    def channels(value):
        return ScanImageMetadata(
            "c.tif", "scanimage", 4, f"SI.hChannels.channelSave = {value}\n", ""
        ).channel_save

    assert channels("1") == [1]
    assert channels("[1;2]") == [1, 2]
    assert channels("[1 3 4]") == [1, 3, 4]
    for bad in ("[]", "'x'", "[0 1]", "1.5"):
        with pytest.raises(MetadataError, match="channelSave"):
            channels(bad)
    with pytest.raises(MetadataError, match="no SI.hChannels.channelSave"):
        _ = ScanImageMetadata("c.tif", "scanimage", 4, "SI.a = 1", "").channel_save


def test_pickle_round_trip_keeps_everything_needed():
    md = read_real(HOSTPIXELCORR)
    md["SI.hChannels.channelSave"]
    clone = pickle.loads(pickle.dumps(md))
    assert clone.keys() == md.keys()
    assert clone.channel_save == [1, 2]
    assert clone.roi_groups == md.roi_groups
    assert clone.acquisition_start == md.acquisition_start


# -- laziness on a 20 MB FrameData -----------------------------------------------------


def _big_frame_data(shape: str) -> bytes:
    """About 20 MB of FrameData: the real sample's keys plus either a few huge waveform
    lines (what real files look like) or hundreds of thousands of short lines."""
    real = HOSTPIXELCORR.read_bytes()
    size0 = struct.unpack_from("<I", real, 24)[0]
    base = real[32 : 32 + size0].rstrip(b"\0")
    if shape == "waveforms":
        line = "[" + " ".join(f"{(i * 7919) % 20001 / 1000 - 10:.6f}" for i in range(100_000))
        line = (line + "]").encode()
        extra = b"".join(
            b"SI.hWaveformManager.cache%d.waveform = " % i + line + b"\n" for i in range(20)
        )
    else:
        extra = b"".join(b"SI.hUser.k%d = [%d 1 2]\n" % (i, i) for i in range(700_000))
    data = base + extra
    assert 19_000_000 < len(data) < 30_000_000
    return data + b"\0"


@pytest.mark.parametrize("shape", ["waveforms", "short lines"])
def test_key_lookups_on_20mb_frame_data_parse_only_what_is_asked(shape):
    data = _big_frame_data(shape)
    wanted = [
        "SI.hRoiManager.scanFrameRate",
        "SI.hChannels.channelSave",
        "SI.hScan2D.flytoTimePerScanfield",
        "SI.hStackManager.framesPerSlice",
        "SI.hRoiManager.linesPerFrame",
    ]

    md = ScanImageMetadata("big.tif", "scanimage", 4, data, b"")
    start = time.perf_counter()
    assert md["SI.hStackManager.actualNumSlices"] == 1
    first = time.perf_counter() - start
    assert md.parse_count == 1  # locating one key parsed no other value
    start = time.perf_counter()
    values = [md[key] for key in wanted]
    lookups = (time.perf_counter() - start) / len(wanted)
    assert values[:2] == [30.0169, [1, 2]]
    assert md.parse_count == 1 + len(wanted)

    # What the lazy path avoids, measured on the same data in the same process: parsing
    # every value (waveforms), or indexing every key (hundreds of thousands of lines).
    full = ScanImageMetadata("big.tif", "scanimage", 4, data, b"")
    start = time.perf_counter()
    if shape == "waveforms":
        everything = full.to_dict(strict=True)
        assert full.parse_count == len(everything) == 431
    else:
        assert len(full) == 411 + 700_000
        assert full.parse_count == 0
    eager = time.perf_counter() - start
    assert first < eager / 4, (first, eager)
    assert lookups < eager / 20, (lookups, eager)


# -- docstrings ------------------------------------------------------------------------


@pytest.mark.parametrize("module", [matlab, metadata, layout_module])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_roi_json_with_one_roi_or_a_list():
    one = {"RoiGroups": {"imagingRoiGroup": {"rois": {"name": "a", "enable": 1}}}}
    many = {"RoiGroups": {"imagingRoiGroup": {"rois": [{"name": "a"}, {"name": "b"}]}}}
    empty = {
        "RoiGroups": {
            "imagingRoiGroup": {
                "rois": {"_ArrayType_": "double", "_ArraySize_": [1, 0], "_ArrayData_": None}
            }
        }
    }
    for groups, names in ((one, ["a"]), (many, ["a", "b"]), (empty, [])):
        md = read_metadata("r.tif", from_bytes(si_header("SI.a = 1", json.dumps(groups))))
        assert [r["name"] for r in md.imaging_rois] == names
