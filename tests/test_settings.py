"""Settings.from_env(): demo by default, every variable, a clear error for every mistake."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from basket_lib import simulator
from basket_lib.api import errors
from basket_lib.connect import build_async_client, build_client
from basket_lib.settings import ENVIRONMENT_VARIABLES, Settings

KEY = "key-5f3a9c1e7b2d4f60"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.token-payload.signature"
URL = "https://api.example.com/v2"


def configured(**extra: str) -> dict[str, str]:
    return {"BASKET_API_URL": URL, "BASKET_API_KEY": KEY, **extra}


def config_error(env: dict[str, str]) -> errors.ConfigurationError:
    with pytest.raises(errors.ConfigurationError) as info:
        Settings.from_env(env)
    return info.value


def test_demo_by_default() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.demo
    assert (settings.api_url, settings.api_key, settings.token) == (None, None, None)
    assert settings.api_version == "2025-09-15"
    assert (settings.timeout, settings.max_retries) == (10.0, 2)
    assert (settings.audit_log, settings.allowed_viewers) == (None, ())
    assert settings.allow_missing_email_verified is False
    # The page's workers keep the dashboard's priority; one is started ahead of the next scan.
    assert (settings.worker_nice, settings.worker_standby_seconds) == (0, 600.0)


def test_the_database_url_is_left_to_the_scan_store() -> None:
    # Checked where the store opens it (tests/store/test_migrations.py): a lookup never needs
    # the store, nor SQLAlchemy's import to parse its URL.
    for url in ("postgresql+psycopg://u:p@db/basket", "mysql://u@h/db"):
        assert Settings.from_env({"BASKET_DATABASE_URL": f"  {url} "}).database_url == url
    assert (
        Settings.from_env({"BASKET_DATABASE_URL": " "}).database_url
        == "sqlite:///basket-support.db"
    )


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASKET_API_URL", URL)
    monkeypatch.setenv("BASKET_API_KEY", KEY)
    assert Settings.from_env().api_url == URL


def test_every_variable() -> None:
    settings = Settings.from_env(
        {
            "BASKET_API_URL": " https://api.example.com/v2/ ",
            "BASKET_API_KEY": f" {KEY}\n",
            "BASKET_API_TOKEN": TOKEN,
            "BASKET_API_VERSION": "2026-01-31",
            "BASKET_API_TIMEOUT": "2.5",
            "BASKET_API_MAX_RETRIES": "0",
            "BASKET_AUDIT_LOG": "/var/log/basket/audit.jsonl",
            "BASKET_ALLOWED_VIEWERS": " Alice@Example.com, @Support.Example.com,,alice@example.com",
            "BASKET_ALLOW_MISSING_EMAIL_VERIFIED": "True",
            "BASKET_WORKER_NICE": "10",
            "BASKET_WORKER_STANDBY_SECONDS": "30.5",
        }
    )
    assert not settings.demo
    assert settings.api_url == URL  # trailing slash dropped: the client appends paths
    assert settings.api_key == KEY
    assert settings.token == TOKEN
    assert settings.api_version == "2026-01-31"
    assert settings.timeout == 2.5
    assert settings.max_retries == 0
    assert settings.audit_log == "/var/log/basket/audit.jsonl"
    assert settings.allowed_viewers == ("alice@example.com", "@support.example.com")
    assert settings.allow_missing_email_verified is True
    assert (settings.worker_nice, settings.worker_standby_seconds) == (10, 30.5)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "https://api.example.com",
        "HTTPS://API.example.com/v2",
        "http://[::1]:9000/x",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert Settings.from_env(configured(BASKET_API_URL=url)).api_url == url


def test_bearer_prefix_is_dropped_from_the_token() -> None:
    assert Settings.from_env(configured(BASKET_API_TOKEN=f"Bearer {TOKEN}")).token == TOKEN


@pytest.mark.parametrize("name", ENVIRONMENT_VARIABLES)
@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_blank_counts_as_unset(name: str, blank: str) -> None:
    assert Settings.from_env({name: blank}) == Settings()


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        pytest.param(
            {"BASKET_API_URL": URL},
            ["BASKET_API_URL is set but BASKET_API_KEY is not"],
            id="url-without-key",
        ),
        pytest.param(
            {"BASKET_API_URL": URL, "BASKET_API_KEY": "  "},
            ["BASKET_API_URL is set but BASKET_API_KEY is not"],
            id="url-with-blank-key",
        ),
        pytest.param(
            {"BASKET_API_KEY": KEY},
            ["BASKET_API_KEY is set but BASKET_API_URL is not"],
            id="key-without-url",
        ),
        pytest.param(
            {"BASKET_API_TOKEN": TOKEN},
            ["BASKET_API_TOKEN is set but BASKET_API_URL is not"],
            id="token-without-url",
        ),
        pytest.param(configured(BASKET_API_URL="ftp://api.example.com"), ["https://"], id="ftp"),
        pytest.param(configured(BASKET_API_URL="api.example.com/v2"), ["https://"], id="no-scheme"),
        pytest.param(configured(BASKET_API_URL="https://"), ["no host name"], id="no-host"),
        pytest.param(configured(BASKET_API_URL="https:///v2"), ["no host name"], id="empty-host"),
        pytest.param(
            configured(BASKET_API_URL="https://api.example.com:99999"),
            ["not a valid URL"],
            id="bad-port",
        ),
        pytest.param(
            configured(BASKET_API_URL="https://partner:hunter2pass@api.example.com"),
            ["user name or password"],
            id="credentials",
        ),
        pytest.param(
            configured(BASKET_API_URL="https://api.example.com/v2?key=abc"),
            ["query (?...) or fragment"],
            id="query",
        ),
        pytest.param(
            configured(BASKET_API_URL="https://api.example.com/v2?"), ["query"], id="empty-query"
        ),
        pytest.param(
            configured(BASKET_API_URL="https://api.example.com/v2#top"),
            ["fragment"],
            id="fragment",
        ),
        pytest.param(
            configured(BASKET_API_URL="https://api.example.com/my v2"), ["spaces"], id="space"
        ),
        pytest.param(
            configured(BASKET_API_TIMEOUT="soon"),
            ["BASKET_API_TIMEOUT", "got 'soon'"],
            id="timeout-not-a-number",
        ),
        pytest.param(configured(BASKET_API_TIMEOUT="0"), ["BASKET_API_TIMEOUT"], id="timeout-0"),
        pytest.param(configured(BASKET_API_TIMEOUT="-5"), ["BASKET_API_TIMEOUT"], id="negative"),
        pytest.param(configured(BASKET_API_TIMEOUT="300.5"), ["at most 300"], id="timeout-big"),
        pytest.param(configured(BASKET_API_TIMEOUT="nan"), ["BASKET_API_TIMEOUT"], id="nan"),
        pytest.param(configured(BASKET_API_TIMEOUT="inf"), ["BASKET_API_TIMEOUT"], id="inf"),
        pytest.param(
            configured(BASKET_API_MAX_RETRIES="2.5"),
            ["BASKET_API_MAX_RETRIES", "0 to 10", "got '2.5'"],
            id="retries-fraction",
        ),
        pytest.param(configured(BASKET_API_MAX_RETRIES="-1"), ["0 to 10"], id="retries-negative"),
        pytest.param(configured(BASKET_API_MAX_RETRIES="11"), ["0 to 10"], id="retries-big"),
        pytest.param(configured(BASKET_API_MAX_RETRIES="many"), ["0 to 10"], id="retries-word"),
        pytest.param(
            configured(BASKET_API_VERSION="v2"),
            ["BASKET_API_VERSION", "YYYY-MM-DD", "got 'v2'"],
            id="version-word",
        ),
        pytest.param(configured(BASKET_API_VERSION="2025-9-15"), ["YYYY-MM-DD"], id="short"),
        pytest.param(configured(BASKET_API_VERSION="2025-02-30"), ["YYYY-MM-DD"], id="no-date"),
        pytest.param(
            configured(BASKET_ALLOWED_VIEWERS="alice@example.com, example.com"),
            ["BASKET_ALLOWED_VIEWERS", "'example.com'", "@example.com"],
            id="viewer-bare-domain",
        ),
        pytest.param(
            configured(BASKET_ALLOWED_VIEWERS="a@b@example.com"),
            ["BASKET_ALLOWED_VIEWERS"],
            id="viewer-two-ats",
        ),
        pytest.param(
            configured(BASKET_ALLOWED_VIEWERS="\u212aim@example.com"),
            ["BASKET_ALLOWED_VIEWERS", "non-ASCII", "\\u212aim@example.com"],
            id="viewer-kelvin-sign",
        ),
        pytest.param(
            configured(BASKET_ALLOW_MISSING_EMAIL_VERIFIED="yes"),
            ["BASKET_ALLOW_MISSING_EMAIL_VERIFIED", "true or false", "got 'yes'"],
            id="missing-verified-word",
        ),
        pytest.param(
            configured(BASKET_API_KEY="two words"), ["BASKET_API_KEY contains"], id="key-space"
        ),
        *(
            pytest.param(
                configured(BASKET_WORKER_NICE=value),
                ["BASKET_WORKER_NICE must be a whole number from 0", f"got '{value}'"],
                id=f"worker-nice-{value}",
            )
            for value in ("-1", "20", "5.5", "low")
        ),
        *(
            pytest.param(
                configured(BASKET_WORKER_STANDBY_SECONDS=value),
                ["BASKET_WORKER_STANDBY_SECONDS must be a number of seconds", f"got '{value}'"],
                id=f"standby-seconds-{value}",
            )
            for value in ("-1", "nan", "inf", "86401", "soon")
        ),
        pytest.param(
            configured(BASKET_API_KEY="k\u00e9y-value"), ["BASKET_API_KEY contains"], id="key-utf8"
        ),
        pytest.param(
            configured(BASKET_API_TOKEN="tok\x00en"), ["BASKET_API_TOKEN contains"], id="token-ctrl"
        ),
    ],
)
def test_configuration_errors(env: dict[str, str], fragments: list[str]) -> None:
    message = str(config_error(env))
    for fragment in fragments:
        assert fragment in message
    assert KEY not in message
    assert "hunter2pass" not in message  # a password in the URL is never echoed


def test_long_values_are_quoted_short() -> None:
    message = str(config_error(configured(BASKET_API_TIMEOUT="9" * 500)))
    assert "9" * 41 not in message


def test_secrets_are_not_in_repr_and_are_redacted_from_errors() -> None:
    settings = Settings.from_env(configured(BASKET_API_TOKEN=TOKEN))
    assert KEY not in repr(settings) and TOKEN not in repr(settings)
    assert KEY not in str(settings) and TOKEN not in str(settings)
    # Its redactor scrubs them from any error that happens to echo them.
    error = settings.redactor.error(errors.ServerError(f"proxy said: bad key {KEY} / {TOKEN}"))
    assert KEY not in str(error) and TOKEN not in str(error)
    assert "[redacted]" in error.message


def test_settings_built_in_code_redact_their_secrets_too() -> None:
    secret = "code-built-key-81c2e4"
    redactor = Settings(api_url=URL, api_key=secret).redactor
    assert secret not in str(redactor.error(errors.ServerError(f"echo {secret}")))


def test_secrets_are_not_remembered_beyond_their_owner() -> None:
    # No process-wide registry: an error raised elsewhere is left as it is.
    Settings(api_url=URL, api_key="forgotten-key-5521")
    assert "forgotten-key-5521" in str(errors.ServerError("echo forgotten-key-5521"))


def test_invalid_key_is_never_echoed() -> None:
    bad = "secret-part other-part"
    message = str(config_error(configured(BASKET_API_KEY=bad)))
    assert "secret-part" not in message and "other-part" not in message


# --- client factories ---------------------------------------------------------------------------


class _RecordingHandler(BaseHTTPRequestHandler):
    """Answers every GET with an empty basket and remembers what was asked."""

    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = json.dumps({"data": {"cart": [], "saved": [], "checkout": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback_api() -> Iterator[str]:
    _RecordingHandler.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    # A short poll interval keeps shutdown() from waiting half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _real_settings(url: str) -> Settings:
    return Settings.from_env(
        configured(
            BASKET_API_URL=url,
            BASKET_API_TOKEN=TOKEN,
            BASKET_API_VERSION="2026-01-31",
            BASKET_API_TIMEOUT="3",
            BASKET_API_MAX_RETRIES="4",
        )
    )


def _assert_configured_request() -> None:
    [(path, headers)] = _RecordingHandler.seen
    assert path == "/v2/baskets/users/user-1"
    assert headers["x-api-key"] == KEY
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-jay-api-version"] == "2026-01-31"


def test_build_client_talks_to_the_configured_api(loopback_api: str) -> None:
    with build_client(_real_settings(loopback_api)) as client:
        assert (client.timeout.read, client.max_retries) == (3.0, 4)
        assert client.get_basket("user-1").basket.is_empty
    _assert_configured_request()


def test_build_async_client_talks_to_the_configured_api(loopback_api: str) -> None:
    async def fetch() -> None:
        async with build_async_client(_real_settings(loopback_api)) as client:
            assert (client.timeout.read, client.max_retries) == (3.0, 4)
            assert (await client.get_basket("user-1")).basket.is_empty

    asyncio.run(fetch())
    _assert_configured_request()


def test_build_async_client_overrides_win() -> None:
    client = build_async_client(Settings.from_env(configured()), max_connections=3, max_retries=0)
    assert (client.max_connections, client.max_retries) == (3, 0)
    asyncio.run(client.aclose())


def test_no_bearer_token_unless_configured(loopback_api: str) -> None:
    with build_client(Settings.from_env(configured(BASKET_API_URL=loopback_api))) as client:
        client.get_basket("user-1")
    [(_, headers)] = _RecordingHandler.seen
    assert "authorization" not in headers
    assert headers["x-jay-api-version"] == "2025-09-15"


def test_demo_clients_use_the_in_process_demo_api() -> None:
    settings = Settings(api_version="2026-01-31", max_retries=0)
    with build_client(settings) as client:
        assert client.base_url == simulator.DEMO_BASE_URL
        assert client.max_retries == 0
        result = client.get_basket("demo-normal")
    assert result.api_version == "2026-01-31"  # the demo API echoes the version it was sent
    assert not result.basket.is_empty

    async def fetch() -> bool:
        async with build_async_client(settings, max_connections=2) as client:
            assert client.base_url == simulator.DEMO_BASE_URL
            return (await client.get_basket("demo-normal")).basket.is_empty

    assert asyncio.run(fetch()) is False


def test_every_variable_is_documented() -> None:
    # An operator learns of a setting from these two files; an undocumented one is never set.
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    example = (root / ".streamlit" / "secrets.toml.example").read_text(encoding="utf-8")
    for name in ENVIRONMENT_VARIABLES:
        assert f"| `{name}` |" in readme, name
        assert f"# {name} = " in example, name


def test_environment_variables_lists_exactly_what_is_read() -> None:
    class Recording(dict[str, str]):
        def __init__(self) -> None:
            super().__init__()
            self.asked: set[str] = set()

        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            self.asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            self.asked.add(key)
            return super().__getitem__(key)

        def __contains__(self, key: object) -> bool:
            self.asked.add(str(key))
            return super().__contains__(key)

    env = Recording()
    Settings.from_env(env)
    assert env.asked == set(ENVIRONMENT_VARIABLES)
