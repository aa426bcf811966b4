"""Explorer round trip: slider change -> new pixels on the canvas, through real servers started
as a user starts them.

Plain ``jupyter lab`` and plain ``voila notebook.ipynb`` (no si-explorer flags: the TCP_NODELAY
fix comes from the configuration that installing si-explorer puts into ``{sys.prefix}/etc/
jupyter``, see ``si_explorer/explorer/nodelay.py``), each also with the fix opted out
(``SI_EXPLORER_NODELAY=0``), and ``marimo run`` (not a Jupyter server: the fix does not apply).
For 128x128 and 512x512 int16 planes (``--sizes``) it measures, in headless Chromium:

* end to end: from the slider's input event to the status line naming the new plane, which the
  widget updates right after drawing it (JS timestamps, a MutationObserver, no polling);
* the widget's own share: the browser's decode + colour + paint time (JS), and the kernel's time
  from receiving the request to handing the plane to the comm (measured in Python, sent along);
  the rest is transport (websocket, ZMQ, server);
* sustained playback: planes drawn per second while playing at a requested rate.

Run from a source checkout, in the environment where si-explorer is installed::

    python benchmarks/widget_roundtrip.py [--moves 60] [--play-seconds 4] [--fps 30]
        [--sizes 128,512] [--servers lab,voila,marimo] [--no-opt-out]

Results go to benchmarks/results/widget_roundtrip.json. Needs /usr/bin/chromium, playwright,
jupyterlab, voila, marimo (``pip install -e .[test]``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.explorer.browser import (  # noqa: E402
    block_remote,
    free_port,
    jupyter_env,
    jupyter_server,
    launch_browser,
    marimo_server,
    open_and_run_all,
    stop_process,
    wait_port,
    write_notebook,
)

# marimo renders widgets inside shadow roots, which document.querySelector does not enter.
FIND_JS = """
  const find = (role) => {
    const walk = (node) => {
      const hit = node.querySelector(`[data-role="${role}"]`);
      if (hit) return hit;
      for (const el of node.querySelectorAll("*")) {
        if (el.shadowRoot) { const found = walk(el.shadowRoot); if (found) return found; }
      }
      return null;
    };
    return walk(document);
  };"""

MOVES_JS = (
    """
async ({moves, nTimes, seed}) => {
  """
    + FIND_JS
    + """
  const root = find("si-explorer");
  const slider = find("time-slider");
  const status = find("status");
  const timing = find("timing");
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
)

PLAY_JS = (
    """
async ({seconds}) => {
  """
    + FIND_JS
    + """
  const status = find("status");
  let frames = 0;
  const obs = new MutationObserver(() => { frames++; });
  obs.observe(status, { childList: true, characterData: true, subtree: true });
  find("play").click();
  await new Promise((r) => setTimeout(r, 1000));  // warm up
  frames = 0;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const n = frames;
  find("play").click();
  obs.disconnect();
  return n / elapsed;
}
"""
)


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
            "min": pct(total, 0),
            "p10": pct(total, 10),
            "p25": pct(total, 25),
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


TARGETS_P50_MS = {"lab": 35, "voila": 25}
NODELAY_LOG = "si-explorer: TCP_NODELAY set on kernel websocket"


@contextlib.contextmanager
def opted_out(out: bool):
    """Set the opt-out variable for the servers started inside (they copy os.environ)."""
    old = os.environ.get("SI_EXPLORER_NODELAY")
    if out:
        os.environ["SI_EXPLORER_NODELAY"] = "0"
    else:
        os.environ.pop("SI_EXPLORER_NODELAY", None)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("SI_EXPLORER_NODELAY", None)
        else:
            os.environ["SI_EXPLORER_NODELAY"] = old


@contextlib.contextmanager
def plain_voila(notebook: Path, timeout: float = 120):
    """``voila notebook.ipynb`` with only the address and a token: what a user runs."""
    root = Path(tempfile.mkdtemp(prefix="si-explorer-bench-voila-"))
    port, token = free_port(), secrets.token_hex(16)
    log = root / "voila.log"
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", f"--Voila.token={token}"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=notebook.parent, env=jupyter_env(root), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_port(port, proc, timeout, log)
        yield f"http://127.0.0.1:{port}/?token={token}", log
    finally:
        stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def open_app(server: str, notebook: Path, marimo_app: Path, page):
    """Start ``server``, open the explorer in ``page``; yields the server log path."""
    if server == "voila":
        with plain_voila(notebook) as (url, log):
            page.goto(url)
            yield log
    elif server == "lab":
        # No connection-class flag: the installed configuration applies, as for a user.
        with jupyter_server("lab", notebook.parent, nodelay=False) as (base, token, log):
            open_and_run_all(page, f"{base}/lab/tree/{notebook.name}?token={token}")
            yield log
    else:
        with marimo_server(marimo_app) as (url, log):
            page.goto(url)
            yield log


