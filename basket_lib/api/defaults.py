"""Every default of the client and the settings, in one place."""

DEFAULT_API_VERSION = "2025-09-15"
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
RETRY_AFTER_CAP = 30.0

# The API publishes no retry guidance: retry only what is transient by nature.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_BASE = 0.5
BACKOFF_FACTOR = 2.0
BACKOFF_MAX = 8.0

# Scans are stored in an embedded SQLite file in the working directory unless
# BASKET_DATABASE_URL names another database.
DEFAULT_DATABASE_URL = "sqlite:///basket-support.db"

# Upper bounds of what the settings accept.
MAX_TIMEOUT = 300.0
MAX_RETRIES = 10
