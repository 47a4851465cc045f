"""The server's garbage collector (dashboard.collector), on its own and as app.py uses it."""

from __future__ import annotations

import gc
import sys
import types

import pytest
from apptest_support import new_app, no_exception

from dashboard import collector


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process in which the collector has not been tuned or frozen yet."""
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    monkeypatch.setattr(collector, "_modules_frozen", -1)


@pytest.mark.usefixtures("fresh")
def test_tune_raises_only_the_youngest_generations_threshold() -> None:
    gc.set_threshold(700, 11, 12)
    collector.tune()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, 11, 12)
    collector.tune()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, 11, 12)


@pytest.mark.usefixtures("fresh")
def test_objects_are_frozen_once_per_set_of_imported_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert collector.freeze_after_imports()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    # Nothing imported since: the next runs' objects stay with the collector.
    kept = [[] for _ in range(100)]
    assert not collector.freeze_after_imports()
    assert gc.get_freeze_count() == frozen
    # A module imported by a later run: what exists now is frozen too.
    monkeypatch.setitem(sys.modules, "_collector_test_module", types.ModuleType("m"))
    assert collector.freeze_after_imports()
    assert gc.get_freeze_count() >= frozen + len(kept)


@pytest.mark.usefixtures("fresh", "app_environment")
def test_a_basket_run_leaves_the_collector_tuned_and_the_imports_frozen() -> None:
    at = new_app(user="demo-checkout-failed").run()
    no_exception(at)
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