@contextlib.contextmanager
def diagnose(page, log: Path):
    """On failure, keep a screenshot and show the server log's tail: the server is gone after."""
    try:
        yield
    except Exception:
        shot = Path(tempfile.gettempdir()) / "widget_roundtrip_failure.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot))
            print(f"screenshot: {shot}", file=sys.stderr)
        print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
        raise


def run_once(playwright, server, notebook, marimo_app, n_times, *, moves, play_seconds, fps):
    browser = launch_browser(playwright)
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        block_remote(ctx)
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        with open_app(server, notebook, marimo_app, page) as log, diagnose(page, log):
            page.wait_for_function(
                "() => {" + FIND_JS + " return find('status')?.textContent.startsWith('field'); }",
                polling=200,
            )
            page.wait_for_timeout(1500)  # let ipympl finish its first draw
            page.evaluate(MOVES_JS, {"moves": 10, "nTimes": n_times, "seed": 7})  # warm-up
            samples = page.evaluate(MOVES_JS, {"moves": moves, "nTimes": n_times, "seed": 12345})
            hint_shown = page.locator('[data-role="latency-hint"]').is_visible()
            result = summarize(samples)
            if play_seconds > 0:
                fps_box = page.locator('[data-role="fps"]')
                fps_box.fill(str(fps))
                fps_box.dispatch_event("change")
                page.wait_for_timeout(300)
                achieved = page.evaluate(PLAY_JS, {"seconds": play_seconds})
                result["playback"] = {"requested_fps": fps, "achieved_fps": round(achieved, 1)}
            result["latency_hint_shown"] = hint_shown
            result["nodelay_in_server_log"] = NODELAY_LOG in log.read_text(errors="replace")
            return result
    finally:
        browser.close()


MARIMO_APP = """\
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import si_explorer

    ex = si_explorer.Explorer({path!r}, prefetch=8)
    ex
    return (ex,)


if __name__ == "__main__":
    app.run()
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--play-seconds", type=float, default=4.0, help="0 skips playback")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--frames", type=int, default=400, help="time points in the test file")
    ap.add_argument(
        "--sizes", default="128,512", help="plane heights (= widths), int16, comma-separated"
    )
    ap.add_argument("--servers", default="lab,voila,marimo", help="comma-separated")
    ap.add_argument(
        "--no-opt-out", action="store_true", help="skip the runs with SI_EXPLORER_NODELAY=0"
    )
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

    sizes = [int(v) for v in args.sizes.split(",")]
    runs = []
    for server in args.servers.split(","):
        if server == "marimo":
            runs.append(("marimo", False))  # not a Jupyter server: nothing to opt out of
        else:
            runs.append((server, False))
            if not args.no_opt_out:
                runs.append((server, True))
    results = {
        "benchmark": "widget_roundtrip",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "dtype": "int16",
        "how": "plain `jupyter lab` and `voila nb.ipynb` (address and token only), the "
        "TCP_NODELAY fix from the installed configuration; `opted_out` runs set "
        "SI_EXPLORER_NODELAY=0; marimo runs `marimo run` (its own server, no fix applies)",
        "command": "python benchmarks/widget_roundtrip.py " + " ".join(argv or sys.argv[1:]),
        "targets": {"end_to_end_p50_ms": TARGETS_P50_MS, "playback_fps": 20},
        "sizes": {},
    }
    with sync_playwright() as pw:
        for size in sizes:
            # Small planes show the delayed-ACK stall most: a large one keeps ACKs flowing.
            acq = Acquisition(height=size, width=size, volumes=args.frames, dtype="int16")
            files = write_acquisition(work / f"bench{size}_00001_00001.tif", acq)
            path = str(files.paths[0])
            folder = work / f"plane{size}"
            folder.mkdir()
            notebook = write_notebook(
                folder / "bench.ipynb",
                [
                    "import si_explorer\n"
                    f"ex = si_explorer.Explorer({json.dumps(path)}, prefetch=8)\nex"
                ],
            )
            marimo_app = folder / "bench_app.py"
            marimo_app.write_text(MARIMO_APP.format(path=path))
            by_label = results["sizes"][f"{size}x{size}"] = {}
            for server, out in runs:
                label = f"{server}_opted_out" if out else server
                with opted_out(out):
                    r = run_once(
                        pw,
                        server,
                        notebook,
                        marimo_app,
                        args.frames,
                        moves=args.moves,
                        play_seconds=args.play_seconds,
                        fps=args.fps,
                    )
                by_label[label] = r
                e2e = r["end_to_end_ms"]
                fps = r.get("playback", {}).get("achieved_fps", "-")
                print(
                    f"{size:4d}x{size:<4d} {label:16s} end-to-end p50 {e2e['p50']:6.1f} ms  "
                    f"p95 {e2e['p95']:6.1f} ms | draw p50 {r['browser_draw_ms']['p50']:.1f} ms | "
                    f"kernel p50 {r['kernel_ms']['p50']:.1f} ms | nodelay in log "
                    f"{r['nodelay_in_server_log']} | hint {r['latency_hint_shown']} | "
                    f"playback {fps} fps",
                    flush=True,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
