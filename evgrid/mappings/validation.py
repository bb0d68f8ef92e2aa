"""Whole-message checks beyond the schema: is the payload an element of the noun.

The envelope's Payload wildcard is lax, so a payload from an unknown namespace passes
schema validation unchecked; this check closes that gap for `evgrid validate`.
"""

from __future__ import annotations

from lxml import etree

from evgrid.cim.codec import Codec
from evgrid.errors import UnsupportedOperation
from evgrid.mappings.catalog import payloads_by_noun

PAYLOADS = payloads_by_noun()


def check_message(codec: Codec, data: bytes) -> tuple[str, str]:
    """Validate one message; returns (message kind, noun) or raises an AdapterError."""
    inbound = codec.decode(data)
    if inbound.header is None:  # a FaultMessage has only a Reply
        return inbound.kind.value, "-"
    noun = inbound.header.noun
    allowed = PAYLOADS.get(noun)
    if allowed is None:
        raise UnsupportedOperation(f"unknown noun {noun!r}")
    if inbound.payload is not None and inbound.payload.tag not in allowed:
        found = etree.QName(inbound.payload)
        raise UnsupportedOperation(
            f"payload {found.localname} ({found.namespace}) is not a {noun} payload"
        )
    return inbound.kind.value, noun
