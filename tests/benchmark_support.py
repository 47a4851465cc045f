"""Running a benchmark script as a whole process, for the tests that check each one still runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def run_benchmark(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    return completed.stdout


def ratios_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("ratios: ")]
    assert len(lines) == 1, output
    return lines[0]


def require_chromium() -> None:
    """Scripts that drive Chromium, like the browser tests: skipped without one, except under CI."""
    if Path("/usr/bin/chromium").exists() or shutil.which("chromium") is not None:
        return
    if os.environ.get("CI", "").strip().lower() in {"true", "1"}:
        pytest.fail("Chromium is not installed: CI must run the browser benchmarks.")
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium)")
