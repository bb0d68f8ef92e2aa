"""Who is calling: principals, their credentials, HTTP Basic and WS-Security UsernameToken.

Every SOAP endpoint needs a credential. Two ways to present one are accepted:

- HTTP Basic (``Authorization: Basic ...``), and WS-Security UsernameToken with
  ``PasswordText``: the password travels in clear, so use them over TLS only. They are
  checked against a salted scrypt hash.
- WS-Security UsernameToken with ``PasswordDigest`` (OASIS UsernameToken Profile 1.0,
  3.1): ``Base64(SHA-1(nonce + created + password))``. ``Created`` must be within
  :data:`FRESHNESS` of now and each nonce is accepted once within that window
  (``wss-v1.1 UsernameTokenProfile``, 4: replay protection).

Trade-off (documented in the README): a digest can only be checked with the password
itself, so the store keeps the plain password **in memory** for principals added with
:meth:`Credentials.add` (configured at start, e.g. from the command line); it is never
written anywhere. Principals loaded from hashes (:meth:`Credentials.add_hashed`) can use
Basic and PasswordText only.

Every failed login (an unknown user, a wrong password, a user from a stored hash trying
PasswordDigest; over Basic, PasswordText or PasswordDigest) is refused with one text,
:data:`LOGIN_REFUSED`, code 7.1, and costs the same: a dummy scrypt check for an unknown
user, a dummy SHA-1 for an unknown PasswordDigest user. :class:`LoginThrottle` backs off
callers (per user and per source address) after repeated failures.

Error codes (IEC 61968-100 category 7, security): 7.1 missing or wrong credential,
7.3 an authenticated principal not allowed this operation or site, 7.4 a replayed
nonce or a stale ``Created``; 7.0 stays the core's "portal acting for another premise",
7.2 hostile XML (:mod:`evgrid.errors`).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree

from evgrid.cim import namespaces as ns
from evgrid.errors import CredentialReplayed, NotAuthorized, Unauthenticated

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "PasswordText"
PASSWORD_DIGEST = "PasswordDigest"
FRESHNESS = timedelta(minutes=5)
# Clocks drift: a Created this far in the future is still accepted.
CLOCK_SKEW = timedelta(seconds=60)
# scrypt at n=2**14, r=8 costs ~50 ms and 16 MiB per check: cheap for a login, too
# dear per request, hence the verified-password cache in Credentials.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32
MAX_NONCES = 1_000_000
# The one text of every failed login: the caller learns nothing about which user exists.
LOGIN_REFUSED = "unknown user or wrong password"

_SECURITY = f"{{{WSSE}}}Security"
_TOKEN = f"{{{WSSE}}}UsernameToken"
_HEADER = ns.qname(ns.SOAP11, "Header")


class PrincipalKind(enum.StrEnum):
    """What a caller is; endpoints allow operations per kind."""

    PORTAL = "portal"
    BILLING = "billing"
    MDM = "mdm"
    UTILITY = "utility"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller; a portal is bound to one customer and usage point (site)."""

    user: str
    kind: PrincipalKind
    customer_id: str | None = None
    usage_point_id: str | None = None

    def __post_init__(self) -> None:
        # "portal" from a config file or the command line becomes the enum member.
        object.__setattr__(self, "kind", PrincipalKind(self.kind))
        if not self.user or ":" in self.user:
            raise ValueError("a user name must be non-empty and without ':' (HTTP Basic)")
        if self.kind is PrincipalKind.PORTAL and not (self.customer_id and self.usage_point_id):
            raise ValueError(f"portal {self.user!r} must be bound to a customer and a usage point")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash, ``scrypt$n$r$p$salt$hash`` (base64), for a credentials file."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_LEN, maxmem=2**26)


def _check_hash(password: str, encoded: str) -> bool:
    scheme, n, r, p, salt, digest = encoded.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    expected = base64.b64decode(digest)
    return hmac.compare_digest(_scrypt(password, base64.b64decode(salt), int(n), int(r), int(p)), expected)


@dataclass(slots=True)
class _Entry:
    principal: Principal
    password_hash: str
    plain: str | None  # kept for PasswordDigest only; see the module docstring


