"""si-explorer benchmark suite: every figure is a ratio to a reference measured in the same run.

    python benchmarks/run.py               # full suite (< 10 min), results in benchmarks/results/
    python benchmarks/run.py --quick       # tiny sizes: checks that the suite runs (the tests do)
    python benchmarks/run.py --only open   # one section: open, walk, plane, trace, pass

Files are synthetic ScanImage acquisitions with the real byte layout (open-time files are
sparse: their pixel bytes are holes), written once to --workdir and reused.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import numpy as np

import si_explorer
from si_explorer.summary import SUMMARIES
from si_explorer.synthetic import Acquisition, write_acquisition
from si_explorer.tiff import build_index

HERE = Path(__file__).resolve().parent
SECTIONS = ("open", "walk", "timeline", "plane", "trace", "pass")


def timed(func, *, repeat: int = 5, min_time: float = 0.0) -> float:
    """Median seconds of ``func()`` over ``repeat`` runs (after one warm-up run)."""
    func()
    runs = []
    start = time.perf_counter()
    while len(runs) < repeat or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        func()
        runs.append(time.perf_counter() - t0)
        if len(runs) >= 1000:
            break
    return statistics.median(runs)


def evict(path) -> None:
    """Drop one file's pages from the page cache (a per-file 'cold cache', no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed_cold(func, path, *, repeat: int = 3) -> float:
    """Median seconds of ``func()`` with ``path`` evicted from the page cache before each run."""
    runs = []
    for _ in range(repeat):
        evict(path)
        t0 = time.perf_counter()
        func()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


# One open in a fresh process: its time (the body only, not the imports) and the memory it adds.
# ru_maxrss cannot measure the latter: the peak is reached during the imports (numpy, dask), so it
# never moves during an open. Writing "5" to clear_refs resets the kernel's high-water mark
# (VmHWM) to the current RSS; the peak after the open, minus the RSS before it, is what the open
# cost, with the opened object still alive.
_OPEN_CODE = """
import json, sys, time
{imports}


def status():
    values = {{}}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(value.split()[0]) / 1024
    return values


try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    reset = False
else:
    reset = True
before = status()
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
after = status()
print(json.dumps({{
    "s": elapsed,
    "extra_rss_mb": after["VmHWM"] - before["VmRSS"] if reset else None,
    "extra_rss_after_mb": after["VmRSS"] - before["VmRSS"],
}}))
"""

_OPENERS = {
    "si_explorer": ("import si_explorer", "s = si_explorer.open(sys.argv[1]); s.shape"),
    "tifffile_series": ("import tifffile", "t = tifffile.TiffFile(sys.argv[1]); t.series[0].shape"),
    "tifffile_zarr_dask": (
        "import tifffile, zarr, dask.array as da",
        "t = tifffile.TiffFile(sys.argv[1]); "
        "a = da.from_zarr(zarr.open(t.aszarr(series=0), mode='r'))",
    ),
    "scanimagetiffreader": (
        "from ScanImageTiffReader import ScanImageTiffReader",
        "r = ScanImageTiffReader(sys.argv[1]); r.shape()",
    ),
}


def open_in_fresh_process(tool: str, path: str) -> dict | None:
    """One open by ``tool`` in a new interpreter: {"s", "extra_rss_mb", "extra_rss_after_mb"},
    or None when the tool is not installed or fails."""
    import subprocess

    imports, body = _OPENERS[tool]
    code = _OPEN_CODE.format(imports=imports, body=body)
    done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.splitlines()[-1])


def acquisition(workdir: Path, name: str, acq: Acquisition):
    """Write an acquisition once; later runs reuse it."""
    folder = workdir / name
    first = folder / f"{name}_00001_00001.tif"
    if first.exists():
        first.unlink()  # the writer is fast; rewriting keeps the file in step with the code
    folder.mkdir(parents=True, exist_ok=True)
    return write_acquisition(first, acq, progress=True)


# --------------------------------------------------------------------------- open


#: A reference whose single fresh-process open takes longer than this is timed by that one run;
#: quicker ones get the median of several in-process runs (cheap, and steadier at a few ms).
ONE_RUN_ABOVE_S = 0.5


