"""Append-only audit log: one JSON line per basket lookup or scan.

Who looked at which customers' data, when, and what came of it. Lines are written with a single
``write`` on a file opened in append mode, so concurrent sessions never interleave within a line.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from basket_lib.api.errors import ConfigurationError
from basket_lib.api.redaction import NO_SECRETS, Redactor

DEFAULT_AUDIT_LOG = "audit.jsonl"
_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


class AuditError(ConfigurationError):
    """The audit log could not be written; `path` names the file for the operator."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class AuditLog:
    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_AUDIT_LOG,
        *,
        redactor: Redactor = NO_SECRETS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = Path(path)
        self._redactor = redactor
        self._clock = clock
        self._lock = threading.Lock()

    def record(
        self,
        action: str,
        *,
        viewer: str | None,
        user_ids: Sequence[str],
        outcome: str,
        **details: Any,
    ) -> dict[str, Any]:
        """Append one event and return it. Raises ConfigurationError if the file is unwritable."""
        event: dict[str, Any] = {
            "time": self._clock().isoformat(timespec="seconds"),
            "action": action,
            "viewer": viewer,
            "user_ids": list(user_ids),
            "outcome": self._redactor.text(outcome),
        }
        event.update({key: self._redactor.value(value) for key, value in details.items()})
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        # Valid JSON either way, but log shippers, JavaScript and Python's splitlines() break
        # lines at these (JSON already escapes every control character below U+0020).
        line = line.translate(_LINE_BREAKS) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a+b") as handle:
                    data = line.encode("utf-8")
                    if handle.tell() > 0:
                        handle.seek(-1, os.SEEK_END)
                        if handle.read(1) != b"\n":
                            # A record torn by an earlier failed write is closed off, so it
                            # cannot swallow this one.
                            data = b"\n" + data
                    handle.write(data)
        except OSError as exc:
            # No path in the message: it may be shown to a viewer. The path is on the error.
            raise AuditError(
                f"The audit log cannot be written ({exc.strerror or type(exc).__name__}); "
                "the operator must make BASKET_AUDIT_LOG a writable file.",
                path=self.path,
            ) from None
        return event
