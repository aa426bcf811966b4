"""Fuzzing the header, metadata and IFD parsing on mutated real samples and small synthetic files.

Every mutated input must either open (and then reads of a few planes, a trace and the
``si-explorer info`` description either work or raise SIExplorerError) or raise SIExplorerError:
never another exception type, never a hang (each input is bounded in time), never a read whose
size or offset lies outside the file, never a large allocation (tracemalloc peak per input).

A mutation is data (a seed name and a list of operations), so an input that once failed is
kept in ``tests/corpus/cases/`` as a few hundred bytes of JSON and replayed as a regular test.
The seeds are the two real samples (``tests/data/``) and small files kept gzipped in
``tests/corpus/seeds/`` (synthetic ScanImage and plain tifffile TIFFs), frozen so that a change
to the synthetic writer does not change what the corpus means.

Longer runs (not in CI)::

    SI_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -k hypothesis   # more examples
    python -m tests.test_fuzz --atheris -atheris_runs=100000                    # coverage-guided
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import struct
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import si_explorer
from si_explorer.cli import describe
from si_explorer.errors import SIExplorerError

from .conftest import BLANK_IPA, HOSTPIXELCORR

CORPUS = Path(__file__).parent / "corpus"
SEEDS = CORPUS / "seeds"
CASES = CORPUS / "cases"

#: CPU seconds per input: opening and reading a seed (at most 1 MB) takes about 0.1 s under
#: tracemalloc, so this only catches a walk or parse gone quadratic.
INPUT_LIMIT_S = 5.0
#: Wall-clock limit per input: only a hang (a blocking open, a loop) gets anywhere near it.
HANG_S = 60.0
#: Per input, on top of the planes read: the largest seed is 1 MB, so anything near this bound
#: is an allocation sized by a corrupt count. A compressed page may declare any size and its
#: reads allocate what it declares (tifffile does the same), so declared planes are allowed for.
PEAK_LIMIT_BYTES = 48 << 20
#: Reads may ask for a little more than the file holds (IFD reads are 2 KiB, whatever is left),
#: but never start past its end or ask for more than it could give.
READ_SLACK = 4096

INTERESTING = (0, 1, 2, 3, 7, 8, 16, 255, 256, 2047, 4095, 65535, 65536,
               2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**64 - 1)  # fmt: skip

# FrameData keys the layout reads: mutating their values exercises the MATLAB parser where
# a failure matters.
LAYOUT_KEYS = re.compile(
    rb"^(SI\.(hChannels\.channelSave|hStackManager\.(actualNumSlices|numSlices|framesPerSlice"
    rb"|numVolumes|actualNumVolumes|numFramesPerVolume|numFramesPerVolumeWithFlyback|enable)"
    rb"|hFastZ\.(enable|numDiscardFlybackFrames|discardFlybackFrames|numVolumes)"
    rb"|hScan2D\.(logAverageFactor|logFramesPerFile)|hRoiManager\.(mroiEnable|scanFrameRate"
    rb"|linesPerFrame|pixelsPerLine|scanVolumeRate))) = (.*)$",
    re.MULTILINE,
)


# --- seeds ---------------------------------------------------------------------------------------


class Seed:
    """A seed file's bytes and where its structures are (header, IFDs, FrameData, ROI JSON)."""

    def __init__(self, name: str, data: bytes):
        self.name, self.data = name, data
        self.bigtiff = data[2:4] in (b"+\0", b"\0+")
        self.byteorder = "<" if data[:2] == b"II" else ">"
        bo = self.byteorder
        self.count_size, self.entry_size, self.value_size = (
            (8, 20, 8) if self.bigtiff else (2, 12, 4)
        )
        first = struct.unpack_from(
            bo + ("Q" if self.bigtiff else "I"), data, 8 if self.bigtiff else 4
        )
        self.ifds = []  # (offset, entry count)
        offset = first[0]
        while offset and len(self.ifds) < 10_000:
            (count,) = struct.unpack_from(bo + ("Q" if self.bigtiff else "H"), data, offset)
            self.ifds.append((offset, count))
            end = offset + self.count_size + count * self.entry_size
            (offset,) = struct.unpack_from(bo + ("Q" if self.bigtiff else "I"), data, end)
        self.frame_data = self.roi_json = None
        if data[:4] == b"II+\0" and struct.unpack_from("<I", data, 16)[0] == 117637889:
            size0, size1 = struct.unpack_from("<2I", data, 24)
            self.frame_data = (32, 32 + size0)
            self.roi_json = (32 + size0, 32 + size0 + size1)
        text = data[self.frame_data[0] : self.frame_data[1]] if self.frame_data else b""
        # (start, end) of each layout key's value inside the file
        self.values = [
            (self.frame_data[0] + m.start(5), self.frame_data[0] + m.end(5))
            for m in LAYOUT_KEYS.finditer(text)
        ]

    def ifd(self, which: int) -> tuple[int, int]:
        return self.ifds[which % len(self.ifds)]


