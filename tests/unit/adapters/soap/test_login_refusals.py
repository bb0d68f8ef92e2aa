"""Every failed login gets one text: no telling an unknown user from a wrong password."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from evgrid.adapters.soap import security
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind, hash_password
from evgrid.errors import Unauthenticated

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
CREATED = "2026-11-27T06:00:00+00:00"
NONCE = b"0123456789abcdef"
MDM = Principal("mdm", PrincipalKind.MDM)
HASHED = Principal("hashed", PrincipalKind.UTILITY)


def digest(password: str, nonce: bytes = NONCE, created: str = CREATED) -> str:
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    store = Credentials(clock=lambda: NOW)
    store.add(MDM, "s3cret")
    store.add_hashed(HASHED, hash_password("h4shed"))
    return store


def refusal(check) -> Unauthenticated:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthenticated) as caught:
        check()
    return caught.value


def test_every_failed_login_has_the_same_text_and_code(credentials: Credentials) -> None:
    failures = [
        refusal(lambda: credentials.check_password("nobody", "s3cret")),
        refusal(lambda: credentials.check_password("mdm", "wrong")),
        refusal(lambda: credentials.check_password("hashed", "wrong")),
        refusal(lambda: credentials.check_basic(basic("nobody:s3cret"))),
        refusal(lambda: credentials.check_basic(basic("mdm:wrong"))),
        refusal(lambda: credentials.check_digest("nobody", digest("s3cret"), NONCE, CREATED)),
        refusal(lambda: credentials.check_digest("mdm", digest("wrong"), NONCE, CREATED)),
        # a principal from a stored hash cannot use PasswordDigest: told the same
        refusal(lambda: credentials.check_digest("hashed", digest("h4shed"), NONCE, CREATED)),
    ]
    assert {error.reason for error in failures} == {security.LOGIN_REFUSED}
    assert {error.code for error in failures} == {"7.1"}


def test_an_unknown_user_costs_a_scrypt_check_too(credentials: Credentials, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = security._check_hash
    monkeypatch.setattr(security, "_check_hash", lambda password, encoded: calls.append(encoded) or real(password, encoded))
    refusal(lambda: credentials.check_password("nobody", "x"))
    refusal(lambda: credentials.check_password("hashed", "x"))
    assert len(calls) == 2


def test_the_right_passwords_still_work(credentials: Credentials) -> None:
    assert credentials.check_password("mdm", "s3cret") == MDM
    assert credentials.check_password("hashed", "h4shed") == HASHED
    assert credentials.check_digest("mdm", digest("s3cret", b"another nonce"), b"another nonce", CREATED) == MDM