def bench_open(workdir: Path, sizes: list[int]) -> list[dict]:
    """Warm and cold open times of si-explorer and the references, and the memory each adds.

    The slow references (seconds to minutes at 100k+ pages) are run as few times as the figures
    need: one in-process tifffile open warms the page cache for all of them (they read the same
    IFD bytes), then each reference opens once in a fresh process that reports both its time
    and its memory. Repeating a 10 s open only measures the same thing again.
    """
    import tifffile

    rows = []
    for n_pages in sizes:
        files = acquisition(
            workdir,
            f"open{n_pages}",
            Acquisition(volumes=n_pages, height=512, width=512, sparse=True),
        )
        path = str(files.paths[0])

        def ours():
            with si_explorer.open(path) as stack:
                return stack.shape

        def tifffile_series():
            with tifffile.TiffFile(path) as tif:
                return tif.series[0].shape

        def tifffile_zarr():
            import dask.array as da
            import zarr

            with tifffile.TiffFile(path) as tif:
                store = tif.aszarr(series=0)
                return da.from_zarr(zarr.open(store, mode="r")).shape

        def sitr():
            from ScanImageTiffReader import ScanImageTiffReader

            with ScanImageTiffReader(path) as reader:
                return reader.shape()

        in_process = {
            "tifffile_series": tifffile_series,
            "tifffile_zarr_dask": tifffile_zarr,
            "scanimagetiffreader": sitr,
        }
        tifffile_series()  # warms the page cache for every tool
        row = {"pages": n_pages, "si_explorer_s": timed(ours, repeat=20)}
        for tool in _OPENERS:
            fresh = open_in_fresh_process(tool, path)
            if fresh is None:  # not installed (ScanImageTiffReader is optional)
                continue
            row[f"{tool}_extra_rss_mb"] = fresh["extra_rss_mb"]
            row[f"{tool}_extra_rss_after_mb"] = fresh["extra_rss_after_mb"]
            if tool in in_process:
                quick = fresh["s"] < ONE_RUN_ABOVE_S
                row[f"{tool}_s"] = timed(in_process[tool], repeat=5) if quick else fresh["s"]
        row["si_explorer_cold_s"] = timed_cold(ours, path)
        row["tifffile_series_cold_s"] = timed_cold(tifffile_series, path, repeat=1)
        for key in ("tifffile_series_s", "tifffile_zarr_dask_s", "scanimagetiffreader_s"):
            if key in row:
                row[key[:-2] + "_ratio"] = row[key] / row["si_explorer_s"]
        rows.append(row)
        print(
            f"open {n_pages:>7,} pages: si-explorer {row['si_explorer_s'] * 1e3:.2f} ms "
            f"(+{row['si_explorer_extra_rss_mb']:.1f} MB), tifffile series "
            f"{row['tifffile_series_s']:.2f} s ({row['tifffile_series_ratio']:,.0f}x, "
            f"+{row['tifffile_series_extra_rss_mb']:.1f} MB)",
            flush=True,
        )
    return rows


def bench_walk(workdir: Path, n_pages: int) -> dict:
    """A file whose stride breaks cannot be predicted: our IFD walk against tifffile's."""
    import tifffile

    from si_explorer.tiff import build_index

    files = acquisition(
        workdir,
        "walk",
        Acquisition(
            volumes=n_pages, height=512, width=512, sparse=True, stride_break_at=n_pages // 2
        ),
    )
    path = str(files.paths[0])

    def walk():
        index = build_index(path, cache=False, progress=False)
        assert index.method == "walk"
        return index

    def tifffile_series():
        with tifffile.TiffFile(path) as tif:
            return tif.series[0].shape

    result = {
        "pages": n_pages,
        "walk_s": timed(walk, repeat=3),
        "tifffile_series_s": timed(tifffile_series, repeat=1),
        "walk_cold_s": timed_cold(walk, path),
        "tifffile_series_cold_s": timed_cold(tifffile_series, path, repeat=1),
    }
    result["cached_open_s"] = timed(lambda: si_explorer.open(path).shape, repeat=5)
    result["warm_ratio"] = result["tifffile_series_s"] / result["walk_s"]
    result["cold_ratio"] = result["tifffile_series_cold_s"] / result["walk_cold_s"]
    print(
        f"walk {n_pages:,} pages: {result['walk_s']:.2f} s warm ({result['warm_ratio']:.1f}x "
        f"faster than tifffile), {result['walk_cold_s']:.2f} s cold "
        f"({result['cold_ratio']:.1f}x); reopen from the index cache "
        f"{result['cached_open_s'] * 1e3:.1f} ms",
        flush=True,
    )
    return result