class NonceCache:
    """Nonces seen within the freshness window; thread-safe, pruned as it goes."""

    def __init__(self, window: timedelta = FRESHNESS + CLOCK_SKEW, *, limit: int = MAX_NONCES) -> None:
        self._window = window
        self._limit = limit
        self._seen: set[bytes] = set()
        self._order: deque[tuple[datetime, bytes]] = deque()
        self._lock = threading.Lock()

    def claim(self, nonce: bytes, now: datetime) -> None:
        """Record ``nonce``; :class:`CredentialReplayed` when it was seen within the window.

        Full (more fresh nonces than ``limit``): refused too, rather than forgetting a
        nonce that could then be replayed. Only verified digests get here.
        """
        with self._lock:
            while self._order and self._order[0][0] < now - self._window:
                self._seen.discard(self._order.popleft()[1])
            if nonce in self._seen:
                raise CredentialReplayed("UsernameToken nonce already used")
            if len(self._order) >= self._limit:
                raise CredentialReplayed("too many UsernameTokens within the freshness window; retry later")
            self._seen.add(nonce)
            self._order.append((now, nonce))


@dataclass(slots=True)
class _Failures:
    times: list[float]  # the last ``failures`` failure times (a list: a deque costs ~0.6 KiB)
    strikes: int = 0  # back-offs in a row; the next one lasts backoff * 2**strikes
    blocked_until: float = 0.0


