"""The explorer as a browser app: Voila serving a one-cell notebook on 127.0.0.1.

Used by ``si-explorer view FILE`` and ``si-explorer demo``. The server requires a random token,
given in the printed URL as Jupyter does (``http://127.0.0.1:PORT/?token=...``): any user of
the machine can connect to a port on 127.0.0.1, and the page runs code on the user's files.
TCP_NODELAY is switched on for the kernel websocket (see :mod:`.nodelay`), so slider moves do
not pay the delayed-ACK stall.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path

from ..errors import SIExplorerError
from .nodelay import server_args


def _notebook(paths: list[str]) -> dict:
    source = (
        "import si_explorer\n"
        f"explorer = si_explorer.Explorer({paths if len(paths) > 1 else paths[0]!r})\n"
        "explorer"
    )
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "explorer",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SIExplorerError(
                None, f"Voila exited with code {process.returncode} before serving"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SIExplorerError(
        None, f"Voila did not start serving on port {port} within {timeout:.0f} s"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _check_token_required(port: int) -> None:
    """Fail unless the server refuses a request without the token.

    The token reaches Voila through a config file (see :func:`serve`); if a Voila release
    stopped reading it, the server would silently be open to every user of the machine.
    """
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(f"http://127.0.0.1:{port}/", timeout=60) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        status = exc.code  # a refusal: 302 to the login page, or 403
    except OSError as exc:
        raise SIExplorerError(
            None, f"could not check that Voila requires the access token: {exc}"
        ) from exc
    if status not in (302, 403):
        raise SIExplorerError(
            None,
            f"Voila answered a request without the access token (HTTP {status}); "
            "refusing to serve the explorer to every user of this machine",
        )


def serve(
    paths: list[str], *, port: int = 0, open_browser: bool = True, timeout: float = 120
) -> int:
    """Serve the explorer on ``paths`` until interrupted; prints the URL. Returns an exit code."""
    from .. import open as open_stack

    paths = [os.path.abspath(p) for p in paths]
    with open_stack(paths if len(paths) > 1 else paths[0]):
        pass  # a bad file fails here, with a clear message, before any server starts
    # Voila runs in this Python (sys.executable -m voila) and starts the notebook's kernel with
    # it too: without ipykernel every page is "500: Internal Server Error".
    missing = [name for name in ("voila", "ipykernel") if not _has_module(name)]
    if missing:
        raise SIExplorerError(
            None,
            f"the browser app needs {' and '.join(missing)} in {sys.executable}: "
            "pip install 'si-explorer[app]'",
        )
    folder = Path(tempfile.mkdtemp(prefix="si-explorer-app-"))  # readable by this user only
    notebook = folder / "si-explorer.ipynb"
    notebook.write_text(json.dumps(_notebook(paths)))
    token = secrets.token_urlsafe(32)
    # Voila reads voila.json from its working directory. A --Voila.token=... argument would
    # show the token to every user of the machine (ps, /proc/PID/cmdline).
    config = folder / "voila.json"
    config.touch(mode=0o600)
    config.write_text(json.dumps({"Voila": {"token": token}}))
    port = port or _free_port()
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=True",
        *server_args("voila"),
    ]
    process = subprocess.Popen(command, cwd=folder)
    previous = _exit_on_termination()
    try:
        _wait_for(port, process, timeout)
        _check_token_required(port)
        url = f"http://127.0.0.1:{port}/?token={token}"
        print(f"si-explorer: serving {', '.join(paths)} at {url}  (Ctrl-C to stop)", flush=True)
        if open_browser:
            webbrowser.open(url)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_on_termination() -> dict:
    """Turn SIGTERM and SIGHUP (terminal closed) into SystemExit, so that ``serve``'s cleanup
    runs: by default they kill this process at once, leaving Voila running and its token file
    on disk. Returns the handlers to restore."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if signum is not None:
                previous[signum] = signal.signal(signum, stop)
    return previous


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