def bench_timeline(workdir: Path, n_pages: int) -> dict:
    """Every frame header as data: ``stack.timeline()`` against tifffile parsing every page's
    description (what tifffile offers for per-frame metadata), warm cache, the same file."""
    import tifffile
    from tifffile.tifffile import scanimage_description_metadata

    files = acquisition(
        workdir,
        "timeline",
        Acquisition(volumes=n_pages, height=512, width=512, sparse=True, timestamp_jitter=1e-4),
    )
    path = str(files.paths[0])

    def ours():
        timeline = si_explorer.open(path).timeline(progress=False)
        assert timeline.sizes["time"] == n_pages
        return timeline

    def ours_uncached():
        # A cache folder of its own each time: the headers are read and parsed, not loaded.
        with tempfile.TemporaryDirectory() as cache:
            with mock.patch.dict(os.environ, {"SI_EXPLORER_CACHE_DIR": cache}):
                return ours()

    def tifffile_headers():
        with tifffile.TiffFile(path) as tif:
            return [scanimage_description_metadata(page.description) for page in tif.pages]

    ours_uncached()  # the page cache holds the descriptions for both
    result = {"pages": n_pages, "si_explorer_s": timed(ours_uncached, repeat=3)}
    ours()  # writes the timeline cache
    result["cached_s"] = timed(ours, repeat=3)
    result["tifffile_s"] = timed(tifffile_headers, repeat=1)
    result["ratio"] = result["tifffile_s"] / result["si_explorer_s"]
    print(
        f"timeline {n_pages:,} pages: {result['si_explorer_s']:.2f} s read and parsed "
        f"({result['cached_s']:.3f} s from the cache), tifffile parsing every description "
        f"{result['tifffile_s']:.1f} s ({result['ratio']:.0f}x)",
        flush=True,
    )
    return result