class LoginThrottle:
    """Backs off callers after repeated failed logins, per user name and per source address.

    ``failures`` failures of one key (a user name, known or not, or an address) within
    ``window`` seconds block that key for ``backoff`` seconds; a failure after a back-off
    blocks it again for twice as long, up to ``max_backoff``; ``window + max_backoff``
    seconds without a failure forgive the back-offs. A blocked key is refused before any
    password is checked (:meth:`retry_after`). A success resets the user's count, not the
    address's (one good account must not reset an address that sprays guesses).

    At most ``max_keys`` keys are tracked (the oldest updated are forgotten first); long
    user names are kept as their SHA-256, so memory stays bounded (~0.5 KiB a key: ~50 MiB
    at the default 100,000 keys).
    Thread-safe; ``clock`` (seconds, monotonic) is injectable for tests.

    A per-user back-off also delays the real user while someone guesses their password:
    the price of stopping a guesser who rotates addresses; it lasts ``max_backoff`` at most.
    """

    def __init__(self, *, failures: int = 5, window: float = 60.0, backoff: float = 1.0,
                 max_backoff: float = 300.0, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or window <= 0 or backoff <= 0 or max_backoff < backoff or max_keys < 1:
            raise ValueError("LoginThrottle needs failures >= 1, window > 0, 0 < backoff <= max_backoff, "
                             "max_keys >= 1")
        self.failures, self.window = failures, window
        self.backoff, self.max_backoff, self.max_keys = backoff, max_backoff, max_keys
        self._clock = clock
        self._records: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def retry_after(self, user: str | None, address: str | None) -> float | None:
        """Seconds until ``user`` and ``address`` may try again; None: they may now."""
        now = self._clock()
        with self._lock:
            waits = [record.blocked_until - now for key in _keys(user, address)
                     if (record := self._records.get(key)) is not None]
        wait = max(waits, default=0.0)
        return wait if wait > 0 else None

    def failed(self, user: str | None, address: str | None) -> None:
        """Count a failed login of ``user`` from ``address``."""
        now = self._clock()
        with self._lock:
            for key in _keys(user, address):
                self._fail(key, now)

    def succeeded(self, user: str | None, address: str | None) -> None:
        """A good login: forget the user's failures (not the address's)."""
        with self._lock:
            for key in _keys(user, None):
                self._records.pop(key, None)

    def _fail(self, key: tuple[str, str], now: float) -> None:
        record = self._records.get(key)
        if record is None:
            while len(self._records) >= self.max_keys:
                self._records.popitem(last=False)
            record = self._records[key] = _Failures([])
        else:
            self._records.move_to_end(key)
            if record.times and now - record.times[-1] > self.window + self.max_backoff:
                record.strikes = 0  # quiet long enough: earlier back-offs are forgiven
        record.times.append(now)
        del record.times[:-self.failures]
        if now < record.blocked_until:
            return  # a check that started before the block: no longer back-off for it
        if record.strikes or (len(record.times) == self.failures and now - record.times[0] <= self.window):
            record.blocked_until = now + min(self.backoff * 2 ** min(record.strikes, 32), self.max_backoff)
            record.strikes += 1
            record.times.clear()


def _keys(user: str | None, address: str | None) -> list[tuple[str, str]]:
    keys = []
    if user is not None:
        if len(user) > 64:  # a caller picks the name: keep what is stored small
            user = hashlib.sha256(user.encode(errors="replace")).hexdigest()
        keys.append(("user", user))
    if address:
        keys.append(("address", address[:64]))
    return keys


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class Credentials:
    """The principals an endpoint knows and how to check what they present."""

    def __init__(self, *, clock: Callable[[], datetime] = _wall_clock, nonces: NonceCache | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        self._clock = clock
        self._nonces = nonces or NonceCache()
        # user -> HMAC of the last password that passed scrypt, under a per-process key:
        # a repeated Basic login costs microseconds, and the cache reveals no password.
        self._verified: dict[str, bytes] = {}
        self._cache_key = secrets.token_bytes(32)
        self._dummy_hash = hash_password(secrets.token_urlsafe(16))
        self._lock = threading.Lock()

    def add(self, principal: Principal, password: str) -> None:
        """Add a principal configured at start; Basic, PasswordText and PasswordDigest work."""
        self._put(_Entry(principal, hash_password(password), password))

    def add_hashed(self, principal: Principal, password_hash: str) -> None:
        """Add a principal from a stored :func:`hash_password`; Basic and PasswordText only."""
        if not password_hash.startswith("scrypt$") or password_hash.count("$") != 5:
            raise ValueError(f"not an evgrid password hash for {principal.user!r}")
        self._put(_Entry(principal, password_hash, None))

    def _put(self, entry: _Entry) -> None:
        with self._lock:
            self._entries[entry.principal.user] = entry
            self._verified.pop(entry.principal.user, None)

    def __contains__(self, user: object) -> bool:
        return user in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def principal(self, user: str) -> Principal | None:
        """The principal called ``user``, if any."""
        entry = self._entries.get(user)
        return entry.principal if entry else None

    # ------------------------------------------------------------ checking
    def check_password(self, user: str, password: str) -> Principal:
        """Basic or PasswordText: the principal, or :class:`Unauthenticated`."""
        entry = self._entries.get(user)
        if entry is None:
            _check_hash(password, self._dummy_hash)  # as slow as a real check: no user probing
            raise Unauthenticated(LOGIN_REFUSED)
        mac = hmac.new(self._cache_key, password.encode(), hashlib.sha256).digest()
        cached = self._verified.get(user)
        if cached is not None and hmac.compare_digest(cached, mac):
            return entry.principal
        if not _check_hash(password, entry.password_hash):
            raise Unauthenticated(LOGIN_REFUSED)
        with self._lock:
            if self._entries.get(user) is entry:
                self._verified[user] = mac
        return entry.principal

    def check_digest(self, user: str, digest: str, nonce: bytes, created: str) -> Principal:
        """PasswordDigest: verify, then check freshness and claim the nonce.

        In this order, so that only a holder of the password can fill the nonce cache.
        """
        entry = self._entries.get(user)
        # An unknown user, or one known by a hash only, is refused like a wrong password and
        # after the same work (one SHA-1 and a comparison): no telling which users exist.
        plain = entry.plain if entry is not None and entry.plain is not None else None
        secret = plain if plain is not None else self._cache_key.hex()
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + secret.encode()).digest())
        matches = hmac.compare_digest(expected, digest.strip().encode())
        if entry is None or plain is None or not matches:
            raise Unauthenticated(LOGIN_REFUSED)
        moment = _parse_created(created)
        now = self._clock()
        if moment < now - FRESHNESS or moment > now + CLOCK_SKEW:
            raise CredentialReplayed(
                f"UsernameToken Created {created} is outside the accepted window (at most "
                f"{FRESHNESS.total_seconds():g} s old, {CLOCK_SKEW.total_seconds():g} s ahead)")
        self._nonces.claim(nonce, now)
        return entry.principal

    def check_basic(self, authorization: str) -> Principal:
        """The principal of an ``Authorization: Basic`` header (checked before parsing XML)."""
        return self.check_password(*parse_basic(authorization))

    def authenticate(self, envelope: etree._Element, *, basic: Principal | None = None) -> Principal:
        """The principal behind the envelope's UsernameToken and/or HTTP Basic (``basic``).

        Both may be present; then both must hold and name the same user.
        """
        token = username_token(envelope)
        if token is None:
            if basic is None:
                raise Unauthenticated("a credential is required: HTTP Basic or a WS-Security UsernameToken")
            return basic
        principal = self._check_token(token)
        if basic is not None and basic != principal:
            raise Unauthenticated("HTTP Basic and the UsernameToken name different users")
        return principal

    def _check_token(self, token: etree._Element) -> Principal:
        user = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
        password = token.find(f"{{{WSSE}}}Password")
        if not user or password is None:
            raise Unauthenticated("the UsernameToken needs a Username and a Password")
        kind = _password_type(password.get("Type"))
        text = password.text or ""
        if kind == PASSWORD_TEXT:
            return self.check_password(user, text)
        nonce_text = token.findtext(f"{{{WSSE}}}Nonce")
        created = token.findtext(f"{{{WSU}}}Created")
        if not nonce_text or not created:
            raise Unauthenticated("a PasswordDigest needs a Nonce and a Created")
        try:
            nonce = base64.b64decode(nonce_text.strip(), validate=True)
        except binascii.Error:
            raise Unauthenticated("the UsernameToken Nonce is not base64") from None
        return self.check_digest(user, text, nonce, created.strip())