@functools.cache
def seeds() -> dict[str, Seed]:
    found = {p.name: Seed(p.name, p.read_bytes()) for p in (HOSTPIXELCORR, BLANK_IPA)}
    for path in sorted(SEEDS.glob("*.tif.gz")):
        name = path.name.removesuffix(".gz")
        found[name] = Seed(name, gzip.decompress(path.read_bytes()))
    return found


# --- mutations: JSON-able lists of operations ----------------------------------------------------


def apply(seed: Seed, ops: list) -> bytes:
    """The seed's bytes with ``ops`` applied in order (positions refer to the seed's structure,
    so that an op means the same thing after earlier ops changed lengths)."""
    data = bytearray(seed.data)
    bo = seed.byteorder
    vs, es, cs = seed.value_size, seed.entry_size, seed.count_size
    for op in ops:
        kind, args = op[0], op[1:]
        if kind == "flip":
            position, mask = args
            if position < len(data):
                data[position] ^= mask or 1
        elif kind == "put":
            position, hexbytes = args
            chunk = bytes.fromhex(hexbytes)
            data[position : position + len(chunk)] = chunk
        elif kind == "truncate":
            del data[args[0] :]
        elif kind == "insert":
            position, hexbytes = args
            data[position:position] = bytes.fromhex(hexbytes)
        elif kind == "delete":
            position, n = args
            del data[position : position + n]
        elif kind in ("entry", "count", "next"):
            which = args[0]
            offset, count = seed.ifd(which)
            if kind == "count":
                at, width, value = offset, cs, args[1]
            elif kind == "next":
                at, width, value = offset + cs + count * es, vs, args[1]
            else:
                entry, part, value = args[1:]
                at = offset + cs + (entry % count) * es
                at, width = {"code": (at, 2), "type": (at + 2, 2), "n": (at + 4, vs),
                             "value": (at + 4 + vs, vs)}[part]  # fmt: skip
            value &= (1 << (8 * width)) - 1
            data[at : at + width] = value.to_bytes(width, "little" if bo == "<" else "big")
        elif kind == "text":
            which, text = args
            if seed.values:
                start, end = seed.values[which % len(seed.values)]
                # Same length: the metadata block sizes in the header stay right.
                data[start:end] = text.encode("latin-1", "replace")[: end - start].ljust(
                    end - start
                )
        elif kind == "json":
            position, byte = args
            if seed.roi_json and seed.roi_json[1] > seed.roi_json[0]:
                start, end = seed.roi_json
                at = start + position % (end - start)
                if at < len(data):  # an earlier op may have cut the file
                    data[at] = byte
                old = b"SI.hRoiManager.mroiEnable = false"
                at = data.find(old)
                if at >= 0:  # the ROI JSON is only read for multi-ROI files
                    data[at : at + len(old)] = b"SI.hRoiManager.mroiEnable = true "
        else:
            raise ValueError(f"unknown op {op!r}")
    return bytes(data)


# --- the property --------------------------------------------------------------------------------


