"""The code base stays `ruff check` and `ruff format` clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]])
def test_ruff_clean(args: list[str]) -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the [test] extra)")
    proc = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_basket_lib_may_not_import_streamlit(tmp_path: Path) -> None:
    # The rule itself, so that removing it from pyproject.toml fails a test: a probe file placed
    # in basket_lib/ (checked with the project's configuration) must be refused.
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the [test] extra)")
    source = "import streamlit\nfrom streamlit.errors import StreamlitAPIException\n"
    for folder, refused in (("basket_lib", True), ("dashboard", False)):
        proc = subprocess.run(
            [ruff, "check", "--select", "TID251", "--stdin-filename", f"{folder}/probe.py", "-"],
            cwd=ROOT,
            input=source,
            capture_output=True,
            text=True,
        )
        assert (proc.stdout.count("TID251") == 2) is refused, proc.stdout
