"""Reading a 61968-100 reply: its Result and first Error, also out of a SOAP Fault.

Every sender needs this: the SOAP clients, and the outbox worker, which checks the reply
of an in-process deliverer (a Router answers FAILED in the reply rather than raising).
"""

from __future__ import annotations

from typing import NamedTuple

from lxml import etree

from evgrid.cim import namespaces as ns
from evgrid.errors import UpstreamFault

UPSTREAM_ERROR = "5.1"

_MSG = "{" + ns.MESSAGE + "}"
_FAULT = ns.qname(ns.SOAP11, "Fault")


class ReplyStatus(NamedTuple):
    """What a 61968-100 reply says: its Result and first Error (if any)."""

    result: str
    code: str | None
    reason: str


def reply_status(root: etree._Element) -> ReplyStatus:
    """Result, first error code and reason of a 61968-100 reply element (SOAP unwrapped)."""
    if root.tag == _FAULT:
        detail = root.find(f"detail/{_MSG}FaultMessage/{_MSG}Reply")
        reason = root.findtext("faultstring") or "SOAP Fault"
        code = detail.findtext(f"{_MSG}Error/{_MSG}code") if detail is not None else None
        return ReplyStatus("FAILED", code or UPSTREAM_ERROR, reason)
    namespace = etree.QName(root).namespace or ""
    reply = root.find(f"{{{namespace}}}Reply")
    if reply is None:
        return ReplyStatus("FAILED", UPSTREAM_ERROR, f"no Reply in {etree.QName(root).localname}")
    return ReplyStatus(reply.findtext(f"{_MSG}Result") or "FAILED", reply.findtext(f"{_MSG}Error/{_MSG}code"),
                       reply.findtext(f"{_MSG}Error/{_MSG}reason") or "")


def check_reply(root: etree._Element) -> ReplyStatus:
    """:func:`reply_status`, raising :class:`UpstreamFault` with the reply's code when FAILED."""
    status = reply_status(root)
    if status.result == "FAILED":
        raise UpstreamFault(f"the service answered FAILED: {status.reason or 'no reason given'}",
                            code=status.code or UPSTREAM_ERROR, details=status.reason)
    return status
