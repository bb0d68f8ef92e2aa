"""WS-Security UsernameToken (PasswordText, PasswordDigest) and HTTP Basic in Credentials.authenticate."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind, hash_password
from evgrid.errors import CredentialReplayed, Unauthenticated

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
TEXT, DIGEST = f"{PROFILE}#PasswordText", f"{PROFILE}#PasswordDigest"
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
STAMP = "2026-11-27T06:00:00Z"
NONCE = bytes(range(16))
MDM = Principal("mdm", PrincipalKind.MDM)
BILLING = Principal("billing", PrincipalKind.BILLING)
BILLING_HASH = hash_password("b1ll-pw")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def spec_digest(nonce: bytes, created: str, password: str) -> str:
    """OASIS UsernameToken Profile 1.0, 3.1: Password_Digest = Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()).decode()


def token(user: str, password: str, *, kind: str | None = None, nonce: str | None = None,
          created: str | None = None) -> str:
    parts = [f"<wsse:Username>{user}</wsse:Username>",
             f'<wsse:Password{f" Type={kind!r}" if kind else ""}>{password}</wsse:Password>']
    if nonce is not None:
        parts.append(f"<wsse:Nonce>{nonce}</wsse:Nonce>")
    if created is not None:
        parts.append(f"<wsu:Created>{created}</wsu:Created>")
    return "<wsse:UsernameToken>" + "".join(parts) + "</wsse:UsernameToken>"


def digest_token(user: str, password: str, *, created: str = STAMP, nonce: bytes = NONCE,
                 kind: str = DIGEST) -> str:
    return token(user, spec_digest(nonce, created, password), kind=kind, nonce=base64.b64encode(nonce).decode(),
                 created=created)


def soap(*securities: str, header: bool = True) -> etree._Element:
    """A SOAP 1.1 envelope with one wsse:Security block per argument."""
    blocks = "".join(f"<wsse:Security>{block}</wsse:Security>" for block in securities)
    head = f"<soapenv:Header>{blocks}</soapenv:Header>" if header else ""
    return etree.fromstring(f'<soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">'
                            f"{head}<soapenv:Body/></soapenv:Envelope>")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def credentials(clock: Clock) -> Credentials:
    store = Credentials(clock=clock)
    store.add(MDM, "s3cret")
    store.add_hashed(BILLING, BILLING_HASH)
    return store


