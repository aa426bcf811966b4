"""Only whoever started ``si-explorer view`` can open it: the server wants the printed token.

Any user of the machine can connect to a port on 127.0.0.1, and the page runs code on the
user's files, so the app is served like Jupyter: a random token in the printed URL, and every
request without it (or without the login cookie the first visit sets) is refused. The real
browser, kernel websocket and widget assets with that cookie are exercised by
tests/explorer/test_main_job.py and tests/explorer/test_fresh_install.py.
"""

from __future__ import annotations

import base64
import http.client
import http.cookies
import os
import re
import sys
import urllib.parse

import pytest

from .conftest import HOSTPIXELCORR
from .explorer.browser import ServedApp, jupyter_env

pytestmark = pytest.mark.slow

# What the page carries once the notebook ran: the widget's view and the explorer's repr.
APP_MARKERS = ("application/vnd.jupyter.widget-view+json", "si_explorer")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``si-explorer view`` on a real sample, as a user runs it: (port, token, stderr lines)."""
    root = tmp_path_factory.mktemp("token-app")
    env = jupyter_env(root, {"PYTHONUNBUFFERED": "1"})
    command = [sys.executable, "-m", "si_explorer.cli", "view", str(HOSTPIXELCORR), "--no-browser"]
    app = ServedApp(command, env=env)
    try:
        yield app.port, app.token, app.err
    finally:
        app.stop()


def get(port, path, headers=None, timeout=120):
    """One GET on 127.0.0.1:port without following redirects: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        reply = conn.getresponse()
        body = reply.read().decode("utf-8", "replace") if reply.status != 101 else ""
        return reply.status, reply.headers, body
    finally:
        conn.close()


def assert_refused(port, status, headers, body, path):
    assert status in (302, 403), f"GET {path} without the token answered {status}"
    if status == 302:
        location = urllib.parse.urlsplit(headers["Location"])
        assert location.path == "/login", f"GET {path} redirected to {headers['Location']}"
    for marker in (*APP_MARKERS, str(HOSTPIXELCORR), HOSTPIXELCORR.name):
        assert marker not in body, f"GET {path} without the token leaked {marker!r}"


def login_cookie(headers) -> str:
    jar = http.cookies.SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        jar.load(value)
    names = [name for name in jar if name.startswith("username-")]
    assert names, f"no login cookie set: {headers.get_all('Set-Cookie')}"
    return "; ".join(f"{name}={jar[name].value}" for name in names)


def websocket_upgrade(port, kernel_id, cookie=None) -> int:
    """The status of a websocket handshake on the kernel's channels (101 = connected)."""
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    if cookie:
        headers["Cookie"] = cookie
    status, _, _ = get(port, f"/api/kernels/{kernel_id}/channels", headers, timeout=60)
    return status


def test_the_printed_url_carries_a_random_token(served):
    port, token, _ = served
    assert len(token) >= 40  # secrets.token_urlsafe(32): 256 bits


def test_without_the_token_the_app_is_refused(served):
    port, token, _ = served
    for path in ("/", "/?token=", "/?token=wrong", f"/?token={token[:-1]}"):
        assert_refused(port, *get(port, path), path)
    # The login page a refused visitor is sent to shows nothing of the notebook either.
    status, _, body = get(port, "/login?next=%2F")
    assert status == 200
    for marker in (*APP_MARKERS, str(HOSTPIXELCORR)):
        assert marker not in body


def test_the_token_opens_the_app_and_its_cookie_the_kernel_websocket(served):
    port, token, err = served
    status, headers, body = get(port, f"/?token={token}")
    assert status == 200, "".join(err)[-3000:]
    for marker in APP_MARKERS:
        assert marker in body
    assert "Internal Server Error" not in body
    kernel_id = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
    cookie = login_cookie(headers)

    # The page's kernel, reached without credentials: refused before any handshake.
    assert websocket_upgrade(port, kernel_id) in (302, 403)
    assert websocket_upgrade(port, kernel_id, cookie="username-127-0-0-1-1=forged") in (302, 403)
    # With the cookie the first visit set, as the browser does: connected.
    assert websocket_upgrade(port, kernel_id, cookie) == 101
    # The cookie alone (the URL without the token) opens the app again.
    status, _, body = get(port, "/", {"Cookie": cookie})
    assert status == 200 and APP_MARKERS[0] in body