def bench_full_pass(workdir: Path, volumes: int) -> dict:
    """Mean and max projections over time against a plain sequential read of the file.

    The pass is the public API, ``stack.project(("mean", "max"))``: one read of the file
    for both, zero-copy views of the memory map where the file allows (the default). Beside it,
    the same pass forced through copies (``backend="pread"``) and dask's obvious recipe (two
    reductions, ``mean(dtype=float64)`` and ``max``, over the stack's dask array), to show
    where the speed comes from. All warm cache: the file is read once before timing.
    """
    import dask

    files = acquisition(
        workdir, "pass", Acquisition(volumes=volumes, channels=8, lbm=True, height=256, width=256)
    )
    path = str(files.paths[0])
    size = os.path.getsize(path)

    def sequential():
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buffer):
                pass

    buffer = bytearray(8 << 20)
    stack = si_explorer.open(path)
    copies = stack.with_options(backend="pread")
    data = stack.with_options(chunks="frames:64").data
    pixel_bytes = stack.nbytes

    def project(s):
        return s.project(("mean", "max"))  # as users call it: a progress bar after 2 s

    def recipe():
        return dask.compute(data.mean(axis=1, dtype=np.float64), data.max(axis=1))

    def summaries():
        return stack.project(SUMMARIES)

    mean, peak = project(stack)
    expected_mean, expected_max = recipe()
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_array_equal(peak, expected_max)
    check_summaries(stack, summaries())
    result = {
        "file_bytes": size,
        "pixel_bytes": pixel_bytes,
        "sequential_s": timed(sequential, repeat=3),
        "project_s": timed(lambda: project(stack), repeat=3),
        "project_copies_s": timed(lambda: project(copies), repeat=3),
        "mean_max_std_s": timed(lambda: stack.project(("mean", "max", "std")), repeat=3),
        "summaries_s": timed(summaries, repeat=3),
        "dask_recipe_s": timed(recipe, repeat=1),
        "sequential_cold_s": timed_cold(sequential, path, repeat=1),
        "summaries_cold_s": timed_cold(summaries, path, repeat=1),
    }
    result["sequential_gb_s"] = size / result["sequential_s"] / 1e9
    result["sequential_cold_gb_s"] = size / result["sequential_cold_s"] / 1e9
    result["summaries_cold_gb_s"] = pixel_bytes / result["summaries_cold_s"] / 1e9
    result["summaries_cold_of_sequential_cold"] = (
        result["summaries_cold_gb_s"] / result["sequential_cold_gb_s"]
    )
    for key in ("project", "project_copies", "mean_max_std", "summaries", "dask_recipe"):
        result[f"{key}_gb_s"] = pixel_bytes / result[f"{key}_s"] / 1e9
        result[f"{key}_of_sequential"] = result[f"{key}_gb_s"] / result["sequential_gb_s"]
    result["fraction_of_sequential"] = result["project_of_sequential"]
    print(
        f"full pass over {size / 1e9:.2f} GB: sequential {result['sequential_gb_s']:.2f} GB/s, "
        f"project(mean, max) {result['project_gb_s']:.2f} GB/s "
        f"({result['fraction_of_sequential']:.0%}); through copies "
        f"{result['project_copies_gb_s']:.2f} GB/s, dask recipe "
        f"{result['dask_recipe_gb_s']:.2f} GB/s; mean+max+std "
        f"{result['mean_max_std_of_sequential']:.0%}, all four summaries "
        f"{result['summaries_gb_s']:.2f} GB/s ({result['summaries_of_sequential']:.0%}); cold: "
        f"sequential {result['sequential_cold_gb_s']:.2f} GB/s, all four "
        f"{result['summaries_cold_gb_s']:.2f} GB/s",
        flush=True,
    )
    return result