def at(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


@pytest.mark.parametrize("security", [
    token("mdm", "s3cret", kind=TEXT),
    token("mdm", "s3cret"),  # no Type: the profile's default is PasswordText
    token(" mdm ", "s3cret", kind="wsse:PasswordText"),
    digest_token("mdm", "s3cret"),
    digest_token("mdm", "s3cret", kind="wsse:PasswordDigest"),  # old toolkits
    digest_token("mdm", "s3cret", created="2026-11-27T07:00:00+01:00"),  # the same instant
    digest_token("mdm", "s3cret", created=at(-timedelta(minutes=5))),  # at the edge of freshness
    digest_token("mdm", "s3cret", created=at(timedelta(seconds=60))),  # at the edge of clock skew
])
def test_a_good_username_token_gives_the_principal(credentials: Credentials, security: str) -> None:
    assert credentials.authenticate(soap(security)) == MDM


def test_a_password_text_token_works_for_a_principal_loaded_from_a_hash(credentials: Credentials) -> None:
    assert credentials.authenticate(soap(token("billing", "b1ll-pw", kind=TEXT))) == BILLING


@pytest.mark.parametrize("envelope", [
    soap(token("mdm", "wrong", kind=TEXT)),
    soap(token("nobody", "s3cret", kind=TEXT)),
    soap(digest_token("mdm", "wrong")),
    soap(digest_token("nobody", "s3cret")),
    soap(digest_token("billing", "b1ll-pw")),  # loaded from a hash: no digest possible
    soap(token("mdm", spec_digest(NONCE, STAMP, "s3cret"), kind=DIGEST, created=STAMP)),  # no Nonce
    soap(token("mdm", spec_digest(NONCE, STAMP, "s3cret"), kind=DIGEST, nonce="AAEC")),  # no Created
    soap(token("mdm", spec_digest(NONCE, STAMP, "s3cret"), kind=DIGEST, nonce="@@not base64@@", created=STAMP)),
    soap(digest_token("mdm", "s3cret", created="2026-11-27T06:00:00")),  # no time zone
    soap(digest_token("mdm", "s3cret", created="yesterday")),
    soap(token("mdm", "s3cret", kind=f"{PROFILE}#PasswordHash")),
    soap(token("", "s3cret", kind=TEXT)),
    soap("<wsse:UsernameToken><wsse:Username>mdm</wsse:Username></wsse:UsernameToken>"),  # no Password
    soap(token("mdm", "s3cret"), token("mdm", "s3cret")),  # two Security blocks
    soap(token("mdm", "s3cret") + token("mdm", "s3cret")),  # two tokens in one block
    soap("<wsse:BinarySecurityToken>AAAA</wsse:BinarySecurityToken>"),  # a Security block, no token
    soap(),  # a Header, no Security
    soap(header=False),
], ids=["text-wrong", "text-unknown", "digest-wrong", "digest-unknown", "digest-hashed-only", "no-nonce",
        "no-created", "nonce-not-base64", "naive-created", "created-not-a-date", "unknown-type", "empty-user",
        "no-password", "two-blocks", "two-tokens", "no-token", "no-security", "no-header"])
def test_a_missing_or_wrong_credential_is_refused_with_7_1(credentials: Credentials,
                                                           envelope: etree._Element) -> None:
    with pytest.raises(Unauthenticated) as caught:
        credentials.authenticate(envelope)
    assert caught.value.code == "7.1"


@pytest.mark.parametrize("created", [
    at(-timedelta(minutes=5, microseconds=1)), at(timedelta(seconds=60, microseconds=1)), at(-timedelta(days=1)),
    "2026-11-27T06:02:00+01:00"])  # 58 minutes ago
def test_a_created_outside_the_freshness_window_is_refused_with_7_4(credentials: Credentials,
                                                                    created: str) -> None:
    with pytest.raises(CredentialReplayed) as caught:
        credentials.authenticate(soap(digest_token("mdm", "s3cret", created=created)))
    assert caught.value.code == "7.4"


def test_a_replayed_nonce_is_refused_with_7_4(credentials: Credentials, clock: Clock) -> None:
    envelope = soap(digest_token("mdm", "s3cret"))
    assert credentials.authenticate(envelope) == MDM
    clock.now = NOW + timedelta(minutes=4)
    with pytest.raises(CredentialReplayed) as caught:
        credentials.authenticate(envelope)
    assert caught.value.code == "7.4"


def test_a_nonce_reused_with_a_new_created_is_refused_with_7_4(credentials: Credentials, clock: Clock) -> None:
    assert credentials.authenticate(soap(digest_token("mdm", "s3cret"))) == MDM
    clock.now = NOW + timedelta(seconds=30)
    with pytest.raises(CredentialReplayed) as caught:
        credentials.authenticate(soap(digest_token("mdm", "s3cret", created=at(timedelta(seconds=30)))))
    assert caught.value.code == "7.4"


def test_a_wrong_digest_does_not_use_up_its_nonce(credentials: Credentials) -> None:
    with pytest.raises(Unauthenticated) as caught:
        credentials.authenticate(soap(digest_token("mdm", "guess")))
    assert caught.value.code == "7.1"
    assert credentials.authenticate(soap(digest_token("mdm", "s3cret"))) == MDM


def test_a_nonce_cannot_be_replayed_at_the_very_end_of_its_window(credentials: Credentials, clock: Clock) -> None:
    envelope = soap(digest_token("mdm", "s3cret", created=at(timedelta(seconds=60))))  # a client 60 s ahead
    assert credentials.authenticate(envelope) == MDM
    clock.now = NOW + timedelta(minutes=6)  # Created is now exactly FRESHNESS old: still accepted
    with pytest.raises(CredentialReplayed) as caught:
        credentials.authenticate(envelope)
    assert caught.value.code == "7.4"


# --- HTTP Basic with or without a token ---------------------------------------------------


@pytest.mark.parametrize("security", [None, token("mdm", "s3cret"), digest_token("mdm", "s3cret")])
def test_basic_alone_or_with_a_token_for_the_same_user_gives_the_principal(credentials: Credentials,
                                                                           security: str | None) -> None:
    envelope = soap(security) if security else soap(header=False)
    assert credentials.authenticate(envelope, basic=MDM) == MDM


@pytest.mark.parametrize("basic", [BILLING, Principal("mdm", PrincipalKind.UTILITY)])
def test_basic_and_a_token_naming_different_principals_are_refused_with_7_1(credentials: Credentials,
                                                                            basic: Principal) -> None:
    with pytest.raises(Unauthenticated, match="different users") as caught:
        credentials.authenticate(soap(token("mdm", "s3cret")), basic=basic)
    assert caught.value.code == "7.1"
