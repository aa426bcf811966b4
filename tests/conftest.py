"""Shared fixtures: the real ScanImage samples, and synthetic acquisitions written once per run."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

# Real files written by ScanImage, from public repositories (provenance in tests/data/README.md).
SAMPLES = Path(os.environ.get("SI_EXPLORER_SAMPLES", Path(__file__).resolve().parent / "data"))
HOSTPIXELCORR = SAMPLES / "hostpixelcorr_noavg_00001_00001.tif"
BLANK_IPA = SAMPLES / "Blank-IPA_1s_16r_032.tif"
SLOWSTACK_2023 = SAMPLES / "scanimage2023_slowstack_ch1-4.tif"
SI57_2CH = SAMPLES / "scanimage57_2ch.tif"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def samples_are_never_modified():
    """The real samples hash the same after the whole run as before it."""
    samples = sorted(SAMPLES.glob("*.tif"))
    if not samples:
        pytest.exit(f"the real ScanImage samples are missing from {SAMPLES}", returncode=3)
    before = {p: _digest(p) for p in samples}
    yield
    after = {p: _digest(p) for p in samples}
    assert before == after, "a test modified a real sample file"


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """``synthetic(**acquisition_fields)`` writes (once per run) and returns SyntheticFiles."""
    from si_explorer.synthetic import Acquisition, write_acquisition

    made = {}

    def make(**fields):
        key = tuple(sorted(fields.items()))
        if key not in made:
            folder = tmp_path_factory.mktemp("acq")
            made[key] = write_acquisition(folder / "acq_00001_00001.tif", Acquisition(**fields))
        return made[key]

    return make
