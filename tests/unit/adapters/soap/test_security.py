"""Principals, passwords, HTTP Basic, the nonce cache and the allow() hook (no network)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from evgrid.adapters.soap.security import (
    Credentials,
    NonceCache,
    Principal,
    PrincipalKind,
    allow,
    hash_password,
    parse_basic,
)
from evgrid.errors import CredentialReplayed, NotAuthorized, Unauthenticated

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
SALT = bytes(range(16))
MDM = Principal("mdm", PrincipalKind.MDM)
PORTAL = Principal("portal-1", PrincipalKind.PORTAL, customer_id="C-1", usage_point_id="UP-1")
BILLING = Principal("billing", PrincipalKind.BILLING)
BILLING_HASH = hash_password("b1ll-pw", salt=SALT)  # one scrypt for the module


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.fixture
def credentials() -> Credentials:
    """mdm / portal-1 added with their passwords, billing from a stored hash."""
    store = Credentials(clock=lambda: NOW)
    store.add(MDM, "s3cret")
    store.add(PORTAL, "pw-1")
    store.add_hashed(BILLING, BILLING_HASH)
    return store


# --- principals and hashes -----------------------------------------------------------


def test_a_kind_given_as_text_becomes_the_enum_member() -> None:
    assert Principal("b", "billing").kind is PrincipalKind.BILLING  # type: ignore[arg-type]


@pytest.mark.parametrize(("user", "kind", "customer", "usage_point", "message"), [
    ("", PrincipalKind.MDM, None, None, "non-empty and without ':'"),
    ("a:b", PrincipalKind.MDM, None, None, "non-empty and without ':'"),
    ("p", PrincipalKind.PORTAL, None, "UP-1", "must be bound to a customer and a usage point"),
    ("p", PrincipalKind.PORTAL, "C-1", None, "must be bound to a customer and a usage point"),
    ("p", "admin", None, None, "'admin' is not a valid PrincipalKind"),
])
def test_an_impossible_principal_is_refused(user: str, kind: str, customer: str | None, usage_point: str | None,
                                            message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Principal(user, kind, customer, usage_point)  # type: ignore[arg-type]


def test_a_password_hash_is_the_scrypt_of_the_password_and_salt() -> None:
    derived = hashlib.scrypt(b"b1ll-pw", salt=SALT, n=2**14, r=8, p=1, dklen=32, maxmem=2**26)
    scheme, n, r, p, salt, digest = BILLING_HASH.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert (base64.b64decode(salt), base64.b64decode(digest)) == (SALT, derived)


@pytest.mark.parametrize("stored", ["plain-text", "scrypt$1$2$3", "bcrypt$1$2$3$4$5", ""])
def test_add_hashed_refuses_what_is_not_an_evgrid_hash(stored: str) -> None:
    with pytest.raises(ValueError, match="not an evgrid password hash for 'billing'"):
        Credentials().add_hashed(BILLING, stored)


# --- passwords (Basic and PasswordText) ------------------------------------------------


@pytest.mark.parametrize(("user", "password", "principal"), [
    ("mdm", "s3cret", MDM), ("portal-1", "pw-1", PORTAL), ("billing", "b1ll-pw", BILLING)])
def test_a_right_password_gives_the_principal(credentials: Credentials, user: str, password: str,
                                              principal: Principal) -> None:
    assert credentials.check_password(user, password) == principal
    assert credentials.check_password(user, password) == principal  # the verified-password cache


@pytest.mark.parametrize(("user", "password"), [
    ("mdm", "wrong"), ("mdm", ""), ("mdm", "s3cret "), ("billing", "s3cret"), ("nobody", "s3cret"), ("", "")])
def test_a_wrong_password_or_unknown_user_is_refused_with_7_1(credentials: Credentials, user: str,
                                                              password: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        credentials.check_password(user, password)
    assert caught.value.code == "7.1"


def test_a_wrong_password_after_a_right_one_is_still_refused_with_7_1(credentials: Credentials) -> None:
    assert credentials.check_password("mdm", "s3cret") == MDM
    with pytest.raises(Unauthenticated) as caught:
        credentials.check_password("mdm", "s3cret2")
    assert caught.value.code == "7.1"


def test_a_re_added_user_no_longer_logs_in_with_the_old_password(credentials: Credentials) -> None:
    assert credentials.check_password("mdm", "s3cret") == MDM  # now cached
    credentials.add(MDM, "rotated")
    with pytest.raises(Unauthenticated) as caught:
        credentials.check_password("mdm", "s3cret")
    assert caught.value.code == "7.1"
    assert credentials.check_password("mdm", "rotated") == MDM
    assert (len(credentials), "mdm" in credentials, credentials.principal("nobody")) == (3, True, None)


# --- HTTP Basic ------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    (basic("mdm:s3cret"), ("mdm", "s3cret")),
    ("  basic   " + base64.b64encode(b"mdm:s3cret").decode() + " ", ("mdm", "s3cret")),
    (basic("mdm:a:b:c"), ("mdm", "a:b:c")),  # RFC 7617: the user ends at the first colon
    (basic("mdm:"), ("mdm", "")),
    (basic("Zoë:pässwörd"), ("Zoë", "pässwörd")),
])
def test_a_basic_header_gives_user_and_password(header: str, expected: tuple[str, str]) -> None:
    assert parse_basic(header) == expected


@pytest.mark.parametrize("header", [
    "Bearer abc.def",
    "Digest username=mdm",
    "Basic",
    "Basic !!!not-base64!!!",
    basic("no-colon"),
    "Basic " + base64.b64encode(b"mdm:\xff\xfe").decode(),  # not UTF-8
    "",
])
def test_a_malformed_basic_header_is_refused_with_7_1(header: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        parse_basic(header)
    assert caught.value.code == "7.1"


def test_a_basic_header_with_the_right_password_gives_the_principal(credentials: Credentials) -> None:
    assert credentials.check_basic(basic("portal-1:pw-1")) == PORTAL


@pytest.mark.parametrize("header", [basic("portal-1:pw-2"), basic("portal-2:pw-1"), basic("portal-1")])
def test_a_basic_header_with_a_wrong_password_is_refused_with_7_1(credentials: Credentials, header: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        credentials.check_basic(header)
    assert caught.value.code == "7.1"


# --- the nonce cache -------------------------------------------------------------------


def test_a_nonce_claimed_twice_within_the_window_is_refused_with_7_4() -> None:
    cache = NonceCache(timedelta(minutes=6))
    cache.claim(b"n-1", NOW)
    cache.claim(b"n-2", NOW)
    with pytest.raises(CredentialReplayed) as caught:
        cache.claim(b"n-1", NOW + timedelta(minutes=5, seconds=59))
    assert caught.value.code == "7.4"


def test_a_nonce_is_forgotten_once_the_window_has_passed() -> None:
    cache = NonceCache(timedelta(minutes=6))
    cache.claim(b"n-1", NOW)
    assert cache.claim(b"n-1", NOW + timedelta(minutes=6, microseconds=1)) is None


def test_a_full_nonce_cache_refuses_new_nonces_with_7_4_rather_than_forget() -> None:
    cache = NonceCache(timedelta(minutes=6), limit=2)
    cache.claim(b"n-1", NOW)
    cache.claim(b"n-2", NOW)
    with pytest.raises(CredentialReplayed, match="too many UsernameTokens") as caught:
        cache.claim(b"n-3", NOW + timedelta(minutes=1))
    assert caught.value.code == "7.4"
    assert cache.claim(b"n-3", NOW + timedelta(minutes=7)) is None  # n-1, n-2 pruned


# --- allow() ---------------------------------------------------------------------------


@pytest.mark.parametrize(("principal", "allowed"), [
    (PORTAL, True), (MDM, True), (BILLING, False), (Principal("grid", PrincipalKind.UTILITY), False)])
def test_allow_lets_only_the_named_kinds_through_and_refuses_others_with_7_3(principal: Principal,
                                                                             allowed: bool) -> None:
    authorize = allow(PrincipalKind.PORTAL, PrincipalKind.MDM)
    if allowed:
        assert authorize(principal, object()) is None
        return
    with pytest.raises(NotAuthorized, match=f"{principal.kind.value} '{principal.user}' may not") as caught:
        authorize(principal, object())
    assert caught.value.code == "7.3"
