"""Failed logins over the real waitress server on loopback: one refusal text for every
failure (HTTP Basic, PasswordText, PasswordDigest; unknown user or wrong password), and
the back-off after repeated failures per user and per source address."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from evgrid.adapters.soap import security
from evgrid.adapters.soap.evos import evos_endpoint
from evgrid.adapters.soap.runner import SoapServer
from evgrid.adapters.soap.security import Credentials, LoginThrottle
from evgrid.adapters.soap.server import SoapApp, make_app, serve_in_thread
from evgrid.adapters.soap.tls import DemoPki, client_context, create_demo_pki
from evgrid.apps.evos.system import OperationSystem
from tests.integration.test_soap_server import (
    MSG,
    PORTAL,
    answer,
    evos,  # noqa: F401  (fixture)
    home_request,
    post,
    with_token,
)
from tests.integration.test_soap_server import credentials as credentials  # noqa: F401  (fixture)
from tests.unit.adapters.store.conftest import examples, store_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

HASHED_USER = ("from-file", "wrong")
OTHER_ADDRESS = "127.0.0.2"  # all of 127/8 is loopback on Linux


def throttled_app(evos: OperationSystem, credentials: Credentials, **options: float) -> SoapApp:  # noqa: F811
    settings = {"failures": 3, "window": 60.0, "backoff": 0.5, "max_backoff": 0.5, **options}
    return make_app([evos_endpoint(evos)], credentials, throttle=LoginThrottle(**settings))  # type: ignore[arg-type]


@pytest.fixture
def app(evos: OperationSystem, credentials: Credentials) -> SoapApp:  # noqa: F811
    return throttled_app(evos, credentials)


@pytest.fixture
def base(app: SoapApp) -> Iterator[str]:
    with serve_in_thread(app) as url:
        yield url


def reason(response: httpx.Response) -> str:
    return answer(response).root.findtext(f"{MSG}Reply/{MSG}Error/{MSG}reason") or ""


def from_address(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address))


def test_unknown_user_and_wrong_password_get_one_text_for_every_credential(
        evos: OperationSystem, credentials: Credentials) -> None:  # noqa: F811
    app = throttled_app(evos, credentials, failures=100)
    attempts = {
        "basic, unknown user": (home_request(), ("nobody", "x")),
        "basic, wrong password": (home_request(), ("portal-1001", "wrong")),
        "basic, wrong password of a stored hash": (home_request(), HASHED_USER),
        "PasswordText, unknown user": (with_token(home_request(), "nobody", "x", digest=False), None),
        "PasswordText, wrong password": (with_token(home_request(), "portal-1001", "wrong", digest=False), None),
        "PasswordDigest, unknown user": (with_token(home_request(), "nobody", "x"), None),
        "PasswordDigest, wrong password": (with_token(home_request(), "portal-1001", "wrong"), None),
        "PasswordDigest, a user from a stored hash": (with_token(home_request(), "from-file", "s3cret-hashed"), None),
    }
    with serve_in_thread(app) as base:
        texts = {}
        for name, (body, auth) in attempts.items():
            response = post(base, body, auth=auth)
            assert answer(response)[:3] == (401, "FAILED", "7.1"), name
            texts[name] = reason(response)
    assert set(texts.values()) == {security.LOGIN_REFUSED}, texts


def test_throttled_after_n_failures_with_retry_after_and_no_password_check(
        base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        assert answer(post(base, home_request(), auth=("portal-1001", "wrong")))[:3] == (401, "FAILED", "7.1")
    checks: list[str] = []
    real = security._check_hash
    monkeypatch.setattr(security, "_check_hash", lambda password, encoded: checks.append(password) or real(password, encoded))
    for auth in (("portal-1001", "wrong"), PORTAL):  # even the right password waits
        response = post(base, home_request(), auth=auth)
        assert answer(response)[:3] == (401, "FAILED", "7.1")
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["www-authenticate"].startswith("Basic")
    token = post(base, with_token(home_request(), *PORTAL), auth=None)  # a digest is held back too
    assert answer(token)[:3] == (401, "FAILED", "7.1") and "retry-after" in token.headers
    assert checks == []  # no scrypt spent on a throttled attempt


def test_the_right_password_works_once_the_back_off_ends(base: str) -> None:
    for _ in range(3):
        post(base, home_request(), auth=("portal-1001", "wrong"))
    assert "retry-after" in post(base, home_request(), auth=PORTAL).headers
    time.sleep(0.6)
    assert answer(post(base, home_request(), auth=PORTAL))[:2] == (200, "OK")


def test_a_token_user_is_throttled_too(base: str) -> None:
    for _ in range(3):
        post(base, with_token(home_request(), "portal-1001", "wrong"), auth=None)
    with from_address(OTHER_ADDRESS) as client:
        response = post(base, with_token(home_request(), *PORTAL), auth=None, client=client)
    assert answer(response)[:3] == (401, "FAILED", "7.1") and "retry-after" in response.headers


def test_an_address_spraying_users_is_throttled_but_not_another_address(base: str) -> None:
    for user in ("a", "b", "c"):
        post(base, home_request(), auth=(user, "x"))
    response = post(base, home_request(), auth=("d", "x"))
    assert answer(response)[:3] == (401, "FAILED", "7.1") and "retry-after" in response.headers
    with from_address(OTHER_ADDRESS) as client:
        assert answer(post(base, home_request(), client=client))[:2] == (200, "OK")


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app: SoapApp) -> None:
    server = SoapServer(app, trusted_proxy="127.0.0.1")
    url = server.start()
    try:
        with httpx.Client(headers={"X-Forwarded-For": "198.51.100.7"}) as attacker:
            for user in ("a", "b", "c", "d"):
                response = post(url, home_request(), auth=(user, "x"), client=attacker)
        assert "retry-after" in response.headers
        with httpx.Client(headers={"X-Forwarded-For": "198.51.100.8"}) as client:
            assert answer(post(url, home_request(), client=client))[:2] == (200, "OK")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return create_demo_pki(tmp_path_factory.mktemp("pki"))


def test_behind_the_tls_front_each_client_address_counts(app: SoapApp, pki: DemoPki) -> None:
    with serve_in_thread(app, tls=pki.server) as url:
        with httpx.Client(verify=client_context(pki.ca_file)) as attacker:
            for user in ("a", "b", "c", "d"):
                response = post(url, home_request(), auth=(user, "x"), client=attacker)
            assert "retry-after" in response.headers
        transport = httpx.HTTPTransport(local_address=OTHER_ADDRESS, verify=client_context(pki.ca_file))
        with httpx.Client(transport=transport) as client:
            assert answer(post(url, home_request(), client=client))[:2] == (200, "OK")
