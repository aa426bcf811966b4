"""The explorer as a browser app: Voila serving a one-cell notebook on 127.0.0.1.

Used by ``si-explorer view FILE`` and ``si-explorer demo``. TCP_NODELAY is switched on for
the kernel websocket (see :mod:`.nodelay`), so slider moves do not pay the delayed-ACK stall.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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


def serve(
    paths: list[str], *, port: int = 0, open_browser: bool = True, timeout: float = 120
) -> int:
    """Serve the explorer on ``paths`` until interrupted; prints the URL. Returns an exit code."""
    from .. import open as open_stack

    paths = [os.path.abspath(p) for p in paths]
    with open_stack(paths if len(paths) > 1 else paths[0]):
        pass  # a bad file fails here, with a clear message, before any server starts
    if shutil.which("voila") is None and not _has_module("voila"):
        raise SIExplorerError(None, "the browser app needs Voila: pip install 'si-explorer[app]'")
    folder = Path(tempfile.mkdtemp(prefix="si-explorer-app-"))
    notebook = folder / "si-explorer.ipynb"
    notebook.write_text(json.dumps(_notebook(paths)))
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
    try:
        _wait_for(port, process, timeout)
        url = f"http://127.0.0.1:{port}/"
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


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
