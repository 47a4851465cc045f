"""The shipped Streamlit configuration: localhost only, no telemetry, no tracebacks, two themes."""

from __future__ import annotations

import ast
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))


def test_server_binds_to_localhost_only() -> None:
    assert CONFIG["server"]["address"] == "localhost"


def test_uploads_larger_than_the_scan_accepts_are_refused_by_the_server() -> None:
    from basket_lib.scan.inputs import MAX_UPLOAD_BYTES

    assert CONFIG["server"]["maxUploadSize"] * 1024 * 1024 == MAX_UPLOAD_BYTES


def test_a_deployed_server_watches_no_files() -> None:
    assert CONFIG["server"]["fileWatcherType"] == "none"


def test_tables_offer_no_raw_csv_download() -> None:
    assert CONFIG["client"]["disableDataExport"] is True


def test_usage_statistics_are_off() -> None:
    assert CONFIG["browser"]["gatherUsageStats"] is False


def test_no_traceback_reaches_a_page() -> None:
    assert CONFIG["client"]["showErrorDetails"] == "none"


def test_light_and_dark_themes() -> None:
    for name in ("light", "dark"):
        theme = CONFIG["theme"][name]
        assert theme["backgroundColor"] != theme["textColor"]


def test_secrets_file_is_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
    assert (ROOT / ".streamlit" / "secrets.toml.example").is_file()


def test_script_runs_do_not_end_in_a_full_garbage_collection() -> None:
    # Streamlit's default (runner.postScriptGC) collects every generation after each run: most
    # of the CPU a progress poll or a basket lookup costs the server (benchmarks/README.md).
    assert CONFIG["runner"]["postScriptGC"] is False


def test_pages_are_compiled_without_magic_and_none_relies_on_it() -> None:
    assert CONFIG["runner"]["magicEnabled"] is False
    # With magic off, a bare value or name on its own line would silently show nothing: every
    # expression statement of a page script is a call (or a docstring).
    scripts = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Expr) or isinstance(node.value, ast.Call | ast.Await):
                continue
            docstring = isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            assert docstring, f"{script.name}:{node.lineno} relies on magic"
