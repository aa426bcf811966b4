"""Bidirectional offset: estimation error and time, and the plane read overhead of correction.

Run ``python benchmarks/bidi.py`` (``--quick`` for fewer seeds and repeats). Compares, on the
same synthetic mean images (si_explorer.bidi.synthetic_bidi_image: neuron-like scene, Poisson
noise, known offsets):

* ``si_explorer.bidi.estimate_offset`` (windowed, coherence-weighted, subpixel);
* suite2p's integer ``bidiphase.compute`` -- the installed function if ``import`` of the file
  works (``pip install --no-deps --target /tmp/s2p suite2p``; set ``SUITE2P_PATH``), otherwise
  a re-implementation of its published method (phase correlation of odd and even rows, integer
  argmax within +-10 px), said in the output. suite2p returns the *correction* (minus our
  offset), which is negated here;
* a plain unwindowed FFT cross-correlation with parabolic peak refinement.

and times ``stack[f, t, z]`` raw against the same plane of the stack opened with ``bidi=0.6``
and against ``apply_offset(stack[f, t, z], ...)`` (linear, cubic, integer, per-column) on a real
``si_explorer.open`` stack of a synthetic 512x512 int16 file, the cases taken in turn on every
plane. Writes benchmarks/results/bidi.json and bidi.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

import si_explorer  # noqa: E402
from si_explorer import bidi  # noqa: E402
from si_explorer.synthetic import Acquisition, write_acquisition  # noqa: E402

OFFSETS = (0.6, -2.3, 1.0)


def load_suite2p():
    """suite2p's bidiphase.compute loaded from its file (its package __init__ needs torch)."""
    base = pathlib.Path(os.environ.get("SUITE2P_PATH", "/tmp/s2p"))
    path = base / "suite2p" / "registration" / "bidiphase.py"
    try:
        spec = importlib.util.spec_from_file_location("s2p_bidiphase", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        version = next(base.glob("suite2p-*.dist-info"), None)
        return module.compute, f"suite2p bidiphase.compute ({version.name if version else path})"
    except (FileNotFoundError, ImportError, AttributeError, OSError):
        return reimplemented_suite2p, "re-implementation of suite2p's published integer method"


def reimplemented_suite2p(frames):
    """suite2p's published method: whitened correlation of odd vs even rows, integer peak."""
    _, _, lx = frames.shape
    d1 = np.fft.fft(frames[:, 1::2], axis=2)
    d1 /= np.abs(d1) + 1e-5
    d2 = np.conj(np.fft.fft(frames[:, ::2], axis=2))
    d2 /= np.abs(d2) + 1e-5
    d2 = d2[:, : d1.shape[1]]
    cc = np.fft.fftshift(np.real(np.fft.ifft(d1 * d2, axis=2)).mean(axis=(0, 1)))
    return -(int(np.argmax(cc[lx // 2 - 10 : lx // 2 + 11])) - 10)


def plain_fft(image):
    """Unwindowed circular FFT cross-correlation of odd rows with the next even rows."""
    odd, even = image[1::2].astype(float), image[0::2].astype(float)
    n = min(len(odd), len(even))
    odd, even = odd[:n] - odd[:n].mean(1, keepdims=True), even[:n] - even[:n].mean(1, keepdims=True)
    cc = np.fft.irfft((np.fft.rfft(odd) * np.conj(np.fft.rfft(even))).sum(0), n=image.shape[1])
    cc = np.fft.fftshift(cc)
    mid = image.shape[1] // 2
    i = mid - 10 + int(np.argmax(cc[mid - 10 : mid + 11]))
    y0, y1, y2 = cc[i - 1], cc[i], cc[i + 1]
    return i - mid + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)


def timed(fn, repeat):
    fn()
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return float(np.median(best))


def estimation(seeds, shapes, frames, repeat):
    s2p, s2p_name = load_suite2p()
    methods = {
        "si_explorer.bidi": lambda img: bidi.estimate_offset(img).offset,
        "suite2p (integer)": lambda img: -float(s2p(img[None].astype(np.float32))),
        "plain FFT (unwindowed)": plain_fft,
    }
    rows = []
    for shape in shapes:
        for offset in OFFSETS:
            for seed in seeds:
                img = bidi.synthetic_bidi_image(shape, offset, seed=seed, frames=frames)
                img = img.astype(np.int16)
                for name, fn in methods.items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", bidi.BidiWarning)
                        value = float(fn(img))
                        seconds = timed(lambda: fn(img), repeat)
                    rows.append(
                        dict(method=name, shape=list(shape), offset=offset, seed=seed,
                             estimate=round(value, 4), error=round(value - offset, 4),
                             ms=round(seconds * 1e3, 3))
                    )  # fmt: skip
    return rows, s2p_name


def read_overhead(repeat):
    acq = Acquisition(height=512, width=512, volumes=40, dtype="int16", seed=1)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_acquisition(pathlib.Path(tmp) / "bidi_00001_00001.tif", acq)
        with si_explorer.open(files.paths[0]) as stack:
            n_t = stack.shape[1]
            curve = 1.5 + 0.5 * np.cos(np.linspace(-1.2, 1.2, 512))
            corrected = stack.with_options(bidi=0.6)
            cases = {
                "raw": lambda t: stack[0, t, 0],
                "open(..., bidi=0.6): stack[f, t, z]": lambda t: corrected[0, t, 0],
                "corrected 0.6 px, linear": lambda t: bidi.apply_offset(stack[0, t, 0], 0.6),
                "corrected 0.6 px, cubic": lambda t: bidi.apply_offset(
                    stack[0, t, 0], 0.6, order=3
                ),
                "corrected 2 px (integer)": lambda t: bidi.apply_offset(stack[0, t, 0], 2.0),
                "corrected per-column, linear": lambda t: bidi.apply_offset(stack[0, t, 0], curve),
            }
            for t in range(n_t):  # into the page cache
                stack[0, t, 0]
            # Round robin over the cases, so that a change in the machine's load while this
            # runs (other processes) shifts every case alike and the ratios to raw hold.
            times = {name: [] for name in cases}
            for _ in range(repeat):
                for t in range(n_t):
                    for name, fn in cases.items():
                        t0 = time.perf_counter()
                        fn(t)
                        times[name].append(time.perf_counter() - t0)
            for name, values in times.items():
                out[name] = round(float(np.median(values)) * 1e6, 1)
    plane = np.random.default_rng(0).integers(0, 4000, (512, 512)).astype(np.int16)
    out["apply_offset alone, 0.6 px linear (in-memory plane)"] = round(
        timed(lambda: bidi.apply_offset(plane, 0.6), 50 * repeat) * 1e6, 1
    )
    out["astype(float32) alone (in-memory plane)"] = round(
        timed(lambda: plane.astype(np.float32), 50 * repeat) * 1e6, 1
    )
    return out


def summarise(rows):
    table = {}
    for r in rows:
        key = (r["method"], tuple(r["shape"]), r["offset"])
        table.setdefault(key, []).append(r)
    return [
        dict(method=m, shape=list(s), offset=o,
             errors=[x["error"] for x in v],
             max_abs_error=round(max(abs(x["error"]) for x in v), 4),
             median_ms=round(float(np.median([x["ms"] for x in v])), 3))
        for (m, s, o), v in table.items()
    ]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and repeats")
    args = parser.parse_args(argv)
    seeds = (0, 1) if args.quick else (0, 1, 2, 3, 4)
    repeat = 2 if args.quick else 5
    shapes = [(512, 512), (256, 256)]
    frames = 50
    rows, s2p_name = estimation(seeds, shapes, frames, repeat)
    summary = summarise(rows)
    reads = read_overhead(1 if args.quick else 3)
    result = dict(
        scene=f"synthetic_bidi_image, mean of {frames} frames, int16, seeds {list(seeds)}",
        suite2p=s2p_name, estimation=rows, summary=summary, plane_read_us=reads,
        machine=dict(cpus=os.cpu_count(), load=os.getloadavg()),
    )  # fmt: skip
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bidi.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Bidirectional offset benchmark",
        "",
        f"Scene: {result['scene']}. suite2p: {s2p_name}. "
        f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}.",
        "",
        "| method | shape | true offset | errors per seed (px) | max abs error | median ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in summary:
        errs = ", ".join(f"{e:+.3f}" for e in s["errors"])
        lines.append(
            f"| {s['method']} | {s['shape'][0]}x{s['shape'][1]} | {s['offset']:+.1f} | {errs} "
            f"| {s['max_abs_error']:.3f} | {s['median_ms']:.2f} |"
        )
    lines += [
        "",
        "| plane read (512x512 int16, page cache) | median us | x raw |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {k} | {v:.0f} | {v / reads['raw']:.2f} |" for k, v in reads.items()]
    (out_dir / "bidi.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
