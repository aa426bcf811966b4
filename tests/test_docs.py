"""The documentation site builds offline, with warnings as errors, and shows what it should.

One build (``bash docs/build DIR``, the command a person runs) into a temporary folder, shared by
the checks below: every page exists; every notebook and example page executed without an error
(myst-nb's execution report, and no error output in any page); no page loads a script,
stylesheet or font from the network; the explorer cells show the screenshot, never an empty
widget box. The build executes the three notebooks and the example pages: about 1.5 minutes on
a 2-core machine.
"""

from __future__ import annotations

import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "index",
    "notebooks/01_quickstart",
    "notebooks/02_chunking_lab",
    "notebooks/03_scanimage_layout",
    "layouts",
    "following",
    "timeline",
    "bidi",
    "remote",
    "troubleshooting",
    "api",
    "architecture",
    "benchmarks",
    "execution",
]
EXECUTED = [p for p in PAGES if p.startswith("notebooks/")] + [
    "following",
    "timeline",
    "bidi",
    "remote",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    start = time.perf_counter()
    result = subprocess.run(
        ["bash", str(ROOT / "docs" / "build"), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, (
        f"docs/build failed ({result.returncode}):\n{result.stdout[-5000:]}\n"
        f"{result.stderr[-10000:]}"
    )
    print(f"docs built in {elapsed:.0f} s")
    return out / "html"


def _html(site: Path, page: str) -> str:
    return (site / f"{page}.html").read_text(encoding="utf-8")


def test_every_page_is_built(site):
    missing = [p for p in PAGES if not (site / f"{p}.html").is_file()]
    assert not missing, f"pages not built: {missing}"
    for page in ("search", "genindex"):
        assert (site / f"{page}.html").is_file()


def test_every_notebook_cell_ran_without_error(site):
    report = _html(site, "execution")
    for page in EXECUTED:
        # One row per executed document: its name, then a ✅ (or ❌ on failure).
        row = re.search(
            rf"<tr[^>]*>(?:(?!</tr>).)*?{re.escape(page)}(?:(?!</tr>).)*</tr>", report, re.S
        )
        assert row, f"{page} is not in the execution report"
        assert "✅" in row.group(0) and "❌" not in row.group(0), row.group(0)
    for page in PAGES:
        html = _html(site, page)
        assert "output error" not in html and "output traceback" not in html, page
    for page in EXECUTED:  # (the API page quotes tracebacks in its doctest examples)
        assert "Traceback (most recent call last)" not in _html(site, page), page


def test_notebooks_show_their_outputs(site):
    for page in EXECUTED[:3]:
        html = _html(site, page)
        figures = len(re.findall(r'<img[^>]+src="(?:\.\./)?_images/[0-9a-f]{16,}\.png"', html))
        assert figures >= 2, f"{page}: {figures} figures"
    lab = _html(site, "notebooks/02_chunking_lab")
    assert "MB read" in lab and "fastest through dask" in lab  # the lab's tables
    quickstart = _html(site, "notebooks/01_quickstart")
    assert 'class="output text_html"' in quickstart  # the dask array and xarray reprs


class _Assets(HTMLParser):
    """Every URL a page loads as a script, stylesheet, font, image or frame."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "embed") and attrs.get("src"):
            self.urls.append((tag, attrs["src"]))
        if tag == "link" and attrs.get("href"):
            rel = (attrs.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "preload", "icon", "modulepreload", "font")):
                self.urls.append((tag, attrs["href"]))


def test_nothing_is_loaded_from_the_network(site):
    remote = re.compile(r"^(https?:)?//", re.I)
    for path in sorted(site.rglob("*.html")):
        parser = _Assets()
        parser.feed(path.read_text(encoding="utf-8"))
        loaded = [u for u in parser.urls if remote.match(u[1])]
        assert not loaded, f"{path.relative_to(site)} loads {loaded}"
    for path in sorted(site.rglob("*.css")):
        text = path.read_text(encoding="utf-8", errors="replace")
        imports = re.findall(r"@import\s+(?:url\()?['\"]?(https?:)?//", text)
        fonts = re.findall(r"url\(\s*['\"]?(?:https?:)?//", text)
        assert not imports and not fonts, f"{path.relative_to(site)} loads from the network"


def test_the_explorer_cell_shows_the_screenshot(site):
    html = _html(site, "notebooks/01_quickstart")
    cells = re.findall(
        r'<div class="cell tag_docs-explorer-screenshot[^"]*">(.*?)</section>', html, re.S
    )
    assert cells, "no explorer cell found"
    for cell in cells:
        assert re.search(r'<img[^>]+src="\.\./_images/explorer\.png"', cell), cell[:2000]
        assert "widget-view" not in cell
    assert (site / "_images" / "explorer.png").is_file()
    # No other widget view is left as an empty box anywhere.
    for path in site.rglob("*.html"):
        assert "application/vnd.jupyter.widget-view+json" not in path.read_text(encoding="utf-8")


def test_api_reference_covers_the_public_api(site):
    import si_explorer

    html = _html(site, "api")
    for name in [*si_explorer.__all__, "Explorer"]:
        assert f'id="si_explorer.{name}"' in html, f"si_explorer.{name} is not documented"
    for method in (
        "timeline",
        "timeseries",
        "project",
        "to_zarr",
        "to_tiff",
        "to_references",
        "refresh",
        "with_options",
        "bidi_offset",
    ):
        assert f'id="si_explorer.Stack.{method}"' in html, f"Stack.{method} is not documented"


def test_included_pages_are_there(site):
    architecture = _html(site, "architecture")
    assert "Architecture" in architecture and "page index" in architecture
    bench = _html(site, "benchmarks")
    results = ROOT / "benchmarks" / "results"
    # The tables come from the result files: a number of each file is on the page.
    first_row = re.search(r"^\| ([\d,]+) \|", (results / "results.md").read_text(), re.M)
    assert first_row and first_row.group(1) in bench
    assert "Bidirectional offset benchmark" in bench
    assert "Remote recordings over HTTP" in bench
    assert "end-to-end p50" in bench and "lab opted out" in bench
    assert re.search(r'<img[^>]+src="_images/open_time\.png"', bench)
