"""Configuration from the environment (Streamlit copies top-level secrets.toml keys into it).

Without BASKET_API_URL the dashboard runs against the built-in demo API. Every setting is checked
when it is read, so a typo ends in one clear message at start-up rather than in odd failures
later (the database URL when the scan store opens it: see Settings.from_env); no message ever
contains the API key or the bearer token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from basket_lib import access
from basket_lib.api import options
from basket_lib.api.defaults import (
    DEFAULT_API_VERSION,
    DEFAULT_DATABASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
)
from basket_lib.api.errors import ConfigurationError
from basket_lib.api.redaction import Redactor

# Every variable Settings.from_env reads.
ENVIRONMENT_VARIABLES: tuple[str, ...] = (
    "BASKET_API_URL",
    "BASKET_API_KEY",
    "BASKET_API_TOKEN",
    "BASKET_API_VERSION",
    "BASKET_API_TIMEOUT",
    "BASKET_API_MAX_RETRIES",
    "BASKET_AUDIT_LOG",
    "BASKET_ALLOWED_VIEWERS",
    "BASKET_ALLOW_MISSING_EMAIL_VERIFIED",
    "BASKET_DATABASE_URL",
    "BASKET_WORKER_NICE",
    "BASKET_WORKER_STANDBY_SECONDS",
)

# The page's scan workers (basket_lib.scan.worker_process): how much lower their CPU priority is
# than the dashboard's sessions (a nice increment), and how long one started ahead of its scan
# waits for it (0: none is started ahead).
# 0 by default: on a machine shared with other work, measurements showed no gain for the agents
# and a slower scan (benchmarks/README.md, "Page scans").
DEFAULT_WORKER_NICE = 0
MAX_WORKER_NICE = 19
DEFAULT_WORKER_STANDBY_SECONDS = 600.0
MAX_WORKER_STANDBY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Settings:
    api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    api_version: str = DEFAULT_API_VERSION
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    audit_log: str | None = None
    # Lower-cased full addresses and `@domain` entries; empty lets nobody in.
    allowed_viewers: tuple[str, ...] = ()
    # Whether a sign-in without an `email_verified` claim counts as verified. Off: refused, since
    # a provider that does not vouch for the address lets anyone claim a listed one.
    allow_missing_email_verified: bool = False
    # Where scans are stored: a SQLAlchemy URL (basket_lib.store.database). Its password, if any,
    # is never shown.
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    worker_nice: int = DEFAULT_WORKER_NICE
    worker_standby_seconds: float = DEFAULT_WORKER_STANDBY_SECONDS

    @property
    def redactor(self) -> Redactor:
        """Scrubs this configuration's key and token from errors, logs and exports."""
        return Redactor(self.api_key, self.token)

    @property
    def api_host(self) -> str:
        """Where requests go, as stored with a scan: host[:port], or "demo"."""
        if self.api_url is None:
            return "demo"
        from basket_lib.api.wire import host_label

        return host_label(self.api_url)

    @property
    def demo(self) -> bool:
        """True when no API is configured and the built-in demo API serves every request."""
        return self.api_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the BASKET_* variables (blank counts as unset); raises ConfigurationError."""
        source = os.environ if env is None else env

        def read(name: str) -> str | None:
            value = source.get(name)
            return value.strip() if value and value.strip() else None

        raw_key = read("BASKET_API_KEY")
        key = options.api_key(raw_key, "BASKET_API_KEY") if raw_key else None
        token = options.token(read("BASKET_API_TOKEN"), "BASKET_API_TOKEN")
        url = read("BASKET_API_URL")
        if url is None:
            if key or token:
                # A credential without a URL is a half-done configuration, not a wish for the demo.
                name = "BASKET_API_KEY" if key else "BASKET_API_TOKEN"
                raise ConfigurationError(
                    f"{name} is set but BASKET_API_URL is not: set the API's base URL, "
                    "or unset the credentials to use the demo API."
                )
        else:
            url = options.base_url(url, "BASKET_API_URL")
            if key is None:
                raise ConfigurationError(
                    "BASKET_API_URL is set but BASKET_API_KEY is not: the API requires a key "
                    "(X-API-Key); unset BASKET_API_URL to use the demo API."
                )
        return cls(
            api_url=url,
            api_key=key,
            token=token,
            api_version=options.api_version(
                read("BASKET_API_VERSION") or DEFAULT_API_VERSION, "BASKET_API_VERSION"
            ),
            timeout=options.timeout(
                read("BASKET_API_TIMEOUT") or DEFAULT_TIMEOUT, "BASKET_API_TIMEOUT"
            ),
            max_retries=options.max_retries(
                read("BASKET_API_MAX_RETRIES") or DEFAULT_MAX_RETRIES, "BASKET_API_MAX_RETRIES"
            ),
            audit_log=read("BASKET_AUDIT_LOG"),
            allowed_viewers=access.parse_allowed_viewers(
                read("BASKET_ALLOWED_VIEWERS"), "BASKET_ALLOWED_VIEWERS"
            ),
            allow_missing_email_verified=options.flag(
                read("BASKET_ALLOW_MISSING_EMAIL_VERIFIED") or "false",
                "BASKET_ALLOW_MISSING_EMAIL_VERIFIED",
            ),
            # Checked where the scan store opens it (store.database.parse_database_url), not here:
            # parsing it takes SQLAlchemy, a quarter of a second to import on a server's first
            # page, which a basket lookup never needs, and a wrong store URL must not keep
            # agents from baskets. The failures page and the command line report it.
            database_url=read("BASKET_DATABASE_URL") or DEFAULT_DATABASE_URL,
            worker_nice=options.whole_number(
                read("BASKET_WORKER_NICE") or DEFAULT_WORKER_NICE,
                "BASKET_WORKER_NICE",
                low=0,
                high=MAX_WORKER_NICE,
                low_means="the dashboard's own priority",
            ),
            worker_standby_seconds=options.seconds_between(
                read("BASKET_WORKER_STANDBY_SECONDS") or DEFAULT_WORKER_STANDBY_SECONDS,
                "BASKET_WORKER_STANDBY_SECONDS",
                low=0,
                high=MAX_WORKER_STANDBY_SECONDS,
                low_means="no worker started ahead of a scan",
            ),
        )