def check_summaries(stack, images) -> None:
    """The four summary images of the benchmark file against plain numpy and a CaImAn-style
    local correlation, on a corner of the first plane (the interior of the corner: its edge
    pixels have neighbours outside it)."""
    sys.path.insert(0, str(HERE.parent))  # the references the test suite checks against
    from tests.references import caiman_local_correlations

    corner = stack[0, :, 0, :34, :34].astype(np.float64)
    mean, peak, std, corr = (image[0, 0, :34, :34] for image in images)
    np.testing.assert_allclose(mean, corner.mean(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(peak, corner.max(axis=0))
    np.testing.assert_allclose(std, corner.std(axis=0), rtol=1e-6)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(corr[inner], caiman_local_correlations(corner)[inner], atol=1e-6)


def plot_open(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    pages = [r["pages"] for r in rows]
    for key, label in (
        ("si_explorer_s", "si-explorer"),
        ("tifffile_series_s", "tifffile series"),
        ("tifffile_zarr_dask_s", "tifffile aszarr + dask"),
        ("scanimagetiffreader_s", "ScanImageTiffReader"),
    ):
        if all(key in r for r in rows):
            ax.loglog(pages, [r[key] for r in rows], marker="o", label=label)
    ax.set_xlabel("pages in the file")
    ax.set_ylabel("open time (s, warm cache)")
    ax.set_title("Time to a usable 5-D array")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- plane reads


def bench_plane(workdir: Path, volumes: int) -> dict:
    files = acquisition(
        workdir, "plane", Acquisition(volumes=volumes, channels=4, lbm=True, height=512, width=512)
    )
    path = str(files.paths[0])
    stack = si_explorer.open(path)
    index = build_index(path)
    rng = np.random.default_rng(0)
    picks = [
        (int(t), int(z))
        for t, z in zip(rng.integers(0, stack.shape[1], 200), rng.integers(0, stack.shape[2], 200))
    ]
    page_of = {p: int(stack.layout.page_numbers(0, p[0], p[1], stack.channel)) for p in picks}
    nbytes = 512 * 512 * 2
    fd = os.open(path, os.O_RDONLY)
    cursor = iter(range(10**9))

    def floor():
        t, z = picks[next(cursor) % len(picks)]
        offset = int(index.data_offsets[page_of[t, z]])
        return np.frombuffer(os.pread(fd, nbytes, offset), "<i2").reshape(512, 512)

    def eager():
        t, z = picks[next(cursor) % len(picks)]
        return stack[0, t, z]

    def dask_page():
        t, z = picks[next(cursor) % len(picks)]
        return stack.data[0, t, z].compute(scheduler="synchronous")

    for _ in range(3):  # warm the page cache over every picked page
        [floor() for _ in picks]
    result = {
        "pread_floor_s": timed(floor, repeat=200),
        "stack_getitem_s": timed(eager, repeat=200),
        "dask_page_s": timed(dask_page, repeat=50),
    }
    result["stack_getitem_vs_floor"] = result["stack_getitem_s"] / result["pread_floor_s"]
    result["dask_page_vs_floor"] = result["dask_page_s"] / result["pread_floor_s"]
    os.close(fd)
    print(
        f"plane read: floor {result['pread_floor_s'] * 1e6:.0f} µs, stack[f,t,z] "
        f"{result['stack_getitem_s'] * 1e6:.0f} µs ({result['stack_getitem_vs_floor']:.2f}x), "
        f"dask {result['dask_page_s'] * 1e6:.0f} µs",
        flush=True,
    )
    return result


# --------------------------------------------------------------------------- traces


def bench_trace(workdir: Path, volumes: int, size: int) -> dict:
    import tifffile

    files = acquisition(
        workdir,
        "trace",
        Acquisition(volumes=volumes, channels=30, lbm=True, height=size, width=size),
    )
    path = str(files.paths[0])
    stack = si_explorer.open(path)
    n_t = stack.shape[1]
    z, y, x = 17, size // 2, size // 3
    roi = (y - 5, y + 5, x - 5, x + 5)
    index = build_index(path)
    pages = stack.layout.page_numbers(0, np.arange(n_t), z, stack.channel)
    memmap = np.memmap(path, dtype=np.uint8, mode="r")

    def floor_pixel():
        starts = index.data_offsets[pages] + (y * size + x) * 2
        return memmap[starts[:, None] + np.arange(2)].view("<i2").ravel()

    def floor_roi():
        rows = (np.arange(roi[0], roi[1])[:, None] * size + np.arange(roi[2], roi[3])) * 2
        starts = index.data_offsets[pages][:, None, None] + rows[None]
        values = memmap[starts[..., None] + np.arange(2)].view("<i2")
        return values.reshape(n_t, -1).mean(axis=1)

    def ours_pixel():
        return stack.timeseries(y, x, z=z)

    def ours_roi():
        return stack.timeseries(roi=roi, z=z)

    def dask_pixel():
        return stack.data[0, :, z, y, x].compute()

    def tifffile_pixel():
        with tifffile.TiffFile(path) as tif:
            return np.array([tif.pages[int(p)].asarray()[y, x] for p in pages])

    np.testing.assert_array_equal(ours_pixel(), floor_pixel())
    np.testing.assert_allclose(ours_roi(), floor_roi())
    result = {
        "time_points": n_t,
        "planes": stack.shape[2],
        "page": f"{size}x{size}",
        "floor_pixel_s": timed(floor_pixel, repeat=20),
        "floor_roi_s": timed(floor_roi, repeat=10),
        "si_explorer_pixel_s": timed(ours_pixel, repeat=20),
        "si_explorer_roi_s": timed(ours_roi, repeat=10),
        "dask_page_chunks_pixel_s": timed(dask_pixel, repeat=1),
        "tifffile_pages_pixel_s": timed(tifffile_pixel, repeat=1),
    }
    result["pixel_vs_floor"] = result["si_explorer_pixel_s"] / result["floor_pixel_s"]
    result["roi_vs_floor"] = result["si_explorer_roi_s"] / result["floor_roi_s"]
    result["dask_vs_pixel"] = result["dask_page_chunks_pixel_s"] / result["si_explorer_pixel_s"]
    result["tifffile_vs_pixel"] = result["tifffile_pages_pixel_s"] / result["si_explorer_pixel_s"]
    print(
        f"trace over {n_t:,} time points: si-explorer {result['si_explorer_pixel_s'] * 1e3:.2f} ms "
        f"({result['pixel_vs_floor']:.2f}x floor), page-chunked dask "
        f"{result['dask_page_chunks_pixel_s']:.2f} s ({result['dask_vs_pixel']:,.0f}x slower)",
        flush=True,
    )
    return result


# --------------------------------------------------------------------------- report


def markdown(results: dict) -> str:
    dates = results.get("dates", {})
    when = results["date"]
    if len(set(dates.values())) > 1:
        when = ", ".join(f"{section} {day}" for section, day in dates.items())
    lines = [f"Measured {when} on {results['machine']}.", ""]
    if results.get("open"):
        lines += [
            "| pages | si-explorer open | tifffile series | ratio | tifffile zarr+dask | "
            "ScanImageTiffReader | ratio |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results["open"]:
            sitr = r.get("scanimagetiffreader_s")
            lines.append(
                f"| {r['pages']:,} | {r['si_explorer_s'] * 1e3:.2f} ms | "
                f"{r['tifffile_series_s']:.2f} s | {r['tifffile_series_ratio']:,.0f}x | "
                f"{r['tifffile_zarr_dask_s']:.2f} s | "
                + (
                    f"{sitr:.2f} s | {r['scanimagetiffreader_ratio']:,.0f}x |"
                    if sitr
                    else "- | - |"
                )
            )
        lines.append("")
    if results.get("open"):
        lines += [
            "Extra RSS of one open (MB: peak during the open above the RSS after the imports, "
            "object kept alive; fresh process, warm cache):",
            "",
            "| pages | si-explorer | tifffile series | tifffile zarr+dask | ScanImageTiffReader |",
            "|---:|---:|---:|---:|---:|",
        ]
        for r in results["open"]:
            cells = [r.get(f"{tool}_extra_rss_mb") for tool in _OPENERS]
            lines.append(
                f"| {r['pages']:,} | "
                + " | ".join("-" if c is None else f"{c:.1f}" for c in cells)
                + " |"
            )
        cold = results["open"][-1]
        lines += [
            "",
            f"Cold cache at {cold['pages']:,} pages: si-explorer "
            f"{cold['si_explorer_cold_s'] * 1e3:.1f} ms, tifffile series "
            f"{cold['tifffile_series_cold_s']:.1f} s. Open time grows "
            f"{results['open_growth']:.2f}x from {results['open'][0]['pages']:,} to "
            f"{cold['pages']:,} pages.",
            "",
        ]
    if results.get("walk"):
        w = results["walk"]
        lines += [
            f"Unverifiable stride ({w['pages']:,} pages, stride breaks mid-file): IFD walk "
            f"{w['walk_s']:.2f} s warm / {w['walk_cold_s']:.2f} s cold, tifffile series "
            f"{w['tifffile_series_s']:.2f} s / {w['tifffile_series_cold_s']:.2f} s "
            f"({w['warm_ratio']:.1f}x / {w['cold_ratio']:.1f}x); reopening from the index "
            f"cache {w['cached_open_s'] * 1e3:.1f} ms.",
            "",
        ]
    if results.get("timeline"):
        tl = results["timeline"]
        lines += [
            f"Every frame header as data (`stack.timeline()`, {tl['pages']:,} pages, warm "
            f"page cache): {tl['si_explorer_s']:.2f} s read and parsed, "
            f"{tl['cached_s'] * 1e3:.0f} ms from the timeline cache; tifffile parsing every "
            f"page's description {tl['tifffile_s']:.1f} s ({tl['ratio']:.0f}x).",
            "",
        ]
    if results.get("pass"):
        f = results["pass"]
        lines += [
            f'Full pass, `stack.project(("mean", "max"))` (dask, one read of the file '
            f"for both, a progress bar after 2 s) over {f['file_bytes'] / 1e9:.2f} GB, warm "
            f"cache: {f['project_gb_s']:.2f} GB/s of pixels, "
            f"{f['fraction_of_sequential']:.0%} of a plain sequential read "
            f"({f['sequential_gb_s']:.2f} GB/s). The same pass through copies "
            f'(`backend="pread"`) {f["project_copies_gb_s"]:.2f} GB/s '
            f"({f['project_copies_of_sequential']:.0%}); dask's obvious recipe "
            f"(`mean(dtype=float64)` and `max` over 64-frame chunks) "
            f"{f['dask_recipe_gb_s']:.2f} GB/s ({f['dask_recipe_of_sequential']:.0%}).",
            "",
            f'Summary images from the same single read: `stack.project(("mean", "max", "std"))` '
            f"{f['mean_max_std_gb_s']:.2f} GB/s ({f['mean_max_std_of_sequential']:.0%} of the "
            f'sequential read); all four, `("mean", "max", "std", "correlation")`, '
            f"{f['summaries_gb_s']:.2f} GB/s ({f['summaries_of_sequential']:.0%}): the local "
            f"correlation's four neighbour products cost five multiply-adds per pixel per "
            f"frame. From a cold cache (the file evicted first): a sequential read "
            f"{f['sequential_cold_gb_s']:.2f} GB/s, all four "
            f"{f['summaries_cold_gb_s']:.2f} GB/s "
            f"({f['summaries_cold_of_sequential_cold']:.0%}).",
            "",
        ]
    if results.get("plane"):
        p = results["plane"]
        lines += [
            f"Random 512x512 int16 plane, warm: `os.pread` floor "
            f"{p['pread_floor_s'] * 1e6:.0f} µs; "
            f"`stack[f, t, z]` {p['stack_getitem_s'] * 1e6:.0f} µs "
            f"({p['stack_getitem_vs_floor']:.2f}x floor); page-chunked dask "
            f"{p['dask_page_s'] * 1e6:.0f} µs.",
            "",
        ]
    if results.get("trace"):
        t = results["trace"]
        lines += [
            f"Trace over {t['time_points']:,} time points of a {t['planes']}-plane LBM file "
            f"({t['page']} pages): pixel {t['si_explorer_pixel_s'] * 1e3:.2f} ms "
            f"({t['pixel_vs_floor']:.2f}x the memmap floor, {t['dask_vs_pixel']:,.0f}x faster "
            f"than page-chunked dask, {t['tifffile_vs_pixel']:,.0f}x faster than tifffile page "
            f"reads); 10x10 ROI mean {t['si_explorer_roi_s'] * 1e3:.2f} ms "
            f"({t['roi_vs_floor']:.2f}x floor).",
            "",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where test files are written (default: a temporary folder)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    sections = args.only or list(SECTIONS)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="si-explorer-bench-"))
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        ),
        "quick": args.quick,
    }
    gc.collect()
    if "open" in sections:
        sizes = [200, 2_000] if args.quick else [1_000, 30_000, 100_000, 300_000]
        results["open"] = bench_open(workdir, sizes)
        small, big = results["open"][0], results["open"][-1]
        results["open_growth"] = big["si_explorer_s"] / small["si_explorer_s"]
        args.out.mkdir(parents=True, exist_ok=True)
        plot_open(results["open"], args.out / ("quick_open.png" if args.quick else "open_time.png"))
    if "walk" in sections:
        results["walk"] = bench_walk(workdir, 2_000 if args.quick else 100_000)
    if "timeline" in sections:
        results["timeline"] = bench_timeline(workdir, 2_000 if args.quick else 100_000)
    if "pass" in sections:
        results["pass"] = bench_full_pass(workdir, 20 if args.quick else 1_500)
    if "plane" in sections:
        results["plane"] = bench_plane(workdir, volumes=20 if args.quick else 500)
    if "trace" in sections:
        results["trace"] = bench_trace(
            workdir, volumes=50 if args.quick else 5_000, size=32 if args.quick else 64
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "quick" if args.quick else "results"
    previous = args.out / f"{stem}.json"
    ran = {section: results["date"] for section in sections}
    if args.only and previous.exists():
        # One section run again: the others keep their last figures (each section's own
        # reference is measured in the same run as it, so mixing runs keeps every ratio true).
        old = json.loads(previous.read_text())
        ran = {**{k: old["date"] for k in SECTIONS if k in old}, **old.get("dates", {}), **ran}
        results = {**old, **results}
    results["dates"] = ran
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
