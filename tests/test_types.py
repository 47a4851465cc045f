"""basket_lib and dashboard pass `mypy --strict` (configured in pyproject's [tool.mypy])."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_clean() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it comes with the [test] extra)")
    # This interpreter's mypy sees the same installed packages and stubs as the tests. Its cache
    # (.mypy_cache/ in the checkout) makes a rerun after a small change take a few seconds.
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
