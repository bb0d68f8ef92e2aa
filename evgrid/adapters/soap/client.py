"""SOAP clients of the IEC 61968-100 services evgrid calls: the only module importing zeep.

One :class:`ServiceClient` per remote service. zeep reads our own WSDL (never one fetched
over the network; it is parsed once per process and service) and is the authority on
the operation, its soapAction and the binding. The message itself is already a complete,
schema-valid 61968-100 message (as :mod:`evgrid.cim.codec` dumps it), so the default path
does not hand it to zeep's serializer: it wraps the message's bytes in a SOAP 1.1
envelope and posts it on a keep-alive connection (:mod:`.transport`: the standard
library's ``http.client``, a quarter of httpx's CPU per request). zeep's serializer rebuilds
the envelope from Python values and its deserializer rebuilds the reply (about 130 us each
for a 3 KB MeterReadings here), which alone costs a third of a loopback round trip;
:meth:`ServiceClient.send_with_zeep` keeps that path (``Payload={"_value_1": [element]}``
with the Header fields) for interoperability checks and the benchmark's comparison.

Every failure leaves as :class:`~evgrid.errors.UpstreamFault` with a 61968-100 code:
4.1 unreachable, 4.2 timed out, the code of a FAILED reply or of the 61968-100 FaultMessage in a
SOAP Fault, else 5.1 (7.1 / 7.3 for a bare HTTP 401 / 403).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlparse
from xml.sax.saxutils import escape

import zeep
import zeep.exceptions
from lxml import etree
from zeep.wsse.username import UsernameToken

from evgrid.adapters.soap.transport import Response, Transport, basic_auth
from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.envelope import Verb
from evgrid.cim.replies import UPSTREAM_ERROR, check_reply
from evgrid.errors import AdapterError, UnsupportedOperation, UpstreamFault
from evgrid.mappings import services
from evgrid.messaging.outbox import Deliverer
from evgrid.operations import events

Security = Literal["basic", "wsse", "both"]

UNREACHABLE = "4.1"
TIMED_OUT = "4.2"
# The codes evgrid's own endpoints use for these (evgrid.adapters.soap.security).
# The services behind the outbox destinations that are reached over SOAP.
SOAP_DESTINATIONS: dict[str, str] = {events.BILLING: "CustomerBilling", events.MDM: "MeterDataManagement"}
_MSG = "{" + ns.MESSAGE + "}"
_FAULT = ns.qname(ns.SOAP11, "Fault")
_HTTP_CODES = {401: "7.1", 403: "7.3", 413: "3.1", 504: TIMED_OUT}

_SOAP_OPEN = f'<soapenv:Envelope xmlns:soapenv="{ns.SOAP11}">'.encode()
_BODY_OPEN = b"<soapenv:Body>"
_SOAP_CLOSE = b"</soapenv:Body></soapenv:Envelope>"
_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
_BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
# Header children that are plain text in message.xsd, in schema order (zeep wants names).
_TEXT_HEADER = ("Verb", "Noun", "Revision", "Context", "Timestamp", "Source", "AsyncReplyFlag", "ReplyAddress",
                "AckRequired", "MessageID", "CorrelationID", "Comment")


class _LocalOnlyTransport(zeep.Transport):
    """zeep's WSDL loader restricted to local files: our WSDLs import ../message.xsd only."""

    def load(self, url: str) -> bytes:
        if urlparse(url).scheme:
            raise UpstreamFault(f"refused to load {url}: WSDLs and schemas are read from local files only")
        return bytes(super().load(url))


_WSDL_LOCK = threading.Lock()
_WSDLS: dict[str, zeep.Client] = {}


def wsdl_client(service_name: str) -> zeep.Client:
    """The zeep client of a service's WSDL, parsed once per process (about 50 ms each)."""
    with _WSDL_LOCK:
        client = _WSDLS.get(service_name)
        if client is None:
            settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
            client = zeep.Client(wsdl=str(services.service(service_name).wsdl_path),
                                 transport=_LocalOnlyTransport(), settings=settings)
            _WSDLS[service_name] = client
        return client


def _ssl_verify(verify: str | Path | bool) -> ssl.SSLContext | bool:
    # A CA file: a context that trusts it (and the default checks of host name and expiry).
    if isinstance(verify, bool):
        return verify
    return ssl.create_default_context(cafile=str(verify))


