"""The TCP_NODELAY kernel websocket option: configuration helpers, the server extension, and
plain servers (started as a user starts them, with no flags) picking it up from the
configuration files that installing si-explorer puts into ``{sys.prefix}/etc/jupyter``.

That the explorer works through Voila with the class is checked end to end in test_voila.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from si_explorer.explorer import nodelay

from .browser import REPO, free_port, jupyter_env, stop_process, wait_port, write_notebook

ENABLED_AT_START = "si-explorer: TCP_NODELAY enabled on kernel websockets"
OPTED_OUT_AT_START = (
    "si-explorer: TCP_NODELAY not enabled on kernel websockets (SI_EXPLORER_NODELAY=0)"
)
SET_ON_SOCKET = "si-explorer: TCP_NODELAY set on kernel websocket of {kernel}"
LEFT_OFF = (
    "si-explorer: TCP_NODELAY left off on kernel websocket of {kernel} (SI_EXPLORER_NODELAY=0)"
)


def fake_server(connection_class):
    return SimpleNamespace(
        web_app=SimpleNamespace(settings={"kernel_websocket_connection_class": connection_class}),
        log=logging.getLogger("fake-server"),
    )


def test_server_args_name_the_class_for_each_app():
    assert nodelay.server_args("lab") == [
        "--ServerApp.kernel_websocket_connection_class=" + nodelay.CLASS_PATH
    ]
    assert nodelay.server_args("voila")[0].startswith("--Voila.kernel_websocket_connection_class=")
    module, _, name = nodelay.CLASS_PATH.rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name) is nodelay.NoDelayWebsocketConnection


def test_extension_replaces_the_default_connection_class():
    server = fake_server(ZMQChannelsWebsocketConnection)
    nodelay._load_jupyter_server_extension(server)
    settings = server.web_app.settings
    assert settings["kernel_websocket_connection_class"] is nodelay.NoDelayWebsocketConnection


def test_extension_keeps_a_custom_connection_class(caplog):
    class Custom(ZMQChannelsWebsocketConnection):
        pass

    server = fake_server(Custom)
    with caplog.at_level(logging.WARNING, logger="fake-server"):
        nodelay._load_jupyter_server_extension(server)
    assert server.web_app.settings["kernel_websocket_connection_class"] is Custom
    assert "TCP_NODELAY was not enabled" in caplog.text


def test_extension_point_names_this_module():
    assert nodelay._jupyter_server_extension_points() == [
        {"module": "si_explorer.explorer.nodelay"}
    ]


def test_opt_out_variable(monkeypatch):
    for value, on in [(None, True), ("1", True), ("0", False), ("off", False), ("False", False)]:
        if value is None:
            monkeypatch.delenv("SI_EXPLORER_NODELAY", raising=False)
        else:
            monkeypatch.setenv("SI_EXPLORER_NODELAY", value)
        assert nodelay.enabled() is on, value
    server = fake_server(ZMQChannelsWebsocketConnection)
    nodelay._load_jupyter_server_extension(server)  # still opted out ("False")
    settings = server.web_app.settings
    assert settings["kernel_websocket_connection_class"] is ZMQChannelsWebsocketConnection


def test_timing_summary_flags_round_trips_far_above_the_kernels_work():
    from si_explorer.explorer.timing import LATENCY_WINDOW, PlaneTiming, TimingLog

    log = TimingLog()

    def planes(n, drawn_ms, server_ms=1.5):
        start = len(log.records())
        for i in range(start, start + n):
            log.add(
                PlaneTiming(request_id=i, field=0, time=i, z=0, cache="miss", server_ms=server_ms)
            )
            log.record_drawn(i, drawn_ms)

    planes(LATENCY_WINDOW - 1, 60.0)
    assert log.summary()["latency_hint"] is None  # too few round trips to judge
    planes(1, 60.0)
    summary = log.summary()
    assert summary["transport_ms_p25"] == pytest.approx(58.5)
    assert "delayed-ACK" in summary["latency_hint"]
    planes(LATENCY_WINDOW, 60.0, server_ms=55.0)  # slow, but it is the kernel's own work
    assert log.summary()["latency_hint"] is None
    planes(LATENCY_WINDOW, 8.0)
    assert log.summary()["latency_hint"] is None


# --- plain servers, configured only by what the installed package put into sys.prefix ---------


# Repository file -> where pyproject.toml's shared-data installs it under sys.prefix.
CONFIG_FILES = {
    # Named as `jupyter server extension disable` names its file, so that command replaces it.
    "jupyter-config/jupyter_server_config.d/si_explorer.explorer.nodelay.json": (
        "etc/jupyter/jupyter_server_config.d/si_explorer.explorer.nodelay.json"
    ),
    "jupyter-config/voila.json": "etc/jupyter/voila.json",
}


def test_installed_configuration_matches_the_repository():
    pyproject = (REPO / "pyproject.toml").read_text()
    for source, target in CONFIG_FILES.items():
        assert f'"{source}" = "{target}"' in pyproject
        installed = Path(sys.prefix) / target
        assert installed.exists(), (
            f"{installed} is missing: reinstall si-explorer (pip install -e .) so the servers "
            "of this environment get TCP_NODELAY"
        )
        assert json.loads(installed.read_text()) == json.loads((REPO / source).read_text())
    server, voila = (json.loads((REPO / source).read_text()) for source in CONFIG_FILES)
    assert server["ServerApp"]["jpserver_extensions"] == {"si_explorer.explorer.nodelay": True}
    assert voila["Voila"]["kernel_websocket_connection_class"] == nodelay.CLASS_PATH


@contextlib.contextmanager
def plain_server(app: str, folder: Path, *, opt_out: bool):
    """``jupyter server`` or standalone ``voila`` with no si-explorer flags; yields
    (base URL, token, log path, notebook URL or None).

    Private user-level Jupyter directories, but sys.prefix's configuration stays visible: that
    is where the installed configuration lives.
    """
    port, token = free_port(), secrets.token_hex(8)
    log = folder / f"{app}.log"
    env = jupyter_env(folder / "home", {"SI_EXPLORER_NODELAY": "0"} if opt_out else {})
    if not opt_out:
        env.pop("SI_EXPLORER_NODELAY", None)
    if app == "server":
        cmd = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
        ]  # fmt: skip
    else:
        write_notebook(folder / "nb.ipynb", ["1 + 1"])
        cmd = [
            sys.executable, "-m", "voila", str(folder / "nb.ipynb"), "--no-browser",
            f"--port={port}", "--Voila.ip=127.0.0.1", f"--Voila.token={token}",
        ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, proc, 120, log)
        yield base, token, log
    finally:
        stop_process(proc)


def start_kernel(app: str, base: str, token: str) -> str:
    """A kernel id: Voila starts the notebook's kernel when its page is requested."""
    if app == "voila":
        with urllib.request.urlopen(f"{base}/?token={token}", timeout=120) as r:
            page = r.read().decode()
        return re.search(r'"kernelId": "([0-9a-f-]{36})"', page).group(1)
    request = urllib.request.Request(
        f"{base}/api/kernels", data=b"{}", method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.load(r)["id"]


async def kernel_info_over_websocket(base: str, token: str, kernel: str) -> None:
    """Open the kernel's websocket and wait for one reply: by then the server has run the
    connection's connect() for this socket."""
    from tornado.websocket import websocket_connect

    url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels?token={token}"
    ws = await websocket_connect(url)
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "kernel_info_request", "username": "test",
              "session": uuid.uuid4().hex, "version": "5.3", "date": ""}  # fmt: skip
    ws.write_message(json.dumps({
        "header": header, "parent_header": {}, "metadata": {}, "content": {},
        "channel": "shell", "buffers": [],
    }))  # fmt: skip
    try:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), 60)
            assert raw is not None, "the kernel websocket closed before the reply"
            msg = json.loads(raw)
            if msg["parent_header"].get("msg_id") == msg_id and msg["channel"] == "shell":
                return
    finally:
        ws.close()


