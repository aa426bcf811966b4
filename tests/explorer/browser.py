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
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
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


@contextlib.contextmanager
def jupyter_server(app: str, root_dir: Path, *, nodelay: bool = True, timeout: float = 120):
    """Run JupyterLab (``app="lab"``) or Notebook 7 (``"notebook"``) on ``root_dir``.

    Yields ``(base URL, token, log path)``. Private Jupyter directories, a token, 127.0.0.1 and
    ``--allow-root`` (tests may run as root); Lab's news and update check are switched off, or
    their notification covers part of the page. ``nodelay`` uses si-explorer's TCP_NODELAY
    kernel websocket connection.
    """
    root = Path(tempfile.mkdtemp(prefix=f"si-explorer-{app}-"))
    env = jupyter_env(root)
    settings = root / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port = free_port()
    token = secrets.token_hex(16)
    log = root / f"{app}.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
    ]
    if nodelay:
        cmd.append("--ServerApp.kernel_websocket_connection_class=" + NODELAY_CLASS)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root_dir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, proc, timeout, log)
        yield base, token, log
    finally:
        # The REST shutdown stops kernels cleanly; the signal is the fallback.
        with contextlib.suppress(OSError):
            request = urllib.request.Request(
                f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(request, timeout=10).close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def marimo_server(app_file: Path, *, timeout: float = 120):
    """Serve a marimo app file with ``marimo run`` (read-only app mode); yields (URL, log path).

    Configuration, cache and state go to a temporary home, and the update check is off.
    """
    root = Path(tempfile.mkdtemp(prefix="si-explorer-marimo-"))
    env = jupyter_env(root)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        (root / name.lower()).mkdir()
        env[name] = str(root / name.lower())
    env["MARIMO_SKIP_UPDATE_CHECK"] = "1"
    port = free_port()
    log = root / "marimo.log"
    cmd = [
        sys.executable,
        "-m",
        "marimo",
        "run",
        str(app_file),
        "--headless",
        "--host=127.0.0.1",
        f"--port={port}",
        "--no-token",
        "--no-sandbox",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=app_file.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_port(port, proc, timeout, log)
        yield f"http://127.0.0.1:{port}/", log
    finally:
        stop_process(proc)
        shutil.rmtree(root, ignore_errors=True)


# A notebook's kernel is ready for Run All only once the toolbar names it (not "No Kernel") and
# its execution indicator says idle; earlier, Run All silently runs nothing.
KERNEL_READY_JS = """() => {
  const name = document.querySelector('.jp-KernelName');
  const state = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!name && !!state && name.textContent.trim() !== ''
    && !/No Kernel/.test(name.textContent) && state.dataset.status === 'idle';
}"""


def open_and_run_all(page, url: str, timeout_ms: int = 120_000) -> None:
    """Open a notebook in JupyterLab or Notebook 7 and run all its cells from the Run menu."""
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
    page.wait_for_function(KERNEL_READY_JS, timeout=timeout_ms, polling=200)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


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


class ServedApp:
    """``si-explorer view|demo ...`` started as a user starts it, until it prints its URL.

    ``url`` (with the token), ``port``, ``token`` and the printed ``line``; ``err`` collects
    stderr (si-explorer's and Voila's log) as it comes. :meth:`stop` sends Ctrl-C, as the
    printed line tells the user, and returns the exit code.
    """

    URL = re.compile(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)")

    def __init__(self, command: list[str], *, env: dict, cwd=None, timeout: float = 180):
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.err: list[str] = []
        lines: queue.Queue = queue.Queue()

        def read_stdout() -> None:
            for line in iter(self.process.stdout.readline, ""):
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read_stdout, daemon=True).start()
        threading.Thread(
            target=lambda: self.err.extend(iter(self.process.stderr.readline, "")), daemon=True
        ).start()
        try:
            line = lines.get(timeout=timeout)
            assert line is not None, f"{' '.join(command[-3:])} exited:\n{self.stderr()}"
            match = self.URL.search(line)
            assert match, f"no tokenised URL in {line!r}:\n{self.stderr()}"
        except BaseException:
            self.stop()
            raise
        self.line, self.url = line, match.group(0)
        self.port, self.token = int(match.group(1)), match.group(2)

    def stderr(self, tail: int = 4000) -> str:
        return "".join(self.err)[-tail:]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise


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


def explorer_notebook(path: Path, recording) -> Path:
    """A notebook whose one cell shows the explorer on ``recording``, as a user writes it."""
    return write_notebook(
        path, [f"import si_explorer\nex = si_explorer.Explorer({json.dumps(str(recording))})\nex"]
    )


def goto_explorer(page, url: str, timeout_ms: int = 120_000) -> None:
    """Open a served notebook and wait until the explorer shows."""
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector('[data-role="si-explorer"]', timeout=timeout_ms)
