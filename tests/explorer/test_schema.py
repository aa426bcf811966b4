"""Python and the front end agree on the message schema because it is checked, not by chance.

The JavaScript side is read by importing its ES modules with node, so the lists compared are
the ones the front end really uses, not text scraped from its sources.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from si_explorer.explorer import Explorer
from si_explorer.explorer.chunkmap import CACHED, CHUNK_STATES, NEVER, READ, READING
from si_explorer.explorer.messages import (
    BACKENDS,
    COLORMAPS,
    INCOMING,
    OUTGOING,
    SETTINGS,
    VIEWS,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC = ROOT / "js" / "src"


def _uri(name: str) -> str:
    return json.dumps((SRC / name).as_uri())


SCRIPT = f"""
import {{ FROM_PYTHON, TO_PYTHON, SETTING_KEYS, BACKENDS, VIEWS }} from {_uri("protocol.js")};
import {{ COLORMAP_NAMES }} from {_uri("lut.js")};
import {{ COLORMAP_STOPS }} from {_uri("colormaps.js")};
import {{ CHUNK_STATES }} from {_uri("chunkmap.js")};
console.log(JSON.stringify({{
  from_python: FROM_PYTHON,
  to_python: TO_PYTHON,
  settings: SETTING_KEYS,
  backends: BACKENDS,
  colormaps: COLORMAP_NAMES,
  stops: Object.keys(COLORMAP_STOPS),
  chunk_states: CHUNK_STATES,
  views: VIEWS,
}}));
"""


@pytest.fixture(scope="module")
def js():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run(
        [node, "--input-type=module", "-e", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def test_message_types_agree(js):
    assert js["from_python"] == list(OUTGOING)
    assert js["to_python"] == list(INCOMING)


def test_settings_agree_and_are_synced_traits(js):
    assert js["settings"] == list(SETTINGS)
    synced = Explorer.class_trait_names(sync=True)
    assert set(SETTINGS) <= set(synced)
    assert js["backends"] == list(BACKENDS)


def test_colormaps_agree(js):
    assert js["colormaps"] == list(COLORMAPS)
    # Every map but gray is interpolated from generated stops; none is left without them.
    assert js["stops"] == [name for name in COLORMAPS if name != "gray"]


def test_colormap_stops_are_what_the_generator_writes(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "colormaps.js"
    tool = ROOT / "js" / "tools" / "make_colormaps.py"
    subprocess.run([sys.executable, str(tool), str(out)], check=True, capture_output=True)
    assert out.read_text() == (SRC / "colormaps.js").read_text(), (
        "js/src/colormaps.js is stale: run python js/tools/make_colormaps.py"
    )


def test_chunk_state_order_agrees(js):
    assert js["chunk_states"] == list(CHUNK_STATES)
    names = [CHUNK_STATES[code] for code in (NEVER, READ, CACHED, READING)]
    assert names == ["never", "read", "cached", "reading"]


def test_backends_agree_with_the_read_stage(js):
    from si_explorer.read.pages import BACKENDS as READ_BACKENDS

    assert BACKENDS == READ_BACKENDS
    assert tuple(js["backends"]) == READ_BACKENDS


def test_views_agree_with_the_summaries():
    from si_explorer.summary import SUMMARIES

    assert VIEWS == ("frame", *SUMMARIES)


def test_views_agree(js):
    assert js["views"] == list(VIEWS)
    # Python mirrors the browser's view from its messages; the browser never sets it.
    assert "view" not in SETTINGS and "view" in Explorer.class_trait_names(sync=True)
