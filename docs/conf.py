"""Sphinx configuration of the si-explorer documentation site.

Build it with ``bash docs/build`` (see that script): it stages docs/, the notebooks and the
benchmark results into one source folder and runs Sphinx there with warnings as errors. The site
works offline: nothing is fetched at build time (no intersphinx) or at view time (no CDN: the
pydata theme ships its fonts and icons, ipywidgets' CDN loader is off, widget views are not
rendered).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from docutils import nodes

HERE = Path(__file__).resolve().parent
# The staged source folder has no package in it: import si_explorer from the checkout (the build
# script passes it) or from the environment.
ROOT = Path(os.environ.get("SI_EXPLORER_DOCS_ROOT", HERE.parent))
if (ROOT / "si_explorer").is_dir():
    sys.path.insert(0, str(ROOT))

import si_explorer  # noqa: E402

project = "si-explorer"
author = "si-explorer contributors"
copyright = "si-explorer contributors, BSD-3-Clause"  # noqa: A001 - Sphinx's name
release = version = si_explorer.__version__
language = "en"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

exclude_patterns = [
    "_build",
    "build",
    "benchmarks",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
]
templates_path = ["_templates"]
html_static_path = ["_static"]

# -- MyST and notebooks ---------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Every notebook (and every page written as a MyST notebook) runs at build time, so the outputs,
# figures and tables are those of the code as it is. A failing cell fails the build.
nb_execution_mode = os.environ.get("SI_EXPLORER_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# Offline: no require.js / ipywidgets html-manager from a CDN, and widget views (which need a
# live kernel) are not rendered; their image/png or text fallbacks are shown instead. The
# explorer's cell gets a screenshot instead (see _explorer_screenshot below).
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "application/vnd.jupyter.widget-state+json", None),
    ("html", "application/javascript", None),
    # A matplotlib figure drawn through ipympl carries its PNG too: show that plainly.
    ("html", "image/png", 15),
]

# -- API reference --------------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# -- HTML -----------------------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"si-explorer {release}"
html_theme_options = {
    # Nothing that reaches the network: no icon links, no version switcher, no analytics.
    "icon_links": [],
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
html_copy_source = False

# -- The explorer's screenshot --------------------------------------------------------------------

#: A code cell with this tag shows docs/explorer.png instead of its outputs in the docs. The
#: notebook is unchanged for its users: run in Jupyter, the cell shows the live widget.
SCREENSHOT_TAG = "docs-explorer-screenshot"
SCREENSHOT = "/explorer.png"  # relative to the source folder


def _explorer_screenshot(app, doctree):
    """Replace the outputs of every code cell tagged SCREENSHOT_TAG with the screenshot.

    A widget view needs a live kernel; a static page would show an empty box. Runs before
    Sphinx collects images (priority < 500), so the image is copied like any other.
    """
    for cell in doctree.findall(nodes.container):
        if f"tag_{SCREENSHOT_TAG}" not in cell.get("classes", []):
            continue
        outputs = [c for c in cell.children if "cell_output" in c.get("classes", [])]
        image = nodes.image(
            uri=SCREENSHOT,
            alt="The explorer: plane view with field, time and z sliders, contrast, "
            "a ROI trace and the chunk-load timing panel",
            classes=["explorer-screenshot"],
        )
        caption = nodes.paragraph(
            text="A screenshot of the explorer. Run the notebook in JupyterLab, Notebook or "
            "Voila for the live widget.",
            classes=["explorer-screenshot-caption"],
        )
        box = nodes.container(classes=["cell_output", "explorer-screenshot-output"])
        box += [image, caption]
        if outputs:
            cell.replace(outputs[0], box)
            for extra in outputs[1:]:
                cell.remove(extra)
        else:
            cell += box


# -- Benchmarks: widget_roundtrip.json as tables --------------------------------------------------

WIDGET_ROUNDTRIP_MARKER = "<!-- widget-roundtrip-tables -->"


def _widget_roundtrip_tables(path: Path) -> str:
    """benchmarks/results/widget_roundtrip.json as Markdown tables, one per plane size."""
    data = json.loads(path.read_text())
    targets = data.get("targets", {})
    lines = [
        f"Measured {data.get('date', '?')} on {data['machine']['cpus']} cores, Python "
        f"{data['machine']['python']}, {data.get('dtype', '')} planes: "
        f"`{data.get('command', '')}`. Servers: {data.get('how', '')}.",
        "",
    ]
    if targets:
        e2e = targets.get("end_to_end_p50_ms", {})
        wanted = ", ".join(f"{k} {v} ms" for k, v in e2e.items())
        lines += [
            f"Targets: end-to-end p50 {wanted}; playback {targets.get('playback_fps', '?')} "
            "frames/s.",
            "",
        ]
    for size, runs in data["sizes"].items():
        lines += [
            f"**{size} planes**",
            "",
            "| server | moves | end-to-end p50 (ms) | p95 (ms) | kernel p50 (ms) | "
            "browser draw p50 (ms) | transport p50 (ms) | playback (frames/s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for server, run in runs.items():
            e2e = run.get("end_to_end_ms", {})
            play = run.get("playback", {})
            lines.append(
                f"| {server.replace('_', ' ')} | {run.get('moves', '')} | {e2e.get('p50', '')} | "
                f"{e2e.get('p95', '')} | {run.get('kernel_ms', {}).get('p50', '')} | "
                f"{run.get('browser_draw_ms', {}).get('p50', '')} | "
                f"{run.get('transport_ms_p50', '')} | {play.get('achieved_fps', '')} |"
            )
        lines.append("")
    return "\n".join(lines)


def _fill_benchmarks(app, docname, source):
    if WIDGET_ROUNDTRIP_MARKER in source[0]:
        results = Path(app.srcdir) / "benchmarks" / "results" / "widget_roundtrip.json"
        source[0] = source[0].replace(WIDGET_ROUNDTRIP_MARKER, _widget_roundtrip_tables(results))


def setup(app):
    app.connect("doctree-read", _explorer_screenshot, priority=400)
    app.connect("source-read", _fill_benchmarks)
    app.add_css_file("si_explorer.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
