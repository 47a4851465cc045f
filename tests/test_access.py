"""The allow-list rule: a verified, plain ASCII address, listed by itself or by its exact domain."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import pytest

from basket_lib.access import (
    Verdict,
    judge_viewer,
    parse_allowed_viewers,
    plain_address,
)
from basket_lib.api.errors import ConfigurationError
from basket_lib.settings import Settings

ALLOWED = ("alice@example.com", "@support.example.com", "kim@example.com")


def admitted(claims: Mapping[str, object], allowed: tuple[str, ...], **options: bool) -> bool:
    return judge_viewer(claims, allowed, **options) is Verdict.ALLOWED


def verified(email: object) -> dict[str, object]:
    return {"email": email, "email_verified": True}


# --- the address --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("alice@example.com", True),
        ("ALICE@Example.COM", True),
        ("bob@support.example.com", True),
        ("Bob@SUPPORT.example.com", True),
        ("kim@example.com", True),
        ("bob@example.com", False),  # only alice and kim, not their domain
        ("alice@example.com.evil", False),
        ("alice@evil-example.com", False),
        ("bob@evil-support.example.com", False),
        ("bob@support.example.com.evil", False),
        ("bob@x.support.example.com", False),  # subdomains are not the domain
        ("bob@support.example.com.", False),
        ("alice@example.com@evil.test", False),
        ("bob@evil.test@support.example.com", False),
        ("support.example.com", False),
        ("@support.example.com", False),
        ("alice@", False),
    ],
)
def test_listed_addresses_and_domains(email: str, expected: bool) -> None:
    assert admitted(verified(email), ALLOWED) is expected


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("\u212aim@example.com", id="kelvin-sign-K"),
        pytest.param("\u212a\u0130m@example.com", id="kelvin-and-dotted-I"),
        pytest.param("\uff41lice@example.com", id="fullwidth-a"),
        pytest.param("alice@\uff45xample.com", id="fullwidth-in-domain"),
        pytest.param("bob@support\uff0eexample\uff0ecom", id="fullwidth-dots"),
        pytest.param("\uff41\uff4c\uff49\uff43\uff45\uff20example.com", id="fullwidth-at"),
        pytest.param("alice@example.co\u1d0d", id="small-capital-m"),
        pytest.param("\u0430lice@example.com", id="cyrillic-a"),
        pytest.param("alice\u200b@example.com", id="zero-width-space"),
        pytest.param("alice@example.com\u202e", id="right-to-left-override"),
        pytest.param("ali\u0301ce@example.com", id="combining-accent"),
        pytest.param("alice@exa\u00admple.com", id="soft-hyphen"),
        pytest.param("\u017fupport@example.com", id="long-s"),
    ],
)
def test_non_ascii_look_alikes_are_refused(email: str) -> None:
    # The Kelvin sign lower-cases to "k" and fullwidth letters NFKC-fold to ASCII: a plain
    # comparison after folding would admit each of these as a listed viewer.
    verdict = judge_viewer(verified(email), (*ALLOWED, "@example.com"))
    assert verdict is Verdict.NOT_PLAIN
    assert plain_address(email) is None


def test_the_kelvin_sign_really_folds_onto_a_listed_address() -> None:
    # The premise of the look-alike tests: Python's own folding maps them onto listed addresses.
    assert "\u212aim@example.com".lower() == "kim@example.com"
    assert unicodedata.normalize("NFKC", "\uff41lice@example.com") == "alice@example.com"


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("  alice@example.com ", id="surrounding-spaces"),
        pytest.param("alice@example.com\n", id="trailing-newline"),
        pytest.param("ali ce@example.com", id="inner-space"),
        pytest.param("alice@exam\tple.com", id="tab"),
        pytest.param("alice\x00@example.com", id="nul"),
        pytest.param("alice@example.com\r\nx", id="crlf"),
        pytest.param("alice\x7f@example.com", id="delete"),
        pytest.param("alice\x1b[0m@example.com", id="escape-sequence"),
    ],
)
def test_whitespace_and_control_characters_are_refused(email: str) -> None:
    assert judge_viewer(verified(email), ALLOWED) is Verdict.NOT_PLAIN


@pytest.mark.parametrize("email", [42, True, ["alice@example.com"], {"a": 1}, b"alice@example.com"])
def test_an_address_that_is_not_text_is_refused(email: object) -> None:
    assert judge_viewer(verified(email), ALLOWED) is Verdict.NOT_PLAIN


@pytest.mark.parametrize("claims", [{}, {"email_verified": True}, verified(None), verified("")])
def test_no_address_is_refused(claims: Mapping[str, object]) -> None:
    assert judge_viewer(claims, ALLOWED) is Verdict.NO_ADDRESS


def test_empty_allow_list_lets_nobody_in() -> None:
    assert judge_viewer(verified("alice@example.com"), ()) is Verdict.NOT_LISTED


def test_allow_list_entries_are_compared_case_insensitively() -> None:
    assert admitted(verified("bob@support.example.com"), (" @Support.Example.COM",))


def test_a_non_ascii_entry_given_in_code_matches_nobody() -> None:
    # parse_allowed_viewers refuses such entries; a tuple built in code must not admit either.
    assert judge_viewer(verified("kim@example.com"), ("\u212aim@example.com",)) is (
        Verdict.NOT_LISTED
    )


def test_claims_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="mapping"):
        judge_viewer("alice@example.com", ALLOWED)  # type: ignore[arg-type]


# --- email_verified -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [False, "false", "False", "true", "True", 1, 1.0, "1", "yes", None, [True], {"value": True}],
)
@pytest.mark.parametrize("allow_missing", [False, True])
def test_email_verified_other_than_true_is_refused(value: object, allow_missing: bool) -> None:
    # Present but not the boolean True refuses even where a missing claim would be let in.
    claims = {"email": "alice@example.com", "email_verified": value}
    verdict = judge_viewer(claims, ALLOWED, allow_missing_email_verified=allow_missing)
    assert verdict is Verdict.NOT_VERIFIED
    assert not admitted(claims, ALLOWED, allow_missing_email_verified=allow_missing)


def test_email_verified_true_is_let_in() -> None:
    assert judge_viewer(verified("alice@example.com"), ALLOWED) is Verdict.ALLOWED


def test_a_missing_email_verified_is_refused_by_default() -> None:
    claims = {"email": "alice@example.com"}
    assert judge_viewer(claims, ALLOWED) is Verdict.NOT_VERIFIED
    assert not admitted(claims, ALLOWED)


def test_a_missing_email_verified_is_let_in_when_allowed() -> None:
    claims = {"email": "alice@example.com"}
    assert judge_viewer(claims, ALLOWED, allow_missing_email_verified=True) is Verdict.ALLOWED
    # The setting loosens only the verification, never the list.
    other = {"email": "mallory@example.org"}
    assert judge_viewer(other, ALLOWED, allow_missing_email_verified=True) is Verdict.NOT_LISTED


def test_verification_is_judged_before_the_list() -> None:
    # An unverified account is not told whether the address it claims is listed.
    listed = {"email": "alice@example.com", "email_verified": False}
    unlisted = {"email": "mallory@example.org", "email_verified": False}
    assert judge_viewer(listed, ALLOWED) is judge_viewer(unlisted, ALLOWED) is Verdict.NOT_VERIFIED


def test_other_claims_do_not_matter() -> None:
    claims = {
        **verified("alice@example.com"),
        "sub": "1234",
        "name": "Alice \u212aelvin",
        "preferred_username": "\u212aim@example.com",
        "is_logged_in": True,
    }
    assert judge_viewer(claims, ALLOWED) is Verdict.ALLOWED


# --- the list and the setting -------------------------------------------------------------------


def test_parsed_allow_list_feeds_the_rule() -> None:
    allowed = Settings.from_env({"BASKET_ALLOWED_VIEWERS": "@Example.com"}).allowed_viewers
    assert admitted(verified("carol@example.com"), allowed)
    assert not admitted(verified("carol@example.com.evil"), allowed)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("\u212aim@example.com", id="kelvin-sign"),
        pytest.param("@\uff45xample.com", id="fullwidth-domain"),
        pytest.param("al\u00efce@example.com", id="latin-1-letter"),
        pytest.param("@b\u00fccher.example", id="unicode-domain"),
    ],
)
def test_non_ascii_allow_list_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_allowed_viewers(f"alice@example.com, {entry}", "BASKET_ALLOWED_VIEWERS")
    message = str(info.value)
    assert "BASKET_ALLOWED_VIEWERS" in message and "non-ASCII" in message
    assert ascii(entry) in message  # escaped, so the look-alike is visible as what it is
    assert entry not in message


def test_an_internationalised_domain_in_its_ascii_form_is_accepted() -> None:
    allowed = parse_allowed_viewers("@xn--bcher-kva.example", "BASKET_ALLOWED_VIEWERS")
    assert admitted(verified("anna@xn--bcher-kva.example"), allowed)


@pytest.mark.parametrize("entry", ["alice@example.com\x00", "ali ce@example.com", "@exa mple.com"])
def test_allow_list_entries_with_spaces_or_controls_are_rejected(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="BASKET_ALLOWED_VIEWERS"):
        parse_allowed_viewers(entry, "BASKET_ALLOWED_VIEWERS")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" 1 ", True),
        ("false", False),
        ("False", False),
        ("0", False),
    ],
)
def test_missing_verified_setting_values(value: str, expected: bool) -> None:
    settings = Settings.from_env({"BASKET_ALLOW_MISSING_EMAIL_VERIFIED": value})
    assert settings.allow_missing_email_verified is expected


def test_missing_verified_setting_is_off_by_default() -> None:
    assert Settings.from_env({}).allow_missing_email_verified is False


@pytest.mark.parametrize("value", ["yes", "on", "2", "truee", "-1", "t"])
def test_missing_verified_setting_rejects_other_values(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"BASKET_ALLOW_MISSING_EMAIL_VERIFIED": value})
    message = str(info.value)
    assert "BASKET_ALLOW_MISSING_EMAIL_VERIFIED" in message
    assert "true or false" in message and repr(value) in message
