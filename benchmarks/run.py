"""si-explorer benchmark suite: every figure is a ratio to a reference measured in the same run.

    python benchmarks/run.py                 # the full suite (minutes), results in benchmarks/results/
    python benchmarks/run.py --quick         # tiny sizes: checks that the suite runs (used by the tests)
    python benchmarks/run.py --only open     # one section: open, plane, trace

Files are synthetic ScanImage acquisitions with the real byte layout (open-time files are
sparse: their pixel bytes are holes), written once to --workdir and reused.
"""

from __future__ import annotations

import argparse
import contextlib
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

import numpy as np

import si_explorer
from si_explorer.synthetic import Acquisition, write_acquisition

HERE = Path(__file__).resolve().parent


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


def acquisition(workdir: Path, name: str, acq: Acquisition):
    """Write an acquisition once; later runs reuse it."""
    folder = workdir / name
    first = folder / f"{name}_00001_00001.tif"
    if first.exists():
        first.unlink()  # the writer is fast; rewriting keeps the file in step with the code
    folder.mkdir(parents=True, exist_ok=True)
    return write_acquisition(first, acq, progress=True)


# --------------------------------------------------------------------------- open


def bench_open(workdir: Path, sizes: list[int], slow_repeat: int) -> list[dict]:
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

        row = {"pages": n_pages, "si_explorer_s": timed(ours, repeat=20)}
        row["tifffile_series_s"] = timed(tifffile_series, repeat=slow_repeat)
        row["tifffile_zarr_dask_s"] = timed(tifffile_zarr, repeat=slow_repeat)
        with contextlib.suppress(ImportError):
            from ScanImageTiffReader import ScanImageTiffReader

            def sitr():
                with ScanImageTiffReader(path) as reader:
                    return reader.shape()

            row["scanimagetiffreader_s"] = timed(sitr, repeat=slow_repeat)
        for key in ("tifffile_series_s", "tifffile_zarr_dask_s", "scanimagetiffreader_s"):
            if key in row:
                row[key[:-2] + "_ratio"] = row[key] / row["si_explorer_s"]
        rows.append(row)
        print(
            f"open {n_pages:>7,} pages: si-explorer {row['si_explorer_s'] * 1e3:.2f} ms, "
            f"tifffile series {row['tifffile_series_s']:.2f} s "
            f"({row['tifffile_series_ratio']:,.0f}x)",
            flush=True,
        )
    return rows


# --------------------------------------------------------------------------- plane reads


def bench_plane(workdir: Path, volumes: int) -> dict:
    files = acquisition(
        workdir, "plane", Acquisition(volumes=volumes, channels=4, lbm=True, height=512, width=512)
    )
    path = str(files.paths[0])
    stack = si_explorer.open(path)
    index = stack._planes.files[0].index
    rng = np.random.default_rng(0)
    picks = [
        (int(t), int(z))
        for t, z in zip(rng.integers(0, stack.shape[1], 200), rng.integers(0, stack.shape[2], 200))
    ]
    page_of = {p: int(stack._planes.page_numbers(0, p[0], p[1])) for p in picks}
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
    index = stack._planes.files[0].index
    pages = stack._planes.page_numbers(0, np.arange(n_t), z)
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
        "dask_page_chunks_pixel_s": timed(dask_pixel, repeat=2),
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
    lines = [f"Measured {results['date']} on {results['machine']}.", ""]
    if results.get("open"):
        lines += [
            "| pages | si-explorer open | tifffile series | ratio | tifffile zarr+dask | "
            "ScanImageTiffReader | ratio |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results["open"]:
            sitr = r.get("scanimagetiffreader_s")
            lines.append(
                f"| {r['pages']:,} | {r['si_explorer_s'] * 1e3:.2f} ms | {r['tifffile_series_s']:.2f} s"
                f" | {r['tifffile_series_ratio']:,.0f}x | {r['tifffile_zarr_dask_s']:.2f} s | "
                + (
                    f"{sitr:.2f} s | {r['scanimagetiffreader_ratio']:,.0f}x |"
                    if sitr
                    else "- | - |"
                )
            )
        lines.append("")
    if results.get("plane"):
        p = results["plane"]
        lines += [
            f"Random 512x512 int16 plane, warm: `os.pread` floor {p['pread_floor_s'] * 1e6:.0f} µs; "
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
    parser.add_argument("--only", choices=["open", "plane", "trace"], action="append")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where test files are written (default: a temporary folder)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    sections = args.only or ["open", "plane", "trace"]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="si-explorer-bench-"))
    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "quick": args.quick,
    }
    gc.collect()
    if "open" in sections:
        sizes = [200, 2_000] if args.quick else [1_000, 30_000, 100_000, 300_000]
        results["open"] = bench_open(workdir, sizes, slow_repeat=1 if not args.quick else 2)
        small, big = results["open"][0], results["open"][-1]
        results["open_growth"] = big["si_explorer_s"] / small["si_explorer_s"]
    if "plane" in sections:
        results["plane"] = bench_plane(workdir, volumes=20 if args.quick else 500)
    if "trace" in sections:
        results["trace"] = bench_trace(
            workdir, volumes=50 if args.quick else 5_000, size=32 if args.quick else 64
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "quick" if args.quick else "results"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (args.out / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
