"""The one way XML enters and leaves evgrid.

Inbound: size limit -> refuse DTDs and entities unseen -> parse with a hardened lxml
parser (no network, no entity expansion) -> depth limit -> unwrap SOAP -> validate the
whole message, envelope and payload in one libxml2 pass -> read the Header. The payload
stays an lxml element: routing needs only the header, and each route binds its payload
(see :mod:`evgrid.mappings`). This keeps the hot path close to raw lxml speed; binding
every payload with xsdata's generic parser would cost about 20 times more (README).

Outbound: generated dataclasses -> bytes, or -> an lxml element for zeep's ``xs:any``.
"""

from __future__ import annotations

import codecs
import enum
import re
import threading
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from lxml import etree
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig
from xsdata.formats.dataclass.parsers.handlers import LxmlEventHandler
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.formats.dataclass.serializers.tree import TreeSerializer

from evgrid.cim import namespaces as ns
from evgrid.cim.envelope import EVENT_VERBS, Verb
from evgrid.errors import (
    HostileXml,
    MalformedXml,
    MessageTooDeep,
    MessageTooLarge,
    MissingElement,
    SchemaInvalid,
    UnsupportedOperation,
)

T = TypeVar("T")

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# libxml2 itself refuses documents nested deeper than 256 levels (without XML_PARSE_HUGE),
# at parse time and for free; a lower limit costs one extra XPath (~3 us) per message.
LIBXML2_MAX_DEPTH = 256
DEFAULT_MAX_DEPTH = LIBXML2_MAX_DEPTH
MAX_REPORTED_ERRORS = 5


class MessageKind(enum.Enum):
    """The four IEC 61968-100 message kinds."""

    REQUEST = "RequestMessage"
    RESPONSE = "ResponseMessage"
    EVENT = "EventMessage"
    FAULT = "FaultMessage"


_KINDS = {kind.value: kind for kind in MessageKind}
_VERBS = {verb.value: verb for verb in Verb}


class Header(NamedTuple):
    """What routing needs from a 61968-100 Header, read straight off the tree.

    A NamedTuple rather than a frozen dataclass: it is built for every inbound message
    and costs a third as much to create.
    """

    verb: Verb
    noun: str
    message_id: str | None = None
    correlation_id: str | None = None
    timestamp: str | None = None
    source: str | None = None
    reply_address: str | None = None
    user_id: str | None = None
    organization: str | None = None


class Inbound(NamedTuple):
    """A validated inbound message: its kind, header, reply (if any) and payload element."""

    kind: MessageKind
    header: Header | None
    root: etree._Element
    payload: etree._Element | None
    result: str | None = None


def _schema_document() -> bytes:
    """One schema importing every XSD we ship, so one pass validates envelope and payload."""
    imports = []
    for xsd in sorted(SCHEMAS_DIR.glob("*.xsd")):
        target = etree.parse(str(xsd)).getroot().get("targetNamespace")
        imports.append(f'<xs:import namespace="{target}" schemaLocation="{xsd.name}"/>')
    return (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + "".join(imports) + "</xs:schema>"
    ).encode()


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that never fetches, never expands entities and keeps libxml2's limits."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


class _NothingExternal(etree.Resolver):
    """Answers every external load of an inbound message (a DOCTYPE's SYSTEM subset) with nothing.

    ``load_dtd=False`` does not stop libxml2 from reading a DOCTYPE's external subset when
    ``collect_ids=False`` (libxml2 loads it whenever ``loadsubset`` is non-zero, and lxml
    sets its XML_SKIP_IDS bit there): without this, a DOCTYPE the DTD scan cannot see would
    make libxml2 open a local file it names. Such a document is then refused as a DTD.
    """

    def resolve(self, system_url: str, public_id: str, context: object) -> Any:
        return self.resolve_string("", context)


class _ThreadState(threading.local):
    """lxml parsers and validators keep per-call state: one of each per thread."""

    def __init__(self, schema_bytes: bytes) -> None:
        self.parser = hardened_parser()
        self.parser.resolvers.add(_NothingExternal())
        self.schema = etree.XMLSchema(
            etree.fromstring(schema_bytes, hardened_parser(), base_url=str(SCHEMAS_DIR) + "/")
        )