def wait_for_log(log: Path, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        content = log.read_text(errors="replace")
        if text in content or time.monotonic() > deadline:
            return content
        time.sleep(0.1)


def run_in_own_loop(coroutine):
    """Run ``coroutine`` on a thread with its own event loop: after a browser test, the
    session's Playwright keeps an event loop running in this thread, and asyncio.run refuses."""
    outcome = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the kernel websocket exchange did not finish in 120 s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.parametrize("opt_out", [False, True], ids=["default", "opted-out"])
@pytest.mark.parametrize("app", ["server", "voila"])
def test_plain_server_sets_nodelay_unless_opted_out(app, opt_out, tmp_path):
    with plain_server(app, tmp_path, opt_out=opt_out) as (base, token, log):
        kernel = start_kernel(app, base, token)
        run_in_own_loop(kernel_info_over_websocket(base, token, kernel))
        # The server logs this before calling connect(), which ran before the reply came back.
        content = wait_for_log(log, f"Connecting to kernel {kernel}")
        if not opt_out:
            content = wait_for_log(log, SET_ON_SOCKET.format(kernel=kernel))
    assert "Traceback" not in content, content[-3000:]
    assert (SET_ON_SOCKET.format(kernel=kernel) in content) is not opt_out, content[-3000:]
    if app == "server":
        # The extension, enabled by the installed jupyter_server_config.d file, decides.
        assert (OPTED_OUT_AT_START if opt_out else ENABLED_AT_START) in content
    elif opt_out:
        # Standalone Voila loads no server extensions: the class from the installed
        # voila.json is in use and honours the opt-out itself.
        assert LEFT_OFF.format(kernel=kernel) in content
