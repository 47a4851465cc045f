"""Running a benchmark script as a whole process, for the tests that check each one still runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def run_benchmark(script: str, *args: str, timeout: float = 240) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASKET_")}
    output = run_killing_group_on_timeout(
        [sys.executable, str(BENCHMARKS / script), *args], env=env, timeout=timeout
    )
    assert output.returncode == 0, output.stdout[-2000:] + output.stderr[-4000:]
    return output.stdout


def run_killing_group_on_timeout(
    command: list[str], *, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `command` in a process group of its own; on timeout the whole group is killed.

    A benchmark starts servers and a browser; subprocess.run's timeout kills only the script, and
    what it started would go on loading the machine under the rest of the suite.
    """
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(
                f"{Path(command[1]).name} took over {timeout:g} s; its process group was "
                f"killed.\n{stdout[-2000:]}{stderr[-4000:]}"
            )
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


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
