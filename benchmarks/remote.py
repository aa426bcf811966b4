"""Remote recordings (issue #13): opens, plane reads, traces and a projection over HTTP.

Run ``python benchmarks/remote.py``. A threaded HTTP server with Range support (the one of
tests/test_remote.py) runs in a child process on 127.0.0.1 and sleeps 0, 10 or 50 ms before
answering each request (a round trip to a server in the same region, across a continent); it
counts requests and bytes. Measured at each latency:

* open of a 1,000-page and a 100,000-page sparse synthetic ScanImage file (256x256 int16):
  ``si_explorer.open(url)``;
* one plane ``stack[0, t, 0]``; a 1,500-frame pixel trace ``stack[0, :1500, 0, y, x]``;
* a max projection over time of a small file (300 pages of 128x128, real pixels);
* tifffile through fsspec on the same server (the 1,000-page file): ``TiffFile(f)`` with
  ``len(tif.pages)`` (it reads every IFD) and one page. Bigger files are extrapolated from its
  requests per page, not measured;
* an object that changes while it is open (the small file): a plane read after the object was
  replaced (same bytes, a new ETag: refused with ObjectChangedError), the first plane read
  after a writer appended to it (the reader checks that it is the same recording and goes on),
  and ``stack.refresh()`` picking up the appended time points.

Writes benchmarks/results/remote.json and remote.md.
"""

from __future__ import annotations

import json
import multiprocessing
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LATENCIES_MS = (0, 10, 50)


def _serve(root: str, pipe) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_remote import RangeServer

    server = RangeServer(pathlib.Path(root))
    pipe.send(server.url)
    while True:
        command, value = pipe.recv()
        if command == "latency":
            server.latency = value
            server.reset()
            pipe.send(None)
        elif command == "stats":
            pipe.send((server.requests, server.bytes))
            server.reset()
        else:
            server.close()
            pipe.send(None)
            return


class Server:
    def __init__(self, root: pathlib.Path):
        self.pipe, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(str(root), child), daemon=True)
        self.process.start()
        self.url = self.pipe.recv()

    def call(self, command, value=None):
        self.pipe.send((command, value))
        return self.pipe.recv()

    def measure(self, function, repeat: int = 1):
        """(best seconds, requests, bytes) of ``function()``; counts are of the last run."""
        best = float("inf")
        for _ in range(repeat):
            self.call("stats")
            started = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - started)
            requests, nbytes = self.call("stats")
        return {"seconds": round(best, 4), "requests": requests, "bytes": nbytes}

    def close(self):
        self.call("stop")
        self.process.join(5)


