"""The start-up benchmark still runs: it times `streamlit run` in Chromium, like these tests."""

from __future__ import annotations

import re

import pytest
from benchmark_support import ratios_line, run_benchmark


@pytest.mark.benchmark
def test_startup_times_the_landing_page_and_the_first_basket_against_hello_world() -> None:
    line = ratios_line(run_benchmark("startup.py", "--repeat", "1"))
    assert "dashboard/hello rendered=" in line
    assert re.search(r"first basket/hello=[\d.]+ \(<= 1\.5 (met|MISSED)\)", line), line
    bare = r"reference: bare basket/hello=[\d.]+, first basket/bare basket=[\d.]+"
    assert re.search(bare, line), line
