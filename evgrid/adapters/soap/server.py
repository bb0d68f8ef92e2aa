"""A small contract-first SOAP 1.1 document/literal server for IEC 61968-100 services.

No maintained Python SOAP server fits (spyne drops ``xs:any`` content and does not import
on Python 3.12+), so this is ours, and small: the WSDLs in ``evgrid/schemas/wsdl`` are
the contract, :mod:`evgrid.mappings.services` the table of their operations, the
hardened codec the parser. One WSGI app serves any number of endpoints:

- ``GET /<Service>?wsdl`` the WSDL, its address rewritten to the request's scheme and
  host; ``GET /<Service>?xsd=<name>`` the schemas it imports.
- ``POST /<Service>``: size limit (Content-Length first: a body over the limit is
  refused unread) -> Content-Type ``text/xml`` -> HTTP Basic, if sent -> hardened parse
  -> SOAP 1.1 envelope, ``mustUnderstand`` -> WS-Security UsernameToken -> SOAPAction
  one of the service's -> XSD validation -> Header verb and noun agree with the
  SOAPAction -> the endpoint's ``authorize`` hook -> its handler.

The message is parsed and validated here, once. A handler is given either the envelope's
bytes (``endpoint_for``: for a handler that decodes them itself) or the decoded, validated
:class:`~evgrid.cim.codec.Inbound` and what the ``authorize`` hook returned
(``inbound_endpoint_for``: the message is not decoded again, and what the check bound is
what the handler uses).

Every answer is a SOAP 1.1 envelope with a schema-valid 61968-100 message; never a
traceback. HTTP status: 200 with the ResponseMessage (OK, PARTIAL or FAILED) for every
envelope that could be read; 401 (+ ``WWW-Authenticate: Basic``) missing, wrong or
replayed credential (7.1, 7.4); 403 authenticated but not allowed (7.3); 404 no such
service; 405 not GET/POST; 413 too large (3.1); 415 not ``text/xml``; these carry a
FAILED ResponseMessage too. 500 with a SOAP Fault (detail: a 61968-100 FaultMessage)
for what cannot be answered by a reply: not XML, hostile XML, not a SOAP 1.1 envelope,
an unknown ``mustUnderstand`` header, an internal error.

Failed logins: every one gets the same 7.1 text (:data:`~evgrid.adapters.soap.security.
LOGIN_REFUSED`). After repeated failures of a user name or from an address
(``REMOTE_ADDR``: the client's, behind a ``trusted_proxy`` its ``X-Forwarded-For``, behind
the TLS front the TLS client's) the app's :class:`~evgrid.adapters.soap.security.
LoginThrottle` refuses further attempts, before any password check, with 7.1, HTTP 401
and ``Retry-After``.

Oversize: every body over ``max_bytes`` gets HTTP 413 with the FAILED reply (3.1),
with or without Content-Length: the app refuses what waitress let through, and
:mod:`~evgrid.adapters.soap.runner` makes waitress answer with :meth:`SoapApp.too_large`
what it refuses itself.

Refusals before the handler change nothing and are not journaled: a replay of the
same MessageID with a good credential is processed normally.

The WSGI server itself (waitress, and TLS in front of it) is in
:mod:`evgrid.adapters.soap.runner`; :func:`serve_in_thread` and :func:`serve_forever`
are re-exported here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from wsgiref.util import application_uri

from lxml import etree

from evgrid.adapters.soap import wire
from evgrid.adapters.soap.runner import serve_forever, serve_in_thread
from evgrid.adapters.soap.security import WSSE, Credentials, LoginThrottle, Principal, parse_basic, username_token
from evgrid.adapters.soap.wsdl import ServiceDocuments
from evgrid.cim import envelope as env
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import DEFAULT_MAX_BYTES, Codec, Inbound, message_kind, read_message
from evgrid.errors import (
    AdapterError,
    CredentialReplayed,
    MessageRejected,
    MessageTooLarge,
    MissingElement,
    NotAuthorized,
    RequestFaulted,
    RequestRefused,
    Unauthenticated,
    UnsupportedOperation,
)
from evgrid.mappings import services

__all__ = [
    "Authorize", "Handler", "InboundHandler", "SoapApp", "SoapEndpoint", "endpoint_for", "inbound_endpoint_for",
    "make_app", "serve_forever", "serve_in_thread",
]

log = logging.getLogger(__name__)

Handler = Callable[[bytes, Principal | None], bytes]
# The decoded message, the principal and what ``authorize`` returned (None without a hook).
InboundHandler = Callable[[Inbound, Principal, Any], bytes]
# Refuses by raising; may return what it learnt of the message, for an InboundHandler.
Authorize = Callable[[Principal, Inbound], Any]
StartResponse = Callable[..., Any]

_UNDERSTOOD = frozenset({f"{{{WSSE}}}Security"})
_STATUS = {200: "200 OK", 401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found",
           405: "405 Method Not Allowed", 413: "413 Content Too Large", 415: "415 Unsupported Media Type",
           500: "500 Internal Server Error"}
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class SoapEndpoint:
    """One service at ``/<service>``.

    One of ``handle`` and ``handle_inbound`` is set; either should not raise (a Router
    never does); if it does, the caller gets a Fault and the operator a logged traceback.

    Attributes:
        service: the service name, as in :data:`evgrid.mappings.services.SERVICES`.
        handle: called with the request's **whole SOAP envelope** as received (the codec
            unwraps SOAP itself; the bytes are not serialised again) and the authenticated
            principal (never None when called by this server); returns the 61968-100
            reply, UTF-8, e.g. ``Router.handle``'s.
        operations: soapAction -> (verb, noun), e.g. ``{"http://iec.ch/TC57/2011/
            ChargingRequest/CreateChargingRequest": ("create", "ChargingRequest")}``.
        authorize: called with the principal and the validated message before the handler;
            raises an :class:`~evgrid.errors.AdapterError` (normally
            :class:`~evgrid.adapters.soap.security.NotAuthorized`, 7.3) to refuse. What it
            returns goes to ``handle_inbound``.
        handle_inbound: instead of ``handle``: called with the message this server decoded
            and validated, the principal and what ``authorize`` returned (None without
            one); returns the reply, e.g. ``Router.handle_inbound``'s. The message is not
            decoded again.
    """

    service: str
    handle: Handler | None
    operations: Mapping[str, tuple[str, str]]
    authorize: Authorize | None = field(default=None)
    handle_inbound: InboundHandler | None = field(default=None)

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.handle_inbound is None):
            raise ValueError(f"endpoint {self.service}: give one of handle and handle_inbound")


def endpoint_for(service_name: str, handle: Handler, *, authorize: Authorize | None = None) -> SoapEndpoint:
    """The endpoint of a service of :data:`~evgrid.mappings.services.SERVICES`, all its operations."""
    name, operations = _operations(service_name)
    return SoapEndpoint(name, handle, operations, authorize)


def inbound_endpoint_for(service_name: str, handle: InboundHandler, *,
                         authorize: Authorize | None = None) -> SoapEndpoint:
    """:func:`endpoint_for` with a handler of the decoded message (``SoapEndpoint.handle_inbound``)."""
    name, operations = _operations(service_name)
    return SoapEndpoint(name, None, operations, authorize, handle)


def _operations(service_name: str) -> tuple[str, dict[str, tuple[str, str]]]:
    service = services.service(service_name)
    return service.name, {op.soap_action: (op.verb.value, op.noun) for op in service.operations}


def make_app(endpoints: Sequence[SoapEndpoint], credentials: Credentials, *, max_bytes: int = DEFAULT_MAX_BYTES,
             codec: Codec | None = None, source: str = "evgrid", throttle: LoginThrottle | None = None) -> SoapApp:
    """The WSGI app serving ``endpoints``; ``source`` names it in the replies it writes itself.

    ``throttle``: the back-off after failed logins; default ``LoginThrottle()`` (5 failures
    in 60 s, then 1 s doubling up to 300 s, per user and per address).
    """
    return SoapApp(endpoints, credentials, max_bytes=max_bytes, codec=codec, source=source, throttle=throttle)


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class _Throttled(RequestRefused):
    """A login refused unchecked: too many failures; answered with ``Retry-After``."""

    def __init__(self, wait: float) -> None:
        self.retry_after = max(1, math.ceil(wait))
        super().__init__(401, Unauthenticated(
            f"too many failed logins; retry after {self.retry_after} s"))


class SoapApp:
    """The WSGI application; see the module docstring for what it checks, in which order."""

    def __init__(self, endpoints: Sequence[SoapEndpoint], credentials: Credentials, *, max_bytes: int,
                 codec: Codec | None, source: str, throttle: LoginThrottle | None = None) -> None:
        self.endpoints = {endpoint.service: endpoint for endpoint in endpoints}
        if len(self.endpoints) != len(endpoints):
            raise ValueError("two endpoints for one service")
        self.documents = {name: ServiceDocuments(services.service(name)) for name in self.endpoints}
        self.credentials = credentials
        self.max_bytes = max_bytes
        self.codec = codec or Codec(max_bytes=max_bytes)
        self.source = source
        self.throttle = throttle if throttle is not None else LoginThrottle()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer one HTTP request (WSGI)."""
        try:
            answer = self._answer(environ)
        except RequestRefused as refusal:
            answer = self._refusal(refusal)
        except RequestFaulted as faulted:
            answer = _Answer(500, wire.fault(wire.FaultCode(faulted.fault_code), faulted.error, self.codec))
        except Exception:  # the HTTP boundary, like the Router's: log it, leak nothing
            log.exception("unexpected error in the SOAP server")
            error = AdapterError("internal error; the message was not processed")
            answer = _Answer(500, wire.fault(wire.FaultCode.SERVER, error, self.codec))
        headers = [("Content-Type", wire.CONTENT_TYPE), ("Content-Length", str(len(answer.body))),
                   *answer.headers]
        start_response(_STATUS[answer.status], headers)
        return [answer.body]

    def _answer(self, environ: dict[str, Any]) -> _Answer:
        name = str(environ.get("PATH_INFO") or "").strip("/")
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise RequestRefused(404, UnsupportedOperation(f"no service at /{name}; services: "
                                                     + ", ".join(sorted(self.endpoints))))
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            return self._document(name, environ)
        if method != "POST":
            raise RequestRefused(405, UnsupportedOperation(f"{method} is not supported: POST a SOAP 1.1 request"))
        return self._post(endpoint, environ)

    def _document(self, name: str, environ: dict[str, Any]) -> _Answer:
        query = str(environ.get("QUERY_STRING") or "")
        base = application_uri(environ).rstrip("/")
        documents = self.documents[name]
        if query.lower() == "wsdl":
            return _Answer(200, documents.wsdl(base))
        key, _, value = query.partition("=")
        schema = documents.schema(value, base) if key.lower() == "xsd" else None
        if schema is None:
            raise RequestRefused(404, UnsupportedOperation(f"GET /{name}?wsdl for the WSDL; POST for requests"))
        return _Answer(200, schema)

    # ----------------------------------------------------------------- POST
    def _post(self, endpoint: SoapEndpoint, environ: dict[str, Any]) -> _Answer:
        mime = str(environ.get("CONTENT_TYPE") or "").partition(";")[0].strip().lower()
        if mime != "text/xml":
            raise RequestRefused(415, MessageRejected(f"Content-Type {mime or '(none)'!r} is not SOAP 1.1: use text/xml"))
        peer = environ.get("REMOTE_ADDR")
        self._not_throttled(None, peer)  # a blocked address: refused before anything else
        body = self._body(environ)
        authorization = environ.get("HTTP_AUTHORIZATION")
        # A wrong Basic credential is refused before any XML is parsed.
        basic = (self._authenticated(lambda: self.credentials.check_basic(authorization), peer,
                                     _basic_user(authorization))
                 if authorization else None)
        message = self._parse(body)
        root = message.getroottree().getroot()
        principal = self._authenticated(lambda: self.credentials.authenticate(root, basic=basic), peer,
                                        _token_user(root), counted=basic is not None or _has_token(root))
        inbound = self._check(endpoint, environ, message)
        checked = None
        if endpoint.authorize is not None:
            header = inbound.header
            try:
                checked = endpoint.authorize(principal, inbound)
            except NotAuthorized as error:
                log.warning("refused %s to %s from %s: %s", endpoint.service, principal.user, peer, error.reason)
                raise RequestRefused(403, error, header.noun if header else None,
                               header.message_id if header else None) from None
            except AdapterError as error:
                raise RequestRefused(200, error, header.noun if header else None,
                               header.message_id if header else None) from None
            except Exception:  # a failing check (its store is down): a FAILED reply, as the router would
                log.exception("authorization check of %s failed", endpoint.service)
                raise RequestRefused(200, AdapterError("internal error; the message was not processed"),
                               header.noun if header else None, header.message_id if header else None) from None
        if endpoint.handle_inbound is not None:
            return _Answer(200, wire.envelope(endpoint.handle_inbound(inbound, principal, checked)))
        assert endpoint.handle is not None  # one of the two: SoapEndpoint checks it
        return _Answer(200, wire.envelope(endpoint.handle(body, principal)))

    def _body(self, environ: dict[str, Any]) -> bytes:
        stream = environ["wsgi.input"]
        declared = environ.get("CONTENT_LENGTH")
        try:
            length = int(declared) if declared else None
        except ValueError:
            raise RequestRefused(200, MessageRejected(f"Content-Length {declared!r} is not a number")) from None
        if length is not None and length > self.max_bytes:
            # Refused unread: the server reads no further than the limit.
            raise RequestRefused(413, _too_large(length, self.max_bytes))
        limit = self.max_bytes + 1 if length is None else length
        chunks, size = [], 0
        while size < limit:
            chunk = stream.read(min(_CHUNK, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > self.max_bytes:
            raise RequestRefused(413, _too_large(size, self.max_bytes))
        return b"".join(chunks)

    def _authenticated(self, check: Callable[[], Principal], peer: str | None, user: str | None, *,
                       counted: bool = True) -> Principal:
        """``check()``'s principal, unless ``user`` or ``peer`` is throttled (then unchecked).

        A wrong credential counts as a failure (``counted``: not the lack of any credential);
        a replayed nonce or stale Created (7.4) does not: it follows a good digest.
        """
        self._not_throttled(user, peer)
        try:
            principal = check()
        except Unauthenticated as error:
            if counted:
                self.throttle.failed(user, peer)
            log.warning("authentication failed from %s: %s", peer, error.reason)
            raise RequestRefused(401, error) from None
        except CredentialReplayed as error:
            log.warning("authentication failed from %s: %s", peer, error.reason)
            raise RequestRefused(401, error) from None
        self.throttle.succeeded(principal.user, peer)
        return principal

    def _not_throttled(self, user: str | None, peer: str | None) -> None:
        wait = self.throttle.retry_after(user, peer)
        if wait is not None:
            log.warning("login of %r from %s throttled for %.1f s", user, peer, wait)
            raise _Throttled(wait)

    def too_large(self, size: int | None = None) -> bytes:
        """The 413 body (a SOAP FAILED reply, 3.1) for a request of ``size`` bytes (None: unknown).

        Also what the runner has waitress send for the bodies it refuses itself.
        """
        error = (_too_large(size, self.max_bytes) if size is not None else
                 MessageTooLarge(f"message exceeds the limit of {self.max_bytes} bytes"))
        return self._refusal(RequestRefused(413, error)).body

    def _parse(self, body: bytes) -> etree._Element:
        try:
            message = self.codec.parse(body)
        except MissingElement as error:
            raise RequestRefused(200, error) from None  # a SOAP envelope, but its Body is not one message
        except AdapterError as error:
            raise RequestFaulted(wire.FaultCode.CLIENT.value, error) from None
        root = message.getroottree().getroot()
        if root.tag == ns.qname(ns.SOAP12, "Envelope"):
            raise RequestFaulted(wire.FaultCode.VERSION_MISMATCH.value,
                           UnsupportedOperation("a SOAP 1.2 envelope; this service speaks SOAP 1.1"))
        if root.tag != wire.ENVELOPE:
            raise RequestFaulted(wire.FaultCode.CLIENT.value, UnsupportedOperation(
                f"expected a SOAP 1.1 Envelope, not {etree.QName(root).localname}"))
        missed = wire.not_understood(root, _UNDERSTOOD)
        if missed:
            raise RequestFaulted(wire.FaultCode.MUST_UNDERSTAND.value,
                           UnsupportedOperation("header blocks not understood: " + ", ".join(missed)))
        return message

    def _check(self, endpoint: SoapEndpoint, environ: dict[str, Any], message: etree._Element) -> Inbound:
        """SOAPAction known, message valid, and its Header's verb and noun the SOAPAction's."""
        loose_id = message.findtext(f"{{{ns.MESSAGE}}}Header/{{{ns.MESSAGE}}}MessageID")
        action = wire.soap_action(environ)
        expected = endpoint.operations.get(action or "")
        if expected is None:
            reason = (f"unknown SOAPAction {action!r} for {endpoint.service}" if action
                      else "the SOAPAction HTTP header is missing")
            raise RequestRefused(200, UnsupportedOperation(reason), correlation_id=loose_id)
        try:
            kind = message_kind(message)
            self.codec.validate(message)
            inbound = read_message(message, kind)
        except AdapterError as error:
            raise RequestRefused(200, error, expected[1], loose_id) from None
        header = inbound.header
        if header is None or (header.verb.value, header.noun) != expected:
            found = f"{header.verb.value} {header.noun}" if header else "no Header"
            raise RequestRefused(200, UnsupportedOperation(
                f"SOAPAction {action} is '{expected[0]} {expected[1]}' but the message is '{found}'"),
                expected[1], loose_id)
        return inbound

    def _refusal(self, refusal: RequestRefused) -> _Answer:
        reply = self.codec.dump(env.reply_failed(refusal.error, noun=refusal.noun, source=self.source,
                                                 correlation_id=refusal.correlation_id))
        headers = []
        if refusal.status == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="evgrid", charset="UTF-8"'))
            if isinstance(refusal, _Throttled):
                headers.append(("Retry-After", str(refusal.retry_after)))
        elif refusal.status == 405:
            headers.append(("Allow", "GET, POST"))
        return _Answer(refusal.status, wire.envelope(reply), headers)


def _basic_user(authorization: str) -> str | None:
    try:
        return parse_basic(authorization)[0]
    except Unauthenticated:
        return None


def _has_token(root: etree._Element) -> bool:
    try:
        return username_token(root) is not None
    except Unauthenticated:
        return True  # several tokens: a malformed credential still counts


def _token_user(root: etree._Element) -> str | None:
    try:
        token = username_token(root)
    except Unauthenticated:
        return None
    if token is None:
        return None
    return (token.findtext(f"{{{WSSE}}}Username") or "").strip() or None


def _too_large(size: int, limit: int) -> MessageTooLarge:
    return MessageTooLarge(f"message of {size} bytes exceeds the limit of {limit} bytes")
