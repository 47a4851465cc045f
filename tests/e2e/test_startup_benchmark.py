"""The start-up benchmark still runs: it times `streamlit run` in Chromium, like these tests."""

from __future__ import annotations

import pytest
from benchmark_support import ratios_line, run_benchmark


@pytest.mark.benchmark
def test_startup_times_the_dashboard_against_hello_world() -> None:
    line = ratios_line(run_benchmark("startup.py", "--repeat", "1"))
    assert "dashboard/hello rendered=" in line
