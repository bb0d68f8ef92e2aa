"""The SOAP client's pure helpers: its UsernameToken, the message bytes it splices, a Fault's code."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
import zeep.exceptions
from lxml import etree

from evgrid.adapters.soap import wire
from evgrid.adapters.soap.client import _digest_token, _fault_code, _message_bytes
from evgrid.adapters.soap.security import Credentials, Principal, PrincipalKind
from evgrid.cim.codec import Codec
from evgrid.errors import CredentialReplayed, HostileXml, UpstreamFault

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
MSG = "http://iec.ch/TC57/2011/schema/message"
INNER = (f'<msg:ResponseMessage xmlns:msg="{MSG}"><msg:Header><msg:Verb>reply</msg:Verb><msg:Noun>X</msg:Noun>'
         "<msg:Source>Zoë</msg:Source></msg:Header></msg:ResponseMessage>")


def in_soap(header: bytes) -> etree._Element:
    return etree.fromstring(f'<soapenv:Envelope xmlns:soapenv="{SOAP}">'.encode() + header
                            + b"<soapenv:Body/></soapenv:Envelope>")


def c14n(element: etree._Element) -> bytes:
    return bytes(etree.tostring(element, method="c14n", exclusive=True))


def test_the_client_digest_is_the_spec_formula_over_its_own_nonce_and_created() -> None:
    envelope = in_soap(_digest_token("mdm <&>", "s3cret"))
    (security,) = envelope.iterfind(f"{{{SOAP}}}Header/{{{WSSE}}}Security")
    token = security.find(f"{{{WSSE}}}UsernameToken")
    assert token is not None
    password = token.find(f"{{{WSSE}}}Password")
    nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "", validate=True)
    created = token.findtext(f"{{{WSU}}}Created") or ""
    assert password is not None and password.get("Type") == DIGEST
    assert (len(nonce), re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created) is not None) == (16, True)
    assert password.text == base64.b64encode(hashlib.sha1(nonce + created.encode() + b"s3cret").digest()).decode()
    assert (token.findtext(f"{{{WSSE}}}Username"), security.get(f"{{{SOAP}}}mustUnderstand")) == ("mdm <&>", "1")


def test_two_client_tokens_never_share_a_nonce() -> None:
    nonces = {in_soap(_digest_token("mdm", "pw")).findtext(f".//{{{WSSE}}}Nonce") for _ in range(20)}
    assert len(nonces) == 20


def test_the_client_token_is_accepted_by_our_server_credentials_once() -> None:
    mdm = Principal("mdm", PrincipalKind.MDM)
    credentials = Credentials()  # the wall clock: the token's Created is now
    credentials.add(mdm, "s3cret")
    envelope = in_soap(_digest_token("mdm", "s3cret"))
    assert wire.not_understood(envelope, frozenset({f"{{{WSSE}}}Security"})) == []
    assert credentials.authenticate(envelope) == mdm
    with pytest.raises(CredentialReplayed) as caught:
        credentials.authenticate(envelope)
    assert caught.value.code == "7.4"


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec()


@pytest.mark.parametrize(("message", "expected"), [
    (b'<?xml version="1.0" encoding="UTF-8"?>\n' + INNER.encode(), b"\n" + INNER.encode()),  # whitespace kept
    (b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>" + INNER.encode(), INNER.encode()),
    (INNER.encode(), INNER.encode()),
], ids=["declaration", "bom-and-declaration", "bare"])
def test_a_utf8_message_is_spliced_as_its_own_bytes_without_the_declaration(codec: Codec, message: bytes,
                                                                            expected: bytes) -> None:
    assert _message_bytes(message, codec.parse(message)) == expected


@pytest.mark.parametrize("message", [
    b'<?xml version="1.0" encoding="ISO-8859-1"?>' + INNER.encode("iso-8859-1"),
    f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>{INNER}</soapenv:Body></soapenv:Envelope>'.encode(),
], ids=["latin-1", "already-in-soap"])
def test_another_encoding_or_a_soap_message_is_serialized_again(codec: Codec, message: bytes) -> None:
    spliced = _message_bytes(message, codec.parse(message))
    assert not spliced.startswith((b"<?xml", b"<soapenv:"))
    assert c14n(etree.fromstring(spliced)) == c14n(etree.fromstring(INNER.encode()))


@pytest.mark.parametrize(("detail", "code"), [
    (lambda codec: etree.fromstring(wire.fault(wire.FaultCode.CLIENT, HostileXml("no"), codec)).find(
        f".//{{{SOAP}}}Fault/detail"), "7.2"),
    (lambda codec: etree.fromstring(wire.fault(wire.FaultCode.SERVER, UpstreamFault("x", code="6.3"), codec)).find(
        f".//{{{SOAP}}}Fault/detail"), "6.3"),
    (lambda codec: etree.fromstring("<detail><other/></detail>"), "5.1"),
    (lambda codec: None, "5.1"),
], ids=["hostile-7.2", "upstream-6.3", "foreign-detail", "no-detail"])
def test_a_soap_faults_code_is_its_fault_messages_error_code_else_5_1(codec: Codec, detail: object,
                                                                      code: str) -> None:
    fault = zeep.exceptions.Fault("refused", code="soapenv:Client", detail=detail(codec))  # type: ignore[operator]
    assert _fault_code(fault) == code
