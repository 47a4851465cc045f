from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from basket_lib.api.errors import ConfigurationError
from basket_lib.api.redaction import Redactor
from basket_lib.audit import AuditError, AuditLog


def _clock() -> datetime:
    return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_each_event_is_one_json_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "sub" / "audit.jsonl", clock=_clock)
    log.record("lookup", viewer="agent@example.com", user_ids=["u-1"], outcome="basket")
    log.record("scan", viewer=None, user_ids=["a", "b"], outcome="2 scanned, 0 errors", errors=0)
    lines = (tmp_path / "sub" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "time": "2026-01-02T03:04:05+00:00",
            "action": "lookup",
            "viewer": "agent@example.com",
            "user_ids": ["u-1"],
            "outcome": "basket",
        },
        {
            "time": "2026-01-02T03:04:05+00:00",
            "action": "scan",
            "viewer": None,
            "user_ids": ["a", "b"],
            "outcome": "2 scanned, 0 errors",
            "errors": 0,
        },
    ]


def test_hostile_user_ids_stay_one_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", clock=_clock)
    log.record("lookup", viewer=None, user_ids=["a\nb", '"}{'], outcome="x\r\ny")
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["user_ids"] == ["a\nb", '"}{']


def test_secrets_are_redacted(tmp_path: Path) -> None:
    log = AuditLog(
        tmp_path / "audit.jsonl", redactor=Redactor("audit-secret-key-123"), clock=_clock
    )
    log.record(
        "lookup",
        viewer=None,
        user_ids=["u"],
        outcome="echo audit-secret-key-123",
        note="audit-secret-key-123",
    )
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert "audit-secret-key-123" not in text


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", clock=_clock)
    ids = [f"user-{i:05d}" for i in range(300)]

    def write(n: int) -> None:
        for _ in range(20):
            log.record("scan", viewer=f"v{n}", user_ids=ids, outcome="ok")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 80
    assert all(json.loads(line)["user_ids"] == ids for line in lines)


def test_unwritable_path_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    log = AuditLog(blocker / "audit.jsonl")
    with pytest.raises(ConfigurationError, match="BASKET_AUDIT_LOG") as caught:
        log.record("lookup", viewer=None, user_ids=["u"], outcome="basket")
    # The path is on the error for the operator, never in the message a viewer may see.
    assert isinstance(caught.value, AuditError) and caught.value.path == blocker / "audit.jsonl"
    assert str(tmp_path) not in caught.value.message


def test_line_and_paragraph_separators_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path, clock=_clock).record(
        "lookup", viewer=None, user_ids=["a\u2028b", "c\x85d"], outcome="x\u2029y"
    )
    text = path.read_text(encoding="utf-8")
    assert "\u2028" not in text and "\u2029" not in text and "\x85" not in text
    (line,) = text.splitlines()  # Python's own line split: one record, one line
    assert json.loads(line)["user_ids"] == ["a\u2028b", "c\x85d"]
    assert json.loads(line)["outcome"] == "x\u2029y"


def test_a_torn_record_never_swallows_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    # What a write cut short by a full disk leaves behind: a fragment without its newline.
    path.write_text('{"time":"2026-01-02T03:04:05+00:00","action":"lookup","user_ids":["x', "utf-8")
    AuditLog(path, clock=_clock).record("lookup", viewer=None, user_ids=["u-1"], outcome="basket")
    torn, record = path.read_text(encoding="utf-8").splitlines()
    assert torn.endswith('["x')
    assert json.loads(record)["user_ids"] == ["u-1"]