class Codec:
    """Parses, validates and writes IEC 61968-100 messages with evgrid's schemas."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        if not 1 <= max_depth <= LIBXML2_MAX_DEPTH:
            raise ValueError(f"max_depth must be between 1 and {LIBXML2_MAX_DEPTH}")
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._state = _ThreadState(_schema_document())
        # "is there an element at depth max_depth + 1?" in one compiled XPath.
        self._too_deep = (
            etree.XPath("boolean(" + "/*" * (max_depth + 1) + ")") if max_depth < LIBXML2_MAX_DEPTH else None
        )
        self._xml_serializer = XmlSerializer(config=SerializerConfig(xml_declaration=True))
        self._tree_serializer = TreeSerializer()
        self._binder = XmlParser(
            config=ParserConfig(fail_on_unknown_properties=True, fail_on_converter_warnings=True),
            handler=LxmlEventHandler,
        )

    # ---------------------------------------------------------------- inbound
    def parse(self, data: bytes | str) -> etree._Element:
        """Parse with every guard, without validating; returns the message root (SOAP unwrapped)."""
        raw = data.encode() if isinstance(data, str) else data
        if len(raw) > self.max_bytes:
            raise MessageTooLarge(f"message of {len(raw)} bytes exceeds the limit of {self.max_bytes} bytes")
        # Refused before libxml2 sees them: DTDs are the door to entity bombs and XXE.
        # One scan for "<!" clears nearly every message; comments and CDATA need a second.
        # The byte scan reads UTF-8 and every ASCII-compatible encoding. A message that does
        # not start with "<" followed by a non-zero byte (a byte-order mark, UTF-16 or UTF-32
        # with or without one, leading white space) is decoded first, then scanned.
        if b"<!" in raw and (b"<!DOCTYPE" in raw or b"<!ENTITY" in raw):
            raise HostileXml(_HOSTILE)
        if (raw[:1] != b"<" or raw[1:2] == b"\x00") and _declares_dtd(raw):
            raise HostileXml(_HOSTILE)
        try:
            root = etree.fromstring(raw, self._state.parser)
        except etree.XMLSyntaxError as exc:
            if "Excessive depth" in str(exc):
                raise MessageTooDeep(f"elements nested deeper than {self.max_depth} levels") from None
            if _declares_dtd(raw):  # in an encoding only libxml2 read (a declared UTF-7, ...)
                raise HostileXml(_HOSTILE) from None
            raise MalformedXml(f"not well-formed XML: {exc}") from None
        # Whatever the encoding, libxml2 keeps any DOCTYPE it parsed as the internal subset
        # (bare, SYSTEM, PUBLIC or with declarations): refused here, in every encoding it reads.
        if root.getroottree().docinfo.internalDTD is not None:
            raise HostileXml(_HOSTILE)
        if self._too_deep is not None and self._too_deep(root):
            raise MessageTooDeep(f"elements nested deeper than {self.max_depth} levels")
        return _unwrap_soap(root)

    def validate(self, root: etree._Element) -> None:
        """Validate against our schemas; the reason names the first errors with line numbers."""
        schema = self._state.schema
        try:
            valid = schema.validate(root)
        except etree.XMLSchemaValidateError as exc:  # libxml2 gave up (an entity node, ...): not a 5.0
            raise SchemaInvalid(f"message cannot be validated: {exc}") from None
        if not valid:
            errors = [f"line {e.line}: {e.message}" for e in list(schema.error_log)[:MAX_REPORTED_ERRORS]]
            raise SchemaInvalid("message does not validate: " + "; ".join(errors))

    def decode(self, data: bytes | str) -> Inbound:
        """The hot path: parse, check the namespace, validate, read header and payload."""
        root = self.parse(data)
        kind = message_kind(root)
        self.validate(root)
        return read_message(root, kind)

    def bind(self, element: etree._Element, cls: type[T]) -> T:
        """Bind a validated element to a generated dataclass (xsdata; not for the hot path)."""
        return self._binder.parse(element, cls)

    # --------------------------------------------------------------- outbound
    def dump(self, obj: object) -> bytes:
        """Serialize a generated dataclass to UTF-8 XML bytes."""
        return self._xml_serializer.render(obj, ns_map=ns.PREFIXES).encode()

    def to_element(self, obj: object) -> etree._Element:
        """Serialize a generated dataclass to an lxml element (for zeep's ``xs:any`` slot)."""
        return self._tree_serializer.render(obj, ns_map=ns.PREFIXES).getroot()


_HOSTILE = "DTDs and entity declarations are not accepted"
# XML 1.0 Appendix F: byte-order marks, longest first (UTF-32 LE starts like UTF-16 LE's).
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# Without a mark: which of the first four bytes are zero ("<" or white space is ASCII).
_BY_ZEROS = {
    (True, True, True, False): "utf-32-be", (False, True, True, True): "utf-32-le",
    (True, False, True, False): "utf-16-be", (False, True, False, True): "utf-16-le",
}
_EBCDIC = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC
_DECLARED = re.compile(r"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def _declares_dtd(raw: bytes) -> bool:
    """Whether ``raw``, decoded as XML 1.0 Appendix F says, holds a DOCTYPE or an entity declaration.

    Off the hot path: for messages the byte scan cannot read, and for parse errors.
    """
    text = _decoded(raw)
    return "<!DOCTYPE" in text or "<!ENTITY" in text


def _decoded(raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw[len(bom):].decode(encoding, "replace")
    if len(raw) >= 4:
        encoding = _BY_ZEROS.get(tuple(byte == 0 for byte in raw[:4]))
        if encoding is not None:
            return raw.decode(encoding, "replace")
    if b"\x00" in raw[:4]:  # UCS-4 in an unusual byte order: the markup is ASCII between zeros
        return raw.replace(b"\x00", b"").decode("latin-1")
    # ASCII-compatible (or EBCDIC): the encoding the XML declaration names, if Python knows it.
    provisional = "cp037" if raw.startswith(_EBCDIC) else "latin-1"
    declared = _DECLARED.match(raw[:256].decode(provisional, "replace"))
    if declared is not None:
        try:
            return raw.decode(declared.group(1), "replace")
        except (LookupError, UnicodeError):  # unknown to Python, not a text codec, or strict only
            pass
    return raw.decode(provisional, "replace")


def _unwrap_soap(root: etree._Element) -> etree._Element:
    if root.tag not in (ns.qname(ns.SOAP11, "Envelope"), ns.qname(ns.SOAP12, "Envelope")):
        return root
    soap_ns = etree.QName(root).namespace
    body = root.find(ns.qname(soap_ns, "Body"))
    content = [child for child in body if isinstance(child.tag, str)] if body is not None else []
    if len(content) != 1:
        raise MissingElement("the SOAP Body must hold exactly one IEC 61968-100 message")
    return content[0]


def message_kind(root: etree._Element) -> MessageKind:
    """Tell the message kind from the root element; unknown namespaces are refused.

    Both forms are accepted: the generic envelope (``msg:RequestMessage``) and the
    noun-specific wrappers of IEC 61968-9 (``CreatedMeterReadings`` in the namespace
    ``http://iec.ch/TC57/2011/MeterReadingsMessage``).
    """
    namespace, _, local = root.tag[1:].partition("}") if root.tag[0] == "{" else ("", "", root.tag)
    if namespace == ns.MESSAGE:
        kind = _KINDS.get(local)
        if kind is None:
            raise UnsupportedOperation(f"{local!r} is not an IEC 61968-100 message")
        return kind
    if namespace.startswith(ns.NOUN_MESSAGE_PREFIX) and namespace.endswith(ns.NOUN_MESSAGE_SUFFIX):
        if local.endswith("ResponseMessage"):
            return MessageKind.RESPONSE
        if local.endswith("FaultMessage"):
            return MessageKind.FAULT
        # Not validated yet: an unknown verb is left for the schema to report.
        verb = _VERBS.get(root.findtext(f"{{{namespace}}}Header/{{{ns.MESSAGE}}}Verb") or "")
        return MessageKind.EVENT if verb in EVENT_VERBS else MessageKind.REQUEST
    raise UnsupportedOperation(f"unknown message namespace {namespace or '(none)'!r}")


_HEADER_FIELDS = {
    ns.qname(ns.MESSAGE, "MessageID"): "message_id",
    ns.qname(ns.MESSAGE, "CorrelationID"): "correlation_id",
    ns.qname(ns.MESSAGE, "Timestamp"): "timestamp",
    ns.qname(ns.MESSAGE, "Source"): "source",
    ns.qname(ns.MESSAGE, "ReplyAddress"): "reply_address",
}
_USER = ns.qname(ns.MESSAGE, "User")
_USER_ID = ns.qname(ns.MESSAGE, "UserID")
_ORGANIZATION = ns.qname(ns.MESSAGE, "Organization")
_RESULT = ns.qname(ns.MESSAGE, "Result")
_PARTS = ("Header", "Reply", "Payload")
_PART_TAGS: dict[str, tuple[str, ...]] = {}  # per root namespace; a handful at most


def read_message(root: etree._Element, kind: MessageKind) -> Inbound:
    """Read Header, Reply.Result and the first payload element of a validated message.

    Header, Reply and Payload are direct children of the root, in the root's namespace:
    the 61968-100 one, or a noun-specific wrapper's (their content is 61968-100 either way).
    """
    namespace = root.tag[1 : root.tag.index("}")]
    parts = _PART_TAGS.get(namespace)
    if parts is None:
        parts = _PART_TAGS[namespace] = tuple(ns.qname(namespace, part) for part in _PARTS)
    header_tag, reply_tag, payload_tag = parts
    header_el = reply_el = payload_el = None
    for child in root:
        tag = child.tag
        if tag == header_tag:
            header_el = child
        elif tag == reply_tag:
            reply_el = child
        elif tag == payload_tag:
            payload_el = child
    header = _read_header(header_el) if header_el is not None else None
    result = reply_el.findtext(_RESULT) if reply_el is not None else None
    payload = None
    if payload_el is not None:
        payload = next((c for c in payload_el if isinstance(c.tag, str)), None)
    return Inbound(kind=kind, header=header, root=root, payload=payload, result=result)


def _read_header(element: etree._Element) -> Header:
    # Validated: Verb and Noun are the first two children, in this order.
    values: dict[str, Any] = {"verb": _VERBS[element[0].text], "noun": element[1].text or ""}
    for child in element.iterchildren():
        tag = child.tag
        if tag in _HEADER_FIELDS:
            values[_HEADER_FIELDS[tag]] = child.text or ""
        elif tag == _USER:
            values["user_id"] = child.findtext(_USER_ID)
            values["organization"] = child.findtext(_ORGANIZATION)
    return Header(**values)