def _changing_objects(server: Server, root: pathlib.Path, small, url: str) -> dict:
    """Costs of reads while the served object changes (see the module docstring)."""
    import os
    import warnings

    import si_explorer
    from si_explorer.errors import ObjectChangedError, TruncatedFileWarning

    data = small.paths[0].read_bytes()
    replaced = root / "replaced_00001_00001.tif"
    replaced.write_bytes(data)
    stack = si_explorer.open(f"{url}/{replaced.name}")
    stack[0, 1, 0]
    stamp = time.time_ns() + 10**9
    os.utime(replaced, ns=(stamp, stamp))  # the same bytes under a new ETag

    def refused():
        try:
            stack[0, 5, 0]
        except ObjectChangedError:
            return
        raise AssertionError("a replaced object was read")

    run = {"replaced_plane": server.measure(refused)}
    growing = root / "growing_00001_00001.tif"
    growing.write_bytes(data[: len(data) // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedFileWarning)
        stack = si_explorer.open(f"{url}/{growing.name}")
    before = stack.shape[1]
    with open(growing, "ab") as handle:
        handle.write(data[len(data) // 2 :])
    stamp += 10**9
    os.utime(growing, ns=(stamp, stamp))
    run["grown_plane"] = server.measure(lambda: stack[0, 5, 0])
    run["refresh"] = server.measure(stack.refresh)
    assert stack.shape[1] == 300 > before
    run["plane_after_refresh"] = server.measure(lambda: stack[0, 250, 0])
    return run


def main() -> None:
    import fsspec
    import numpy as np
    import tifffile

    import si_explorer
    from si_explorer.synthetic import Acquisition, write_acquisition

    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        names = {
            "1k": write_acquisition(
                root / "k1_00001_00001.tif",
                Acquisition(volumes=1_000, height=256, width=256, sparse=True),
            ),
            "100k": write_acquisition(
                root / "k100_00001_00001.tif",
                Acquisition(volumes=100_000, height=256, width=256, sparse=True),
            ),
            "small": write_acquisition(
                root / "small_00001_00001.tif", Acquisition(volumes=300, height=128, width=128)
            ),
        }
        server = Server(root)
        results = {"latencies_ms": list(LATENCIES_MS), "runs": {}}
        try:
            for ms in LATENCIES_MS:
                server.call("latency", ms / 1000)
                url = {k: f"{server.url}/{v.paths[0].name}" for k, v in names.items()}
                run = {}
                for key in ("1k", "100k"):
                    run[f"open_{key}"] = server.measure(lambda: si_explorer.open(url[key]), 2)
                stack = si_explorer.open(url["100k"])
                run["plane"] = server.measure(lambda: stack[0, 54_321, 0], 3)
                run["trace_1500"] = server.measure(lambda: stack[0, 20_000:21_500, 0, 100, 100], 2)
                small = si_explorer.open(url["small"])
                run["projection_small"] = server.measure(
                    lambda: small.project("max", progress=False)
                )
                local = si_explorer.open(names["small"].paths[0]).project("max", progress=False)
                assert np.array_equal(small.project("max", progress=False), local)

                def tifffile_open():
                    with fsspec.open(url["1k"], "rb") as f, tifffile.TiffFile(f) as tif:
                        assert len(tif.pages) == 1_000
                        tif.pages[500].asarray()

                run["tifffile_fsspec_1k"] = server.measure(tifffile_open)
                run.update(_changing_objects(server, root, names["small"], server.url))
                results["runs"][str(ms)] = run
                print(ms, "ms", json.dumps(run), flush=True)
        finally:
            server.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "remote.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "remote.md").write_text(markdown(results))


def markdown(results: dict) -> str:
    rows = [
        ("open_1k", "open, 1,000 pages"),
        ("open_100k", "open, 100,000 pages"),
        ("plane", "one plane (256x256)"),
        ("trace_1500", "1,500-frame pixel trace"),
        ("projection_small", "max projection, 300 pages 128x128"),
        ("tifffile_fsspec_1k", "tifffile + fsspec: 1,000-page IFDs + one page"),
        ("replaced_plane", "a plane of a replaced object (refused)"),
        ("grown_plane", "first plane after the object grew"),
        ("refresh", "refresh() after it grew from 150 to 300 pages"),
        ("plane_after_refresh", "the next plane after that refresh"),
    ]
    lines = [
        "# Remote recordings over HTTP (benchmarks/remote.py)",
        "",
        "Threaded `http.server` with Range support in a child process on 127.0.0.1, sleeping the",
        "stated latency before each answer. Times are the best of up to 3 runs; requests and",
        "bytes are counted by the server.",
        "",
        "| operation | " + " | ".join(f"{ms} ms/request" for ms in results["latencies_ms"]) + " |",
        "|---|" + "---|" * len(results["latencies_ms"]),
    ]
    for key, label in rows:
        cells = []
        for ms in results["latencies_ms"]:
            r = results["runs"][str(ms)][key]
            cells.append(f"{r['seconds']:.3f} s, {r['requests']} req, {r['bytes'] / 2**20:.2f} MiB")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    tf = results["runs"][str(results["latencies_ms"][-1])]["tifffile_fsspec_1k"]
    lines += [
        "",
        f"tifffile through fsspec needs {tf['requests']} requests for 1,000 pages; its IFD walk",
        "grows with the page count (fsspec's 5 MiB read-ahead blocks hold a few dozen IFDs of",
        "these 128 KiB pages), so a 100,000-page file would need about 100 times as many",
        "requests: extrapolated, not measured.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
