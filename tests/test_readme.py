"""Every Python snippet in the README runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_snippets_run(tmp_path, monkeypatch, capsys):
    snippets = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert snippets, "the README shows no Python example"
    monkeypatch.chdir(tmp_path)
    for snippet in snippets:
        exec(compile(snippet, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "('field', 'time', 'z', 'y', 'x') (1, 50, 30, 128, 128)" in printed


def test_readme_names_the_test_command_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash tests/run" in README.read_text() and "bash tests/run" in ci
