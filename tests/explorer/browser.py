"""Driving Debian's headless Chromium with Playwright, and Jupyter servers, for widget tests.

Shared by the browser tests and benchmarks/widget_roundtrip.py. Never downloads a browser:
``CHROMIUM`` must exist (``apt-get install chromium``).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

CHROMIUM = os.environ.get("SI_EXPLORER_CHROMIUM", "/usr/bin/chromium")
# Without these Chromium stalls on network look-ups and first-run work on a machine without
# internet (see the browser-testing note).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
REPO = Path(__file__).resolve().parents[2]
NODELAY_CLASS = "si_explorer.explorer.nodelay.NoDelayWebsocketConnection"
STATIC_JS = REPO / "si_explorer" / "explorer" / "static" / "explorer.js"


def launch_browser(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000
    )


def block_remote(context) -> None:
    """Abort every request that does not go to this machine (Voila asks a CDN for fonts)."""

    def route(r):
        host = urllib.parse.urlparse(r.request.url).hostname
        if host in ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def static_server(directory: Path):
    """Serve ``directory`` over http on 127.0.0.1 (module imports are blocked on file://)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_port(port: int, proc: subprocess.Popen, timeout: float, log: Path) -> None:
    """Wait until the server accepts connections (without requesting a page: in Voila that
    would start a kernel)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.25)
    raise TimeoutError(
        f"server on port {port} did not start in {timeout}s:\n{log.read_text()[-3000:]}"
    )


def jupyter_env(root: Path, extra: dict | None = None) -> dict:
    """Environment with every Jupyter/IPython directory private to this run."""
    env = dict(os.environ)
    for name, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "mpl"),
    ]:
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(root / sub)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("JUPYTER_PATH", None)
    env.update(extra or {})
    return env


@contextlib.contextmanager
def voila_server(notebook: Path, *, nodelay: bool = False, timeout: float = 120):
    """Run Voila on ``notebook`` (a free port, temp dirs); yields (app URL, log path).

    ``nodelay`` uses si-explorer's TCP_NODELAY kernel websocket connection.
    """
    root = Path(tempfile.mkdtemp(prefix="si-explorer-voila-"))
    port = free_port()
    log = root / "voila.log"
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.token=",
        "--VoilaConfiguration.show_tracebacks=True",
        # SI_EXPLORER_VOILA_DEBUG=1 logs every websocket and kernel message when debugging a test.
        *(["--debug"] if os.environ.get("SI_EXPLORER_VOILA_DEBUG") else []),
    ]
    if nodelay:
        cmd += ["--Voila.kernel_websocket_connection_class=" + NODELAY_CLASS]
    env = jupyter_env(root)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=notebook.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_port(port, proc, timeout, log)
        yield url, log
    finally:
        stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


def stop_process(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the server's own process group (it started its kernels), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": src,
            }
            for src in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path
