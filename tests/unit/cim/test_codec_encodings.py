"""DTDs and entity declarations are refused in every encoding, as HostileXml (7.2), never 5.0.

Table-driven: UTF-8, UTF-16 LE/BE and UTF-32 LE/BE, each with and without a byte-order
mark, with and without an XML declaration naming the encoding; a DOCTYPE whose internal
entity is used in the message, a bare DOCTYPE, and a DOCTYPE naming an external subset.
Plus UTF-7 (ASCII bytes, but "<!" spelt "<+ACE-") and the same valid message without a
DTD in each encoding, which keeps today's answer (accepted, or 2.1 where XML 1.0 says the
encoding cannot be known: UTF-16 with neither mark nor declaration).
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

import pytest
from lxml import etree

from evgrid.cim import namespaces as ns
from evgrid.cim.codec import Codec
from evgrid.cim.envelope import Verb
from evgrid.errors import HostileXml, MalformedXml, SchemaInvalid
from evgrid.mappings import catalog, examples
from evgrid.messaging.router import Outcome, Route, Router

MSG = ns.MESSAGE
codec = Codec()
VALID = codec.dump(examples.example_message(catalog.step("1.1.2"))).decode().split("?>", 1)[1].lstrip()
NOUN = "<msg:Noun>ChargingRequest</msg:Noun>"
assert NOUN in VALID

# encoding name for Python, its byte-order mark, the name declared in <?xml ... encoding=?>
ENCODINGS = {
    "utf8": ("utf-8", codecs.BOM_UTF8, "UTF-8"),
    "utf16le": ("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16"),
    "utf16be": ("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16"),
    "utf32le": ("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32"),
    "utf32be": ("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32"),
}
DTDS = {
    # the finding: an internal entity, used in the message (the Noun)
    "internal_entity": ('<!DOCTYPE msg:RequestMessage [<!ENTITY n "ChargingRequest">]>',
                        VALID.replace(NOUN, "<msg:Noun>&n;</msg:Noun>")),
    "bare_doctype": ("<!DOCTYPE msg:RequestMessage>", VALID),
    "external_entity": ('<!DOCTYPE msg:RequestMessage [<!ENTITY n SYSTEM "file:///etc/hostname">]>',
                        VALID.replace(NOUN, "<msg:Noun>&n;</msg:Noun>")),
    "external_subset": ('<!DOCTYPE msg:RequestMessage SYSTEM "file:///etc/hostname">', VALID),
}


def encoded(text: str, encoding: str, *, bom: bool, declared: bool) -> bytes:
    python, mark, name = ENCODINGS[encoding]
    declaration = f'<?xml version="1.0" encoding="{name}"?>' if declared else ""
    return (mark if bom else b"") + (declaration + text).encode(python)


def utf7(text: str) -> bytes:
    """UTF-7 with "<!" and "&" in base64, so that no ASCII "<!DOCTYPE" is left."""
    body = text.encode("utf-7").replace(b"<!", b"<+ACE-").replace(b"&", b"+ACY-")
    return b'<?xml version="1.0" encoding="UTF-7"?>' + body


HOSTILE = {
    f"{encoding}-{'bom' if bom else 'nobom'}-{'declared' if declared else 'undeclared'}-{dtd}":
        encoded(doctype + message, encoding, bom=bom, declared=declared)
    for encoding in ENCODINGS for bom in (True, False) for declared in (True, False)
    for dtd, (doctype, message) in DTDS.items()
} | {f"utf7-nobom-declared-{dtd}": utf7(doctype + message) for dtd, (doctype, message) in DTDS.items()}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_dtd_is_hostile_xml_in_every_encoding(name: str) -> None:
    with pytest.raises(HostileXml, match="DTDs and entity declarations") as raised:
        codec.decode(HOSTILE[name])
    assert raised.value.code == "7.2"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_dtd_is_answered_failed_7_2_without_a_traceback(name: str, caplog: pytest.LogCaptureFixture) -> None:
    routes = {(Verb.CREATE, "ChargingRequest"): Route(
        payload=ns.qname(ns.EV_CHARGING, "ChargingRequest"), bind=lambda e: e,
        handle=lambda command, header, uow: Outcome(noun=header.noun))}
    with caplog.at_level(logging.DEBUG):
        answer = Router(routes, codec=codec).handle(HOSTILE[name])
    reply = codec.decode(answer)
    assert reply.result == "FAILED"
    assert reply.root.findtext(f"{{{MSG}}}Reply/{{{MSG}}}Error/{{{MSG}}}code") == "7.2"
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


VALID_CASES = {
    f"{encoding}-{'bom' if bom else 'nobom'}-{'declared' if declared else 'undeclared'}":
        (encoded(VALID, encoding, bom=bom, declared=declared),
         # XML 1.0 4.3.3 and Appendix F: UTF-16 with neither mark nor declaration cannot be
         # told from UTF-8 (libxml2 refuses it); UTF-32 can, by its zero bytes.
         "2.1" if encoding.startswith("utf16") and not bom and not declared else None)
    for encoding in ENCODINGS for bom in (True, False) for declared in (True, False)
} | {"utf7-nobom-declared": (b'<?xml version="1.0" encoding="UTF-7"?>' + VALID.encode("utf-7"), None)}


@pytest.mark.parametrize("name", sorted(VALID_CASES))
def test_a_valid_message_without_dtd_keeps_its_answer_in_every_encoding(name: str) -> None:
    data, refused = VALID_CASES[name]
    if refused is None:
        inbound = codec.decode(data)
        assert inbound.header is not None and inbound.header.noun == "ChargingRequest"
    else:
        with pytest.raises(MalformedXml) as raised:
            codec.decode(data)
        assert raised.value.code == refused


def test_an_entity_node_in_a_tree_is_schema_invalid_not_an_internal_error() -> None:
    root = codec.parse(VALID.encode())
    noun = root.find(f"{{{MSG}}}Header/{{{MSG}}}Noun")
    noun.text = None
    noun.append(etree.Entity("n"))
    with pytest.raises(SchemaInvalid) as raised:
        codec.validate(root)
    assert raised.value.code == "2.4"


def test_the_parser_never_reads_a_doctypes_external_subset(tmp_path: Path) -> None:
    # libxml2 reads a DOCTYPE's external subset when collect_ids=False, load_dtd=False or
    # not; the codec's parser answers such loads with nothing. Had this file been read,
    # its content would be a parse error ("Content error in the external subset").
    dtd = tmp_path / "not-a.dtd"
    dtd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    data = f'<!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r/>'.encode()
    root = etree.fromstring(data, codec._state.parser)
    assert root.getroottree().docinfo.internalDTD is not None  # parsed, unread, and then refused:
    with pytest.raises(HostileXml):
        codec.parse(utf7(f'<!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r/>'))


@pytest.mark.parametrize("name", ["idna", "rot13", "hex", "punycode", "no-such-encoding", "UTF-7"])
def test_an_odd_declared_encoding_is_a_clear_refusal_not_an_internal_error(name: str) -> None:
    data = f'<?xml version="1.0" encoding="{name}"?><r>&a;</r>'.encode()
    with pytest.raises((MalformedXml, HostileXml)):
        codec.parse(data)
    with pytest.raises(HostileXml):
        codec.parse(f'<?xml version="1.0" encoding="{name}"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode())
