"""Shared fixtures: a clean environment and clean Streamlit caches for every test."""

from __future__ import annotations

import functools
import gc
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from basket_lib.settings import ENVIRONMENT_VARIABLES

if TYPE_CHECKING:
    from apptest_support import RecordingApi


# mypy over a cold cache (a fresh clone) takes about half a minute: run first, a parallel run
# (-n) overlaps it with the other tests instead of ending on it.
_FIRST = "tests/test_types.py::test_mypy_strict_clean"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid != _FIRST)  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A developer's own configuration must not leak into tests: every test starts in demo mode,
    # and stores its scans in a database of its own (never basket-support.db in the tree).
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BASKET_DATABASE_URL", f"sqlite:///{tmp_path / 'scans.db'}")
    # A page run starts no worker ahead of its scan (no process outlives a test); the tests of
    # that standby worker turn it on.
    monkeypatch.setenv("BASKET_WORKER_STANDBY_SECONDS", "0")


@pytest.fixture(autouse=True)
def _collector_as_python_sets_it() -> Iterator[None]:
    # app.py tunes the server's garbage collector and freezes what is imported
    # (dashboard.collector): in a test process that would keep every frozen test's reference
    # cycles for good, so each test leaves the collector as it found it.
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture(scope="session", autouse=True)
def _one_component_scan() -> Iterator[None]:
    """Every new AppTest scans the metadata of every installed distribution for Streamlit
    components (about half a second on this project's machines, a third of a page test). The
    installed packages do not change during a run, so the first scan's result serves every app."""
    try:
        scanner = importlib.import_module("streamlit.components.v2.manifest_scanner")
    except ImportError:  # a Streamlit without it has nothing to scan
        yield
        return
    scan = getattr(scanner, "scan_component_manifests", None)
    with pytest.MonkeyPatch.context() as patch:
        if scan is not None:
            patch.setattr(scanner, "scan_component_manifests", functools.cache(scan))
        yield


@pytest.fixture
def clear_streamlit_caches() -> Iterator[None]:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clear_streamlit_caches: None
) -> None:
    """For AppTest runs of the dashboard: fault users fail at once instead of after real back-off
    sleeps, and the audit log goes to a temporary file."""
    monkeypatch.setenv("BASKET_API_MAX_RETRIES", "0")
    monkeypatch.setenv("BASKET_AUDIT_LOG", str(tmp_path / "audit.jsonl"))


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> RecordingApi:
    """Every request the demo API receives, recorded."""
    from apptest_support import record_requests

    return record_requests(monkeypatch)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    from postgres_support import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the scan store supports, for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scans.db'}"
        return
    import secrets

    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_server_url")
    name = f"test_{secrets.token_hex(6)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
        from basket_lib.store import database

        for url, opened in list(database._opened.items()):
            if name in url:
                opened.dispose()
                del database._opened[url]
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