class ReadGuard:
    """Wraps os.pread/os.preadv: every positioned read must start inside the file and ask for
    no more bytes than the file could give (an absurd count would be a huge allocation)."""

    def __init__(self):
        self.violations: list[str] = []
        self.reads = 0

    def _check(self, fd: int, offset: int, nbytes: int) -> None:
        self.reads += 1
        size = os.fstat(fd).st_size
        if offset < 0 or offset > size or nbytes > size + READ_SLACK:
            self.violations.append(
                f"read of {nbytes:,} bytes at {offset:,} of a {size:,}-byte file"
            )

    def install(self, monkeypatch) -> None:
        pread, preadv = os.pread, os.preadv

        def guarded_pread(fd, n, offset):
            self._check(fd, offset, n)
            return pread(fd, n, offset)

        def guarded_preadv(fd, buffers, offset, *flags):
            self._check(fd, offset, sum(memoryview(b).nbytes for b in buffers))
            return preadv(fd, buffers, offset, *flags)

        monkeypatch.setattr(os, "pread", guarded_pread)
        monkeypatch.setattr(os, "preadv", guarded_preadv)


def exercise(path: Path) -> str:
    """Open ``path`` and use it the way a user would; the outcome as a short label.

    Only SIExplorerError is caught: any other exception propagates and fails the caller.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack = si_explorer.open(path, progress=False)
    except SIExplorerError as exc:
        return type(exc).__name__, 0
    labels = ["opened"]
    plane_bytes = int(np.prod(stack.shape[-2:])) * stack.dtype.itemsize
    with stack:
        backends = ("pread", "mmap") if stack.backend != "tifffile" else ("tifffile",)
        for backend in backends:
            view = stack.with_options(backend=backend)
            f, t, z = (n - 1 for n in stack.shape[:3])
            for step, read in (
                ("first", lambda v=view: v[0, 0, 0]),
                ("last", lambda v=view, f=f, t=t, z=z: v[f, t, z]),
                ("trace", lambda v=view: v.timeseries(0, 0, z=0)),
                (
                    "block",
                    lambda v=view: np.asarray(
                        v.data[:, :2, :2, :3, :5].compute(scheduler="synchronous")
                    ),
                ),  # fmt: skip
            ):
                try:
                    out = read()
                    assert out.dtype == stack.dtype
                except SIExplorerError as exc:
                    labels.append(f"{backend}-{step}:{type(exc).__name__}")
        try:
            describe(stack)
        except SIExplorerError as exc:
            labels.append(f"describe:{type(exc).__name__}")
    return ",".join(labels), plane_bytes


def bounded(function, cpu_seconds: float, wall_seconds: float = HANG_S):
    """``function()`` in a thread: fail if it runs longer than ``wall_seconds`` (a hang) or
    uses more than ``cpu_seconds`` of its thread's CPU time (unbounded work). CPU time, not
    wall time, so that a busy shared machine does not make a fast input look slow."""
    outcome: dict = {}

    def run():
        start = time.thread_time()
        try:
            outcome["value"] = function()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        outcome["cpu"] = time.thread_time() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(wall_seconds)
    if thread.is_alive():
        raise AssertionError(f"no result after {wall_seconds} s: a hang")
    if "error" in outcome:
        raise outcome["error"]
    assert outcome["cpu"] < cpu_seconds, f"{outcome['cpu']:.1f} s of CPU time for one input"
    return outcome["value"]


class Harness:
    """Writes each input to a fresh file and checks the property; counts inputs tried."""

    def __init__(self, folder: Path, guard: ReadGuard):
        self.folder, self.guard = folder, guard
        self.tried = 0
        self.outcomes: dict[str, tuple[str, list]] = {}
        self.counts: dict[str, int] = {}

    def warm_up(self) -> None:
        """Every unmutated seed once, unbounded: the first tifffile series, zarr or dask import
        takes seconds under tracemalloc, which is not what the per-input limit is about."""
        for name, original in seeds().items():
            path = self.folder / f"seed_{name}"
            path.write_bytes(original.data)
            assert exercise(path)[0].startswith("opened"), name

    def check(self, seed_name: str, ops: list) -> str:
        seed = seeds()[seed_name]
        data = apply(seed, ops)
        self.tried += 1
        trace = os.environ.get("SI_FUZZ_TRACE")
        if trace:  # the input being tried, for a run that hangs before hypothesis can report
            Path(trace).write_text(json.dumps({"seed": seed_name, "ops": ops}))
        # A fresh name per input: the index cache is keyed by path, and a stale entry must not
        # be what makes an input pass.
        path = self.folder / f"input_{self.tried:06d}.tif"
        path.write_bytes(data)
        before = len(self.guard.violations)
        tracemalloc.start()
        try:
            outcome, plane_bytes = bounded(lambda: exercise(path), INPUT_LIMIT_S)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            path.unlink()
        assert self.guard.violations[before:] == [], self.guard.violations[before:]
        # Up to four planes are alive at once (a read, its copy, and dask's block and result).
        limit = PEAK_LIMIT_BYTES + 4 * plane_bytes
        assert peak < limit, f"peak allocation {peak:,} bytes for a {len(data):,}-byte input"
        self.outcomes.setdefault(outcome, (seed_name, ops))
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        return outcome


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    guard = ReadGuard()
    with pytest.MonkeyPatch.context() as patch:
        guard.install(patch)
        patch.setenv("SI_EXPLORER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        harness = Harness(tmp_path_factory.mktemp("fuzz"), guard)
        harness.warm_up()
        yield harness


# --- hypothesis ----------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("SI_FUZZ_EXAMPLES", "250"))


@st.composite
def mutations(draw):
    names = sorted(seeds())
    name = draw(st.sampled_from(names))
    s = seeds()[name]
    size = len(s.data)
    # Positions: mostly where parsing happens (header, IFDs, metadata), sometimes anywhere.
    regions = [(0, 64)] + [(o, o + s.count_size + c * s.entry_size + s.value_size)
                           for o, c in (s.ifd(0), s.ifd(1), s.ifd(-1))]  # fmt: skip
    if s.frame_data:
        regions += [s.frame_data, s.roi_json]
    region = draw(st.sampled_from(regions + [(0, size)]))
    position = st.integers(region[0], max(region[0], region[1] - 1))
    number = st.sampled_from(INTERESTING + (size - 1, size, size + 1)) | st.integers(0, 2**64 - 1)
    which = st.sampled_from([0, 1, -1, -2])
    op = st.one_of(
        st.tuples(st.just("flip"), position, st.integers(1, 255)),
        st.tuples(st.just("put"), position, st.binary(min_size=1, max_size=8).map(bytes.hex)),
        st.tuples(st.just("truncate"), st.integers(0, size)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16).map(bytes.hex)),
        st.tuples(st.just("delete"), position, st.integers(1, 64)),
        st.tuples(
            st.just("entry"),
            which,
            st.integers(0, 40),
            st.sampled_from(["code", "type", "n", "value"]),
            number,
        ),  # fmt: skip
        st.tuples(st.just("count"), which, number),
        st.tuples(st.just("next"), which, number),
        st.tuples(
            st.just("text"),
            st.integers(0, 40),
            st.text(st.sampled_from("[]{};'\"0123456789 .-eInfNa,truefls\n"), max_size=12),
        ),
        st.tuples(st.just("json"), st.integers(0, 1 << 16), st.integers(0, 255)),
    )
    ops = draw(st.lists(op, min_size=1, max_size=3))
    return name, [list(o) for o in ops]


@seed(20261122)
@settings(
    max_examples=EXAMPLES,
    deadline=None,  # time is bounded per input by the harness, with a clearer failure
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=mutations())
def test_hypothesis_mutations_open_or_raise_si_explorer_error(harness, case):
    harness.check(*case)


def test_fuzz_run_tried_inputs_and_reached_several_outcomes(harness):
    """Runs after the hypothesis test (file order): the run must have tried the inputs it was
    asked to and reached more than the trivial outcomes, or the mutations are not biting."""
    if harness.tried == 0:
        pytest.skip("run together with the hypothesis test (it is deselected)")
    print(f"\nfuzz: {harness.tried} inputs tried, {len(harness.outcomes)} distinct outcomes")
    for outcome, (name, _) in sorted(harness.outcomes.items()):
        print(f"  {harness.counts[outcome]:5d}  {outcome}  (first from {name})")
    assert harness.tried >= min(EXAMPLES, 100)
    kinds = {o.split(",")[0] for o in harness.outcomes}
    assert {"opened", "CorruptTiffError", "NotATiffError"} <= kinds, kinds
    save = os.environ.get("SI_FUZZ_SAVE_CORPUS")
    if save:
        save_corpus(harness.outcomes, Path(save))


def save_corpus(outcomes: dict, folder: Path) -> None:
    """One case per distinct outcome: the corpus then covers every path the fuzz reached."""
    folder.mkdir(parents=True, exist_ok=True)
    for outcome, (name, ops) in outcomes.items():
        slug = re.sub(r"[^A-Za-z0-9]+", "_", f"{name}_{outcome}")[:80]
        case = {"seed": name, "ops": ops, "outcome": outcome}
        (folder / f"{slug}.json").write_text(json.dumps(case) + "\n")


# --- the corpus, replayed ------------------------------------------------------------------------


CASE_FILES = sorted(CASES.glob("*.json"))


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_corpus_case(harness, case_file):
    case = json.loads(case_file.read_text())
    outcome = harness.check(case["seed"], case["ops"])
    assert outcome == case["outcome"]


def test_corpus_is_small_and_present():
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert CASE_FILES and total < 1 << 20, (len(CASE_FILES), total)


# --- atheris: a longer, coverage-guided run (not in CI) ------------------------------------------


def _atheris_main() -> None:  # pragma: no cover - a manual tool
    import atheris

    names = sorted(seeds())
    kinds = ["flip", "put", "truncate", "insert", "delete", "entry", "count", "next", "text",
             "json"]  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="si-fuzz-"))
    os.environ["SI_EXPLORER_CACHE_DIR"] = str(folder / "cache")
    guard = ReadGuard()
    patch = pytest.MonkeyPatch()
    guard.install(patch)
    harness = Harness(folder, guard)
    harness.warm_up()

    def one_input(raw: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(raw)
        name = names[fdp.ConsumeIntInRange(0, len(names) - 1)]
        size = len(seeds()[name].data)
        ops = []
        for _ in range(fdp.ConsumeIntInRange(1, 3)):
            kind = kinds[fdp.ConsumeIntInRange(0, len(kinds) - 1)]
            position = fdp.ConsumeIntInRange(0, size)
            number = fdp.ConsumeIntInRange(0, 2**64 - 1)
            which = fdp.ConsumeIntInRange(-2, 1)
            small = fdp.ConsumeIntInRange(1, 255)
            blob = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 16)).hex() or "00"
            ops.append(
                {
                    "flip": ["flip", position, small],
                    "put": ["put", position, blob],
                    "truncate": ["truncate", position],
                    "insert": ["insert", position, blob],
                    "delete": ["delete", position, small],
                    "entry": [
                        "entry",
                        which,
                        small % 41,
                        ["code", "type", "n", "value"][small % 4],
                        number,
                    ],  # fmt: skip
                    "count": ["count", which, number],
                    "next": ["next", which, number],
                    "text": ["text", small, fdp.ConsumeUnicodeNoSurrogates(12)],
                    "json": ["json", position, small],
                }[kind]
            )
        try:
            harness.check(name, ops)
        except BaseException:
            print(json.dumps({"seed": name, "ops": ops}), file=sys.stderr)
            raise
        if harness.tried % 1000 == 0:
            print(f"{harness.tried} inputs, {len(harness.outcomes)} outcomes", file=sys.stderr)

    atheris.Setup([a for a in sys.argv if a != "--atheris"], one_input)
    atheris.Fuzz()


if __name__ == "__main__" and "--atheris" in sys.argv:
    _atheris_main()
