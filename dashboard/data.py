"""The cached client and fetches, error display and the audit trail of the pages."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import streamlit as st

from basket_lib.api.client import BasketClient
from basket_lib.api.errors import BasketError
from basket_lib.api.models import BasketResult, ProductDetails
from basket_lib.audit import DEFAULT_AUDIT_LOG, AuditError, AuditLog
from basket_lib.connect import build_client
from basket_lib.settings import Settings
from basket_lib.views.text import describe_error, md_escape
from dashboard.gate import sign_in_enabled, viewer

_log = logging.getLogger(__name__)

BASKET_TTL_SECONDS = 30
DETAILS_TTL_SECONDS = 300


def fingerprint(settings: Settings) -> str:
    # Keys the caches on everything the client is built from, without putting the key itself in
    # a cache key: a changed timeout or retry count builds a new client.
    text = repr(
        (
            settings.api_url,
            settings.api_key,
            settings.token,
            settings.api_version,
            settings.timeout,
            settings.max_retries,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@st.cache_resource(show_spinner=False)
def _client(_settings: Settings, settings_fingerprint: str) -> BasketClient:
    return build_client(_settings)


# The cached functions below are called with keyword arguments: for each positional one,
# Streamlit inspects the function's signature on every call to find the argument's name.


def client(settings: Settings) -> BasketClient:
    return _client(_settings=settings, settings_fingerprint=fingerprint(settings))


@st.cache_data(ttl=BASKET_TTL_SECONDS, max_entries=256, show_spinner=False)
def _fetch_basket(
    _client: BasketClient,
    settings_fingerprint: str,
    user_id: str,
    tracking: str | None,
    provider_id: str | None,
    refresh: int,
) -> BasketResult:
    return _client.get_basket(user_id, tracking=tracking, provider_id=provider_id)


def fetch_basket(
    settings: Settings,
    user_id: str,
    *,
    tracking: str | None = None,
    provider_id: str | None = None,
    refresh: int = 0,
) -> BasketResult:
    """One basket, cached briefly; a new `refresh` value bypasses the cache."""
    return _fetch_basket(
        _client=client(settings),
        settings_fingerprint=fingerprint(settings),
        user_id=user_id,
        tracking=tracking,
        provider_id=provider_id,
        refresh=refresh,
    )


@st.cache_data(ttl=DETAILS_TTL_SECONDS, max_entries=256, show_spinner=False)
def _fetch_details(
    _client: BasketClient, settings_fingerprint: str, product_ids: tuple[str, ...]
) -> dict[str, ProductDetails]:
    return _client.get_product_details(product_ids)


def fetch_details(
    settings: Settings, product_ids: list[str]
) -> tuple[dict[str, ProductDetails], BasketError | None]:
    """Product names and prices; a failure only means the page shows bare ids."""
    if not product_ids:
        return {}, None
    try:
        found = _fetch_details(
            _client=client(settings),
            settings_fingerprint=fingerprint(settings),
            product_ids=tuple(product_ids),
        )
        return found, None
    except BasketError as exc:
        return {}, exc


def show_error(exc: BasketError, *, user_id: str | None = None) -> None:
    """The error for an agent: what it means, what an administrator checks, a reference to
    quote, and the response a schema error refers to."""
    shown = describe_error(exc, user_id=user_id)
    st.error(shown.markdown(), icon=":material/error:")
    if shown.response is not None:
        with st.expander("The response this error refers to"):
            st.code(shown.response, language="json")


_KEPT_ERRORS = "_errors_after_rerun"


def show_error_after_rerun(error: BasketError | str) -> None:
    """Show `error` (a BasketError, or markdown for st.error) once, on the next run: for a
    failure just before st.rerun(), which would wipe it before anyone could read it."""
    st.session_state.setdefault(_KEPT_ERRORS, []).append(error)


def show_kept_errors() -> None:
    """The errors kept by show_error_after_rerun, each shown once."""
    for error in st.session_state.pop(_KEPT_ERRORS, []):
        if isinstance(error, BasketError):
            show_error(error)
        else:
            st.error(error, icon=":material/error:")


AUDIT_REFUSED = (
    "This could not be recorded in the audit log, so it is not shown: with sign-in on, every "
    "look at customer data must be audited. Ask the dashboard's operator to check the audit log."
)


def audit(
    settings: Settings, action: str, *, user_ids: list[str], outcome: str, **details: Any
) -> bool:
    """Append to the audit log. False when it could not be written and sign-in is on: the caller
    must then not show the data (fail closed). With sign-in off a warning is shown instead."""
    log = AuditLog(settings.audit_log or DEFAULT_AUDIT_LOG, redactor=settings.redactor)
    try:
        log.record(action, viewer=viewer(), user_ids=user_ids, outcome=outcome, **details)
    except AuditError as exc:
        # The file's path is for the operator's log, never for the page.
        _log.error("%s (%s)", exc.message, exc.path)
        if sign_in_enabled():
            st.error(AUDIT_REFUSED, icon=":material/lock:")
            return False
        st.warning(md_escape(exc.message), icon=":material/warning:")
    return True
