"""A smoke run of the benchmark suite on tiny sizes, so that it cannot rot. Nothing here times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_benchmark_suite_runs_on_tiny_files(tmp_path):
    out = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(SUITE),
            "--quick",
            "--workdir",
            str(tmp_path / "files"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((out / "quick.json").read_text())
    for section in ("open", "walk", "timeline", "plane", "trace", "pass"):
        assert results.get(section), f"section {section} produced nothing"
    assert all(row["si_explorer_s"] > 0 for row in results["open"])
    assert "| pages |" in (out / "quick.md").read_text()
    assert (out / "quick_open.png").stat().st_size > 1000
