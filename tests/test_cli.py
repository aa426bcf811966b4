"""The ``si-explorer`` command line: info (text and JSON), demo's first run, one-line errors.

The demo and view commands' browser side is tested end to end in
tests/explorer/test_main_job.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from si_explorer.cli import main

from .conftest import BLANK_IPA, HOSTPIXELCORR


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_on_the_real_samples_reads_as_a_table(capsys):
    code, out, err = run(capsys, "info", str(HOSTPIXELCORR), str(BLANK_IPA))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == HOSTPIXELCORR.name
    assert "field 1  time 1  z 1  y 512  x 512   (int16)" in out
    assert "channels     [1, 2]" in out
    assert "software     scanimage 2021.0.0" in out and "frame rate   30.02 Hz" in out
    assert "pixel (µm)   [0.52734375, 0.52734375]" in out
    assert "started      2021-11-05T09:50:13.560000" in out
    assert "1,074,732 B, 2 pages, index: constant stride, predicted and verified" in out
    assert "stride 526,672 B" in out  # the stride the sample's README states
    assert BLANK_IPA.name in lines and "time 30" in out and "scanimage3 3.8.1" in out


def test_info_json_describes_layout_rates_and_index(capsys, synthetic):
    files = synthetic(
        height=24, width=32, volumes=12, slices=3, flyback=1, rois=((20, 32), (12, 20))
    )
    code, out, _ = run(capsys, "info", "--json", str(files.paths[0]))
    assert code == 0
    info = json.loads(out)
    assert info["shape"] == dict(zip(("field", "time", "z", "y", "x"), files.shape))
    assert info["field_shapes"] == [[20, 32], [12, 20]]
    assert info["flyback_frames"] == 1 and info["frame_rate_hz"] > 0
    (entry,) = info["files"]
    assert entry["pages"] == len(files.ifd_offsets[0])
    assert entry["index"].startswith("constant stride") and entry["stride"] > 0


def test_info_json_for_several_files_is_a_list(capsys):
    code, out, _ = run(capsys, "info", "--json", str(HOSTPIXELCORR), str(BLANK_IPA))
    assert code == 0
    assert [i["name"] for i in json.loads(out)] == [HOSTPIXELCORR.name, BLANK_IPA.name]


def test_info_on_a_multi_file_acquisition_says_which_files_are_not_indexed_yet(capsys, synthetic):
    files = synthetic(height=16, width=16, volumes=9, slices=2, frames_per_file=6)
    pattern = str(files.paths[0].parent / "*.tif")
    code, out, _ = run(capsys, "info", "--json", pattern)
    assert code == 0
    entries = json.loads(out)["files"]
    assert len(entries) == len(files.paths) > 2
    assert "predicted from size" in entries[-1]["index"]


@pytest.mark.parametrize("argv", [["info", "/nonexistent/x.tif"], ["view", "/nonexistent/x.tif"]])
def test_errors_are_one_line_with_a_non_zero_exit(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("si-explorer: ") and "/nonexistent/x.tif" in err


def test_the_console_script_is_installed():
    done = subprocess.run(
        [sys.executable, "-m", "si_explorer.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    for command in ("info", "view", "demo", "bench"):
        assert command in done.stdout
