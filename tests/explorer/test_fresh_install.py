"""The README's main commands on a fresh machine: only ``pip install -e ".[app]"`` in a clean venv.

The rest of the suite runs in the test environment, which has everything (JupyterLab,
ipykernel, ...), so it cannot see a dependency the ``app`` extra forgot: without ipykernel,
``si-explorer demo`` served "500: Internal Server Error" ("No Jupyter kernel for language
'python' found"). Here a venv without system site-packages gets this checkout with the
``app`` extra only, and ``si-explorer demo`` / ``si-explorer view FILE`` run from it as a new
user would: a fresh HOME, no XDG or Jupyter directories, no cached demo. Chromium then opens
the printed (tokenised) URL and waits for the explorer to show time 0.

pip needs the package index; downloads go to pip's default cache, so a rerun takes seconds
for the downloads (building the venv still takes a minute or two).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import HOSTPIXELCORR
from .browser import REPO, ServedApp
from .conftest import require_browser
from .e2e import check_plane, role

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Voila's error page says "500 : Internal Server Error"; the explorer never shows either.
SERVER_ERROR = re.compile(r"\b500\s*:|Internal Server Error")
# Settings of the test run that a new user's shell would not have.
NOT_A_NEW_USERS = ("PYTHON", "VIRTUAL_ENV", "JUPYTER", "IPYTHON", "XDG_", "SI_EXPLORER", "MPL")


def _say(pytestconfig, message: str) -> None:
    """A progress line on the terminal even while pytest captures output."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
    with capture.global_and_fixture_disabled():
        if reporter is not None:
            reporter.write_line(message)
        else:
            print(message, file=sys.stderr, flush=True)


def _pip_env() -> dict:
    # pip keeps this machine's own pip configuration (index, certificates) and HOME, so that
    # downloads land in the default cache; only Python's own search paths are dropped.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, pytestconfig) -> Path:
    """A venv (no system site-packages) with only ``pip install -e "<repo>[app]"``."""
    require_browser()  # no point in minutes of pip when the browser tests will skip anyway
    venv = tmp_path_factory.mktemp("fresh-install") / "venv"
    log = venv.parent / "pip.log"
    start = time.monotonic()
    _say(
        pytestconfig,
        f"\nfresh install: python -m venv {venv} && pip install -e '{REPO}[app]' "
        "(a minute or two; pip's cache keeps the downloads) ...",
    )
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, env=_pip_env()
    )
    if made.returncode != 0:
        pytest.fail(
            f"python -m venv failed (exit {made.returncode}); on Debian it needs the "
            f"python3-venv package:\n{made.stdout}{made.stderr}"
        )
    python = venv / "bin" / "python"
    command = [str(python), "-m", "pip", "install", "--progress-bar", "off", "-e", f"{REPO}[app]"]
    last_said = time.monotonic()
    with open(log, "w") as out:
        pip = subprocess.Popen(
            command, env=_pip_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in pip.stdout:
            out.write(line)
            if time.monotonic() - last_said > 15:
                _say(
                    pytestconfig,
                    f"fresh install: {time.monotonic() - start:.0f} s: {line.strip()[:100]}",
                )
                last_said = time.monotonic()
        code = pip.wait()
    if code != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-40:])
        network = re.search(
            r"NewConnectionError|Failed to establish|Temporary failure in name resolution|"
            r"No matching distribution|ConnectTimeout|ReadTimeout|Network is unreachable",
            tail,
        )
        pytest.fail(
            f"pip could not install si-explorer[app] into a clean venv (exit {code})"
            + (
                ": the package index looks unreachable, and this test needs it (PyPI)"
                if network
                else ""
            )
            + f". Full log: {log}\n{tail}",
            pytrace=False,
        )
    _say(pytestconfig, f"fresh install: ready in {time.monotonic() - start:.0f} s")
    return venv


def new_user_env(venv: Path, home: Path) -> dict:
    """The environment of a new user who activated the venv: nothing from this test run."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_A_NEW_USERS)}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        VIRTUAL_ENV=str(venv),
        PYTHONUNBUFFERED="1",  # the URL line must reach the test before the server stops
    )
    return env


def serve(venv: Path, home: Path, *args: str) -> ServedApp:
    """``si-explorer ...`` from the venv, as a new user in ``home`` runs it."""
    command = [str(venv / "bin" / "si-explorer"), *args, "--no-browser"]
    # The first start builds matplotlib's font cache in the new HOME: minutes on a slow disk.
    served = ServedApp(command, env=new_user_env(venv, home), cwd=home, timeout=300)
    assert len(served.token) >= 40, served.line
    return served


def open_explorer(page, served: ServedApp) -> None:
    """Open the printed URL and wait for the explorer, failing at once on a server error."""
    response = page.goto(served.url, timeout=180_000)
    assert response is not None and response.status == 200, (
        f"GET {served.url} answered {response and response.status}:\n{served.stderr()}"
    )
    explorer = page.locator('[data-role="si-explorer"]')
    explorer.or_(page.get_by_text(SERVER_ERROR)).first.wait_for(timeout=180_000)
    body = page.locator("body").inner_text()
    assert not SERVER_ERROR.search(body), f"the page shows a server error:\n{served.stderr()}"
    assert explorer.count() == 1


def check_at_time_zero(page, served: ServedApp, stack) -> None:
    check_plane(page, stack, 0, 0, 0, timeout=120_000)
    for slider in ("time-slider", "z-slider"):
        assert role(page, slider).input_value() == "0"
    assert role(page, "error").is_hidden()
    body = page.locator("body").inner_text()
    assert not SERVER_ERROR.search(body), f"the page shows a server error:\n{served.stderr()}"
    stderr = served.stderr()
    assert "Traceback" not in stderr and "No Jupyter kernel" not in stderr, stderr


def test_demo_from_a_fresh_install_shows_the_explorer(
    fresh_venv, tmp_path, new_page, live_screenshot
):
    import si_explorer

    home = tmp_path / "home"
    served = serve(fresh_venv, home, "demo")
    try:
        # cli.py puts the demo under $XDG_CACHE_HOME, else ~/.cache: here, the new HOME.
        demo = home / ".cache" / "si-explorer" / "demo" / "demo_00001_00001.tif"
        assert demo.exists(), f"no demo at {demo}:\n{served.stderr()}"
        assert "writing the demo acquisition" in served.stderr(tail=10**6)
        page = new_page()
        with live_screenshot(page), si_explorer.open(demo) as stack:
            open_explorer(page, served)
            check_at_time_zero(page, served, stack)
    finally:
        served.stop()
    assert served.process.returncode == 0, served.stderr()


def test_view_from_a_fresh_install_shows_a_real_scanimage_file(
    fresh_venv, tmp_path, new_page, live_screenshot
):
    import si_explorer

    served = serve(fresh_venv, tmp_path / "home", "view", str(HOSTPIXELCORR))
    try:
        assert str(HOSTPIXELCORR) in served.line
        page = new_page()
        with live_screenshot(page), si_explorer.open(HOSTPIXELCORR) as stack:
            open_explorer(page, served)
            check_at_time_zero(page, served, stack)
    finally:
        served.stop()
    assert served.process.returncode == 0, served.stderr()
