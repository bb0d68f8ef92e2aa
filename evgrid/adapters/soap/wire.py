"""SOAP 1.1 on the wire: the reply envelope, Faults, header blocks and the SOAPAction.

A 61968-100 reply goes into the SOAP Body as it is: its bytes are spliced between a
fixed envelope opening and closing, with no second serialisation. What cannot be
answered with a reply (not a SOAP 1.1 envelope, a header block we must but cannot
understand, an internal error) gets a SOAP Fault (SOAP 1.1, 4.4) whose ``detail`` holds
a 61968-100 ``FaultMessage``: the same Reply, Result FAILED and Error code, as a
ResponseMessage would carry.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from lxml import etree

from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.envelope import ReplyDetail, Result
from evgrid.cim.generated.message import ErrorType, FaultMessage, ReplyType
from evgrid.errors import AdapterError

CONTENT_TYPE = "text/xml; charset=utf-8"
ENVELOPE = ns.qname(ns.SOAP11, "Envelope")
HEADER = ns.qname(ns.SOAP11, "Header")
MUST_UNDERSTAND = ns.qname(ns.SOAP11, "mustUnderstand")
ACTOR = ns.qname(ns.SOAP11, "actor")
ACTOR_NEXT = "http://schemas.xmlsoap.org/soap/actor/next"

_OPEN = f'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="{ns.SOAP11}"><soapenv:Body>'
_CLOSE = b"</soapenv:Body></soapenv:Envelope>"
_OPEN_BYTES = _OPEN.encode()


class FaultCode(enum.Enum):
    """SOAP 1.1 faultcodes (SOAP 1.1, 4.4.1)."""

    VERSION_MISMATCH = "VersionMismatch"
    MUST_UNDERSTAND = "MustUnderstand"
    CLIENT = "Client"
    SERVER = "Server"


def envelope(message: bytes) -> bytes:
    """``message`` (a UTF-8 61968-100 document, declaration optional) in a SOAP 1.1 Body."""
    if message.startswith(b"<?xml"):
        message = message[message.index(b"?>") + 2 :].lstrip()
    return b"".join((_OPEN_BYTES, message, _CLOSE))


def fault(code: FaultCode, error: AdapterError, codec: Codec) -> bytes:
    """A SOAP Fault whose detail is the 61968-100 FaultMessage of ``error``."""
    detail = ReplyDetail.from_exception(error)
    message = FaultMessage(reply=ReplyType(result=Result.FAILED, error=[ErrorType(
        code=detail.code, level=detail.level, reason=detail.reason or None, details=detail.details)]))
    root = etree.Element(ENVELOPE, nsmap={"soapenv": ns.SOAP11})
    body = etree.SubElement(root, ns.qname(ns.SOAP11, "Body"))
    element = etree.SubElement(body, ns.qname(ns.SOAP11, "Fault"))
    # faultcode, faultstring and detail are unqualified (SOAP 1.1, 4.4).
    etree.SubElement(element, "faultcode").text = f"soapenv:{code.value}"
    etree.SubElement(element, "faultstring").text = error.reason
    etree.SubElement(element, "detail").append(codec.to_element(message))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def not_understood(root: etree._Element, understood: frozenset[str]) -> list[str]:
    """Header blocks addressed to us with ``mustUnderstand="1"`` that we do not process."""
    header = root.find(HEADER)
    if header is None:
        return []
    missed = []
    for block in header:
        if not isinstance(block.tag, str) or block.tag in understood:
            continue
        if block.get(ACTOR, ACTOR_NEXT) != ACTOR_NEXT:
            continue  # for another node on the path (SOAP 1.1, 4.2.2)
        if block.get(MUST_UNDERSTAND, "0").strip() in ("1", "true"):
            missed.append(etree.QName(block).text)
    return missed


def soap_action(environ: Mapping[str, object]) -> str | None:
    """The SOAPAction HTTP header without its quotes (SOAP 1.1, 6.1.1); None when absent."""
    value = environ.get("HTTP_SOAPACTION")
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value