def _digest_token(user: str, password: str) -> bytes:
    """A WS-Security UsernameToken with PasswordDigest = Base64(SHA-1(nonce + created + password))."""
    nonce = os.urandom(16)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (f'<soapenv:Header><wsse:Security xmlns:wsse="{_WSSE}" xmlns:wsu="{_WSU}" soapenv:mustUnderstand="1">'
            f"<wsse:UsernameToken><wsse:Username>{escape(user)}</wsse:Username>"
            f'<wsse:Password Type="{_DIGEST}">{digest}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{_BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></soapenv:Header>").encode()


class ServiceClient:
    """Sends 61968-100 messages to one service and returns its 61968-100 replies.

    Thread-safe: each thread keeps its own keep-alive connection; the zeep client is read only.
    """

    def __init__(self, service_name: str, base_url: str, *, credentials: tuple[str, str] | None = None,
                 timeout_s: float = 10.0, verify: str | Path | bool = True, security: Security = "basic",
                 validate_replies: bool = False, codec: Codec | None = None) -> None:
        self.service = services.service(service_name)
        self.address = f"{base_url.rstrip('/')}/{self.service.name}"
        self.codec = codec or Codec()
        self.security = security
        self.validate_replies = validate_replies
        self._credentials = credentials
        self._zeep = wsdl_client(service_name)
        (binding,) = self._zeep.wsdl.bindings.values()
        self._binding = binding
        self._proxy = self._zeep.create_service(binding.name, self.address)
        # zeep's soapAction per (verb, noun): the WSDL is the contract, the table only names it.
        self._operations: dict[tuple[Verb, str], tuple[services.Operation, str]] = {
            (op.verb, op.noun): (op, binding.get(op.name).soapaction) for op in self.service.operations
        }
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if credentials and security in ("basic", "both"):
            headers["Authorization"] = basic_auth(*credentials)
        self._http = Transport(self.address, timeout_s=timeout_s, verify=_ssl_verify(verify), headers=headers)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # ------------------------------------------------------------------ the fast path
    def send(self, message: bytes, *, as_user: tuple[str, str] | None = None) -> bytes:
        """Send one complete 61968-100 message; returns the reply (OK or PARTIAL) as bytes.

        ``as_user`` sends this one message with other credentials (HTTP Basic) than the
        client's: a portal host speaks for each of its sites with the site's own.

        Raises:
            UpstreamFault: unreachable, timed out, HTTP error, SOAP Fault or a FAILED reply.
            UnsupportedOperation: the service has no operation for the message's verb and noun.
        """
        root = self.codec.parse(message)
        _, action = self._operation(root)
        parts = [_SOAP_OPEN]
        if self._credentials and self.security in ("wsse", "both"):
            parts.append(_digest_token(*self._credentials))
        parts += [_BODY_OPEN, _message_bytes(message, root), _SOAP_CLOSE]
        response = self._post(b"".join(parts), action, as_user)
        reply = self._parse_reply(response)
        check_reply(reply)
        if response.status_code != 200:
            raise UpstreamFault(f"{self.address} answered HTTP {response.status_code}", code=UPSTREAM_ERROR)
        return etree.tostring(reply)

    # ------------------------------------------------------------------- zeep's path
    def send_with_zeep(self, message: bytes) -> bytes:
        """Like :meth:`send`, but zeep builds the envelope and reads the reply.

        The Header's text fields and User go to zeep as values, the Payload (or for
        ``get`` the Request) element into the envelope's ``xs:any`` slot.
        """
        root = self.codec.parse(message)
        operation, action = self._operation(root)
        kwargs = _zeep_arguments(root, operation)
        try:
            envelope = self._zeep.create_message(self._proxy, operation.name, **kwargs)
            if self._credentials and self.security in ("wsse", "both"):
                envelope, _ = UsernameToken(*self._credentials, use_digest=True).apply(envelope, {})
            response = self._post(etree.tostring(envelope), action)
            if response.status_code != 200:
                # zeep reads any non-200 body as a Fault; ours may be a FAILED reply (401, 403).
                check_reply(self._parse_reply(response))
                raise UpstreamFault(f"{self.address} answered HTTP {response.status_code}", code=UPSTREAM_ERROR)
            result = self._binding.process_reply(self._zeep, self._binding.get(operation.name), response)
        except zeep.exceptions.Fault as exc:
            raise UpstreamFault(f"SOAP Fault from {self.address}: {exc.message}", code=_fault_code(exc),
                                details=str(exc.code)) from exc
        except zeep.exceptions.Error as exc:
            raise UpstreamFault(f"zeep could not exchange {operation.name} with {self.address}: {exc}",
                                code=UPSTREAM_ERROR) from exc
        if result.Reply.Result == "FAILED":
            error = result.Reply.Error[0] if result.Reply.Error else None
            reason = (error.reason if error else None) or "no reason given"
            raise UpstreamFault(f"the service answered FAILED: {reason}",
                                code=(error.code if error else None) or UPSTREAM_ERROR, details=reason)
        return etree.tostring(self.codec.parse(response.content))

    # -------------------------------------------------------------------- shared parts
    def _operation(self, root: etree._Element) -> tuple[services.Operation, str]:
        namespace = etree.QName(root).namespace
        header = root.find(f"{{{namespace}}}Header")
        verb_text = header.findtext(f"{_MSG}Verb") if header is not None else None
        noun = header.findtext(f"{_MSG}Noun") if header is not None else None
        try:
            verb = Verb(verb_text)
        except ValueError:
            raise UnsupportedOperation(f"message has no valid Header/Verb ({verb_text!r})") from None
        found = self._operations.get((verb, noun or ""))
        if found is None:
            raise UnsupportedOperation(f"{self.service.name} has no operation '{verb.value} {noun}'")
        return found

    def _post(self, body: bytes, action: str, as_user: tuple[str, str] | None = None) -> Response:
        headers = {"SOAPAction": f'"{action}"'}
        if as_user:
            headers["Authorization"] = basic_auth(*as_user)
        try:
            response = self._http.post(body, headers)
        except TimeoutError as exc:
            raise UpstreamFault(f"{self.address} did not answer in time", code=TIMED_OUT,
                                details=type(exc).__name__) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise UpstreamFault(f"{self.address} is unreachable: {exc}", code=UNREACHABLE,
                                details=type(exc).__name__) from exc
        if response.status_code != 200 and not response.content.lstrip().startswith(b"<"):
            # No reply or Fault to read the code from: the HTTP status says what it can.
            code = _HTTP_CODES.get(response.status_code, UPSTREAM_ERROR)
            raise UpstreamFault(f"{self.address} answered HTTP {response.status_code}", code=code)
        return response

    def _parse_reply(self, response: Response) -> etree._Element:
        try:
            root = self.codec.parse(response.content)
            if root.tag == _FAULT:
                return root
            if not root.tag.endswith("ResponseMessage"):  # msg:ResponseMessage or a noun's own wrapper
                raise UnsupportedOperation(f"expected a ResponseMessage, got {etree.QName(root).localname}")
            if self.validate_replies:
                self.codec.validate(root)
        except AdapterError as exc:
            raise UpstreamFault(f"{self.address} answered HTTP {response.status_code} with no valid reply: "
                                f"{exc.reason}", code=UPSTREAM_ERROR) from exc
        return root


def _message_bytes(message: bytes, root: etree._Element) -> bytes:
    """The message's own bytes without the XML declaration, ready to sit inside soap:Body.

    Splicing bytes is exact for the UTF-8 documents our codec writes; anything else (another
    encoding, a message already in SOAP) is serialized again from the parsed tree.
    """
    encoding = (root.getroottree().docinfo.encoding or "UTF-8").upper()
    if root.getparent() is not None or encoding not in ("UTF-8", "US-ASCII", "ASCII"):
        return bytes(etree.tostring(root))
    if message.startswith(b"\xef\xbb\xbf"):
        message = message[3:]
    if message.startswith(b"<?xml"):
        message = message[message.index(b"?>") + 2:]
    return message


def _zeep_arguments(root: etree._Element, operation: services.Operation) -> dict[str, Any]:
    """The Header values and the xs:any slot of zeep's operation call."""
    namespace = etree.QName(root).namespace
    header_el = root.find(f"{{{namespace}}}Header")
    header: dict[str, Any] = {}
    if header_el is not None:
        for name in _TEXT_HEADER:
            text = header_el.findtext(f"{_MSG}{name}")
            if text is not None:
                header[name] = text
        user = header_el.find(f"{_MSG}User")
        if user is not None:
            header["User"] = {"UserID": user.findtext(f"{_MSG}UserID"),
                              "Organization": user.findtext(f"{_MSG}Organization")}
    slot = root.find(f"{{{namespace}}}{operation.payload_slot}")
    if slot is None:
        return {"Header": header}
    # The xs:any content: every child element that is not one of the envelope's own, which
    # are in the message namespace, or in a noun wrapper's (CreatedMeterReadings) its own.
    own = (_MSG, f"{{{namespace}}}")
    content: dict[str, Any] = {"_value_1": [child for child in slot
                                            if isinstance(child.tag, str) and not child.tag.startswith(own)]}
    if operation.payload_slot == "Request":
        for name in ("StartTime", "EndTime"):
            text = slot.findtext(f"{{{namespace}}}{name}")
            if text is not None:
                content[name] = text
    return {"Header": header, operation.payload_slot: content}


def _fault_code(fault: zeep.exceptions.Fault) -> str:
    detail = fault.detail
    if isinstance(detail, etree._Element):
        code = detail.findtext(f"{_MSG}FaultMessage/{_MSG}Reply/{_MSG}Error/{_MSG}code")
        if code:
            return code
    return UPSTREAM_ERROR


def soap_deliverer(client: ServiceClient) -> Deliverer:
    """An outbox deliverer that posts every message to ``client``'s service, whatever the destination."""
    def deliver(destination: str, body: bytes) -> bytes:
        return client.send(body)
    return deliver