def parse_basic(authorization: str) -> tuple[str, str]:
    """User and password of an ``Authorization: Basic`` header (RFC 7617)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Unauthenticated(f"unsupported HTTP authorization scheme {scheme!r}; use Basic")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed HTTP Basic credential") from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise Unauthenticated("malformed HTTP Basic credential")
    return user, password


def username_token(envelope: etree._Element) -> etree._Element | None:
    """The one UsernameToken in the SOAP Header's wsse:Security, if any.

    More than one Security header or token is refused: which one counts would be a guess.
    """
    header = envelope.find(_HEADER)
    if header is None:
        return None
    blocks = [child for child in header if child.tag == _SECURITY]
    if not blocks:
        return None
    tokens = [token for block in blocks for token in block.iter(_TOKEN)]
    if len(blocks) > 1 or len(tokens) != 1:
        raise Unauthenticated("exactly one wsse:Security header with one UsernameToken is accepted")
    return tokens[0]


def _password_type(value: str | None) -> str:
    # The profile's default is PasswordText; old toolkits write "wsse:PasswordDigest".
    if value is None:
        return PASSWORD_TEXT
    suffix = value.rsplit("#", 1)[-1].rsplit(":", 1)[-1]
    if suffix not in (PASSWORD_TEXT, PASSWORD_DIGEST):
        raise Unauthenticated(f"unsupported UsernameToken password type {value!r}")
    return suffix


def _parse_created(created: str) -> datetime:
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        raise Unauthenticated(f"UsernameToken Created {created!r} is not an xs:dateTime") from None
    if moment.tzinfo is None:
        raise Unauthenticated("UsernameToken Created must carry a time zone (UTC)")
    return moment


def allow(*kinds: PrincipalKind) -> Callable[[Principal, object], None]:
    """An ``authorize`` hook for :class:`~evgrid.adapters.soap.server.SoapEndpoint`: these kinds only."""
    allowed = frozenset(kinds)

    def authorize(principal: Principal, inbound: object) -> None:
        if principal.kind not in allowed:
            raise NotAuthorized(f"{principal.kind.value} {principal.user!r} may not call this service")

    return authorize
