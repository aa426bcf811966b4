"""Explorer round trip: slider change -> new pixels on the canvas, through a real Voila server.

For a 512x512 int16 plane it measures, in headless Chromium:

* end to end: from the slider's input event to the status line naming the new plane, which the
  widget updates right after drawing it (JS timestamps, a MutationObserver, no polling);
* the widget's own share: the browser's decode + colour + paint time (JS), and the kernel's time
  from receiving the request to handing the plane to the comm (measured in Python, sent along);
  the rest is transport (websocket, ZMQ, server);
* sustained playback: planes drawn per second while playing at a requested rate.

Each figure is taken with and without si-explorer's TCP_NODELAY kernel websocket connection
(``si_explorer.explorer.nodelay``). Run from a source checkout:

    python benchmarks/widget_roundtrip.py [--moves 150] [--play-seconds 6] [--fps 30]

Results go to benchmarks/results/widget_roundtrip.json. Needs /usr/bin/chromium, playwright,
voila (``pip install -e .[test]``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.explorer.browser import (  # noqa: E402
    block_remote,
    launch_browser,
    voila_server,
    write_notebook,
)

MOVES_JS = """
async ({moves, nTimes, seed}) => {
  const root = document.querySelector('[data-role="si-explorer"]');
  const slider = document.querySelector('[data-role="time-slider"]');
  const status = document.querySelector('[data-role="status"]');
  const timing = document.querySelector('[data-role="timing"]');
  // A fixed pseudo-random walk over distinct time points: every move is a cache miss.
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const order = [...Array(nTimes).keys()].sort(() => rand() - 0.5);
  const out = [];
  for (let i = 0; i < moves; i++) {
    let target = order[i % nTimes];
    if (target === Number(root.dataset.time)) target = order[(i + 1) % nTimes];
    const want = `time ${target} ·`;
    const done = new Promise((resolve) => {
      const obs = new MutationObserver(() => {
        if (status.textContent.includes(want)) { obs.disconnect(); resolve(performance.now()); }
      });
      obs.observe(status, { childList: true, characterData: true, subtree: true });
    });
    const t0 = performance.now();
    slider.value = String(target);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    const t1 = await done;
    out.push({
      total: t1 - t0,
      draw: Number(timing.dataset.lastDrawMs),
      server: Number(timing.dataset.serverMs),
      read: Number(timing.dataset.readMs),
      cache: timing.dataset.cache,
    });
    // A short pause between moves, like a user's distinct slider steps.
    await new Promise((r) => setTimeout(r, 15));
  }
  return out;
}
"""

PLAY_JS = """
async ({seconds}) => {
  const status = document.querySelector('[data-role="status"]');
  let frames = 0;
  const obs = new MutationObserver(() => { frames++; });
  obs.observe(status, { childList: true, characterData: true, subtree: true });
  document.querySelector('[data-role="play"]').click();
  await new Promise((r) => setTimeout(r, 1000));  // warm up
  frames = 0;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const n = frames;
  document.querySelector('[data-role="play"]').click();
  obs.disconnect();
  return n / elapsed;
}
"""


def pct(values, q):
    return round(float(np.percentile(np.asarray(values, float), q)), 2)


def summarize(samples):
    total = [s["total"] for s in samples]
    draw = [s["draw"] for s in samples]
    server = [s["server"] for s in samples]
    read = [s["read"] for s in samples]
    return {
        "moves": len(samples),
        "end_to_end_ms": {
            "p50": pct(total, 50),
            "p95": pct(total, 95),
            "mean": round(float(np.mean(total)), 2),
        },
        "browser_draw_ms": {"p50": pct(draw, 50), "p95": pct(draw, 95)},
        "kernel_ms": {"p50": pct(server, 50), "p95": pct(server, 95)},
        "disk_read_ms": {"p50": pct(read, 50), "p95": pct(read, 95)},
        "transport_ms_p50": round(pct(total, 50) - pct(draw, 50) - pct(server, 50), 2),
        "cache_misses": sum(s["cache"] == "miss" for s in samples),
    }


def run_once(playwright, notebook, n_times, *, nodelay, moves, play_seconds, fps):
    with voila_server(notebook, nodelay=nodelay) as (url, log):
        browser = launch_browser(playwright)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            block_remote(ctx)
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_function(
                "document.querySelector('[data-role=\"status\"]')?.textContent.startsWith('field')"
            )
            page.wait_for_timeout(1500)  # let ipympl finish its first draw
            page.evaluate(MOVES_JS, {"moves": 10, "nTimes": n_times, "seed": 7})  # warm-up
            samples = page.evaluate(MOVES_JS, {"moves": moves, "nTimes": n_times, "seed": 12345})
            fps_box = page.locator('[data-role="fps"]')
            fps_box.fill(str(fps))
            fps_box.dispatch_event("change")
            page.wait_for_timeout(300)
            achieved = page.evaluate(PLAY_JS, {"seconds": play_seconds})
            result = summarize(samples)
            result["playback"] = {"requested_fps": fps, "achieved_fps": round(achieved, 1)}
            return result
        finally:
            browser.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=150)
    ap.add_argument("--play-seconds", type=float, default=6.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--frames", type=int, default=400, help="time points in the test file")
    ap.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "widget_roundtrip.json"
    )
    args = ap.parse_args(argv)
    # The 200 MB test file is removed afterwards, even when a run fails.
    work = Path(tempfile.mkdtemp(prefix="si-explorer-bench-"))
    try:
        _run(args, argv, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args, argv, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    from si_explorer.synthetic import Acquisition, write_acquisition

    acq = Acquisition(height=512, width=512, volumes=args.frames, dtype="int16")
    files = write_acquisition(work / "bench_00001_00001.tif", acq)
    notebook = write_notebook(
        work / "bench.ipynb",
        [
            "import si_explorer\n"
            f"ex = si_explorer.Explorer({json.dumps(str(files.paths[0]))}, prefetch=8)\n"
            "ex"
        ],
    )
    results = {
        "benchmark": "widget_roundtrip",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "plane": [512, 512, "int16"],
        "server": "voila",
        "command": "python benchmarks/widget_roundtrip.py " + " ".join(argv or sys.argv[1:]),
        "targets": {"end_to_end_p50_ms": 30, "end_to_end_p95_ms": 80, "playback_fps": 20},
    }
    with sync_playwright() as pw:
        for label, nodelay in [("without_nodelay", False), ("with_nodelay", True)]:
            r = run_once(
                pw,
                notebook,
                args.frames,
                nodelay=nodelay,
                moves=args.moves,
                play_seconds=args.play_seconds,
                fps=args.fps,
            )
            results[label] = r
            e2e = r["end_to_end_ms"]
            print(
                f"{label:16s} end-to-end p50 {e2e['p50']:6.1f} ms  p95 {e2e['p95']:6.1f} ms | "
                f"browser draw p50 {r['browser_draw_ms']['p50']:.1f} ms | kernel p50 "
                f"{r['kernel_ms']['p50']:.1f} ms | playback {r['playback']['achieved_fps']} fps"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
