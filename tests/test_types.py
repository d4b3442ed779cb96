"""The type checker over the package: mypy on ``searcher/`` with the settings in
pyproject.toml (``[tool.mypy]``) reports no error.

Run as a test so that CI, which runs the whole suite, checks the types; marked slow (a
cold run takes ~15 s) so the inner loop, ``pytest -m "not slow"``, leaves it out."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_the_package_type_checks() -> None:
    command = [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "No module named mypy" not in done.stderr, "mypy is a dev dependency: .[dev]"
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout, done.stdout
