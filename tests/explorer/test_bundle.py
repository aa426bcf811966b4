"""The shipped bundle is what js/src builds to, and the sources type-check.

The widget loads ``si_explorer/explorer/static/explorer.js`` (committed, so installs need no
node). These tests rebuild it from ``js/src`` and compare, so a source edit without a rebuild
fails here. They need the front-end toolchain: ``cd js && npm ci``.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .browser import REPO, STATIC_JS

JS = REPO / "js"
BIN = JS / "node_modules" / ".bin"


def tool(name):
    path = BIN / name
    if not path.exists() or shutil.which("node") is None:
        pytest.skip(f"front-end toolchain not installed: run `npm ci` in {JS} (needs node)")
    return str(path)


def test_committed_bundle_matches_the_sources(tmp_path):
    out = tmp_path / "explorer.js"
    cmd = [tool("esbuild"), "src/index.js", "--bundle", "--format=esm", "--target=es2020",
           f"--outfile={out}", "--legal-comments=none"]  # fmt: skip
    subprocess.run(cmd, cwd=JS, check=True, capture_output=True, timeout=120)
    assert out.read_bytes() == STATIC_JS.read_bytes(), (
        "si_explorer/explorer/static/explorer.js is stale: run `npm run build` in js/"
    )


def test_sources_type_check():
    result = subprocess.run(
        [tool("tsc"), "--noEmit", "-p", "tsconfig.json"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
